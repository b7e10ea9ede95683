"""The hand-written dumps of messages and rooms (armada.chat.dumps) answer exactly what their marshmallow schemas
would: over generated messages and rooms of every shape, and over what the API stores and serves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import itsdangerous.timed
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import fields

from armada.chat.schemas import BroadcastMessageSchema, MessageSchema, RoomSchema
from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, ChatRoomMember, MessageType, RoomType, User
from tests.helpers.factories import make_user
from tests.helpers.support import Actor, ApiClient


# Subclasses are not in the hand-written table: they dump through marshmallow, field by field (the reference).
class ReferenceMessageSchema(MessageSchema):
    pass


class ReferenceBroadcastSchema(BroadcastMessageSchema):
    pass


class ReferenceRoomSchema(RoomSchema):
    last_message = fields.Nested(ReferenceMessageSchema, allow_none=True)


@pytest.fixture
def in_request(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A request context (media links are absolute URLs) and a fixed signing time, so both dumps sign alike."""
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: 1_800_000_000)
    with app.test_request_context("/"):
        yield


uuids = st.uuids()
maybe_uuid = st.none() | uuids
times = st.datetimes(
    min_value=datetime(1970, 1, 2), timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3, minutes=-30))])
)
maybe_time = st.none() | times | st.datetimes()  # aware, and naive as SQLite hands them back
text = st.text(max_size=20) | st.text(min_size=195, max_size=260)  # short, and around the preview's cut
maybe_text = st.none() | text
emoji = st.sampled_from(
    ["\N{THUMBS UP SIGN}", "\N{PARTY POPPER}", "a", "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"]
)


@st.composite
def messages(draw: st.DrawFn, depth: int = 0) -> ChatMessage:
    reactions = draw(st.lists(emoji, unique=True, max_size=3))
    media = draw(st.booleans())
    message = ChatMessage(
        id=draw(uuids),
        room_id=draw(uuids),
        sender_id=draw(uuids),
        seq=1,
        change_seq=1,
        message_type=draw(st.sampled_from(list(MessageType))),
        content=draw(maybe_text),
        media_url=draw(st.text(min_size=1, max_size=40)) if media else None,
        media_filename=draw(maybe_text) if media else None,
        media_size=draw(st.none() | st.integers(min_value=0, max_value=2**53)) if media else None,
        media_mime_type=draw(st.none() | st.sampled_from(["image/png", "video/mp4", "application/pdf", "x/y"])),
        reply_to_id=draw(maybe_uuid),
        forwarded_from_id=draw(maybe_uuid),
        is_edited=draw(st.booleans()),
        edited_at=draw(maybe_time),
        is_deleted=draw(st.booleans()),
        deleted_at=draw(maybe_time),
        created_at=draw(times),
        client_id=draw(maybe_text),
        thread_root_id=draw(maybe_uuid),
        thread_reply_count=draw(st.integers(min_value=0, max_value=5)),
        thread_last_reply_at=draw(maybe_time),
        thread_participant_ids=[str(u) for u in draw(st.lists(uuids, max_size=5))],
        reaction_summary=[{"emoji": e, "count": draw(st.integers(1, 99))} for e in reactions],
        mention_ids=[str(u) for u in draw(st.lists(uuids, max_size=4))],
        mentions_room=draw(st.booleans()),
        pinned_at=draw(maybe_time),
        pinned_by=draw(maybe_uuid),
    )
    message.my_reactions = frozenset(draw(st.lists(st.sampled_from(reactions), unique=True)) if reactions else [])
    if depth == 0 and draw(st.booleans()):
        message.reply_to = draw(messages(depth=1))
    return message


@st.composite
def rooms(draw: st.DrawFn) -> ChatRoom:
    room = ChatRoom(
        id=draw(uuids),
        name=draw(maybe_text),
        room_type=draw(st.sampled_from(list(RoomType))),
        description=draw(maybe_text),
        avatar_url=draw(maybe_text),
        created_by=draw(uuids),
        created_at=draw(times),
        updated_at=draw(times),
        is_active=draw(st.booleans()),
    )
    room.active_members = [
        ChatRoomMember(
            user_id=draw(uuids),
            user=User(display_name=draw(text)),
            is_admin=draw(st.booleans()),
            joined_at=draw(times),
            last_read_at=draw(maybe_time),
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    room.last_message = draw(st.none() | messages())
    room.unread_count = draw(st.integers(0, 10**6))
    room.mention_count = draw(st.integers(0, 10**6))
    return room


LOTS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@LOTS
@given(messages())
def test_a_message_dumps_as_its_schema_would(in_request: None, message: ChatMessage) -> None:
    expected = ReferenceMessageSchema().dump(message)
    assert MessageSchema().dump(message) == expected
    assert list(MessageSchema().dump(message)) == list(expected)  # the fields' order too
    assert MessageSchema().dump([message], many=True) == [expected]


@LOTS
@given(messages())
def test_a_broadcast_message_dumps_as_its_schema_would(in_request: None, message: ChatMessage) -> None:
    assert BroadcastMessageSchema().dump(message) == ReferenceBroadcastSchema().dump(message)
    assert all("me" not in r for r in BroadcastMessageSchema().dump(message)["reactions"])


@LOTS
@given(rooms())
def test_a_room_dumps_as_its_schema_would(in_request: None, room: ChatRoom) -> None:
    assert RoomSchema().dump(room) == ReferenceRoomSchema().dump(room)


def test_a_schema_given_only_or_exclude_still_dumps_through_marshmallow(in_request: None) -> None:
    message = ChatMessage(id=uuid.uuid4(), content="x", is_deleted=False, reaction_summary=[], mention_ids=[])
    assert MessageSchema(only=("id", "content")).dump(message) == {"id": str(message.id), "content": "x"}
    assert set(MessageSchema(exclude=("content",)).dump(message)) == set(ReferenceMessageSchema().dump(message)) - {
        "content"
    }


def test_what_the_api_serves_is_what_the_schemas_make_of_the_stored_rows(
    app: Flask, pair: tuple[Actor, Actor], in_request: None
) -> None:
    """Stored messages of many kinds (a reply, reactions, a thread, an edit, a deletion, mentions), as the history
    page and the room list serve them, against the reference dumps of the same rows."""
    alice, bob = pair
    room = alice.make_group(bob)
    first = alice.say(room, "first " * 60)
    reply = bob.say(room, "a reply", reply_to_id=first["id"], mentions=[alice.id])
    assert bob.put(f"/api/chat/messages/{first['id']}/reactions/%F0%9F%91%8D").status_code == 200
    bob.say(room, "in the thread", thread_root_id=first["id"])
    gone = alice.say(room, "to delete")
    assert alice.delete(f"/api/chat/messages/{gone['id']}").status_code == 200
    assert alice.patch(f"/api/chat/messages/{reply['id']}", json={"content": "edited"}).status_code == 403
    assert bob.patch(f"/api/chat/messages/{reply['id']}", json={"content": "edited"}).status_code == 200
    page = alice.get(f"/api/chat/rooms/{room['id']}/messages").get_json()["items"]
    listed = alice.get("/api/chat/rooms").get_json()["items"]
    with app.app_context():
        stored = db.session.scalars(
            ChatMessage.__table__.select()
            .with_only_columns(ChatMessage.id)
            .where(ChatMessage.room_id == uuid.UUID(room["id"]))
        ).all()
        assert len(stored) == 4
        by_id: dict[str, Any] = {m["id"]: m for m in page}
        for message_id in stored:
            message = db.session.get(ChatMessage, message_id)
            assert message is not None
            if str(message_id) not in by_id:
                continue  # the thread reply is not in the plain history
            if str(message_id) == first["id"]:
                message.my_reactions = frozenset()  # alice did not react
            assert by_id[str(message_id)] == ReferenceMessageSchema().dump(message)
        stored_room = db.session.get(ChatRoom, uuid.UUID(room["id"]))
        assert stored_room is not None
        reference = ReferenceRoomSchema().dump(stored_room)
    assert len(page) == 3 and any(m["reply_to"] for m in page) and any(m["is_deleted"] for m in page)
    assert any(m["thread"] for m in page) and any(m["reactions"] for m in page)
    served = next(r for r in listed if r["id"] == room["id"])
    # unread_count and mention_count are the viewer's, filled in by the service; the rest is the row's.
    assert {k: v for k, v in served.items() if k not in ("unread_count", "mention_count")} == {
        k: v for k, v in reference.items() if k not in ("unread_count", "mention_count")
    }


def test_the_room_list_reads_the_active_members_in_join_order_as_the_relationship_does(
    app: Flask, api: ApiClient, in_request: None
) -> None:
    """The room list reads members with a query of its own (room_views.MemberView), not the relationship."""
    alice, bob, carol, dave = (make_user(api, name) for name in ("Alice", "Bob", "Carol", "Dave"))
    room = alice.make_group(bob, carol, dave)
    assert alice.delete(f"/api/chat/rooms/{room['id']}/members/{carol.id}").status_code == 204
    alice.say(room, "hi")
    served = next(r for r in dave.get("/api/chat/rooms").get_json()["items"] if r["id"] == room["id"])
    with app.app_context():
        stored = db.session.get(ChatRoom, uuid.UUID(room["id"]))
        assert stored is not None
        expected = ReferenceRoomSchema().dump(stored)["members"]
    assert served["members"] == expected  # the relationship's order: joined_at, then the membership's id
    assert sorted(m["user_id"] for m in served["members"]) == sorted([alice.id, bob.id, dave.id])
