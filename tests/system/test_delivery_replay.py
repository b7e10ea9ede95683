"""Replays from the database, as a socket of the test process sees them.

A real server on the suite's database, with no queue between it and the test process, plays "another process
whose events were lost": what it commits never reaches the test process as an event, so only
armada.realtime.delivery's replays can bring it to the in-process socket — in the room's order, each change once,
each message as it now is.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import event

from armada.chat.events import MessageCreated
from armada.extensions import db, socketio
from armada.models import ChatMessage, ChatRoom
from armada.realtime import delivery, events
from tests.helpers.in_process import InProcessSocket
from tests.helpers.servers import Server, run_server
from tests.helpers.support import Actor, ApiClient

WAIT_SECONDS = 10.0  # generous: a replay comes 0.5 s after the gap is seen
NOTHING_SECONDS = 1.5  # how long to wait for an event that must not come: three times the gap's wait
TOO_MANY_READS = 50


@pytest.fixture(scope="module")
def other(app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A production server on the suite's (migrated) database, with no Redis: its events reach only its own sockets."""
    with run_server(database_url, Path(tmp_path_factory.mktemp("other")), "other") as server:
        yield server


class There:
    """An actor of the in-process API, logged in on the other process too."""

    def __init__(self, actor: Actor, server: Server) -> None:
        body = {"email": actor.user["email"], "password": actor.password}
        response = requests.post(f"{server.url}/api/auth/login", json=body, timeout=10)
        assert response.status_code == 200, response.text
        self.url, self.token = server.url, response.json()["access_token"]

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = requests.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def send(self, room_id: str, content: str) -> dict[str, Any]:
        return self.call("POST", "/api/chat/messages", 201, json={"room_id": room_id, "content": content})  # type: ignore[no-any-return]


def heard(socket: InProcessSocket) -> list[tuple[str, str, Any]]:
    """(event, message id, the message or None) of every message event the socket got, in order."""
    found = []
    for item in socket.queue:
        name, data = item["name"], item["args"][0]
        if name in ("new_message", "message_edited"):
            found.append((name, data["message"]["id"], data["message"]))
        elif name == "message_deleted":
            found.append((name, data["message_id"], None))
    return found


def wait_until(socket: InProcessSocket, count: int, patience: float = WAIT_SECONDS) -> list[tuple[str, str, Any]]:
    """Let the background repair run (a greenlet: the test yields to it) until `count` message events came, or
    `patience` seconds passed, and half a second more for any extra; those events."""
    waited = 0.0
    while len(heard(socket)) < count and waited < patience:
        socketio.sleep(0.1)
        waited += 0.1
    socketio.sleep(0.7)
    return heard(socket)


@pytest.fixture
def sockets(app: Flask) -> Iterator[Callable[[str], InProcessSocket]]:
    """Opens in-process sockets (this module's sockets are the test process's, not a server's); closes them after."""
    opened: list[InProcessSocket] = []

    def open_socket(token: str) -> InProcessSocket:
        opened.append(InProcessSocket(app, socketio, auth={"token": token}))
        return opened[-1]

    yield open_socket
    for socket in opened:
        socket.close()


@pytest.fixture
def room(api: ApiClient, other: Server, sockets: Callable[[str], InProcessSocket]) -> tuple[Actor, There, str, Any]:
    """Alice's group with Bob; Bob's in-process socket joined; Alice on the other process."""
    alice, bob = api.register("Alice"), api.register("Bob")
    room_id = alice.make_group(bob)["id"]
    socket = sockets(bob.access_token)
    assert socket.call("join_room", {"room_id": room_id})["ok"]
    socket.queue.clear()
    return alice, There(alice, other), room_id, socket


def test_a_change_lost_before_a_later_one_is_replayed_first_then_the_later_one(
    room: tuple[Actor, There, str, InProcessSocket],
) -> None:
    alice, alice_there, room_id, socket = room
    lost = alice_there.send(room_id, "made elsewhere, its event lost")
    assert wait_until(socket, 1, NOTHING_SECONDS) == [], "the other process's event cannot reach this one"
    later = alice.post("/api/chat/messages", json={"room_id": room_id, "content": "made here"}).get_json()
    got = wait_until(socket, 2)
    assert [(event, message_id) for event, message_id, _ in got] == [
        ("new_message", lost["id"]),
        ("new_message", later["id"]),
    ]


def test_the_sweep_replays_each_missed_change_as_the_message_now_is_in_change_order(
    room: tuple[Actor, There, str, InProcessSocket],
) -> None:
    alice, alice_there, room_id, socket = room
    kept = alice.post("/api/chat/messages", json={"room_id": room_id, "content": "before"}).get_json()
    doomed = alice.post("/api/chat/messages", json={"room_id": room_id, "content": "to go"}).get_json()
    assert [m for _, m, _ in wait_until(socket, 2)] == [kept["id"], doomed["id"]]
    socket.queue.clear()
    # All on the other process: nothing reaches this one, and no later change here reveals a gap.
    fresh = alice_there.send(room_id, "new elsewhere")
    alice_there.call("PATCH", f"/api/chat/messages/{kept['id']}", 200, json={"content": "after ✏️"})
    alice_there.call("DELETE", f"/api/chat/messages/{doomed['id']}", 200)
    fleeting = alice_there.send(room_id, "sent and deleted")
    alice_there.call("DELETE", f"/api/chat/messages/{fleeting['id']}", 200)
    assert wait_until(socket, 1, NOTHING_SECONDS) == []

    delivery.current_ledger().sweep()
    got = wait_until(socket, 4)
    assert [(event, message_id) for event, message_id, _ in got] == [
        ("new_message", fresh["id"]),
        ("message_edited", kept["id"]),
        ("message_deleted", doomed["id"]),
        ("new_message", fleeting["id"]),  # never had: it comes as it is now, a tombstone
    ]
    assert got[1][2]["content"] == "after ✏️" and got[1][2]["is_edited"] is True
    assert got[3][2]["is_deleted"] is True and got[3][2]["content"] is None
    # A replay carries the message as REST shows it.
    history = alice.get(f"/api/chat/rooms/{room_id}/messages").get_json()["items"]
    assert got[0][2] == next(message for message in history if message["id"] == fresh["id"])

    # Caught up: the next sweep finds nothing to replay, and the next change here arrives once.
    delivery.current_ledger().sweep()
    assert wait_until(socket, 5, NOTHING_SECONDS) == got
    here = alice.post("/api/chat/messages", json={"room_id": room_id, "content": "here again"}).get_json()
    assert [m for _, m, _ in wait_until(socket, 5)][4:] == [here["id"]]


def test_a_socket_starts_after_what_committed_before_it_joined(
    app: Flask, api: ApiClient, other: Server, sockets: Callable[[str], InProcessSocket]
) -> None:
    alice, bob = api.register("Alice"), api.register("Bob")
    room_id = alice.make_group(bob)["id"]
    before = There(alice, other).send(room_id, "before Bob joined")
    socket = sockets(bob.access_token)
    assert socket.call("join_room", {"room_id": room_id})["ok"]
    delivery.current_ledger().sweep()
    replayed = [m for _, m, _ in wait_until(socket, 1, NOTHING_SECONDS)]
    assert before["id"] not in replayed, "what committed before the join is the client's catch-up, not an event"


def test_a_change_event_that_arrives_twice_is_delivered_once(
    app: Flask, room: tuple[Actor, There, str, InProcessSocket]
) -> None:
    alice, _, room_id, socket = room
    sent = alice.post("/api/chat/messages", json={"room_id": room_id, "content": "once"}).get_json()
    assert [m for _, m, _ in wait_until(socket, 1)] == [sent["id"]]
    # The same event again, as a publish retried after its reply was lost would bring it from another process.
    with app.app_context():
        message = db.session.get(ChatMessage, uuid.UUID(sent["id"]))
        again = events.prepare(MessageCreated(message))
        db.session.rollback()
    again()
    again()
    assert [m for _, m, _ in wait_until(socket, 2, NOTHING_SECONDS)] == [sent["id"]]


def test_a_gap_the_database_cannot_fill_is_read_again_each_half_second_not_in_a_loop(
    app: Flask, room: tuple[Actor, There, str, InProcessSocket]
) -> None:
    _, _, room_id, _ = room
    reads: list[str] = []

    def count_reads(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "chat_rooms" in statement:
            reads.append(statement)
            if len(reads) > TOO_MANY_READS:  # a repair in a loop: end it (it backs off after a failure) and fail
                raise RuntimeError("the repair reads in a loop")

    ledger = delivery.current_ledger()
    with ledger.changes.app.app_context():  # type: ignore[attr-defined]  # the app the ledger reads through
        engine = db.engine
    with app.app_context():
        last_seq = db.session.get_one(ChatRoom, uuid.UUID(room_id)).last_seq
        db.session.rollback()
    event.listen(engine, "before_cursor_execute", count_reads)
    try:
        # An event says change last_seq + 2 committed, but the database never got it (nor last_seq + 1).
        ledger.receive(room_id, last_seq + 2, "new_message", {"message": {}})
        socketio.sleep(2 * delivery.GAP_SECONDS + 0.25)
    finally:
        event.remove(engine, "before_cursor_execute", count_reads)
    # One read of the room's number each GAP_SECONDS: at 0.5 s and at 1.0 s (one, if the machine is slow).
    assert 1 <= len(reads) <= 2, reads
