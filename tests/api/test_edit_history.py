"""Edit history: GET /api/chat/messages/{message_id}/history through the Flask test client: every earlier version,
oldest first, with the time it was replaced; members only; erased with the message; pages; what is not an edit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from armada.extensions import db
from armada.models import MessageEdit
from tests.helpers.in_process import InProcessSocket
from tests.helpers.support import BAD_TIME_ID_PAGE_ARGS, Actor, ApiClient, assert_error, details_of

MESSAGES = "/api/chat/messages"


def history_of(actor: Actor, message_id: str, **params: Any) -> TestResponse:
    """GET a message's edit history, whatever the answer."""
    return actor.get(f"{MESSAGES}/{message_id}/history", query_string=params)


def versions(actor: Actor, message_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every entry of a message's edit history, page after page."""
    entries: list[dict[str, Any]] = []
    response = history_of(actor, message_id, limit=limit)
    while True:
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= limit
        assert all(set(entry) == {"content", "edited_at"} for entry in body["items"])
        entries.extend(body["items"])
        if body["next_cursor"] is None:
            return entries
        response = history_of(actor, message_id, limit=limit, cursor=body["next_cursor"])


def edit(actor: Actor, message_id: str, content: str, **extra: Any) -> dict[str, Any]:
    """PATCH a message, which must succeed; the message answered."""
    response = actor.patch(f"{MESSAGES}/{message_id}", json={"content": content, **extra})
    assert response.status_code == 200, response.get_json()
    message: dict[str, Any] = response.get_json()
    return message


def stored_edits(app: Flask, message_id: str) -> int:
    """Rows of the message's edit history, as stored."""
    with app.app_context():
        count: int = db.session.scalar(
            select(func.count()).select_from(MessageEdit).where(MessageEdit.message_id == uuid.UUID(message_id))
        )
        return count


@pytest.fixture
def chat(api: ApiClient) -> tuple[Actor, Actor, Actor, str, str]:
    """Alice's group with Bob (Carol outside), its id, and a message of Alice's reading "v1"."""
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob)
    return alice, bob, carol, room["id"], alice.say(room, "v1")["id"]


def test_every_earlier_version_oldest_first_with_the_time_it_was_replaced(chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    second = edit(alice, message_id, "v2")
    third = edit(alice, message_id, "v3")
    assert second["edited_at"] < third["edited_at"]
    # Each version's time is that of the edit that replaced it; the current text is not history.
    expected = [{"content": "v1", "edited_at": second["edited_at"]}, {"content": "v2", "edited_at": third["edited_at"]}]
    assert versions(bob, message_id) == expected
    assert versions(alice, message_id) == expected


def test_a_message_never_edited_has_an_empty_history(chat: Any) -> None:
    _, bob, _, _, message_id = chat
    assert history_of(bob, message_id).get_json() == {"items": [], "next_cursor": None}


def test_going_back_to_an_earlier_text_is_an_edit_too(chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    edit(alice, message_id, "v2")
    edit(alice, message_id, "v1")
    assert [entry["content"] for entry in versions(bob, message_id)] == ["v1", "v2"]


def test_an_unchanged_edit_adds_nothing(app: Flask, chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    edit(alice, message_id, "v2")
    edit(alice, message_id, "v2")
    assert [entry["content"] for entry in versions(bob, message_id)] == ["v1"]
    assert stored_edits(app, message_id) == 1


def test_an_edit_of_the_mentions_only_adds_no_history_entry(app: Flask, chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    mentioned = edit(alice, message_id, "v1", mentions=[bob.id])
    assert mentioned["mentions"] == [bob.id] and mentioned["content"] == "v1"
    room_wide = edit(alice, message_id, "v1", mentions_room=True)
    assert room_wide["mentions_room"] is True
    assert versions(bob, message_id) == [] and stored_edits(app, message_id) == 0
    # Text and mentions together: one entry, for the text.
    edit(alice, message_id, "v2", mentions=[])
    assert [entry["content"] for entry in versions(bob, message_id)] == ["v1"]


def test_socket_edits_join_the_history(chat: Any, sockets: Callable[..., InProcessSocket]) -> None:
    alice, bob, _, _, message_id = chat
    socket = sockets(alice.access_token)
    ack = socket.call("message_edited", {"message_id": message_id, "content": "v2 over the socket"})
    assert ack["ok"] is True, ack
    assert [entry["content"] for entry in versions(bob, message_id)] == ["v1"]


def test_refused_edits_add_nothing(app: Flask, chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    assert_error(bob.patch(f"{MESSAGES}/{message_id}", json={"content": "not mine"}), 403)
    assert "content" in details_of(alice.patch(f"{MESSAGES}/{message_id}", json={"content": ""}))
    assert stored_edits(app, message_id) == 0 and versions(bob, message_id) == []


def test_deleting_a_message_erases_its_history(app: Flask, chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    edit(alice, message_id, "v2")
    edit(alice, message_id, "v3")
    assert stored_edits(app, message_id) == 2
    assert alice.delete(f"{MESSAGES}/{message_id}").status_code == 200
    assert history_of(bob, message_id).get_json() == {"items": [], "next_cursor": None}
    assert history_of(alice, message_id).get_json() == {"items": [], "next_cursor": None}
    assert stored_edits(app, message_id) == 0


def test_an_admin_deleting_someone_elses_message_erases_its_history(app: Flask, chat: Any) -> None:
    alice, bob, _, room_id, _ = chat
    message_id = bob.say(room_id, "b1")["id"]
    edit(bob, message_id, "b2")
    assert alice.delete(f"{MESSAGES}/{message_id}").status_code == 200
    assert versions(bob, message_id) == [] and stored_edits(app, message_id) == 0


def test_the_history_comes_in_pages(chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    for n in range(2, 8):
        edit(alice, message_id, f"v{n}")
    assert [entry["content"] for entry in versions(bob, message_id, limit=2)] == [f"v{n}" for n in range(1, 7)]
    first = history_of(bob, message_id, limit=4).get_json()
    assert [entry["content"] for entry in first["items"]] == ["v1", "v2", "v3", "v4"] and first["next_cursor"]
    rest = history_of(bob, message_id, limit=4, cursor=first["next_cursor"]).get_json()
    assert [entry["content"] for entry in rest["items"]] == ["v5", "v6"] and rest["next_cursor"] is None


@pytest.mark.parametrize("params", BAD_TIME_ID_PAGE_ARGS)
def test_bad_cursors_and_limits_are_422(chat: Any, params: dict[str, Any]) -> None:
    alice, bob, _, _, message_id = chat
    edit(alice, message_id, "v2")
    assert set(params) & set(details_of(history_of(bob, message_id, **params)))


def test_outsiders_get_the_404_of_a_missing_message(chat: Any) -> None:
    alice, _, carol, _, message_id = chat
    edit(alice, message_id, "v2")
    outsider, unknown = history_of(carol, message_id), history_of(carol, str(uuid.uuid4()))
    assert_error(outsider, 404)
    assert outsider.get_json() == unknown.get_json()


def test_a_member_who_left_can_no_longer_read_the_history(api: ApiClient) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob, carol)
    message_id = alice.say(room, "v1")["id"]
    edit(alice, message_id, "v2")
    assert versions(carol, message_id) == [{"content": "v1", "edited_at": versions(bob, message_id)[0]["edited_at"]}]
    assert carol.delete(f"/api/chat/rooms/{room['id']}/members/{carol.id}").status_code == 204
    assert_error(history_of(carol, message_id), 404, "message_not_found")


def test_the_history_needs_a_token(chat: Any, client: Any) -> None:
    _, _, _, _, message_id = chat
    assert_error(client.get(f"{MESSAGES}/{message_id}/history"), 401)
