"""Catch-up after a reconnect: `changed_after=` (new, edited and deleted messages) paging and its bad values,
through the Flask test client."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.helpers.support import Actor, ApiClient, assert_error, cursor_of, history_page, history_url

# A client that reconnects to a real server and catches up: tests/system/test_catch_up.py.


def ids(body: dict[str, Any]) -> list[str]:
    return [m["id"] for m in body["items"]]


def edit(actor: Actor, message_id: str, content: str) -> None:
    assert actor.patch(f"/api/chat/messages/{message_id}", json={"content": content}).status_code == 200


def test_changed_after_pages_in_change_order_and_lists_each_message_once(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    m = [alice.say(room, f"m{i}")["id"] for i in range(5)]
    edit(alice, m[1], "m1 once")
    assert alice.delete(f"/api/chat/messages/{m[2]}").status_code == 200
    edit(alice, m[1], "m1 twice")

    first = history_page(bob, room["id"], changed_after=m[0], limit=2)
    assert ids(first) == [m[3], m[4]] and first["next_cursor"]
    second = history_page(bob, room["id"], changed_after=first["next_cursor"], limit=2)
    assert ids(second) == [m[2], m[1]] and second["next_cursor"] is None
    assert second["items"][0]["is_deleted"] is True and second["items"][0]["content"] is None
    assert second["items"][1]["content"] == "m1 twice" and second["items"][1]["is_edited"] is True


def test_a_change_made_while_paging_shows_up_on_a_later_page(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    m = [alice.say(room, f"m{i}")["id"] for i in range(4)]
    first = history_page(bob, room["id"], changed_after=m[0], limit=2)
    assert ids(first) == [m[1], m[2]]
    edit(alice, m[1], "changed meanwhile")
    rest = history_page(bob, room["id"], changed_after=first["next_cursor"], limit=2)
    assert ids(rest) == [m[3], m[1]] and rest["next_cursor"] is None
    assert rest["items"][1]["content"] == "changed meanwhile"


def test_changed_after_the_newest_message_with_no_changes_is_empty(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    newest = [alice.say(room, f"m{i}")["id"] for i in range(3)][-1]
    assert history_page(bob, room["id"], changed_after=newest) == {"items": [], "next_cursor": None}


def test_changed_after_a_message_later_deleted_lists_its_deletion(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    anchor = alice.say(room, "anchor")["id"]
    assert alice.delete(f"/api/chat/messages/{anchor}").status_code == 200
    body = history_page(bob, room["id"], changed_after=anchor)
    assert ids(body) == [anchor] and body["items"][0]["is_deleted"] is True


def bad_values(room_id: str, other_room_message: str) -> dict[str, dict[str, str]]:
    return {
        "unknown id": {"changed_after": str(uuid.uuid4())},
        "other room's id": {"changed_after": other_room_message},
        "garbage cursor": {"changed_after": "!!not a cursor!!"},
        "cursor of a string": {"changed_after": cursor_of(["x"])},
        "cursor of two values": {"changed_after": cursor_of([1, 2])},
        "negative cursor": {"changed_after": cursor_of([-1])},
        "boolean cursor": {"changed_after": cursor_of([True])},
        "huge cursor": {"changed_after": cursor_of([2**63])},
        "NUL": {"changed_after": "a\u0000b"},
        "too long": {"changed_after": "a" * 513},
        "after unknown id": {"after": str(uuid.uuid4())},
        "after other room's id": {"after": other_room_message},
        "after not a uuid": {"after": "yesterday"},
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown id",
        "other room's id",
        "garbage cursor",
        "cursor of a string",
        "cursor of two values",
        "negative cursor",
        "boolean cursor",
        "huge cursor",
        "NUL",
        "too long",
        "after unknown id",
        "after other room's id",
        "after not a uuid",
    ],
)
def test_a_bad_catch_up_anchor_is_a_422_on_its_parameter(pair: tuple[Actor, Actor], case: str) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    alice.say(room, "here")
    elsewhere = alice.say(alice.make_group(bob, name="Elsewhere"), "there")["id"]
    params = bad_values(room["id"], elsewhere)[case]
    error = assert_error(bob.get(history_url(room["id"]), query_string=params), 422, "validation_failed")
    assert set(error["details"]) == set(params), error


def test_after_and_changed_after_together_are_refused(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    first = alice.say(room, "one")["id"]
    response = bob.get(history_url(room["id"]), query_string={"after": first, "changed_after": first})
    assert "changed_after" in assert_error(response, 422, "validation_failed")["details"]


def test_a_non_member_catching_up_gets_the_same_404_as_for_an_unknown_room(
    api: ApiClient, pair: tuple[Actor, Actor]
) -> None:
    alice, bob = pair
    mallory = api.register("Mallory")
    room = alice.make_group(bob)
    anchor = alice.say(room, "private")["id"]
    hidden = mallory.get(history_url(room["id"]), query_string={"changed_after": anchor})
    unknown = mallory.get(history_url(str(uuid.uuid4())), query_string={"changed_after": anchor})
    assert_error(hidden, 404, "room_not_found")
    assert hidden.get_json() == unknown.get_json()


def test_two_anchors_are_refused_before_the_room_is_looked_up_whoever_asks(
    api: ApiClient, pair: tuple[Actor, Actor]
) -> None:
    # A request that is wrong for any room gets its 422 first, the same for a stranger and an unknown room: it says
    # nothing about the room.
    alice, bob = pair
    mallory = api.register("Mallory")
    room = alice.make_group(bob)
    first = alice.say(room, "one")["id"]
    both = {"after": first, "changed_after": first}
    answers = [mallory.get(history_url(room_id), query_string=both) for room_id in (room["id"], str(uuid.uuid4()))]
    assert "changed_after" in assert_error(answers[0], 422, "validation_failed")["details"]
    assert answers[0].get_json() == answers[1].get_json()


def test_a_removed_member_can_no_longer_catch_up(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    anchor = alice.say(room, "before removal")["id"]
    assert alice.delete(f"/api/chat/rooms/{room['id']}/members/{bob.id}").status_code == 204
    alice.say(room, "after removal")
    assert_error(bob.get(history_url(room["id"]), query_string={"changed_after": anchor}), 404, "room_not_found")
