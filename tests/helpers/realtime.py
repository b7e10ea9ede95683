"""Socket.IO against real servers: a recording python-socketio client, acknowledgement checks, and two processes
sharing one database and one Redis channel (a cluster)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Self

import pytest
import redis
import requests
import socketio

from tests.helpers.factories import make_message, make_room
from tests.helpers.servers import HttpUser, Server, fresh_database, migrate, run_server

WAIT = 5.0  # seconds an expected event may take within one process
QUIET = 0.5  # seconds during which an unexpected event (or a duplicate) would have arrived within one process
EVENT_SECONDS = 10.0  # how long an event that crosses processes (through Redis) may take to arrive
SETTLE_SECONDS = 1.0  # how long we wait for a cross-process duplicate (or a leak) before concluding there is none
RECOVERY_SECONDS = 60  # python-socketio's Redis listener backs off 1, 2, 4, 8... s between retries

Predicate = Callable[[Any], bool]


def anything(_: Any) -> bool:
    """Matches every payload."""
    return True


def about(message_id: str) -> Predicate:
    """Matches `{message: {id}}` (new_message, message_edited) and `{message_id}` payloads naming this message."""
    return lambda data: message_id in (data.get("message_id"), (data.get("message") or {}).get("id"))


class Listener:
    """One Socket.IO connection that records every server -> client event, in arrival order, for waiting and
    counting. `wait` and `quiet` are how long an expected event may take, and how long an unexpected one is given
    to show up."""

    def __init__(self, name: str = "socket", wait: float = WAIT, quiet: float = QUIET) -> None:
        self.name, self.wait, self.quiet = name, wait, quiet
        self.events: list[tuple[str, Any]] = []
        self.changed = threading.Condition()
        self.client = socketio.Client(reconnection=False, handle_sigint=False)
        self.client.on("*", self._record)
        self.client.on("connect_error", lambda data=None: self._record("connect_error", data))
        self.client.on("disconnect", lambda reason=None: self._record("disconnect", reason))

    def _record(self, event: str, data: Any = None, *_: Any) -> None:
        with self.changed:
            self.events.append((event, data))
            self.changed.notify_all()

    def connect(self, url: str, auth: Any = None, transports: list[str] | None = None) -> None:
        """Connect (websocket transport unless told), without waiting for the server's `connected`."""
        self.client.connect(url, auth=auth, transports=transports or ["websocket"], wait_timeout=self.wait)

    def open(self, url: str, token: str, transports: list[str] | None = None) -> Self:
        """Connect with the token in the auth payload and wait for the server's `connected`; this listener."""
        self.connect(url, {"token": token}, transports)
        self.wait_for("connected")
        return self

    def refusal(self, url: str, auth: Any = None, transports: list[str] | None = None) -> Any:
        """Connect, expecting a refusal; the connect_error data."""
        with pytest.raises(socketio.exceptions.ConnectionError):
            self.connect(url, auth, transports)
        return self.wait_for("connect_error")

    def call(self, event: str, data: Any = None) -> Any:
        """Emit and return the acknowledgement."""
        return self.client.call(event, data, timeout=self.wait)

    def join(self, room_id: str) -> None:
        """Join the room, which must succeed."""
        ack = self.call("join_room", {"room_id": room_id})
        assert ack == {"ok": True, "room_id": room_id}, f"{self.name}: {ack}"

    def matching(self, event: str, predicate: Predicate = anything) -> list[Any]:
        """The data of every `event` recorded so far that matches."""
        with self.changed:
            return [data for name, data in self.events if name == event and predicate(data)]

    def count(self, event: str, predicate: Predicate = anything) -> int:
        """How many matching `event`s were recorded so far."""
        return len(self.matching(event, predicate))

    def wait_for(self, event: str, predicate: Predicate = anything, timeout: float | None = None) -> Any:
        """The first recorded `event` whose data matches, waiting for it if need be."""
        timeout = self.wait if timeout is None else timeout
        with self.changed:
            found = self.changed.wait_for(lambda: self.matching(event, predicate), timeout)
        assert found, f"{self.name}: no matching {event!r} in {timeout}s; got {[n for n, _ in self.events]}"
        return found[0]

    def assert_no(self, event: str, predicate: Predicate = anything, within: float | None = None) -> None:
        """No matching `event` was recorded so far, nor arrives within `within` seconds."""
        within = self.quiet if within is None else within
        with self.changed:
            arrived = self.changed.wait_for(lambda: self.matching(event, predicate), within)
        assert not arrived, f"{self.name}: unexpected {event!r}: {self.matching(event, predicate)}"

    def exactly_one(self, event: str, predicate: Predicate = anything, context: str = "") -> Any:
        """Wait for a matching event, give a duplicate time to arrive, and check there is none."""
        data = self.wait_for(event, predicate)
        time.sleep(self.quiet)
        copies = self.matching(event, predicate)
        assert len(copies) == 1, f"{self.name}: {len(copies)} {event!r} {context}: {copies}"
        return data

    def wait_for_count(self, event: str, count: int, predicate: Predicate = anything) -> list[Any]:
        """Wait until `count` matching events have arrived; all of them."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.matching(event, predicate)) >= count, self.wait)
        found = self.matching(event, predicate)
        assert len(found) == count, f"{self.name}: wanted {count} {event!r}, got {found}"
        return found

    def close(self) -> None:
        """Disconnect, if still connected."""
        if self.client.connected:
            self.client.disconnect()


class Recorder(Listener):
    """A Listener patient enough for events that cross processes through Redis."""

    def __init__(self, name: str = "socket") -> None:
        super().__init__(name, wait=EVENT_SECONDS, quiet=SETTLE_SECONDS)


class Crew(NamedTuple):
    """Alice and Bob, and the id of a group of the two (Alice its admin): most real-time tests' cast."""

    alice: HttpUser
    bob: HttpUser
    room_id: str


class Joined(NamedTuple):
    """The crew, each with a socket connected and joined to their group: the opening of most real-time tests."""

    alice: HttpUser
    bob: HttpUser
    room_id: str
    alice_socket: Listener
    bob_socket: Listener


def ok(response: requests.Response, status: int = 200) -> Any:
    """The response has this status; its JSON body (None if empty)."""
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def assert_refused(ack: Any, code: str) -> dict[str, Any]:
    """A failed acknowledgement in the contract's shape; its error body."""
    assert set(ack) == {"ok", "error"} and ack["ok"] is False, ack
    error = ack["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "details"}, error
    assert error["code"] == code and isinstance(error["message"], str) and error["message"], error
    return error


# ---- two processes, one Redis ----------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Armada processes `a` and `b` on one database and one Redis channel, and the sockets opened on them."""

    a: Server
    b: Server
    http: requests.Session
    sockets: list[Recorder]

    def socket(self, server: Server, user: HttpUser, token: str | None = None) -> Recorder:
        """A connected socket of `user` on `server`, disconnected at teardown."""
        recorder = Recorder(f"{user.name}@{'A' if server is self.a else 'B'}")
        self.sockets.append(recorder)
        return recorder.open(server.url, token or user.token)

    def user(self, name: str) -> HttpUser:
        """A user registered on process A."""
        return HttpUser(self.http, self.a.url, name)


def wait_listening(redis_url: str, channel: str, processes: int, timeout: float = EVENT_SECONDS) -> None:
    """Wait until `processes` listeners subscribe to the channel (a process subscribes at its first socket)."""
    with redis.Redis.from_url(redis_url) as client:
        deadline = time.monotonic() + timeout
        while (subscribed := dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)) < processes:
            assert time.monotonic() < deadline, f"{subscribed} of {processes} processes listen on {channel}"
            time.sleep(0.05)


@contextmanager
def two_processes(database_url: str, tmp_path: Path, **queue: str) -> Iterator[Cluster]:
    """Armada processes `a` and `b` on one migrated database and the queue settings given; their sockets are
    closed afterwards."""
    with (
        run_server(database_url, tmp_path, "a", **queue) as a,
        run_server(database_url, tmp_path, "b", **queue) as b,
        requests.Session() as http,
    ):
        cluster = Cluster(a, b, http, [])
        try:
            yield cluster
        finally:
            for recorder in cluster.sockets:
                recorder.close()


@contextmanager
def cluster_on(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Two Armada processes on one fresh database and one Redis channel of their own, both listening."""
    channel = f"armada-test-{uuid.uuid4().hex}"
    with fresh_database(tmp_path, "armada_cluster") as database_url:
        migrate(database_url)
        with two_processes(database_url, tmp_path, REDIS_URL=redis_url, REDIS_CHANNEL=channel) as cluster:
            # A process starts listening on Redis with its first socket; make both listen before the test.
            probe = cluster.user("Probe")
            for server in (cluster.a, cluster.b):
                cluster.socket(server, probe)
            wait_listening(redis_url, channel, 2)
            yield cluster


def joined_across(cluster: Cluster) -> Joined:
    """The crew on a cluster: Bob's socket joined on process A, Alice's on B, so that what one does on their
    process reaches the other only through Redis."""
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_room(alice, bob)["id"]
    bob_on_a, alice_on_b = cluster.socket(cluster.a, bob), cluster.socket(cluster.b, alice)
    bob_on_a.join(room_id)
    alice_on_b.join(room_id)
    return Joined(alice, bob, room_id, alice_on_b, bob_on_a)


def poll_delivery(sender: HttpUser, via: Server, room_id: str, listener: Listener) -> float:
    """Post on `via` about once a second until `listener` hears one of those messages; the seconds it took."""
    started = time.monotonic()
    sent: set[str] = set()
    while time.monotonic() - started < RECOVERY_SECONDS:
        sent.add(make_message(sender, room_id, f"probe {len(sent)}", url=via.url)["id"])
        try:
            listener.wait_for("new_message", lambda d: d["message"]["id"] in sent, timeout=1)
            return time.monotonic() - started
        except AssertionError:
            continue
    raise AssertionError(f"{listener.name} heard nothing {RECOVERY_SECONDS}s after Redis came back")


def wait_in_log(server: Server, text: str) -> None:
    """Wait until the server logs `text` (here: its Redis listener noticed the outage)."""
    deadline = time.monotonic() + EVENT_SECONDS
    while text not in server.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{server.url} never logged {text!r}:\n{server.output()}"
        time.sleep(0.1)
