"""Reactions, threads, pins and mentions in real time: the official socket.io-client (tests/js/client.mjs) against
one real server, checking acknowledgements, who hears what, in which order, once, and that no broadcast carries
anything viewer-specific."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers.contract import MESSAGE_CHANGE_EVENTS, SOCKET_SERVER_EVENTS, viewer_fields
from tests.helpers.factories import make_message, make_room
from tests.helpers.node import NodeClient, joined, node_client
from tests.helpers.realtime import QUIET, Crew, assert_refused, ok
from tests.helpers.servers import HttpUser, Server, serve_fresh


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One migrated fresh database and the Procfile's web process, shared by this module's tests."""
    with serve_fresh(tmp_path_factory.mktemp("features_realtime"), prefix="armada_features") as running:
        yield running


def heard(client: NodeClient, *names: str) -> list[tuple[str, Any]]:
    """(event, data) of every line named `names` (message changes, if none named) the client printed, in order."""
    wanted = set(names) or MESSAGE_CHANGE_EVENTS
    return [(line["event"], line["data"]) for line in client.seen if line["event"] in wanted]


def settle(server: Server, *clients: NodeClient) -> None:
    """Give duplicates and strays time to come, then check what every client got: each event in the contract's
    shape, nothing viewer-specific in anything, and no change the server had to replay (a change number taken
    without its event leaves a gap that holds back every later change of the room until it is read back)."""
    for client in clients:
        client.settle(QUIET)
        for line in client.seen:
            if line["event"] in SOCKET_SERVER_EVENTS and line["event"] != "error":  # an error's details are optional
                assert set(line["data"]) == SOCKET_SERVER_EVENTS[line["event"]], line
            if not line["event"].startswith("ack:"):  # acknowledgements answer one viewer: `me` belongs there
                assert viewer_fields(line["data"]) == [], line
    assert "Replayed missed changes" not in server.log.read_text(errors="replace"), server.output()


def reaction_path(message_id: str, emoji: str) -> str:
    return f"/api/chat/messages/{message_id}/reactions/{quote(emoji)}"


def test_reactions_are_acknowledged_and_broadcast_to_the_room_once_each(crew: Crew, server: Server) -> None:
    alice, bob, room_id = crew
    message = make_message(alice, room_id, "react to me")["id"]
    heart = "❤️"
    with joined(server, alice, room_id) as alice_client, joined(server, bob, room_id, commands=True) as bob_client:
        # Without its variation selector the heart is the same emoji, spelt one way everywhere.
        ack = bob_client.emit("add_reaction", {"message_id": message, "emoji": "❤"})
        assert ack == {"ok": True, "message_id": message, "reactions": [{"emoji": heart, "count": 1, "me": True}]}
        bob_added = {"room_id": room_id, "message_id": message, "emoji": heart, "user_id": bob.id, "count": 1}
        assert alice_client.wait_for("reaction_added") == bob_added

        answer = ok(alice.call("PUT", reaction_path(message, heart)))
        assert answer == {"message_id": message, "reactions": [{"emoji": heart, "count": 2, "me": True}]}
        assert bob_client.wait_for("reaction_added") == bob_added  # his own, first
        assert bob_client.wait_for("reaction_added") == {**bob_added, "user_id": alice.id, "count": 2}

        again = bob_client.emit("add_reaction", {"message_id": message, "emoji": heart})
        assert again == {"ok": True, "message_id": message, "reactions": [{"emoji": heart, "count": 2, "me": True}]}
        removed = bob_client.emit("remove_reaction", {"message_id": message, "emoji": heart})
        assert removed == {"ok": True, "message_id": message, "reactions": [{"emoji": heart, "count": 1, "me": False}]}
        assert alice_client.wait_for("reaction_removed") == {**bob_added, "count": 1}
        not_mine = bob_client.emit("remove_reaction", {"message_id": message, "emoji": heart})
        assert not_mine == removed

        # Refused: no emoji, two emoji, a message that does not exist; none of them broadcast anything.
        for emoji in ("heart", "👍👍", ""):
            assert_refused(
                bob_client.emit("add_reaction", {"message_id": message, "emoji": emoji}), "validation_failed"
            )
        nowhere = {"message_id": str(uuid.uuid4()), "emoji": heart}
        assert_refused(bob_client.emit("add_reaction", nowhere), "message_not_found")

        # The message's JSON in a broadcast carries its reactions, without `me`.
        ok(alice.call("PATCH", f"/api/chat/messages/{message}", json={"content": "react to me, edited"}))
        for client in (alice_client, bob_client):
            assert client.wait_for("message_edited")["message"]["reactions"] == [{"emoji": heart, "count": 1}]
        settle(server, alice_client, bob_client)
        changes = [
            ("reaction_added", bob_added),
            ("reaction_added", {**bob_added, "user_id": alice.id, "count": 2}),
            ("reaction_removed", {**bob_added, "count": 1}),
        ]
        for client in (alice_client, bob_client):
            assert heard(client, "reaction_added", "reaction_removed") == changes
            assert [name for name, _ in heard(client)] == ["reaction_added"] * 2 + [
                "reaction_removed",
                "message_edited",
            ]


def test_a_thread_reply_is_new_message_then_thread_updated(
    crew: Crew, server: Server, user: Callable[[str], HttpUser]
) -> None:
    alice, bob, room_id = crew
    root = make_message(alice, room_id, "start a thread")
    with joined(server, alice, room_id) as alice_client, joined(server, bob, room_id, commands=True) as bob_client:
        body = {"room_id": room_id, "content": "in the thread", "thread_root_id": root["id"], "client_id": "t-1"}
        ack = bob_client.emit("send_message", body)
        assert ack["ok"] is True and ack["created"] is True, ack
        reply = ack["message"]
        assert reply["thread_root_id"] == root["id"]
        thread = {"reply_count": 1, "last_reply_at": reply["created_at"], "participant_ids": [bob.id]}
        for client in (alice_client, bob_client):
            client.wait_for("thread_updated")
            assert heard(client) == [
                ("new_message", {"room_id": room_id, "message": reply}),
                ("thread_updated", {"room_id": room_id, "root_id": root["id"], "thread": thread}),
            ]

        second = make_message(alice, room_id, "me too", thread_root_id=root["id"])
        thread = {"reply_count": 2, "last_reply_at": second["created_at"], "participant_ids": [alice.id, bob.id]}
        assert bob_client.wait_for("thread_updated")["thread"] == thread
        assert [name for name, _ in heard(bob_client)][2:] == ["new_message", "thread_updated"]

        # Refused, broadcasting nothing: a reply as a root, another room's message as a root.
        elsewhere = make_message(alice, make_room(alice, user("Carol"))["id"], "another room")
        for bad_root in (reply["id"], elsewhere["id"]):
            refused = bob_client.emit("send_message", {**body, "thread_root_id": bad_root, "client_id": bad_root})
            assert set(assert_refused(refused, "validation_failed")["details"]) == {"thread_root_id"}
        settle(server, alice_client, bob_client)
        for client in (alice_client, bob_client):
            assert [name for name, _ in heard(client)] == ["new_message", "thread_updated"] * 2


def test_pins_made_over_rest_are_broadcast_as_message_pinned_and_message_unpinned(crew: Crew, server: Server) -> None:
    alice, bob, room_id = crew
    message = make_message(bob, room_id, "pin me")["id"]
    path = f"/api/chat/rooms/{room_id}/pins/{message}"
    with joined(server, alice, room_id) as alice_client, joined(server, bob, room_id) as bob_client:
        pinned = ok(alice.call("PUT", path))
        assert pinned["pinned_by"] == alice.id and pinned["pinned_at"]
        event = {"room_id": room_id, "message_id": message, "pinned_by": alice.id, "pinned_at": pinned["pinned_at"]}
        assert bob_client.wait_for("message_pinned") == event
        assert ok(alice.call("PUT", path)) == pinned  # again: a no-op
        refused = bob.call("PUT", path)  # not an admin of the group
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_admin")

        unpinned = ok(alice.call("DELETE", path))
        assert (unpinned["pinned_at"], unpinned["pinned_by"]) == (None, None)
        assert bob_client.wait_for("message_unpinned") == {"room_id": room_id, "message_id": message}
        assert ok(alice.call("DELETE", path)) == unpinned  # again: a no-op
        settle(server, alice_client, bob_client)
        for client in (alice_client, bob_client):
            assert heard(client) == [
                ("message_pinned", event),
                ("message_unpinned", {"room_id": room_id, "message_id": message}),
            ]


def test_mentioned_reaches_every_socket_of_the_mentioned_joined_or_not_and_never_the_sender(
    server: Server, user: Callable[[str], HttpUser]
) -> None:
    alice, bob, carol, dave = (user(name) for name in ("Alice", "Bob", "Carol", "Dave"))
    room_id = make_room(alice, bob, carol)["id"]
    with (
        joined(server, alice, room_id) as alice_joined,
        node_client(server, alice.token) as alice_away,
        joined(server, bob, room_id) as bob_joined,
        node_client(server, bob.token) as bob_away,
        node_client(server, carol.token) as carol_away,
        node_client(server, dave.token) as dave_away,  # in no room of theirs
    ):
        for client in (alice_away, bob_away, carol_away, dave_away):
            client.wait_for("connected")
        everyone = [alice_joined, alice_away, bob_joined, bob_away, carol_away, dave_away]

        # Alice names herself too: the sender is never told.
        sent = make_message(alice, room_id, "@Bob look", mentions=[bob.id, alice.id])
        assert sent["mentions"] == [bob.id, alice.id]
        for client in (bob_joined, bob_away):
            assert client.wait_for("mentioned") == {"room_id": room_id, "message": sent}

        # An edit that adds Carol mentions her alone: Bob was mentioned already.
        body = {"content": "@Bob @Carol look", "mentions": [bob.id, alice.id, carol.id]}
        edited = ok(alice.call("PATCH", f"/api/chat/messages/{sent['id']}", json=body))
        assert carol_away.wait_for("mentioned") == {"room_id": room_id, "message": edited}

        # @room: every active member but the sender.
        everybody = make_message(carol, room_id, "@room hello", mentions_room=True)
        for client in (alice_joined, alice_away, bob_joined, bob_away):
            assert client.wait_for("mentioned") == {"room_id": room_id, "message": everybody}

        # Refused: a mention of someone not in the room mentions nobody.
        refused = alice.call(
            "POST", "/api/chat/messages", json={"room_id": room_id, "content": "x", "mentions": [dave.id]}
        )
        assert (refused.status_code, set(refused.json()["error"]["details"])) == (422, {"mentions"})

        settle(server, *everyone)
        mentions = {client: [data["message"]["id"] for _, data in heard(client, "mentioned")] for client in everyone}
        assert mentions == {
            alice_joined: [everybody["id"]],
            alice_away: [everybody["id"]],
            bob_joined: [sent["id"], everybody["id"]],
            bob_away: [sent["id"], everybody["id"]],
            carol_away: [sent["id"]],
            dave_away: [],
        }
        # Only joined sockets hear the room's messages.
        for client in (alice_away, bob_away, carol_away, dave_away):
            assert heard(client, "new_message", "message_edited") == []
        # A joined socket has the message before it is told of the mention (the mention is recorded after it).
        assert [(name, data["message"]["id"]) for name, data in heard(bob_joined)] == [
            ("new_message", sent["id"]),
            ("mentioned", sent["id"]),
            ("message_edited", sent["id"]),
            ("new_message", everybody["id"]),
            ("mentioned", everybody["id"]),
        ]
