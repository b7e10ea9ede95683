"""The seed's Python client example (python-socketio), as written there, against the real server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import socketio

from tests.helpers.servers import HttpUser, Server, serve_fresh

WAIT_SECONDS = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One migrated fresh database and the Procfile's web process, shared by this module's tests."""
    tmp_path = tmp_path_factory.mktemp("seed_clients")
    with serve_fresh(tmp_path, prefix="armada_seed") as running:
        yield running


@pytest.fixture
def users(server: Server) -> Iterator[tuple[HttpUser, HttpUser, str]]:
    """Alice and Bob, and a group they are both in."""
    with requests.Session() as http:
        alice, bob = HttpUser(http, server.url, "Alice"), HttpUser(http, server.url, "Bob")
        body = {"room_type": "group", "name": "Seed crew", "member_ids": [bob.id]}
        group = alice.call("POST", "/api/chat/rooms", json=body)
        assert group.status_code == 201, group.text
        yield alice, bob, group.json()["id"]


@dataclass
class Heard:
    """What one seed client's handlers received, by event name; tests wait on it from their own thread."""

    events: dict[str, list[Any]] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, name: str, data: Any) -> None:
        with self.changed:
            self.events.setdefault(name, []).append(data)
            self.changed.notify_all()

    def wait(self, name: str, count: int = 1) -> list[Any]:
        """Everything heard of `name` once there are at least `count`; fails after WAIT_SECONDS."""
        with self.changed:
            ok = self.changed.wait_for(lambda: len(self.events.get(name, [])) >= count, WAIT_SECONDS)
            assert ok, f"{count} {name!r} expected; heard {self.events}"
            return list(self.events[name])


def seed_client(url: str, token: str, room_id: str, typing: bool) -> tuple[socketio.Client, Heard]:
    """The seed's "Python Client" example, line for line, with its prints recorded and a room_joined handler.

    Like the seed, it emits join_room and then typing without waiting for anything in between.
    """
    heard = Heard()
    sio = socketio.Client()

    @sio.event
    def connect() -> None:
        heard.record("connect", None)

    @sio.on("new_message")
    def on_new_message(data: Any) -> None:
        heard.record("new_message", data)

    @sio.on("user_typing")
    def on_typing(data: Any) -> None:
        heard.record("user_typing", data)

    # Not in the seed's Python example; its JS example listens for it, and tests need to know the join is done.
    @sio.on("room_joined")
    def on_room_joined(data: Any) -> None:
        heard.record("room_joined", data)

    sio.connect(url, socketio_path="/socket.io", auth={"token": token})
    sio.emit("join_room", {"room_id": room_id})
    if typing:
        sio.emit("typing", {"room_id": room_id, "is_typing": True})
    return sio, heard


def test_seed_python_client_receives_new_message_and_the_other_side_its_typing(
    server: Server, users: tuple[HttpUser, HttpUser, str]
) -> None:
    alice, bob, room_id = users
    listener, heard = seed_client(server.url, alice.token, room_id, typing=False)
    typist: socketio.Client | None = None
    try:
        assert heard.wait("connect") == [None]
        assert heard.wait("room_joined") == [{"room_id": room_id}]
        typist, typist_heard = seed_client(server.url, bob.token, room_id, typing=True)
        assert heard.wait("user_typing") == [{"room_id": room_id, "user_id": bob.id, "is_typing": True}]

        posted = bob.call("POST", "/api/chat/messages", json={"room_id": room_id, "content": "seed says hi 👋"})
        assert posted.status_code == 201, posted.text
        (event,) = heard.wait("new_message")
        assert event["room_id"] == room_id
        assert (event["message"]["id"], event["message"]["content"]) == (posted.json()["id"], "seed says hi 👋")
        # The typist joined too, so it hears the message; it never hears its own typing.
        assert [e["message"]["id"] for e in typist_heard.wait("new_message")] == [posted.json()["id"]]
        assert "user_typing" not in typist_heard.events
    finally:
        listener.disconnect()
        if typist is not None:
            typist.disconnect()


def test_seed_python_client_typing_right_after_join_is_forwarded_every_time(
    server: Server, users: tuple[HttpUser, HttpUser, str]
) -> None:
    """The seed emits typing straight after join_room, not waiting: the server must handle them in order."""
    alice, bob, room_id = users
    listener, heard = seed_client(server.url, alice.token, room_id, typing=False)
    try:
        heard.wait("room_joined")
        for attempt in range(1, 6):
            typist, _ = seed_client(server.url, bob.token, room_id, typing=True)
            try:
                assert heard.wait("user_typing", count=attempt)[-1]["user_id"] == bob.id
            finally:
                typist.disconnect()
    finally:
        listener.disconnect()
