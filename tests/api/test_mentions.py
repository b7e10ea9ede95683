"""Mentions: `mentions` and `mentions_room` on send and edit, the rooms' `mention_count`, and the `mentioned` event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from armada.extensions import db
from armada.models import ChatMessage
from tests.helpers.contract import BROADCAST_ROOM_KEYS, MESSAGE_KEYS, SOCKET_SERVER_EVENTS
from tests.helpers.factories import post_message
from tests.helpers.in_process import InProcessSocket
from tests.helpers.support import Actor, ApiClient, details_of, history_page

MESSAGES = "/api/chat/messages"


@dataclass
class Team:
    """Alice (admin), Bob and Carol in one group; Dave in no room."""

    alice: Actor
    bob: Actor
    carol: Actor
    dave: Actor
    room: dict[str, Any]

    @property
    def room_id(self) -> str:
        """The group's id."""
        return str(self.room["id"])


@pytest.fixture
def team(api: ApiClient) -> Team:
    alice, bob, carol, dave = api.users("Alice", "Bob", "Carol", "Dave")
    return Team(alice, bob, carol, dave, alice.make_group(bob, carol))


def edit(actor: Actor, message: dict[str, Any], **body: Any) -> TestResponse:
    """PATCH a message with this body (its content unchanged unless given)."""
    return actor.patch(f"{MESSAGES}/{message['id']}", json={"content": message["content"], **body})


def as_listed(actor: Actor, message: dict[str, Any]) -> dict[str, Any]:
    """The message as the room's history shows it to `actor`."""
    (seen,) = [m for m in history_page(actor, message["room_id"], limit=100)["items"] if m["id"] == message["id"]]
    return seen


def messages_stored(app: Flask, room_id: str) -> int:
    """Rows in the room's chat_messages."""
    with app.app_context():
        where = ChatMessage.room_id == uuid.UUID(room_id)
        return db.session.scalar(select(func.count()).select_from(ChatMessage).where(where)) or 0


# ---- sending and editing mentions -----------------------------------------------------------------------------


def test_a_message_carries_its_mentions(team: Team) -> None:
    sent = team.alice.say(team.room, "@Bob look", mentions=[team.bob.id])
    assert sent["mentions"] == [team.bob.id] and sent["mentions_room"] is False
    assert as_listed(team.carol, sent)["mentions"] == [team.bob.id]
    plain = team.alice.say(team.room, "no one")
    assert plain["mentions"] == [] and plain["mentions_room"] is False


def test_duplicate_mentions_collapse_in_order(team: Team) -> None:
    ids = [team.carol.id, team.bob.id, team.carol.id, team.bob.id]
    assert team.alice.say(team.room, "you two", mentions=ids)["mentions"] == [team.carol.id, team.bob.id]


def test_mentions_room_is_kept(team: Team) -> None:
    sent = team.alice.say(team.room, "@room", mentions_room=True)
    assert sent["mentions_room"] is True and sent["mentions"] == []
    assert as_listed(team.bob, sent)["mentions_room"] is True


@pytest.fixture
def big_room(api: ApiClient, team: Team) -> tuple[dict[str, Any], list[Actor]]:
    """A group of Alice's with 51 others."""
    others = api.users(*(f"Member {n}" for n in range(51)))
    return team.alice.make_group(*others, name="Everyone"), others


def test_fifty_members_may_be_mentioned_but_not_fifty_one(
    app: Flask, team: Team, big_room: tuple[dict[str, Any], list[Actor]]
) -> None:
    room, others = big_room
    fifty, fifty_one = [o.id for o in others[:50]], [o.id for o in others]
    sent = team.alice.say(room, "roll call", mentions=fifty)
    assert sent["mentions"] == fifty
    assert set(details_of(post_message(team.alice, room, "roll call", mentions=fifty_one))) == {"mentions"}
    assert set(details_of(edit(team.alice, sent, content="roll call!", mentions=fifty_one))) == {"mentions"}
    assert messages_stored(app, room["id"]) == 1
    assert as_listed(team.alice, sent)["mentions"] == fifty and as_listed(team.alice, sent)["content"] == "roll call"


def _not_a_member(team: Team, case: str) -> str:
    if case == "a removed member":
        assert team.alice.delete(f"/api/chat/rooms/{team.room_id}/members/{team.carol.id}").status_code in (200, 204)
        return team.carol.id
    return {"a stranger": team.dave.id, "an unknown user": str(uuid.uuid4()), "not a uuid": "nope"}[case]


CASES = ["a removed member", "a stranger", "an unknown user", "not a uuid"]


@pytest.mark.parametrize("case", CASES)
def test_mentioning_anyone_but_an_active_member_is_refused(app: Flask, team: Team, case: str) -> None:
    bad = _not_a_member(team, case)
    refused = post_message(team.alice, team.room, "hey", mentions=[team.bob.id, bad])
    assert set(details_of(refused)) == {"mentions"}
    assert messages_stored(app, team.room_id) == 0


@pytest.mark.parametrize("case", CASES)
def test_an_edit_mentioning_anyone_but_an_active_member_is_refused(team: Team, case: str) -> None:
    sent = team.alice.say(team.room, "hey", mentions=[team.bob.id])
    bad = _not_a_member(team, case)
    assert set(details_of(edit(team.alice, sent, content="hey you", mentions=[bad]))) == {"mentions"}
    kept = as_listed(team.alice, sent)
    assert kept["mentions"] == [team.bob.id] and kept["content"] == "hey"


@pytest.mark.parametrize(
    ("field", "value"), [("mentions", "not a list"), ("mentions", [1]), ("mentions_room", "maybe")]
)
def test_mentions_of_the_wrong_type_are_refused(team: Team, field: str, value: Any) -> None:
    assert set(details_of(post_message(team.alice, team.room, "hey", **{field: value}))) == {field}


def test_a_bad_mention_over_the_socket_is_refused_on_mentions(
    team: Team, sockets: Callable[..., InProcessSocket]
) -> None:
    socket = sockets(team.alice.access_token)
    for bad in (team.dave.id, "nope"):
        ack = socket.call("send_message", {"room_id": team.room_id, "content": "hey", "mentions": [bad]})
        assert ack["ok"] is False and set(ack["error"]["details"]) == {"mentions"}, ack


def test_an_edit_replaces_the_mentions_and_one_without_them_keeps_them(team: Team) -> None:
    sent = team.alice.say(team.room, "hey", mentions=[team.bob.id], mentions_room=True)
    replaced = edit(team.alice, sent, mentions=[team.carol.id])
    assert replaced.status_code == 200
    assert replaced.get_json()["mentions"] == [team.carol.id] and replaced.get_json()["mentions_room"] is True
    kept = edit(team.alice, sent, content="hey there").get_json()
    assert kept["content"] == "hey there" and kept["mentions"] == [team.carol.id] and kept["mentions_room"] is True
    cleared = edit(team.alice, sent, content="hey there", mentions=[], mentions_room=False).get_json()
    assert cleared["mentions"] == [] and cleared["mentions_room"] is False
    assert as_listed(team.bob, sent)["mentions"] == []


def test_an_edit_over_the_socket_replaces_the_mentions(team: Team, sockets: Callable[..., InProcessSocket]) -> None:
    sent = team.alice.say(team.room, "hey", mentions=[team.bob.id])
    socket = sockets(team.alice.access_token)
    ack = socket.call("message_edited", {"message_id": sent["id"], "content": "hey", "mentions": [team.carol.id]})
    assert ack["ok"] is True and ack["message"]["mentions"] == [team.carol.id], ack
    assert as_listed(team.bob, sent)["mentions"] == [team.carol.id]


def test_a_tombstone_mentions_no_one(team: Team) -> None:
    sent = team.alice.say(team.room, "hey", mentions=[team.bob.id], mentions_room=True)
    tombstone = team.alice.delete(f"{MESSAGES}/{sent['id']}").get_json()
    assert tombstone["mentions"] == [] and tombstone["mentions_room"] is False
    listed = as_listed(team.bob, sent)
    assert listed["mentions"] == [] and listed["mentions_room"] is False


# ---- mention_count ----------------------------------------------------------------------------------------------


def mention_counts(actor: Actor, room_id: str) -> tuple[int, int]:
    """The room's mention_count for `actor` in GET /api/chat/rooms and in GET /api/chat/rooms/{room_id}."""
    listed = actor.get("/api/chat/rooms", query_string={"limit": 100}).get_json()["items"]
    (in_list,) = [r["mention_count"] for r in listed if r["id"] == room_id]
    one = actor.get(f"/api/chat/rooms/{room_id}")
    assert one.status_code == 200
    return in_list, one.get_json()["mention_count"]


def mention_count(actor: Actor, room_id: str) -> int:
    """The room's mention_count for `actor`, the same in the room list and the room."""
    in_list, in_room = mention_counts(actor, room_id)
    assert in_list == in_room
    return in_list


def read_up_to(actor: Actor, message: dict[str, Any]) -> None:
    """Mark the room read up to this message."""
    response = actor.post(f"/api/chat/rooms/{message['room_id']}/read", json={"up_to": message["id"]})
    assert response.status_code == 200, response.get_json()


def test_mention_count_counts_mentions_by_id_or_room_from_others(team: Team) -> None:
    first = team.alice.say(team.room, "Bob?", mentions=[team.bob.id])
    team.alice.say(team.room, "nobody")
    team.alice.say(team.room, "everyone", mentions_room=True)
    team.bob.say(team.room, "me, myself", mentions=[team.bob.id], mentions_room=True)
    last = team.carol.say(team.room, "Bob and everyone", mentions=[team.bob.id], mentions_room=True)
    assert mention_count(team.bob, team.room_id) == 3
    assert mention_count(team.carol, team.room_id) == 2  # Alice's and Bob's @room
    assert mention_count(team.alice, team.room_id) == 2  # Bob's and Carol's @room
    read_up_to(team.bob, first)
    assert mention_count(team.bob, team.room_id) == 2
    read_up_to(team.bob, last)
    assert mention_count(team.bob, team.room_id) == 0
    team.alice.say(team.room, "again", mentions=[team.bob.id])
    assert mention_count(team.bob, team.room_id) == 1


def test_mention_count_follows_edits_and_deletions(team: Team) -> None:
    sent = team.alice.say(team.room, "hey")
    assert mention_count(team.bob, team.room_id) == 0
    edit(team.alice, sent, mentions=[team.bob.id])
    assert mention_count(team.bob, team.room_id) == 1
    edit(team.alice, sent, mentions=[team.carol.id])
    assert mention_count(team.bob, team.room_id) == 0
    assert mention_count(team.carol, team.room_id) == 1
    team.alice.delete(f"{MESSAGES}/{sent['id']}")
    assert mention_count(team.carol, team.room_id) == 0


def test_a_mention_in_a_thread_reply_counts_until_its_thread_is_read(team: Team) -> None:
    root = team.alice.say(team.room, "root")
    read_up_to(team.bob, root)
    first = team.carol.say(team.room, "Bob?", thread_root_id=root["id"], mentions=[team.bob.id])
    second = team.carol.say(team.room, "Bob??", thread_root_id=root["id"], mentions=[team.bob.id])
    assert mention_count(team.bob, team.room_id) == 2
    read = team.bob.post(f"/api/chat/threads/{root['id']}/read", json={"up_to": first["id"]})
    assert read.status_code == 200, read.get_json()
    assert mention_count(team.bob, team.room_id) == 1  # the second is past where Bob read the thread
    team.bob.post(f"/api/chat/threads/{root['id']}/read", json={"up_to": second["id"]})
    assert mention_count(team.bob, team.room_id) == 0
    assert mention_count(team.alice, team.room_id) == 0  # another thread reader's pointer counts for nobody else
    team.carol.say(team.room, "Alice?", thread_root_id=root["id"], mentions=[team.alice.id])
    assert mention_count(team.alice, team.room_id) == 1


# ---- the `mentioned` event ----------------------------------------------------------------------------------------


@dataclass
class Listeners:
    """Sockets: Bob's joined to the room and Bob's not joined, Carol's not joined, Alice's joined."""

    bob_joined: InProcessSocket
    bob_elsewhere: InProcessSocket
    carol: InProcessSocket
    alice: InProcessSocket

    def mentioned(self) -> dict[str, list[dict[str, Any]]]:
        """The `mentioned` payloads each socket received since last asked (every other event dropped)."""
        heard = {}
        for name in ("bob_joined", "bob_elsewhere", "carol", "alice"):
            socket: InProcessSocket = getattr(self, name)
            heard[name] = [item["args"][0] for item in socket.get_received() if item["name"] == "mentioned"]
        return heard


@pytest.fixture
def listeners(team: Team, sockets: Callable[..., InProcessSocket]) -> Listeners:
    found = Listeners(
        sockets(team.bob.access_token),
        sockets(team.bob.access_token),
        sockets(team.carol.access_token),
        sockets(team.alice.access_token),
    )
    for socket in (found.bob_joined, found.alice):
        assert socket.call("join_room", {"room_id": team.room_id})["ok"]
    found.mentioned()
    return found


def test_mentioned_goes_to_every_socket_of_the_mentioned_user_only(team: Team, listeners: Listeners) -> None:
    sent = team.alice.say(team.room, "Bob?", mentions=[team.bob.id, team.alice.id])
    heard = listeners.mentioned()
    assert heard["carol"] == [] and heard["alice"] == []  # nor the sender, who mentioned herself
    for payload in (*heard["bob_joined"], *heard["bob_elsewhere"]):
        assert set(payload) == SOCKET_SERVER_EVENTS["mentioned"] and set(payload["message"]) == MESSAGE_KEYS
        assert payload["room_id"] == team.room_id and payload["message"]["id"] == sent["id"]
    assert len(heard["bob_joined"]) == len(heard["bob_elsewhere"]) == 1


def test_a_room_mention_reaches_every_active_member_but_the_sender(
    team: Team, listeners: Listeners, sockets: Callable[..., InProcessSocket]
) -> None:
    assert team.alice.post(f"/api/chat/rooms/{team.room_id}/members/{team.dave.id}").status_code in (200, 201)
    assert team.alice.delete(f"/api/chat/rooms/{team.room_id}/members/{team.dave.id}").status_code in (200, 204)
    dave = sockets(team.dave.access_token)  # removed, with a socket that would hear it
    listeners.mentioned()
    sent = team.alice.say(team.room, "everyone!", mentions_room=True)
    heard = listeners.mentioned()
    assert [p["message"]["id"] for p in heard["carol"]] == [sent["id"]]
    assert len(heard["bob_joined"]) == len(heard["bob_elsewhere"]) == 1 and heard["alice"] == []
    assert dave.received("mentioned") == []


def test_an_edit_mentions_only_the_newly_mentioned(team: Team, listeners: Listeners) -> None:
    sent = team.alice.say(team.room, "Bob?", mentions=[team.bob.id])
    listeners.mentioned()
    edit(team.alice, sent, mentions=[team.bob.id, team.carol.id])
    heard = listeners.mentioned()
    assert [p["message"]["mentions"] for p in heard["carol"]] == [[team.bob.id, team.carol.id]]
    assert heard["bob_joined"] == heard["bob_elsewhere"] == heard["alice"] == []
    # Neither a repeated edit, nor a change of text alone, nor @room for those already mentioned mentions again.
    edit(team.alice, sent, mentions=[team.bob.id, team.carol.id])
    edit(team.alice, sent, content="Bob? Carol?")
    edit(team.alice, sent, content="Bob? Carol?", mentions_room=True)
    assert listeners.mentioned() == {"bob_joined": [], "bob_elsewhere": [], "carol": [], "alice": []}


def test_an_edit_to_room_mentions_the_members_not_yet_mentioned(team: Team, listeners: Listeners) -> None:
    sent = team.alice.say(team.room, "Bob?", mentions=[team.bob.id])
    listeners.mentioned()
    edit(team.alice, sent, content="everyone?", mentions_room=True)
    heard = listeners.mentioned()
    assert len(heard["carol"]) == 1 and heard["bob_joined"] == heard["bob_elsewhere"] == heard["alice"] == []


def test_a_mention_taken_back_and_given_again_mentions_again(team: Team, listeners: Listeners) -> None:
    sent = team.alice.say(team.room, "Bob?", mentions=[team.bob.id])
    edit(team.alice, sent, mentions=[])
    listeners.mentioned()
    edit(team.alice, sent, mentions=[team.bob.id])
    assert len(listeners.mentioned()["bob_elsewhere"]) == 1


def test_mentions_over_the_socket_are_announced_too(
    team: Team, listeners: Listeners, sockets: Callable[..., InProcessSocket]
) -> None:
    socket = sockets(team.alice.access_token)
    ack = socket.call("send_message", {"room_id": team.room_id, "content": "Bob?", "mentions": [team.bob.id]})
    assert ack["ok"], ack
    heard = listeners.mentioned()
    assert [p["message"]["id"] for p in heard["bob_elsewhere"]] == [ack["message"]["id"]] and heard["carol"] == []
    edited = socket.call(
        "message_edited", {"message_id": ack["message"]["id"], "content": "Carol?", "mentions": [team.carol.id]}
    )
    assert edited["ok"], edited
    heard = listeners.mentioned()
    assert len(heard["carol"]) == 1 and heard["bob_elsewhere"] == []


# ---- mention counts are the viewer's own: never broadcast ------------------------------------------------------


def test_room_broadcasts_carry_no_mention_count(team: Team, listeners: Listeners) -> None:
    team.alice.say(team.room, "Bob?", mentions=[team.bob.id])
    assert mention_count(team.bob, team.room_id) == 1
    assert team.alice.patch(f"/api/chat/rooms/{team.room_id}", json={"name": "Renamed"}).status_code == 200
    created = team.alice.make_group(team.bob, name="Another")
    rooms = {
        item["name"]: item["args"][0]["room"]
        for item in listeners.bob_elsewhere.get_received()
        if item["name"] in ("room_updated", "room_created")
    }
    assert set(rooms) == {"room_updated", "room_created"}
    assert rooms["room_created"]["id"] == created["id"] and rooms["room_updated"]["id"] == team.room_id
    for room in rooms.values():
        assert set(room) == BROADCAST_ROOM_KEYS and "mention_count" not in room
