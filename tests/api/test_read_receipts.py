"""POST /api/chat/rooms/{room_id}/read: receipts once each, read pointer, unread counts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, func, select, update
from werkzeug.test import TestResponse

from armada.extensions import db
from armada.models import ChatMessage, ChatRoomMember, MessageReadReceipt
from tests.helpers.support import Actor, ApiClient, assert_error, committed_just_before, details_of

RESULT_KEYS = {"room_id", "user_id", "message_ids", "read_at", "unread_count"}


def mark(actor: Actor, room_id: str, **body: Any) -> TestResponse:
    """POST a read request."""
    return actor.post(f"/api/chat/rooms/{room_id}/read", json=body)


def receipts(app: Flask, user: Actor, message_id: str | None = None) -> int:
    """Rows in message_read_receipts for this user (and message)."""
    with app.app_context():
        stmt = select(func.count()).where(MessageReadReceipt.user_id == uuid.UUID(user.id))
        if message_id is not None:
            stmt = stmt.where(MessageReadReceipt.message_id == uuid.UUID(message_id))
        return db.session.scalar(stmt) or 0


def unread_in_room_list(actor: Actor, room_id: str) -> int:
    """unread_count of one room as GET /api/chat/rooms shows it."""
    response = actor.get("/api/chat/rooms")
    assert response.status_code == 200
    (room,) = [r for r in response.get_json()["items"] if r["id"] == room_id]
    return room["unread_count"]


def last_read_at(viewer: Actor, room_id: str, member: Actor) -> str | None:
    """last_read_at of `member` in the room's member list."""
    response = viewer.get(f"/api/chat/rooms/{room_id}")
    assert response.status_code == 200
    (entry,) = [m for m in response.get_json()["members"] if m["user_id"] == member.id]
    return entry["last_read_at"]


@pytest.fixture
def chat(api: ApiClient) -> tuple[Actor, Actor, dict[str, Any], list[str]]:
    """Alice and Bob in a group; Alice has said three things Bob has not read."""
    alice, bob = api.register("Alice"), api.register("Bob")
    room = alice.make_group(bob)
    ids = [alice.say(room, f"a{i}")["id"] for i in range(3)]
    return alice, bob, room, ids


Chat = tuple[Actor, Actor, dict[str, Any], list[str]]


def test_marking_messages_read_by_id_reports_what_changed(app: Flask, chat: Chat) -> None:
    _, bob, room, ids = chat
    response = mark(bob, room["id"], message_ids=ids[:2])
    assert response.status_code == 200
    result = response.get_json()
    assert set(result) == RESULT_KEYS
    assert result["room_id"] == room["id"] and result["user_id"] == bob.id
    assert sorted(result["message_ids"]) == sorted(ids[:2])
    assert result["unread_count"] == 1
    assert datetime.fromisoformat(result["read_at"]).utcoffset() is not None
    assert receipts(app, bob) == 2 and receipts(app, bob, ids[2]) == 0


def test_marking_again_records_nothing_new(app: Flask, chat: Chat) -> None:
    _, bob, room, ids = chat
    mark(bob, room["id"], message_ids=ids)
    again = mark(bob, room["id"], message_ids=ids)
    assert again.status_code == 200
    assert again.get_json()["message_ids"] == [] and again.get_json()["unread_count"] == 0
    assert receipts(app, bob) == 3


def test_a_repeated_id_in_one_request_is_receipted_once(app: Flask, chat: Chat) -> None:
    _, bob, room, ids = chat
    response = mark(bob, room["id"], message_ids=[ids[0], ids[0], ids[0]])
    assert response.get_json()["message_ids"] == [ids[0]]
    assert receipts(app, bob, ids[0]) == 1


def test_up_to_marks_everything_from_others_up_to_that_message(app: Flask, chat: Chat) -> None:
    alice, bob, room, ids = chat
    own = bob.say(room, "mine")["id"]
    later = alice.say(room, "later")["id"]
    response = mark(bob, room["id"], up_to=ids[2])
    assert response.status_code == 200
    assert sorted(response.get_json()["message_ids"]) == sorted(ids)
    assert response.get_json()["unread_count"] == 1
    assert receipts(app, bob) == 3
    assert receipts(app, bob, own) == 0 and receipts(app, bob, later) == 0
    assert mark(bob, room["id"], up_to=later).get_json()["message_ids"] == [later]


def read_pointer_at(app: Flask, room_id: str, member: Actor) -> str | None:
    """The id of the message `member`'s read pointer in the room is at."""
    with app.app_context():
        pointer = select(ChatRoomMember.last_read_seq).where(
            ChatRoomMember.room_id == uuid.UUID(room_id), ChatRoomMember.user_id == uuid.UUID(member.id)
        )
        at_pointer = ChatMessage.seq == pointer.scalar_subquery()
        found = db.session.scalar(select(ChatMessage.id).where(ChatMessage.room_id == uuid.UUID(room_id), at_pointer))
        return str(found) if found is not None else None


def test_the_read_pointer_never_moves_back_when_a_later_read_commits_first(app: Flask, chat: Chat) -> None:
    _, bob, room, ids = chat

    def read_to_the_end_in_another_tab(connection: Connection) -> None:
        connection.execute(
            update(ChatRoomMember)
            .where(ChatRoomMember.room_id == uuid.UUID(room["id"]), ChatRoomMember.user_id == uuid.UUID(bob.id))
            .values(last_read_seq=select(ChatMessage.seq).where(ChatMessage.id == uuid.UUID(ids[2])).scalar_subquery())
        )

    # This request has read the pointer (nothing read yet) when the other tab's read of everything commits.
    with committed_just_before(app, "INSERT INTO message_read_receipts", read_to_the_end_in_another_tab) as interposed:
        response = mark(bob, room["id"], up_to=ids[0])
    assert interposed, "the read never wrote its receipts"
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["message_ids"] == [ids[0]]
    assert read_pointer_at(app, room["id"], bob) == ids[2]
    assert response.get_json()["unread_count"] == 0 and unread_in_room_list(bob, room["id"]) == 0


def test_own_messages_get_no_receipt(app: Flask, chat: Chat) -> None:
    _, bob, room, _ = chat
    own = bob.say(room, "mine")["id"]
    by_id = mark(bob, room["id"], message_ids=[own])
    by_pointer = mark(bob, room["id"], up_to=own)
    assert by_id.status_code == 200 and by_id.get_json()["message_ids"] == []
    assert by_pointer.status_code == 200 and own not in by_pointer.get_json()["message_ids"]
    assert receipts(app, bob, own) == 0


def test_ids_of_another_room_are_refused_like_unknown_ones(app: Flask, api: ApiClient, chat: Chat) -> None:
    _, bob, room, ids = chat
    other_room = bob.make_group(api.register("Carol"))
    elsewhere = bob.say(other_room, "over there")["id"]
    cross = mark(bob, room["id"], message_ids=[ids[0], elsewhere])
    unknown = mark(bob, room["id"], message_ids=[ids[0], str(uuid.uuid4())])
    assert set(details_of(cross)) == {"message_ids"}
    assert set(details_of(unknown)) == {"message_ids"}
    assert receipts(app, bob) == 0
    assert unread_in_room_list(bob, room["id"]) == 3


def test_up_to_a_message_of_another_room_is_refused_like_an_unknown_one(app: Flask, api: ApiClient, chat: Chat) -> None:
    _, bob, room, _ = chat
    other_room = bob.make_group(api.register("Carol"))
    elsewhere = bob.say(other_room, "over there")["id"]
    cross = mark(bob, room["id"], up_to=elsewhere)
    unknown = mark(bob, room["id"], up_to=str(uuid.uuid4()))
    assert set(details_of(cross)) == {"up_to"}
    assert cross.get_json() == unknown.get_json()
    assert receipts(app, bob) == 0


@pytest.mark.parametrize("body", [{}, "both"])
def test_exactly_one_of_message_ids_and_up_to_is_required(app: Flask, chat: Chat, body: Any) -> None:
    _, bob, room, ids = chat
    if body == "both":
        body = {"message_ids": ids[:1], "up_to": ids[2]}
    assert details_of(bob.post(f"/api/chat/rooms/{room['id']}/read", json=body))
    assert receipts(app, bob) == 0


def test_more_than_500_ids_are_refused(app: Flask, chat: Chat) -> None:
    _, bob, room, ids = chat
    many = ids + [str(uuid.uuid4()) for _ in range(498)]
    assert len(many) == 501
    assert set(details_of(mark(bob, room["id"], message_ids=many))) == {"message_ids"}
    assert receipts(app, bob) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message_ids", []),
        ("message_ids", "not-a-list"),
        ("message_ids", [123]),
        ("message_ids", ["not-a-uuid"]),
        ("message_ids", [None]),
        ("message_ids", ["a\u0000"]),
        ("up_to", "not-a-uuid"),
        ("up_to", 5),
        ("up_to", None),
    ],
)
def test_wrong_types_are_refused_per_field(app: Flask, chat: Chat, field: str, value: Any) -> None:
    _, bob, room, _ = chat
    assert field in details_of(mark(bob, room["id"], **{field: value}))
    assert receipts(app, bob) == 0


def test_a_lone_surrogate_in_up_to_is_refused(chat: Chat) -> None:
    _, bob, room, _ = chat
    raw = '{"up_to": "\\ud800"}'
    response = bob.post(f"/api/chat/rooms/{room['id']}/read", data=raw, content_type="application/json")
    assert "up_to" in details_of(response)


def test_a_non_member_gets_the_same_404_as_for_an_unknown_room(api: ApiClient, chat: Chat) -> None:
    _, _, room, ids = chat
    carol = api.register("Carol")
    hidden = mark(carol, room["id"], message_ids=ids[:1])
    unknown = mark(carol, str(uuid.uuid4()), message_ids=ids[:1])
    assert_error(hidden, 404)
    assert hidden.get_json() == unknown.get_json()


def test_unread_count_in_the_room_list_drops_as_messages_are_read(chat: Chat) -> None:
    alice, bob, room, ids = chat
    assert unread_in_room_list(bob, room["id"]) == 3
    assert unread_in_room_list(alice, room["id"]) == 0
    mark(bob, room["id"], message_ids=ids[:2])
    assert unread_in_room_list(bob, room["id"]) == 1
    mark(bob, room["id"], up_to=ids[2])
    assert unread_in_room_list(bob, room["id"]) == 0
    alice.say(room, "one more")
    assert unread_in_room_list(bob, room["id"]) == 1


def test_reading_sets_last_read_at_in_the_member_list(chat: Chat) -> None:
    alice, bob, room, ids = chat
    assert last_read_at(alice, room["id"], bob) is None
    result = mark(bob, room["id"], message_ids=ids).get_json()
    shown = last_read_at(alice, room["id"], bob)
    assert shown is not None
    assert datetime.fromisoformat(shown) == datetime.fromisoformat(result["read_at"])
    assert last_read_at(alice, room["id"], alice) is None
