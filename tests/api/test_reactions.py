"""Reactions: PUT/DELETE/GET /api/chat/messages/{message_id}/reactions/{emoji} and the socket's add_reaction /
remove_reaction, through the Flask test client and in-process sockets: what one emoji is, the 20-emoji cap (also
under parallel requests), tombstones, the reactors list, the broadcasts (never with `me`) and the sync rule."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from armada import create_app
from armada.extensions import db, socketio
from armada.models import MessageReaction
from tests.helpers.contract import REACTION_KEYS, SOCKET_SERVER_EVENTS
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
from tests.helpers.testing_config import TestingConfig

MESSAGES = "/api/chat/messages"
# Distinct single-code-point emoji (the Emoticons block): enough for the cap and the races.
FACES = [chr(0x1F600 + i) for i in range(40)]
THE_MESSAGE = "the message's id"  # stands for the fixture's message in parametrized payloads
ROUNDS = 3  # messages per race: each is one chance for the parallel requests to interleave


def reaction_url(message_id: str, emoji: str) -> str:
    """The path of one emoji's reactions on a message (the emoji URL-encoded)."""
    return f"{MESSAGES}/{message_id}/reactions/{quote(emoji, safe='')}"


def react(actor: Actor, message_id: str, emoji: str) -> TestResponse:
    """PUT a reaction, whatever the answer."""
    return actor.put(reaction_url(message_id, emoji))


def reacted(actor: Actor, message_id: str, emoji: str) -> list[dict[str, Any]]:
    """PUT a reaction that must succeed; the message's reactions as answered."""
    response = react(actor, message_id, emoji)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"message_id", "reactions"} and body["message_id"] == message_id, body
    reactions: list[dict[str, Any]] = body["reactions"]
    return reactions


def unreact(actor: Actor, message_id: str, emoji: str) -> TestResponse:
    """DELETE a reaction, whatever the answer."""
    return actor.delete(reaction_url(message_id, emoji))


def reactors(actor: Actor, message_id: str, emoji: str, **params: Any) -> TestResponse:
    """GET who reacted with an emoji, whatever the answer."""
    return actor.get(reaction_url(message_id, emoji), query_string=params)


def counts(reactions: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(emoji, count) in the answer's order."""
    return [(r["emoji"], r["count"]) for r in reactions]


def mine(reactions: list[dict[str, Any]]) -> dict[str, bool]:
    """emoji -> `me`."""
    return {r["emoji"]: r["me"] for r in reactions}


def message_in_history(actor: Actor, room_id: str, message_id: str) -> dict[str, Any]:
    """The message as the actor's newest history page shows it."""
    found = [m for m in history_page(actor, room_id)["items"] if m["id"] == message_id]
    assert len(found) == 1
    return found[0]


def stored_counts(app: Flask, message_id: str) -> dict[str, int]:
    """emoji -> number of reaction rows of the message, as stored."""
    with app.app_context():
        rows = db.session.execute(
            select(MessageReaction.emoji, func.count())
            .where(MessageReaction.message_id == uuid.UUID(message_id))
            .group_by(MessageReaction.emoji)
        )
        return dict(rows.all())


@pytest.fixture
def trio(api: ApiClient) -> tuple[Actor, Actor, Actor]:
    """Alice, Bob and Carol, in no room yet."""
    return api.register("Alice"), api.register("Bob"), api.register("Carol")


@pytest.fixture
def chat(trio: tuple[Actor, Actor, Actor]) -> tuple[Actor, Actor, Actor, str, str]:
    """Alice's group with Bob (Carol is outside), its id and a message of Alice's in it."""
    alice, bob, carol = trio
    room = alice.make_group(bob)
    return alice, bob, carol, room["id"], alice.say(room, "react to me")["id"]


def joined(sockets: Callable[..., InProcessSocket], actor: Actor, room_id: str) -> InProcessSocket:
    """An in-process socket of the actor's, joined to the room."""
    socket = sockets(actor.access_token)
    assert socket.call("join_room", {"room_id": room_id})["ok"] is True
    return socket


# ---- adding, answering, again ---------------------------------------------------------------------------------


def test_put_answers_the_message_id_and_its_reactions_with_me_for_the_caller(chat: Any) -> None:
    alice, bob, _, room_id, message_id = chat
    first = reacted(alice, message_id, "👍")
    assert first == [{"emoji": "👍", "count": 1, "me": True}]
    second = reacted(bob, message_id, "👍")
    assert second == [{"emoji": "👍", "count": 2, "me": True}]
    only_bob = reacted(bob, message_id, "🎉")
    assert counts(only_bob) == [("👍", 2), ("🎉", 1)] and mine(only_bob) == {"👍": True, "🎉": True}
    # Every REST read of the message carries the viewer's own `me`.
    seen_by_alice = message_in_history(alice, room_id, message_id)["reactions"]
    assert all(set(r) == REACTION_KEYS for r in seen_by_alice)
    assert mine(seen_by_alice) == {"👍": True, "🎉": False}


def test_reacting_again_is_a_no_op_that_broadcasts_nothing(
    app: Flask, chat: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, _, room_id, message_id = chat
    listener = joined(sockets, bob, room_id)
    assert reacted(alice, message_id, "👍") == [{"emoji": "👍", "count": 1, "me": True}]
    assert reacted(alice, message_id, "👍") == [{"emoji": "👍", "count": 1, "me": True}]
    assert len(listener.received("reaction_added")) == 1
    assert stored_counts(app, message_id) == {"👍": 1}


def test_the_first_use_of_each_emoji_sets_its_place(chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    reacted(alice, message_id, "👍")
    reacted(bob, message_id, "😀")
    reacted(alice, message_id, "🎉")
    reacted(bob, message_id, "👍")  # a later use does not move it
    assert counts(reacted(alice, message_id, "😀")) == [("👍", 2), ("😀", 2), ("🎉", 1)]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("👩\u200d👩\u200d👧\u200d👦", "👩\u200d👩\u200d👧\u200d👦"),  # ZWJ family
        ("🧑🏽\u200d💻", "🧑🏽\u200d💻"),  # ZWJ with a skin tone
        ("👍🏽", "👍🏽"),  # skin tone
        ("🇫🇷", "🇫🇷"),  # flag
        ("🏳️\u200d🌈", "🏳️\u200d🌈"),  # ZWJ flag, fully qualified
        ("🏳\u200d🌈", "🏳️\u200d🌈"),  # the same without its VS16: one spelling
        ("1️⃣", "1️⃣"),  # keycap
        ("❤", "❤️"),
    ],
)
def test_one_emoji_of_any_shape_is_accepted_in_one_spelling(chat: Any, sent: str, stored: str) -> None:
    alice, _, _, _, message_id = chat
    assert reacted(alice, message_id, sent) == [{"emoji": stored, "count": 1, "me": True}]


def test_heart_with_and_without_its_variation_selector_is_one_reaction(app: Flask, chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    reacted(alice, message_id, "❤")
    assert counts(reacted(bob, message_id, "❤\ufe0f")) == [("❤\ufe0f", 2)]
    assert reacted(alice, message_id, "❤\ufe0f") == [{"emoji": "❤\ufe0f", "count": 2, "me": True}]  # again: no-op
    listed = reactors(alice, message_id, "❤").get_json()["items"]
    assert [r["user_id"] for r in listed] == [alice.id, bob.id]
    removed = unreact(bob, message_id, "❤")
    assert removed.status_code == 200 and removed.get_json()["reactions"] == [
        {"emoji": "❤\ufe0f", "count": 1, "me": False}
    ]
    assert stored_counts(app, message_id) == {"❤\ufe0f": 1}


BAD_EMOJI = {
    "text": "ok",
    "a letter": "a",
    "a digit": "1",
    "two emoji": "👍👍",
    "emoji and text": "👍x",
    "emoji and a space": "👍 ",
    "a space": " ",
    "a skin tone alone": "\N{EMOJI MODIFIER FITZPATRICK TYPE-1-2}",
    "a hair part alone": "\N{EMOJI COMPONENT RED HAIR}",
    "NUL": "\u0000",
    "emoji and NUL": "👍\u0000",
    "a lone regional indicator": "🇫",
    "a very long string": "👍" * 500,
    "a very long text": "x" * 5000,
}


@pytest.mark.parametrize("emoji", BAD_EMOJI.values(), ids=BAD_EMOJI.keys())
def test_anything_but_one_emoji_is_422_on_emoji_for_put_delete_and_get(app: Flask, chat: Any, emoji: str) -> None:
    alice, _, _, _, message_id = chat
    for response in (react(alice, message_id, emoji), unreact(alice, message_id, emoji)):
        assert "emoji" in details_of(response)
    assert "emoji" in details_of(reactors(alice, message_id, emoji))
    assert stored_counts(app, message_id) == {}


def test_an_empty_emoji_is_422_on_emoji_over_rest_and_sockets(
    app: Flask, chat: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, _, _, room_id, message_id = chat
    for response in (react(alice, message_id, ""), unreact(alice, message_id, ""), reactors(alice, message_id, "")):
        assert "emoji" in details_of(response)
    socket = joined(sockets, alice, room_id)
    for event in ("add_reaction", "remove_reaction"):
        ack = socket.call(event, {"message_id": message_id, "emoji": ""})
        assert ack["ok"] is False and ack["error"]["code"] == "validation_failed", ack
        assert "emoji" in ack["error"]["details"]
    assert stored_counts(app, message_id) == {}


# ---- removing ---------------------------------------------------------------------------------------------------


def test_delete_takes_back_ones_own_reaction_and_answers_the_rest(app: Flask, chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    reacted(alice, message_id, "👍")
    reacted(bob, message_id, "👍")
    response = unreact(alice, message_id, "👍")
    assert response.status_code == 200
    assert response.get_json() == {"message_id": message_id, "reactions": [{"emoji": "👍", "count": 1, "me": False}]}
    assert stored_counts(app, message_id) == {"👍": 1}


def test_removing_a_reaction_you_do_not_have_is_a_no_op(
    app: Flask, chat: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, _, room_id, message_id = chat
    listener = joined(sockets, bob, room_id)
    reacted(bob, message_id, "👍")
    for emoji in ("👍", "🎉"):  # one others have, one nobody has
        response = unreact(alice, message_id, emoji)
        assert response.status_code == 200
        assert response.get_json()["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    assert listener.received("reaction_removed") == []
    assert stored_counts(app, message_id) == {"👍": 1}


def test_an_emoji_whose_last_reactor_removes_it_leaves_reactions(
    chat: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, _, room_id, message_id = chat
    listener = joined(sockets, bob, room_id)
    reacted(alice, message_id, "👍")
    reacted(alice, message_id, "🎉")
    response = unreact(alice, message_id, "👍")
    assert response.get_json()["reactions"] == [{"emoji": "🎉", "count": 1, "me": True}]
    assert [r["emoji"] for r in message_in_history(bob, room_id, message_id)["reactions"]] == ["🎉"]
    assert listener.received("reaction_removed") == [
        {"room_id": room_id, "message_id": message_id, "emoji": "👍", "user_id": alice.id, "count": 0}
    ]
    assert reactors(bob, message_id, "👍").get_json() == {"items": [], "next_cursor": None}


# ---- the cap ------------------------------------------------------------------------------------------------------


def test_a_21st_distinct_emoji_is_409_but_more_of_the_20_are_fine(app: Flask, chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    for face in FACES[:20]:
        reacted(alice, message_id, face)
    assert_error(react(bob, message_id, FACES[20]), 409, "too_many_reactions")
    assert len(stored_counts(app, message_id)) == 20
    assert counts(reacted(bob, message_id, FACES[0]))[0] == (FACES[0], 2)  # one of the twenty: fine
    assert unreact(alice, message_id, FACES[5]).status_code == 200
    assert counts(reacted(bob, message_id, FACES[20]))[-1] == (FACES[20], 1)  # a place is free again
    assert_error(react(bob, message_id, FACES[21]), 409, "too_many_reactions")


# ---- deleted messages --------------------------------------------------------------------------------------------


def test_a_deleted_message_cannot_gain_reactions(app: Flask, chat: Any) -> None:
    alice, bob, _, _, message_id = chat
    assert alice.delete(f"{MESSAGES}/{message_id}").status_code == 200
    assert_error(react(bob, message_id, "👍"), 409, "message_deleted")
    gone = unreact(bob, message_id, "👍")  # taking one back is a no-op, as for any reaction you do not have
    assert gone.status_code == 200 and gone.get_json() == {"message_id": message_id, "reactions": []}
    assert stored_counts(app, message_id) == {}


def test_a_tombstone_has_no_reactions_and_no_reactors(
    app: Flask, chat: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, _, room_id, message_id = chat
    reacted(alice, message_id, "👍")
    reacted(bob, message_id, "👍")
    reacted(bob, message_id, "🎉")
    listener = joined(sockets, bob, room_id)
    deleted = alice.delete(f"{MESSAGES}/{message_id}")
    assert deleted.status_code == 200 and deleted.get_json()["reactions"] == []
    assert message_in_history(bob, room_id, message_id)["reactions"] == []
    for emoji in ("👍", "🎉"):
        assert reactors(bob, message_id, emoji).get_json() == {"items": [], "next_cursor": None}
    assert stored_counts(app, message_id) == {}
    assert listener.received("reaction_removed") == []  # message_deleted says it all
    assert [e["message_id"] for e in listener.received("message_deleted")] == [message_id]


# ---- who reacted -------------------------------------------------------------------------------------------------


def test_reactors_are_listed_oldest_first_in_pages(api: ApiClient) -> None:
    alice, *others = api.users("Alice", "Bob", "Carol", "Dave", "Erin")
    room = alice.make_group(*others)
    message_id = alice.say(room)["id"]
    everyone = [alice, *others]
    for actor in reversed(everyone):  # not in the order they joined, nor by name
        reacted(actor, message_id, "👍")
    reacted(alice, message_id, "🎉")
    seen: list[dict[str, Any]] = []
    response = reactors(alice, message_id, "👍", limit=2)
    while True:
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= 2
        seen.extend(body["items"])
        if body["next_cursor"] is None:
            break
        response = reactors(alice, message_id, "👍", limit=2, cursor=body["next_cursor"])
    assert [r["user_id"] for r in seen] == [a.id for a in reversed(everyone)]
    assert [r["display_name"] for r in seen] == [a.user["display_name"] for a in reversed(everyone)]
    assert all(set(r) == {"user_id", "display_name", "reacted_at"} for r in seen)
    assert [r["reacted_at"] for r in seen] == sorted(r["reacted_at"] for r in seen)
    assert [r["user_id"] for r in reactors(alice, message_id, "🎉").get_json()["items"]] == [alice.id]


@pytest.mark.parametrize("params", BAD_TIME_ID_PAGE_ARGS)
def test_bad_reactor_cursors_and_limits_are_422(chat: Any, params: dict[str, Any]) -> None:
    alice, _, _, _, message_id = chat
    reacted(alice, message_id, "👍")
    assert set(params) & set(details_of(reactors(alice, message_id, "👍", **params)))


# ---- who may -----------------------------------------------------------------------------------------------------


def test_outsiders_get_the_404_of_a_missing_message(app: Flask, chat: Any) -> None:
    alice, _, carol, _, message_id = chat
    reacted(alice, message_id, "👍")
    missing = str(uuid.uuid4())
    for call in (react, unreact, reactors):
        outsider, unknown = call(carol, message_id, "👍"), call(carol, missing, "👍")
        assert_error(outsider, 404)
        assert outsider.get_json() == unknown.get_json()
    assert stored_counts(app, message_id) == {"👍": 1}


def test_a_member_who_left_can_no_longer_react_or_see_reactors(api: ApiClient, app: Flask) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob, carol)
    message_id = alice.say(room)["id"]
    reacted(carol, message_id, "👍")
    assert carol.delete(f"/api/chat/rooms/{room['id']}/members/{carol.id}").status_code == 204
    for call in (react, unreact, reactors):
        assert_error(call(carol, message_id, "🎉"), 404)
    assert stored_counts(app, message_id) == {"👍": 1}


def test_a_message_of_a_room_you_are_not_in_is_404_even_beside_your_own_rooms(api: ApiClient) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    alice.make_group(carol)  # Carol shares a room with Alice, not the one the message is in
    elsewhere = alice.make_group(bob, name="Elsewhere")
    message_id = alice.say(elsewhere)["id"]
    assert_error(react(carol, message_id, "👍"), 404, "message_not_found")


# ---- sockets and broadcasts -------------------------------------------------------------------------------------


def test_socket_reactions_ack_as_rest_answers_and_reach_joined_sockets_once(
    app: Flask, chat: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, _, room_id, message_id = chat
    actor = joined(sockets, alice, room_id)
    listener = joined(sockets, bob, room_id)
    not_joined = sockets(bob.access_token)
    reacted(bob, message_id, "👍")
    ack = actor.call("add_reaction", {"message_id": message_id, "emoji": "👍"})
    assert ack == {"ok": True, "message_id": message_id, "reactions": [{"emoji": "👍", "count": 2, "me": True}]}
    again = actor.call("add_reaction", {"message_id": message_id, "emoji": "👍"})
    assert again == ack
    added = {"room_id": room_id, "message_id": message_id, "emoji": "👍", "user_id": alice.id, "count": 2}
    for socket in (actor, listener):
        heard = socket.received("reaction_added")
        assert heard[-1] == added and len(heard) == 2  # Bob's over REST, then Alice's once
        assert all(set(e) == SOCKET_SERVER_EVENTS["reaction_added"] for e in heard)
    removed = actor.call("remove_reaction", {"message_id": message_id, "emoji": "👍"})
    assert removed == {"ok": True, "message_id": message_id, "reactions": [{"emoji": "👍", "count": 1, "me": False}]}
    assert actor.call("remove_reaction", {"message_id": message_id, "emoji": "👍"}) == removed
    assert listener.received("reaction_removed") == [{**added, "count": 1}]
    assert not_joined.received("reaction_added") == [] and not_joined.received("reaction_removed") == []
    assert stored_counts(app, message_id) == {"👍": 1}


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"emoji": "👍"}, "validation_failed", "message_id"),
        ({"message_id": "not a uuid", "emoji": "👍"}, "validation_failed", "message_id"),
        ({"message_id": THE_MESSAGE}, "validation_failed", "emoji"),
        ({"message_id": THE_MESSAGE, "emoji": None}, "validation_failed", "emoji"),
        ({"message_id": THE_MESSAGE, "emoji": 7}, "validation_failed", "emoji"),
        ({"message_id": THE_MESSAGE, "emoji": "no"}, "validation_failed", "emoji"),
        ({"message_id": THE_MESSAGE, "emoji": "👍👍"}, "validation_failed", "emoji"),
        ({"message_id": THE_MESSAGE, "emoji": "👍" * 100}, "validation_failed", "emoji"),
    ],
)
def test_bad_socket_reactions_are_refused_in_the_ack(
    app: Flask, chat: Any, sockets: Callable[..., InProcessSocket], payload: dict[str, Any], code: str, field: str
) -> None:
    alice, _, _, room_id, message_id = chat
    socket = joined(sockets, alice, room_id)
    for event in ("add_reaction", "remove_reaction"):
        ack = socket.call(event, {k: message_id if v is THE_MESSAGE else v for k, v in payload.items()})
        assert ack["ok"] is False and ack["error"]["code"] == code, ack
        assert field in ack["error"]["details"], ack
    assert stored_counts(app, message_id) == {}


def test_socket_reactions_to_an_outsiders_message_or_a_deleted_one_are_refused(
    app: Flask, chat: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, carol, room_id, message_id = chat
    outsider = sockets(carol.access_token)
    for event in ("add_reaction", "remove_reaction"):
        ack = outsider.call(event, {"message_id": message_id, "emoji": "👍"})
        assert ack["ok"] is False and ack["error"]["code"] == "message_not_found", ack
    assert alice.delete(f"{MESSAGES}/{message_id}").status_code == 200
    ack = joined(sockets, bob, room_id).call("add_reaction", {"message_id": message_id, "emoji": "👍"})
    assert ack["ok"] is False and ack["error"]["code"] == "message_deleted", ack
    assert stored_counts(app, message_id) == {}


def no_me_anywhere(value: Any) -> bool:
    """No key `me` at any depth of a payload."""
    if isinstance(value, dict):
        return "me" not in value and all(no_me_anywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(no_me_anywhere(v) for v in value)
    return True


def test_broadcasts_never_carry_me(chat: Any, sockets: Callable[..., InProcessSocket]) -> None:
    alice, bob, _, room_id, message_id = chat
    listener = joined(sockets, bob, room_id)
    reacted(alice, message_id, "👍")
    reacted(bob, message_id, "🎉")
    edited = alice.patch(f"{MESSAGES}/{message_id}", json={"content": "edited", "mentions": [bob.id]})
    assert edited.status_code == 200 and mine(edited.get_json()["reactions"]) == {"👍": True, "🎉": False}
    renamed = alice.patch(f"/api/chat/rooms/{room_id}", json={"name": "Renamed"})
    assert renamed.status_code == 200 and mine(renamed.get_json()["last_message"]["reactions"]) == {
        "👍": True,
        "🎉": False,
    }
    unreact(bob, message_id, "🎉")
    broadcast_message = listener.received("message_edited")[-1]["message"]
    assert broadcast_message["reactions"] == [{"emoji": "👍", "count": 1}, {"emoji": "🎉", "count": 1}]
    assert listener.received("mentioned")[-1]["message"]["reactions"] == broadcast_message["reactions"]
    assert listener.received("room_updated")[-1]["room"]["last_message"]["reactions"] == broadcast_message["reactions"]
    everything = [item["args"] for item in listener.queue]
    for name in ("reaction_added", "reaction_removed", "message_edited", "mentioned", "room_updated"):
        assert listener.received(name), name  # each kind was heard, and checked below
    assert no_me_anywhere(everything), everything


# ---- the sync rule ------------------------------------------------------------------------------------------------


def test_each_reaction_change_makes_changed_after_return_the_message_again(chat: Any) -> None:
    alice, bob, _, room_id, message_id = chat

    def changed_since(anchor: str) -> list[dict[str, Any]]:
        return history_page(bob, room_id, changed_after=anchor)["items"]

    # Each change, and the reactions Bob then reads: (emoji, count, his own `me`).
    steps: list[tuple[Callable[[], Any], list[tuple[str, int, bool]] | None]] = [
        (lambda: reacted(alice, message_id, "👍"), [("👍", 1, False)]),
        (lambda: reacted(bob, message_id, "👍"), [("👍", 2, True)]),
        (lambda: reacted(bob, message_id, "👍"), None),  # a no-op changes nothing
        (lambda: reacted(bob, message_id, "🎉"), [("👍", 2, True), ("🎉", 1, True)]),
        (lambda: unreact(alice, message_id, "👍"), [("👍", 1, True), ("🎉", 1, True)]),
        (lambda: unreact(alice, message_id, "👍"), None),
        (lambda: unreact(bob, message_id, "🎉"), [("👍", 1, True)]),
    ]
    for number, (change, expected) in enumerate(steps):
        anchor = alice.say(room_id, f"anchor {number}")["id"]
        change()
        items = changed_since(anchor)
        if expected is None:
            assert items == [], number
            continue
        assert [m["id"] for m in items] == [message_id], number
        assert [(r["emoji"], r["count"], r["me"]) for r in items[0]["reactions"]] == expected, number


def test_a_reaction_to_a_thread_reply_reaches_changed_after_but_not_the_plain_history(chat: Any) -> None:
    alice, bob, _, room_id, message_id = chat
    reply = bob.say(room_id, "in the thread", thread_root_id=message_id)["id"]
    anchor = alice.say(room_id, "anchor")["id"]
    reacted(alice, reply, "👍")
    items = history_page(bob, room_id, changed_after=anchor)["items"]
    assert [m["id"] for m in items] == [reply]
    assert items[0]["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    assert reply not in [m["id"] for m in history_page(bob, room_id, after=anchor)["items"]]


# ---- rate limit ---------------------------------------------------------------------------------------------------


@pytest.fixture
def limited(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on the same database allowing 3 message changes a minute per user (edits, deletions, reactions)."""
    config = {"DATABASE_URL": database_url, "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_CHANGE_MESSAGE": "3/minute"}
    application = create_app(TestingConfig(config))
    application.instance_path = str(tmp_path)
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def test_reactions_share_the_edit_limit_over_rest_and_sockets(app: Flask, chat: Any, limited: Flask) -> None:
    alice, bob, _, room_id, message_id = chat
    client = limited.test_client()
    socket = InProcessSocket(limited, socketio, auth={"token": alice.access_token})
    try:
        url = reaction_url(message_id, "👍")
        assert client.put(url, headers=alice.headers).status_code == 200
        edit = client.patch(f"{MESSAGES}/{message_id}", headers=alice.headers, json={"content": "edited"})
        assert edit.status_code == 200
        assert socket.call("add_reaction", {"message_id": message_id, "emoji": "🎉"})["ok"] is True
        # Three changes of Alice's, whichever way they came: every further one is refused, and changes nothing.
        refusals = [
            client.put(reaction_url(message_id, "😀"), headers=alice.headers),
            client.delete(url, headers=alice.headers),
            client.put(f"/api/chat/rooms/{room_id}/pins/{message_id}", headers=alice.headers),
        ]
        for refused in refusals:
            assert_error(refused, 429, "rate_limited")
            assert refused.headers["Retry-After"].isdigit()
        ack = socket.call("remove_reaction", {"message_id": message_id, "emoji": "🎉"})
        assert ack["ok"] is False and ack["error"]["code"] == "rate_limited", ack
        # Reading is not limited, and Bob's count is his own.
        assert client.get(url, headers=alice.headers).status_code == 200
        assert client.put(url, headers=bob.headers).status_code == 200
    finally:
        socket.close()
    assert stored_counts(app, message_id) == {"👍": 2, "🎉": 1}


# ---- concurrency ----------------------------------------------------------------------------------------------------


def test_parallel_new_emoji_on_a_message_with_19_never_pass_20(api: ApiClient, app: Flask) -> None:
    alice, *others = api.users(*(f"Racer {n}" for n in range(9)))
    room = alice.make_group(*others)
    for round_ in range(ROUNDS):
        message_id = alice.say(room, f"round {round_}")["id"]
        for face in FACES[:19]:
            reacted(alice, message_id, face)
        new = FACES[19 : 19 + len(others)]
        responses = at_once(
            app,
            *(request_as(who, "put", reaction_url(message_id, face)) for who, face in zip(others, new, strict=True)),
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [409] * (len(others) - 1), statuses
        for refused in (r for r in responses if r.status_code == 409):
            assert_error(refused, 409, "too_many_reactions")
        summary = message_in_history(alice, room["id"], message_id)["reactions"]
        assert len(summary) == 20
        assert dict(counts(summary)) == stored_counts(app, message_id)


def test_parallel_reactions_of_many_users_with_one_emoji_are_all_counted(api: ApiClient, app: Flask) -> None:
    alice, *others = api.users(*(f"Racer {n}" for n in range(8)))
    room = alice.make_group(*others)
    for round_ in range(ROUNDS):
        message_id = alice.say(room, f"round {round_}")["id"]
        everyone = [alice, *others]
        responses = at_once(
            app,
            *(request_as(who, "put", reaction_url(message_id, "👍")) for who in everyone),
        )
        assert [r.status_code for r in responses] == [200] * len(everyone)
        summary = message_in_history(alice, room["id"], message_id)["reactions"]
        assert counts(summary) == [("👍", len(everyone))] == list(stored_counts(app, message_id).items())


def test_parallel_identical_reactions_of_one_user_count_once_and_broadcast_once(
    api: ApiClient, app: Flask, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    listener = joined(sockets, bob, room["id"])
    for round_ in range(ROUNDS):
        message_id = alice.say(room, f"round {round_}")["id"]
        responses = at_once(app, *(request_as(alice, "put", reaction_url(message_id, "👍")) for _ in range(6)))
        assert all(r.status_code == 200 for r in responses), [(r.status_code, r.get_json()) for r in responses]
        answers = [r.get_json()["reactions"] for r in responses]
        assert all(a == [{"emoji": "👍", "count": 1, "me": True}] for a in answers), answers
        assert stored_counts(app, message_id) == {"👍": 1}
        heard = [e for e in listener.received("reaction_added") if e["message_id"] == message_id]
        assert [e["count"] for e in heard] == [1]


def test_parallel_identical_removals_of_one_user_remove_once_and_broadcast_once(
    api: ApiClient, app: Flask, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    listener = joined(sockets, bob, room["id"])
    for round_ in range(ROUNDS):
        message_id = alice.say(room, f"round {round_}")["id"]
        reacted(alice, message_id, "👍")
        reacted(bob, message_id, "👍")
        responses = at_once(app, *(request_as(alice, "delete", reaction_url(message_id, "👍")) for _ in range(6)))
        assert all(r.status_code == 200 for r in responses), [(r.status_code, r.get_json()) for r in responses]
        answers = [r.get_json()["reactions"] for r in responses]
        assert all(a == [{"emoji": "👍", "count": 1, "me": False}] for a in answers), answers
        assert stored_counts(app, message_id) == {"👍": 1}
        heard = [e for e in listener.received("reaction_removed") if e["message_id"] == message_id]
        assert [(e["user_id"], e["count"]) for e in heard] == [(alice.id, 1)]


def test_acknowledgements_carrying_a_message_say_which_reactions_are_mine(
    app: Flask, chat: Any, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, _, room_id, message_id = chat
    reacted(alice, message_id, "👍")
    reacted(bob, message_id, "🎉")
    socket = joined(sockets, alice, room_id)
    mine = [{"emoji": "👍", "count": 1, "me": True}, {"emoji": "🎉", "count": 1, "me": False}]
    # The notify-only form of send_message, an edit and a no-op edit all answer the message as REST does.
    notified = socket.call("send_message", {"message_id": message_id, "room_id": room_id})
    assert notified["ok"] and notified["message"]["reactions"] == mine
    for text in ("react to me!", "react to me!"):  # a change, then the same text again (a no-op)
        edited = socket.call("message_edited", {"message_id": message_id, "content": text})
        assert edited["ok"] and edited["message"]["reactions"] == mine
