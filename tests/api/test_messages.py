"""POST/PATCH/DELETE /api/chat/messages: sending, idempotent retries, replies, forwards, edits and tombstones."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, func, select, update
from werkzeug.test import TestResponse

from armada.extensions import db
from armada.models import ChatMessage, utcnow
from tests.helpers.contract import MESSAGE_KEYS
from tests.helpers.support import Actor, ApiClient, assert_error, committed_just_before, details_of

MESSAGES = "/api/chat/messages"
PREVIEW_KEYS = {"id", "sender_id", "message_type", "content", "is_deleted"}


def send(actor: Actor, room_id: str, **body: Any) -> TestResponse:
    """POST a message with these fields into room_id."""
    return actor.post(MESSAGES, json={"room_id": room_id, **body})


def message_count(app: Flask, **where: Any) -> int:
    """Rows in chat_messages matching column == value filters (ids as strings)."""
    with app.app_context():
        stmt = select(func.count()).select_from(ChatMessage)
        for column, value in where.items():
            if column.endswith("id") and column != "client_id" and isinstance(value, str):
                value = uuid.UUID(value)
            stmt = stmt.where(getattr(ChatMessage, column) == value)
        return db.session.scalar(stmt) or 0


def stored_content(app: Flask, message_id: str) -> str | None:
    """The content column of one message as the database holds it."""
    with app.app_context():
        return db.session.scalar(select(ChatMessage.content).where(ChatMessage.id == uuid.UUID(message_id)))


def history(actor: Actor, room_id: str) -> list[dict[str, Any]]:
    """The newest page of a room's history."""
    response = actor.get(f"/api/chat/rooms/{room_id}/messages")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


@pytest.fixture
def trio(api: ApiClient) -> tuple[Actor, Actor, Actor]:
    """Alice and Bob share a group (Alice admin); Carol is in no room yet."""
    return api.register("Alice"), api.register("Bob"), api.register("Carol")


# ---- sending ---------------------------------------------------------------------------------------------


def test_send_returns_201_with_exactly_the_contract_fields(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    response = send(alice, room["id"], content="hi there")
    assert response.status_code == 201
    message = response.get_json()
    assert set(message) == MESSAGE_KEYS
    assert message["room_id"] == room["id"] and message["sender_id"] == alice.id
    assert message["content"] == "hi there"
    assert message["is_edited"] is False and message["is_deleted"] is False
    assert message["edited_at"] is None and message["deleted_at"] is None
    assert message["reply_to"] is None and message["forwarded_from_id"] is None
    assert datetime.fromisoformat(message["created_at"]).utcoffset() is not None


def test_message_type_defaults_to_text(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    assert send(alice, room["id"], content="x").get_json()["message_type"] == "text"


def test_sender_and_server_fields_in_the_body_are_ignored(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    forged_id = str(uuid.uuid4())
    response = send(
        alice,
        room["id"],
        content="mine",
        sender_id=bob.id,
        id=forged_id,
        is_deleted=True,
        is_edited=True,
        created_at="2000-01-01T00:00:00+00:00",
        seq=1,
    )
    assert response.status_code == 201
    message = response.get_json()
    assert message["sender_id"] == alice.id and message["id"] != forged_id
    assert message["is_deleted"] is False and message["is_edited"] is False
    assert not message["created_at"].startswith("2000")
    assert message_count(app, sender_id=bob.id) == 0


def test_sending_to_a_room_you_are_not_in_looks_like_an_unknown_room(
    app: Flask, trio: tuple[Actor, Actor, Actor]
) -> None:
    alice, bob, carol = trio
    room = alice.make_group(bob)
    not_member = send(carol, room["id"], content="let me in")
    unknown = send(carol, str(uuid.uuid4()), content="let me in")
    assert_error(not_member, 404)
    assert not_member.get_json() == unknown.get_json()
    assert message_count(app) == 0


@pytest.mark.parametrize("content", ["", "   ", "\n\t "])
def test_empty_or_blank_content_is_refused(trio: tuple[Actor, Actor, Actor], content: str) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    assert "content" in details_of(send(alice, room["id"], content=content))


def test_missing_content_is_refused(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    assert "content" in details_of(send(alice, room["id"]))


def test_content_of_exactly_ten_thousand_chars_is_accepted(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    response = send(alice, room["id"], content="é" * 10_000)
    assert response.status_code == 201
    assert stored_content(app, response.get_json()["id"]) == "é" * 10_000


def test_content_of_ten_thousand_and_one_chars_is_refused(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    assert "content" in details_of(send(alice, room["id"], content="a" * 10_001))
    assert message_count(app) == 0


def test_a_100_kb_message_is_refused_and_nothing_is_stored(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    response = send(alice, room["id"], content="x" * 100_000)
    assert_error(response, 422, "validation_failed")
    assert "content" in response.get_json()["error"]["details"]
    assert message_count(app) == 0


def test_a_body_over_one_mebibyte_is_413(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    assert_error(send(alice, room["id"], content="x" * (1024 * 1024 + 1)), 413, "payload_too_large")
    assert message_count(app) == 0


def test_nul_byte_in_content_is_refused(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    assert "content" in details_of(send(alice, room["id"], content="a\u0000b"))
    assert message_count(app) == 0


def test_lone_surrogate_in_content_is_refused(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    raw = '{"room_id": "%s", "content": "a\\ud800b"}' % room["id"]
    response = alice.post(MESSAGES, data=raw, content_type="application/json")
    assert "content" in details_of(response)
    assert message_count(app) == 0


@pytest.mark.parametrize(
    "content",
    [
        "👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 skin tone",
        "שלום עולם مرحبا بالعالم",
        "你好，世界 こんにちは 안녕하세요",
        "e\u0301 combining, \u200b zero-width, \ufeff bom",
        "  leading and trailing spaces  \n",
    ],
)
def test_unicode_content_round_trips_exactly(app: Flask, trio: tuple[Actor, Actor, Actor], content: str) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    sent = send(alice, room["id"], content=content)
    assert sent.status_code == 201
    assert sent.get_json()["content"].encode() == content.encode()
    assert history(bob, room["id"])[-1]["content"].encode() == content.encode()
    assert stored_content(app, sent.get_json()["id"]) == content


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("room_id", "not-a-uuid"),
        ("room_id", 42),
        ("content", 12345),
        ("content", ["a list"]),
        ("message_type", "sticker"),
        ("message_type", "TEXT"),
        ("reply_to_id", "nope"),
        ("forwarded_from_id", 7),
        ("client_id", 99),
        ("media_size", -1),
    ],
)
def test_wrong_types_are_refused_per_field(
    app: Flask, trio: tuple[Actor, Actor, Actor], field: str, value: Any
) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    body = {"room_id": room["id"], "content": "ok", field: value}
    details = details_of(alice.post(MESSAGES, json=body))
    assert set(details) == {field}
    assert message_count(app) == 0


def test_several_bad_fields_are_all_reported(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, _, _ = trio
    response = alice.post(MESSAGES, json={"room_id": "x", "content": 1, "message_type": "sticker"})
    assert set(details_of(response)) == {"room_id", "content", "message_type"}


def test_missing_room_id_is_refused(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, _, _ = trio
    assert "room_id" in details_of(alice.post(MESSAGES, json={"content": "hi"}))


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("{not json", "application/json"), ('["a", "list"]', "application/json"), ("content=hi", "text/plain")],
)
def test_a_body_that_is_not_a_json_object_is_400(
    trio: tuple[Actor, Actor, Actor], data: str, content_type: str
) -> None:
    alice, _, _ = trio
    assert_error(alice.post(MESSAGES, data=data, content_type=content_type), 400)


@pytest.mark.parametrize("message_type", ["image", "video", "audio", "file"])
@pytest.mark.parametrize(
    "media",
    [{}, {"media_url": "https://elsewhere.example/cat.png", "media_filename": "cat.png", "media_size": 10}],
)
def test_media_messages_without_an_uploaded_file_are_refused(
    app: Flask, trio: tuple[Actor, Actor, Actor], message_type: str, media: dict[str, Any]
) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    response = send(alice, room["id"], message_type=message_type, **media)
    assert "media_url" in details_of(response)
    assert message_count(app) == 0


def test_a_text_message_with_media_fields_is_refused(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    response = send(alice, room["id"], content="look", media_url="https://elsewhere.example/cat.png")
    assert "media_url" in details_of(response)


@pytest.mark.parametrize(
    "body",
    [
        {"content": "look", "media_filename": "cat.png"},
        {"content": "look", "media_mime_type": "image/png", "media_size": 10},
        {"forwarded_from_id": str(uuid.uuid4()), "media_filename": "cat.png"},
    ],
)
def test_media_details_without_a_media_type_are_refused_before_the_room_is_looked_up(
    app: Flask, api: ApiClient, trio: tuple[Actor, Actor, Actor], body: dict[str, Any]
) -> None:
    # Such a body is wrong for any room: a member, a stranger and an unknown room all get the same 422 for it.
    alice, bob, _ = trio
    room = alice.make_group(bob)
    mallory = api.register("Mallory")
    answers = [
        send(alice, room["id"], **body),
        send(mallory, room["id"], **body),
        send(alice, str(uuid.uuid4()), **body),
    ]
    assert list(details_of(answers[0])) in (["media_url"], ["content"])
    assert answers[0].get_json() == answers[1].get_json() == answers[2].get_json()
    assert message_count(app) == 0


# ---- idempotent retries (client_id) ---------------------------------------------------------------------


def test_resending_the_same_client_id_returns_the_first_message(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    first = send(alice, room["id"], content="once", client_id="c-1")
    again = send(alice, room["id"], content="once", client_id="c-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    assert first.get_json()["client_id"] == "c-1"
    assert message_count(app, room_id=room["id"], client_id="c-1") == 1
    assert [m["id"] for m in history(bob, room["id"])] == [first.get_json()["id"]]


def test_a_retry_with_different_content_still_returns_the_original(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    first = send(alice, room["id"], content="original", client_id="c-2").get_json()
    again = send(alice, room["id"], content="changed", client_id="c-2")
    assert again.status_code == 200
    assert again.get_json()["id"] == first["id"] and again.get_json()["content"] == "original"


def test_the_same_client_id_from_another_user_is_a_new_message(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    mine = send(alice, room["id"], content="a", client_id="shared")
    theirs = send(bob, room["id"], content="b", client_id="shared")
    assert mine.status_code == 201 and theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    assert message_count(app, client_id="shared") == 2


def test_the_same_client_id_in_another_room_is_a_new_message(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, carol = trio
    first_room, second_room = alice.make_group(bob), alice.make_group(carol)
    one = send(alice, first_room["id"], content="a", client_id="same")
    two = send(alice, second_room["id"], content="a", client_id="same")
    assert one.status_code == 201 and two.status_code == 201
    assert two.get_json()["room_id"] == second_room["id"]
    assert message_count(app, client_id="same") == 2


def test_a_retried_forward_returns_the_forward_even_after_the_original_is_deleted(
    app: Flask, trio: tuple[Actor, Actor, Actor]
) -> None:
    alice, bob, carol = trio
    source, target = alice.make_group(bob), alice.make_group(carol)
    original = bob.say(source, "pass it on")
    first = send(alice, target["id"], forwarded_from_id=original["id"], client_id="fwd-1")
    assert bob.delete(f"{MESSAGES}/{original['id']}").status_code == 200
    again = send(alice, target["id"], forwarded_from_id=original["id"], client_id="fwd-1")
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert message_count(app, client_id="fwd-1") == 1


@pytest.mark.parametrize("client_id", ["x" * 65, "", "a\u0000b"])
def test_an_invalid_client_id_is_refused(app: Flask, trio: tuple[Actor, Actor, Actor], client_id: str) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    assert "client_id" in details_of(send(alice, room["id"], content="hi", client_id=client_id))
    assert message_count(app) == 0


def test_a_client_id_of_64_chars_is_accepted(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    response = send(alice, room["id"], content="hi", client_id="x" * 64)
    assert response.status_code == 201 and response.get_json()["client_id"] == "x" * 64


# ---- replies ---------------------------------------------------------------------------------------------


def test_a_reply_carries_a_preview_of_the_message_it_answers(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    question = alice.say(room, "lunch?")
    response = send(bob, room["id"], content="yes", reply_to_id=question["id"])
    assert response.status_code == 201
    reply = response.get_json()
    assert reply["reply_to_id"] == question["id"]
    assert reply["reply_to"] == {
        "id": question["id"],
        "sender_id": alice.id,
        "message_type": "text",
        "content": "lunch?",
        "is_deleted": False,
    }
    assert history(alice, room["id"])[-1]["reply_to"] == reply["reply_to"]


def test_replying_to_a_message_of_another_room_is_refused_like_an_unknown_one(
    app: Flask, trio: tuple[Actor, Actor, Actor]
) -> None:
    alice, bob, carol = trio
    here, elsewhere = alice.make_group(bob), alice.make_group(carol)
    other_room_message = alice.say(elsewhere, "over there")
    cross = send(alice, here["id"], content="re", reply_to_id=other_room_message["id"])
    unknown = send(alice, here["id"], content="re", reply_to_id=str(uuid.uuid4()))
    assert "reply_to_id" in details_of(cross)
    assert cross.get_json() == unknown.get_json()
    assert message_count(app, room_id=here["id"]) == 0


def test_a_reply_to_a_deleted_message_is_refused(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    question = alice.say(room, "secret question")
    assert alice.delete(f"{MESSAGES}/{question['id']}").status_code == 200
    refused = send(bob, room["id"], content="answer", reply_to_id=question["id"])
    assert details_of(refused)["reply_to_id"] == ["A deleted message cannot be replied to."]
    assert message_count(app, room_id=room["id"], reply_to_id=question["id"]) == 0


def test_a_reply_is_refused_when_its_target_is_deleted_while_it_waits_for_the_room(
    app: Flask, trio: tuple[Actor, Actor, Actor]
) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    question = alice.say(room, "secret question")

    def delete_the_question(connection: Connection) -> None:
        target = ChatMessage.id == uuid.UUID(question["id"])
        connection.execute(update(ChatMessage).where(target).values(is_deleted=True, deleted_at=utcnow(), content=None))

    # The deletion commits after the reply's checks of the room and its body, just before it takes the room's lock.
    with committed_just_before(app, "UPDATE chat_rooms", delete_the_question) as interposed:
        refused = send(bob, room["id"], content="answer", reply_to_id=question["id"])
    assert interposed, "the reply never took the room's lock"
    assert "reply_to_id" in details_of(refused)
    assert message_count(app, room_id=room["id"], reply_to_id=question["id"]) == 0


# ---- forwards --------------------------------------------------------------------------------------------


def test_a_forward_copies_the_original_into_the_target_room(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, carol = trio
    source, target = alice.make_group(bob), alice.make_group(carol)
    original = bob.say(source, "news 📰")
    response = send(alice, target["id"], forwarded_from_id=original["id"])
    assert response.status_code == 201
    forward = response.get_json()
    assert forward["room_id"] == target["id"] and forward["sender_id"] == alice.id
    assert forward["forwarded_from_id"] == original["id"] and forward["id"] != original["id"]
    assert forward["content"] == "news 📰" and forward["message_type"] == "text"
    assert [m["id"] for m in history(carol, target["id"])] == [forward["id"]]


def test_forwarding_from_a_room_you_cannot_read_is_refused_like_an_unknown_message(
    app: Flask, trio: tuple[Actor, Actor, Actor]
) -> None:
    alice, bob, carol = trio
    secret_room = alice.make_group(bob)
    carols_room = carol.make_group(alice)
    secret = bob.say(secret_room, "between us")
    hidden = send(carol, carols_room["id"], forwarded_from_id=secret["id"])
    unknown = send(carol, carols_room["id"], forwarded_from_id=str(uuid.uuid4()))
    assert "forwarded_from_id" in details_of(hidden)
    assert hidden.get_json() == unknown.get_json()
    assert message_count(app, room_id=carols_room["id"]) == 0


def test_forwarding_a_deleted_message_is_refused(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, carol = trio
    source, target = alice.make_group(bob), alice.make_group(carol)
    original = bob.say(source, "oops")
    assert bob.delete(f"{MESSAGES}/{original['id']}").status_code == 200
    assert "forwarded_from_id" in details_of(send(alice, target["id"], forwarded_from_id=original["id"]))


def test_a_forward_with_its_own_content_is_refused(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, carol = trio
    source, target = alice.make_group(bob), alice.make_group(carol)
    original = bob.say(source, "news")
    assert "content" in details_of(send(alice, target["id"], forwarded_from_id=original["id"], content="fyi"))


def test_forwarding_into_a_room_you_are_not_in_is_404(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, carol = trio
    source = alice.make_group(bob)
    carols_room = carol.make_group(bob)
    original = bob.say(source, "news")
    assert_error(send(alice, carols_room["id"], forwarded_from_id=original["id"]), 404)


# ---- edits -----------------------------------------------------------------------------------------------


def edit(actor: Actor, message_id: str, content: Any) -> TestResponse:
    """PATCH a message's content."""
    return actor.patch(f"{MESSAGES}/{message_id}", json={"content": content})


def test_the_sender_can_edit_their_message(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = alice.say(room, "helo")
    response = edit(alice, message["id"], "hello")
    assert response.status_code == 200
    edited = response.get_json()
    assert edited["id"] == message["id"] and edited["content"] == "hello"
    assert edited["is_edited"] is True and edited["edited_at"] is not None
    assert datetime.fromisoformat(edited["edited_at"]) >= datetime.fromisoformat(message["created_at"])
    assert stored_content(app, message["id"]) == "hello"
    assert history(bob, room["id"])[-1]["content"] == "hello"


def test_editing_to_the_same_content_changes_nothing(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = alice.say(room, "v1")
    unchanged = edit(alice, message["id"], "v1").get_json()
    assert unchanged["is_edited"] is False and unchanged["edited_at"] is None
    first = edit(alice, message["id"], "v2").get_json()
    again = edit(alice, message["id"], "v2")
    assert again.status_code == 200
    assert again.get_json()["edited_at"] == first["edited_at"]


def test_another_member_cannot_edit(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = bob.say(room, "bob's words")
    assert_error(edit(alice, message["id"], "alice's words"), 403, "not_sender")
    assert stored_content(app, message["id"]) == "bob's words"


def test_a_non_member_editing_gets_the_same_404_as_an_unknown_message(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, carol = trio
    room = alice.make_group(bob)
    message = alice.say(room, "private")
    hidden = edit(carol, message["id"], "mine now")
    unknown = edit(carol, str(uuid.uuid4()), "mine now")
    assert_error(hidden, 404)
    assert hidden.get_json() == unknown.get_json()


def test_a_deleted_message_cannot_be_edited(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = alice.say(room, "gone")
    alice.delete(f"{MESSAGES}/{message['id']}")
    assert_error(edit(alice, message["id"], "back"), 409)


def test_a_forwarded_message_cannot_be_edited(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, carol = trio
    source, target = alice.make_group(bob), alice.make_group(carol)
    forward = send(alice, target["id"], forwarded_from_id=bob.say(source, "quote")["id"]).get_json()
    assert_error(edit(alice, forward["id"], "misquote"), 409)
    assert history(carol, target["id"])[-1]["content"] == "quote"


@pytest.mark.parametrize("content", ["", "   ", None, 5, "a\u0000b", "x" * 10_001])
def test_an_invalid_edit_is_refused(app: Flask, trio: tuple[Actor, Actor, Actor], content: Any) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = alice.say(room, "keep me")
    assert "content" in details_of(edit(alice, message["id"], content))
    assert stored_content(app, message["id"]) == "keep me"


def test_an_edit_without_content_is_refused(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = alice.say(room, "keep me")
    assert "content" in details_of(alice.patch(f"{MESSAGES}/{message['id']}", json={}))


# ---- deletes ---------------------------------------------------------------------------------------------


def test_the_sender_deleting_leaves_a_tombstone(app: Flask, trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = bob.say(room, "regret")
    response = bob.delete(f"{MESSAGES}/{message['id']}")
    assert response.status_code == 200
    tombstone = response.get_json()
    assert set(tombstone) == MESSAGE_KEYS
    assert tombstone["id"] == message["id"] and tombstone["is_deleted"] is True
    assert tombstone["deleted_at"] is not None and tombstone["content"] is None
    assert stored_content(app, message["id"]) is None
    listed = history(alice, room["id"])
    assert [m["id"] for m in listed] == [message["id"]]
    assert listed[0]["is_deleted"] is True and listed[0]["content"] is None


def test_a_reply_to_a_deleted_message_shows_an_empty_preview(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    question = alice.say(room, "secret question")
    bob.say(room, "answer", reply_to_id=question["id"])
    alice.delete(f"{MESSAGES}/{question['id']}")
    preview = history(bob, room["id"])[-1]["reply_to"]
    assert set(preview) == PREVIEW_KEYS
    assert preview["id"] == question["id"] and preview["is_deleted"] is True and preview["content"] is None


def test_a_room_admin_can_delete_someone_elses_message(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = bob.say(room, "spam")
    response = alice.delete(f"{MESSAGES}/{message['id']}")
    assert response.status_code == 200
    assert response.get_json()["is_deleted"] is True
    assert history(bob, room["id"])[0]["is_deleted"] is True


def test_a_member_who_is_not_admin_cannot_delete_someone_elses_message(
    app: Flask, trio: tuple[Actor, Actor, Actor]
) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = alice.say(room, "admin says")
    assert_error(bob.delete(f"{MESSAGES}/{message['id']}"), 403)
    assert stored_content(app, message["id"]) == "admin says"


def test_a_non_member_deleting_gets_the_same_404_as_an_unknown_message(
    app: Flask, trio: tuple[Actor, Actor, Actor]
) -> None:
    alice, bob, carol = trio
    room = alice.make_group(bob)
    message = alice.say(room, "private")
    hidden = carol.delete(f"{MESSAGES}/{message['id']}")
    unknown = carol.delete(f"{MESSAGES}/{uuid.uuid4()}")
    assert_error(hidden, 404)
    assert hidden.get_json() == unknown.get_json()
    assert stored_content(app, message["id"]) == "private"


def test_deleting_twice_is_a_no_op(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = trio
    room = alice.make_group(bob)
    message = alice.say(room, "bye")
    first = alice.delete(f"{MESSAGES}/{message['id']}").get_json()
    again = alice.delete(f"{MESSAGES}/{message['id']}")
    assert again.status_code == 200
    assert again.get_json()["deleted_at"] == first["deleted_at"] and again.get_json()["is_deleted"] is True


def test_a_malformed_message_id_in_the_path_is_404(trio: tuple[Actor, Actor, Actor]) -> None:
    alice, _, _ = trio
    assert_error(alice.delete(f"{MESSAGES}/not-a-uuid"), 404)
    assert_error(
        alice.patch(f"{MESSAGES}/not-a-uuid", data=json.dumps({"content": "x"}), content_type="application/json"), 404
    )
