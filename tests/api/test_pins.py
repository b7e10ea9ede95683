"""Pins: PUT/DELETE /api/chat/rooms/{room_id}/pins/{message_id} and GET .../pins, through the Flask test client and
in-process sockets: who may pin, no-ops, deleted messages, the 100-pin cap (also under parallel requests), the list's
order and pages, the message_pinned / message_unpinned events and the sync rule."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from armada.extensions import db
from armada.models import ChatMessage
from tests.helpers.contract import MESSAGE_KEYS, SOCKET_SERVER_EVENTS
from tests.helpers.in_process import InProcessSocket
from tests.helpers.parallel import at_once, request_as
from tests.helpers.support import (
    BAD_TIME_ID_PAGE_ARGS,
    Actor,
    ApiClient,
    assert_error,
    details_of,
    history_page,
)

MESSAGES = "/api/chat/messages"
ROUNDS = 2  # rooms per race: each is one chance for the parallel requests to interleave


def pin_url(room_id: str, message_id: str) -> str:
    """The path of one message's pin in a room."""
    return f"/api/chat/rooms/{room_id}/pins/{message_id}"


def pin(actor: Actor, room_id: str, message_id: str) -> TestResponse:
    """PUT a pin, whatever the answer."""
    return actor.put(pin_url(room_id, message_id))


def unpin(actor: Actor, room_id: str, message_id: str) -> TestResponse:
    """DELETE a pin, whatever the answer."""
    return actor.delete(pin_url(room_id, message_id))


def pinned(actor: Actor, room_id: str, message_id: str) -> dict[str, Any]:
    """PUT a pin that must succeed; the message answered."""
    response = pin(actor, room_id, message_id)
    assert response.status_code == 200, response.get_json()
    message: dict[str, Any] = response.get_json()
    assert set(message) == MESSAGE_KEYS and message["id"] == message_id
    return message


def pins_page(actor: Actor, room_id: str, **params: Any) -> TestResponse:
    """GET the room's pins, whatever the answer."""
    return actor.get(f"/api/chat/rooms/{room_id}/pins", query_string=params)


def all_pins(actor: Actor, room_id: str, limit: int = 100) -> list[str]:
    """The ids of every pinned message, page after page."""
    ids: list[str] = []
    response = pins_page(actor, room_id, limit=limit)
    while True:
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= limit
        assert all(set(m) == MESSAGE_KEYS and m["pinned_at"] is not None for m in body["items"])
        ids.extend(m["id"] for m in body["items"])
        if body["next_cursor"] is None:
            return ids
        response = pins_page(actor, room_id, limit=limit, cursor=body["next_cursor"])


def stored_pins(app: Flask, room_id: str) -> list[tuple[str, int]]:
    """(message id, pin slot) of each pinned message of the room, as stored."""
    with app.app_context():
        rows = db.session.execute(
            select(ChatMessage.id, ChatMessage.pin_slot).where(
                ChatMessage.room_id == uuid.UUID(room_id), ChatMessage.pinned_at.isnot(None)
            )
        )
        return sorted((str(message_id), slot) for message_id, slot in rows)


def joined(sockets: Callable[..., InProcessSocket], actor: Actor, room_id: str) -> InProcessSocket:
    """An in-process socket of the actor's, joined to the room."""
    socket = sockets(actor.access_token)
    assert socket.call("join_room", {"room_id": room_id})["ok"] is True
    return socket


@pytest.fixture
def group(api: ApiClient) -> tuple[Actor, Actor, Actor, str, str]:
    """Alice's group (she is its admin) with Bob; Carol outside; the room's id and a message of Bob's in it."""
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob)
    return alice, bob, carol, room["id"], bob.say(room, "pin me")["id"]


# ---- pinning and unpinning ----------------------------------------------------------------------------------------


def test_an_admin_pins_and_unpins_and_every_read_shows_it(group: Any) -> None:
    alice, bob, _, room_id, message_id = group
    before = next(m for m in history_page(bob, room_id)["items"] if m["id"] == message_id)
    assert before["pinned_at"] is None and before["pinned_by"] is None
    message = pinned(alice, room_id, message_id)
    assert message["pinned_by"] == alice.id and datetime.fromisoformat(message["pinned_at"]).utcoffset() is not None
    seen = next(m for m in history_page(bob, room_id)["items"] if m["id"] == message_id)
    assert (seen["pinned_at"], seen["pinned_by"]) == (message["pinned_at"], alice.id)
    unpinned = unpin(alice, room_id, message_id)
    assert unpinned.status_code == 200 and set(unpinned.get_json()) == MESSAGE_KEYS
    assert unpinned.get_json()["pinned_at"] is None and unpinned.get_json()["pinned_by"] is None
    assert all_pins(bob, room_id) == []


def test_a_member_who_is_not_admin_gets_403_not_admin_and_changes_nothing(app: Flask, group: Any) -> None:
    alice, bob, _, room_id, message_id = group
    assert_error(pin(bob, room_id, message_id), 403, "not_admin")
    assert stored_pins(app, room_id) == []
    pinned(alice, room_id, message_id)
    assert_error(unpin(bob, room_id, message_id), 403, "not_admin")
    assert [m for m, _ in stored_pins(app, room_id)] == [message_id]
    # Made admin, Bob may; demoted again, he may not.
    assert alice.post(f"/api/chat/rooms/{room_id}/members/{bob.id}", json={"is_admin": True}).status_code == 200
    assert unpin(bob, room_id, message_id).status_code == 200
    assert alice.post(f"/api/chat/rooms/{room_id}/members/{bob.id}", json={"is_admin": False}).status_code == 200
    assert_error(pin(bob, room_id, message_id), 403, "not_admin")


def test_either_member_of_a_direct_room_pins_and_unpins(app: Flask, api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room_id = alice.make_direct(bob)["id"]
    message_id = alice.say(room_id)["id"]
    assert pinned(bob, room_id, message_id)["pinned_by"] == bob.id
    assert unpin(alice, room_id, message_id).status_code == 200
    assert pinned(alice, room_id, message_id)["pinned_by"] == alice.id
    assert [m for m, _ in stored_pins(app, room_id)] == [message_id]


def test_pinning_again_and_unpinning_an_unpinned_message_are_no_ops(
    api: ApiClient, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room_id = alice.make_group(bob, carol)["id"]
    assert alice.post(f"/api/chat/rooms/{room_id}/members/{carol.id}", json={"is_admin": True}).status_code == 200
    message_id = bob.say(room_id)["id"]
    listener = joined(sockets, bob, room_id)
    first = pinned(alice, room_id, message_id)
    again = pinned(carol, room_id, message_id)  # another admin: still Alice's pin, as it was
    assert (again["pinned_at"], again["pinned_by"]) == (first["pinned_at"], alice.id)
    assert len(listener.received("message_pinned")) == 1
    other = bob.say(room_id, "never pinned")["id"]
    response = unpin(alice, room_id, other)
    assert response.status_code == 200 and response.get_json()["pinned_at"] is None
    assert listener.received("message_unpinned") == []
    assert all_pins(bob, room_id) == [message_id]


# ---- deleted messages --------------------------------------------------------------------------------------------


def test_a_deleted_message_cannot_be_pinned(app: Flask, group: Any) -> None:
    alice, bob, _, room_id, message_id = group
    assert bob.delete(f"{MESSAGES}/{message_id}").status_code == 200
    assert_error(pin(alice, room_id, message_id), 409, "message_deleted")
    gone = unpin(alice, room_id, message_id)  # unpinning it is a no-op, as for any unpinned message
    assert gone.status_code == 200 and gone.get_json()["is_deleted"] is True and gone.get_json()["pinned_at"] is None
    assert stored_pins(app, room_id) == []


def test_deleting_a_pinned_message_unpins_it_and_sends_message_deleted_only(
    app: Flask, group: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, _, room_id, message_id = group
    pinned(alice, room_id, message_id)
    listener = joined(sockets, bob, room_id)
    deleted = bob.delete(f"{MESSAGES}/{message_id}")
    assert deleted.status_code == 200
    assert deleted.get_json()["pinned_at"] is None and deleted.get_json()["pinned_by"] is None
    assert listener.received("message_deleted") == [{"room_id": room_id, "message_id": message_id}]
    assert listener.received("message_unpinned") == []
    assert all_pins(bob, room_id) == [] and stored_pins(app, room_id) == []
    tombstone = next(m for m in history_page(bob, room_id)["items"] if m["id"] == message_id)
    assert tombstone["pinned_at"] is None and tombstone["pinned_by"] is None


def test_a_deleted_pin_frees_its_place_under_the_cap(app: Flask, api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room_id = alice.make_group(bob)["id"]
    ids = [alice.say(room_id, f"m{i}")["id"] for i in range(101)]
    for message_id in ids[:100]:
        pinned(alice, room_id, message_id)
    assert_error(pin(alice, room_id, ids[100]), 409, "too_many_pins")
    assert alice.delete(f"{MESSAGES}/{ids[7]}").status_code == 200
    pinned(alice, room_id, ids[100])
    assert len(stored_pins(app, room_id)) == 100


# ---- the cap --------------------------------------------------------------------------------------------------------


def test_a_101st_pin_is_409_and_unpinning_one_makes_room(app: Flask, api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room_id = alice.make_group(bob)["id"]
    ids = [alice.say(room_id, f"m{i}")["id"] for i in range(102)]
    for message_id in ids[:100]:
        pinned(alice, room_id, message_id)
    assert_error(pin(alice, room_id, ids[100]), 409, "too_many_pins")
    pinned(alice, room_id, ids[0])  # pinning one of the hundred again is still a no-op
    assert unpin(alice, room_id, ids[3]).status_code == 200
    pinned(alice, room_id, ids[100])
    assert_error(pin(alice, room_id, ids[101]), 409, "too_many_pins")
    stored = stored_pins(app, room_id)
    assert len(stored) == 100 and ids[3] not in dict(stored) and ids[100] in dict(stored)
    assert sorted(slot for _, slot in stored) == list(range(100))
    assert len(all_pins(bob, room_id)) == 100


# ---- the list ------------------------------------------------------------------------------------------------------


def test_pins_are_listed_most_recently_pinned_first_in_pages(group: Any) -> None:
    alice, bob, _, room_id, _ = group
    ids = [bob.say(room_id, f"m{i}")["id"] for i in range(5)]
    for message_id in (ids[2], ids[0], ids[4], ids[1]):  # not in the order they were sent
        pinned(alice, room_id, message_id)
    assert all_pins(bob, room_id, limit=2) == [ids[1], ids[4], ids[0], ids[2]]
    first = pins_page(bob, room_id, limit=3).get_json()
    assert [m["id"] for m in first["items"]] == [ids[1], ids[4], ids[0]] and first["next_cursor"]
    # Unpinned and pinned again: most recent once more.
    assert unpin(alice, room_id, ids[2]).status_code == 200
    pinned(alice, room_id, ids[2])
    assert all_pins(bob, room_id, limit=1) == [ids[2], ids[1], ids[4], ids[0]]


def test_an_empty_pin_list(group: Any) -> None:
    _, bob, _, room_id, _ = group
    assert pins_page(bob, room_id).get_json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("params", BAD_TIME_ID_PAGE_ARGS)
def test_bad_pin_list_cursors_and_limits_are_422(group: Any, params: dict[str, Any]) -> None:
    alice, _, _, room_id, message_id = group
    pinned(alice, room_id, message_id)
    assert set(params) & set(details_of(pins_page(alice, room_id, **params)))


# ---- who may see ---------------------------------------------------------------------------------------------------


def test_outsiders_get_the_404_of_a_missing_room_or_message(app: Flask, group: Any) -> None:
    alice, _, carol, room_id, message_id = group
    pinned(alice, room_id, message_id)
    missing = str(uuid.uuid4())
    for call in (pin, unpin):
        outsider, unknown = call(carol, room_id, message_id), call(carol, room_id, missing)
        assert_error(outsider, 404)
        assert outsider.get_json() == unknown.get_json()
    listed, unknown_room = pins_page(carol, room_id), pins_page(carol, missing)
    assert_error(listed, 404)
    assert listed.get_json() == unknown_room.get_json()
    assert [m for m, _ in stored_pins(app, room_id)] == [message_id]


def test_a_message_of_another_room_in_the_path_is_404(app: Flask, api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    here = alice.make_group(bob, name="Here")["id"]
    there = alice.make_group(bob, name="There")["id"]
    theirs = alice.say(there, "from there")["id"]
    missing = str(uuid.uuid4())
    for call in (pin, unpin):
        wrong_room = call(alice, here, theirs)
        assert_error(wrong_room, 404)
        assert wrong_room.get_json() == call(alice, here, missing).get_json()
    assert stored_pins(app, here) == [] and stored_pins(app, there) == []
    pinned(alice, there, theirs)
    assert_error(unpin(alice, here, theirs), 404)
    assert [m for m, _ in stored_pins(app, there)] == [theirs]


# ---- events ----------------------------------------------------------------------------------------------------------


def test_pin_and_unpin_are_broadcast_to_joined_sockets_with_their_fields(
    group: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, _, room_id, message_id = group
    listener = joined(sockets, bob, room_id)
    not_joined = sockets(bob.access_token)
    message = pinned(alice, room_id, message_id)
    assert listener.received("message_pinned") == [
        {"room_id": room_id, "message_id": message_id, "pinned_by": alice.id, "pinned_at": message["pinned_at"]}
    ]
    assert unpin(alice, room_id, message_id).status_code == 200
    assert listener.received("message_unpinned") == [{"room_id": room_id, "message_id": message_id}]
    assert set(listener.received("message_pinned")[0]) == SOCKET_SERVER_EVENTS["message_pinned"]
    assert not_joined.received("message_pinned") == [] and not_joined.received("message_unpinned") == []
    assert listener.received("message_edited") == []  # a pin is its own event


def test_refused_pins_broadcast_nothing(group: Any, sockets: Callable[..., InProcessSocket]) -> None:
    alice, bob, _, room_id, message_id = group
    listener = joined(sockets, alice, room_id)
    assert_error(pin(bob, room_id, message_id), 403, "not_admin")
    assert bob.delete(f"{MESSAGES}/{message_id}").status_code == 200
    assert_error(pin(alice, room_id, message_id), 409, "message_deleted")
    assert listener.received("message_pinned") == [] and listener.received("message_unpinned") == []


# ---- the sync rule ------------------------------------------------------------------------------------------------


def test_each_pin_change_makes_changed_after_return_the_message_again(group: Any) -> None:
    alice, bob, _, room_id, message_id = group
    steps: list[tuple[Callable[[], Any], bool | None]] = [
        (lambda: pin(alice, room_id, message_id), True),
        (lambda: pin(alice, room_id, message_id), None),  # a no-op changes nothing
        (lambda: unpin(alice, room_id, message_id), False),
        (lambda: unpin(alice, room_id, message_id), None),
        (lambda: pin(alice, room_id, message_id), True),
    ]
    for number, (change, now_pinned) in enumerate(steps):
        anchor = alice.say(room_id, f"anchor {number}")["id"]
        assert change().status_code == 200
        items = history_page(bob, room_id, changed_after=anchor)["items"]
        if now_pinned is None:
            assert items == [], number
            continue
        assert [m["id"] for m in items] == [message_id], number
        assert (items[0]["pinned_at"] is not None) is now_pinned, number
        assert items[0]["pinned_by"] == (alice.id if now_pinned else None), number


# ---- concurrency ----------------------------------------------------------------------------------------------------


def test_parallel_pins_on_a_room_with_99_never_pass_100(app: Flask, api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    racers = 8
    for round_ in range(ROUNDS):
        room_id = alice.make_group(bob, name=f"Round {round_}")["id"]
        ids = [alice.say(room_id, f"m{i}")["id"] for i in range(99 + racers)]
        for message_id in ids[:99]:
            pinned(alice, room_id, message_id)
        responses = at_once(app, *(request_as(alice, "put", pin_url(room_id, m)) for m in ids[99:]))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [409] * (racers - 1), [(r.status_code, r.get_json()) for r in responses]
        for refused in (r for r in responses if r.status_code == 409):
            assert_error(refused, 409, "too_many_pins")
        winner = next(r.get_json()["id"] for r in responses if r.status_code == 200)
        stored = stored_pins(app, room_id)
        assert len(stored) == 100 and sorted(slot for _, slot in stored) == list(range(100))
        assert sorted(all_pins(bob, room_id)) == sorted([*ids[:99], winner])


def test_parallel_pins_of_one_message_pin_it_once_and_broadcast_once(
    app: Flask, api: ApiClient, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob = api.users("Alice", "Bob")
    room_id = alice.make_direct(bob)["id"]  # both may pin
    listener = joined(sockets, bob, room_id)
    for round_ in range(ROUNDS * 2):
        message_id = alice.say(room_id, f"round {round_}")["id"]
        requests = [request_as(who, "put", pin_url(room_id, message_id)) for who in (alice, bob, alice, bob)]
        responses = at_once(app, *requests)
        assert all(r.status_code == 200 for r in responses), [(r.status_code, r.get_json()) for r in responses]
        answers = {(r.get_json()["pinned_at"], r.get_json()["pinned_by"]) for r in responses}
        assert len(answers) == 1, answers  # every answer names the one pin
        heard = [e for e in listener.received("message_pinned") if e["message_id"] == message_id]
        assert len(heard) == 1 and (heard[0]["pinned_at"], heard[0]["pinned_by"]) in answers
        with app.app_context():
            pins = db.session.scalar(
                select(func.count()).where(ChatMessage.room_id == uuid.UUID(room_id), ChatMessage.pin_slot.isnot(None))
            )
        assert pins == round_ + 1
