"""Socket.IO across two real gunicorn processes sharing one PostgreSQL database and one Redis message queue.

Process A holds the listening sockets; the change is made on process B (REST or socket), so every event
asserted here crossed Redis. Each test gets its own REDIS_CHANNEL, so concurrent runs never hear each other.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import requests
import socketio

from tests.helpers.servers import HttpUser, Server, free_port, fresh_database, migrate, run_server

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]

EVENT_SECONDS = 10  # how long a cross-process event may take to arrive
SETTLE_SECONDS = 1.0  # how long we wait for a duplicate (or a leak) before concluding there is none
RECOVERY_SECONDS = 60  # python-socketio's Redis listener backs off 1, 2, 4, 8... s between retries
PASSWORD = "pass word 123"  # tests/servers.py HttpUser's password

Predicate = Callable[[Any], bool]


def anything(_: Any) -> bool:
    return True


class Recorder:
    """A python-socketio client that records every server -> client event, for waiting and counting."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.client = socketio.Client(reconnection=False, handle_sigint=False)
        self.events: list[tuple[str, Any]] = []
        self.changed = threading.Condition()
        self.client.on("*", self._record)
        self.client.on("disconnect", lambda *_: self._record("disconnect", None))
        self.client.on("connect_error", lambda data=None: self._record("connect_error", data))

    def _record(self, event: str, data: Any = None, *_: Any) -> None:
        with self.changed:
            self.events.append((event, data))
            self.changed.notify_all()

    def connect(self, server: Server, token: str) -> Recorder:
        """Connect with the token in the auth payload and wait for the server's `connected`."""
        self.client.connect(server.url, auth={"token": token}, transports=["websocket"], socketio_path="socket.io")
        self.wait_for("connected")
        return self

    def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send a client -> server event and return its acknowledgement."""
        ack: dict[str, Any] = self.client.call(event, data, timeout=EVENT_SECONDS)
        return ack

    def join(self, room_id: str) -> None:
        ack = self.call("join_room", {"room_id": room_id})
        assert ack == {"ok": True, "room_id": room_id}, f"{self.name}: {ack}"

    def received(self, event: str, predicate: Predicate = anything) -> list[Any]:
        with self.changed:
            return [data for name, data in self.events if name == event and predicate(data)]

    def count(self, event: str, predicate: Predicate = anything) -> int:
        return len(self.received(event, predicate))

    def wait_for(self, event: str, predicate: Predicate = anything, timeout: float = EVENT_SECONDS) -> Any:
        """The first recorded `event` whose data satisfies `predicate`, waiting up to `timeout` seconds."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.received(event, predicate), timeout=timeout):
                seen = [name for name, _ in self.events]
                raise AssertionError(f"{self.name} got no matching {event} within {timeout}s; got {seen}")
            return self.received(event, predicate)[0]

    def assert_no(self, event: str, predicate: Predicate = anything, within: float = SETTLE_SECONDS) -> None:
        """No matching `event` was recorded so far, nor arrives within `within` seconds."""
        with self.changed:
            arrived = self.changed.wait_for(lambda: self.received(event, predicate), timeout=within)
        assert not arrived, f"{self.name} got {event}: {self.received(event, predicate)}"

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


@dataclass
class Cluster:
    a: Server
    b: Server
    http: requests.Session
    sockets: list[Recorder]

    def socket(self, server: Server, user: HttpUser, token: str | None = None) -> Recorder:
        """A connected socket of `user` on `server`, disconnected at teardown."""
        recorder = Recorder(f"{user.name}@{'A' if server is self.a else 'B'}")
        self.sockets.append(recorder)
        return recorder.connect(server, token or user.token)

    def user(self, name: str) -> HttpUser:
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


@pytest.fixture
def cluster(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    with cluster_on(redis_url, tmp_path) as running:
        yield running


# ---- helpers -----------------------------------------------------------------------------------------------


def make_group(owner: HttpUser, *members: HttpUser) -> str:
    body = {"room_type": "group", "name": "Crew", "member_ids": [m.id for m in members]}
    response = owner.call("POST", "/api/chat/rooms", json=body)
    assert response.status_code == 201, response.text
    room_id: str = response.json()["id"]
    return room_id


def post(user: HttpUser, server: Server, room_id: str, content: str) -> dict[str, Any]:
    """Send a message over REST on `server`; 201 and the message."""
    response = user.call("POST", "/api/chat/messages", server.url, json={"room_id": room_id, "content": content})
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


def about(message_id: str) -> Predicate:
    """Matches `{message: {id}}` and `{message_id}` payloads naming this message."""
    return lambda data: message_id in (data.get("message_id"), (data.get("message") or {}).get("id"))


def once(recorder: Recorder, event: str, predicate: Predicate, context: str = "") -> Any:
    """The event arrives, and no copy follows: exactly one delivery."""
    data = recorder.wait_for(event, predicate)
    time.sleep(SETTLE_SECONDS)
    copies = recorder.received(event, predicate)
    assert len(copies) == 1, f"{recorder.name} got {len(copies)} {event} {context}: {copies}"
    return data


def second_login(cluster: Cluster, user: HttpUser) -> str:
    """An access token of a new login session of `user` (logging out one session leaves the others)."""
    email = user.call("GET", "/api/users/me").json()["email"]
    body = {"email": email, "password": PASSWORD}
    login = cluster.http.post(f"{cluster.a.url}/api/auth/login", json=body, timeout=10)
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    return token


def history(user: HttpUser, server: Server, room_id: str, **params: str) -> list[dict[str, Any]]:
    response = user.call("GET", f"/api/chat/rooms/{room_id}/messages", server.url, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# ---- events made on B reach sockets on A, once -------------------------------------------------------------


def test_message_posted_over_rest_on_b_reaches_joined_socket_on_a_once(cluster: Cluster) -> None:
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_group(alice, bob)
    bob_on_a = cluster.socket(cluster.a, bob)
    bob_on_a.join(room_id)

    sent = post(alice, cluster.b, room_id, "across the queue 🚀")

    data = once(bob_on_a, "new_message", about(sent["id"]))
    assert data["room_id"] == room_id
    assert data["message"]["content"] == "across the queue 🚀"
    assert data["message"]["sender_id"] == alice.id


def test_message_sent_over_socket_on_b_reaches_a_once_and_the_sender_once(cluster: Cluster) -> None:
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_group(alice, bob)
    bob_on_a = cluster.socket(cluster.a, bob)
    bob_on_a.join(room_id)
    alice_on_b = cluster.socket(cluster.b, alice)
    alice_on_b.join(room_id)

    ack = alice_on_b.call("send_message", {"room_id": room_id, "content": "over the socket", "client_id": "c-1"})
    assert ack["ok"] is True and ack["created"] is True, ack
    message_id = ack["message"]["id"]

    assert once(bob_on_a, "new_message", about(message_id))["message"]["content"] == "over the socket"
    # The sending process delivers to its own sockets itself and ignores its own message coming back from Redis.
    assert once(alice_on_b, "new_message", about(message_id))["room_id"] == room_id
    # A retry with the same client_id is the same message and broadcasts nothing again.
    retry = alice_on_b.call("send_message", {"room_id": room_id, "content": "over the socket", "client_id": "c-1"})
    assert (retry["ok"], retry["created"], retry["message"]["id"]) == (True, False, message_id)
    time.sleep(SETTLE_SECONDS)
    assert bob_on_a.count("new_message", about(message_id)) == 1


@pytest.mark.parametrize("via", ["rest", "socket"])
def test_edit_on_b_reaches_socket_on_a_once(cluster: Cluster, via: str) -> None:
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_group(alice, bob)
    bob_on_a = cluster.socket(cluster.a, bob)
    bob_on_a.join(room_id)
    message_id = post(alice, cluster.b, room_id, "draft")["id"]

    if via == "rest":
        response = alice.call("PATCH", f"/api/chat/messages/{message_id}", cluster.b.url, json={"content": "final ✅"})
        assert response.status_code == 200, response.text
    else:
        ack = cluster.socket(cluster.b, alice).call("message_edited", {"message_id": message_id, "content": "final ✅"})
        assert (ack["ok"], ack["changed"]) == (True, True), ack

    data = once(bob_on_a, "message_edited", about(message_id))
    assert data["room_id"] == room_id
    assert (data["message"]["content"], data["message"]["is_edited"]) == ("final ✅", True)


@pytest.mark.parametrize("via", ["rest", "socket"])
def test_delete_on_b_reaches_socket_on_a_once(cluster: Cluster, via: str) -> None:
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_group(alice, bob)
    bob_on_a = cluster.socket(cluster.a, bob)
    bob_on_a.join(room_id)
    message_id = post(alice, cluster.b, room_id, "oops")["id"]

    if via == "rest":
        response = alice.call("DELETE", f"/api/chat/messages/{message_id}", cluster.b.url)
        assert response.status_code == 200, response.text
    else:
        ack = cluster.socket(cluster.b, alice).call("message_deleted", {"message_id": message_id})
        assert (ack["ok"], ack["changed"]) == (True, True), ack

    assert once(bob_on_a, "message_deleted", about(message_id)) == {"room_id": room_id, "message_id": message_id}


@pytest.mark.parametrize("via", ["rest", "socket"])
def test_read_receipts_made_on_b_reach_socket_on_a_once(cluster: Cluster, via: str) -> None:
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_group(alice, bob)
    alice_on_a = cluster.socket(cluster.a, alice)
    alice_on_a.join(room_id)
    message_ids = [post(alice, cluster.b, room_id, text)["id"] for text in ("one", "two")]

    if via == "rest":
        response = bob.call("POST", f"/api/chat/rooms/{room_id}/read", cluster.b.url, json={"message_ids": message_ids})
        assert response.status_code == 200, response.text
    else:
        ack = cluster.socket(cluster.b, bob).call("mark_as_read", {"room_id": room_id, "message_ids": message_ids})
        assert ack["ok"] is True, ack

    data = once(alice_on_a, "messages_read", lambda d: d["user_id"] == bob.id)
    assert (data["room_id"], sorted(data["message_ids"])) == (room_id, sorted(message_ids))
    assert data["read_at"]


def test_typing_on_b_reaches_socket_on_a_once(cluster: Cluster) -> None:
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_group(alice, bob)
    bob_on_a = cluster.socket(cluster.a, bob)
    bob_on_a.join(room_id)
    alice_on_b = cluster.socket(cluster.b, alice)
    alice_on_b.join(room_id)

    assert alice_on_b.call("typing", {"room_id": room_id, "is_typing": True}) == {"ok": True, "forwarded": True}

    data = once(bob_on_a, "user_typing", anything)
    assert data == {"room_id": room_id, "user_id": alice.id, "is_typing": True}
    alice_on_b.assert_no("user_typing")  # not echoed to the typist


# ---- membership and sessions --------------------------------------------------------------------------------


def test_member_removed_on_b_leaves_the_room_on_both_processes_and_hears_nothing_more(cluster: Cluster) -> None:
    alice, bob, carol = cluster.user("Alice"), cluster.user("Bob"), cluster.user("Carol")
    room_id = make_group(alice, bob, carol)
    carol_on_a, carol_on_b = cluster.socket(cluster.a, carol), cluster.socket(cluster.b, carol)
    bob_on_a = cluster.socket(cluster.a, bob)
    for recorder in (carol_on_a, carol_on_b, bob_on_a):
        recorder.join(room_id)

    response = alice.call("DELETE", f"/api/chat/rooms/{room_id}/members/{carol.id}", cluster.b.url)
    assert response.status_code == 204, response.text

    removed = {"room_id": room_id, "user_id": carol.id}
    for recorder in (carol_on_a, carol_on_b, bob_on_a):
        assert once(recorder, "member_removed", anything) == removed

    after = [post(alice, cluster.b, room_id, "after, from B"), post(alice, cluster.a, room_id, "after, from A")]
    for message in after:
        bob_on_a.wait_for("new_message", about(message["id"]))
    # The typing check also proves the sockets left the Socket.IO room, not just that a filter hid the messages.
    bob_on_b = cluster.socket(cluster.b, bob)
    bob_on_b.join(room_id)
    assert bob_on_b.call("typing", {"room_id": room_id, "is_typing": True})["ok"] is True
    bob_on_a.wait_for("user_typing", lambda d: d["user_id"] == bob.id)
    for recorder in (carol_on_a, carol_on_b):
        recorder.assert_no("new_message")
        recorder.assert_no("user_typing")
        refused = recorder.call("typing", {"room_id": room_id, "is_typing": True})
        assert refused["ok"] is False, refused
        rejoin = recorder.call("join_room", {"room_id": room_id})
        assert rejoin["ok"] is False and rejoin["error"]["code"] == "room_not_found", rejoin
        assert recorder.client.connected


def test_logout_on_b_disconnects_that_sessions_socket_on_a(cluster: Cluster) -> None:
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_group(alice, bob)
    bob_on_a = cluster.socket(cluster.a, bob)
    bob_other_session = cluster.socket(cluster.a, bob, second_login(cluster, bob))
    alice_on_a = cluster.socket(cluster.a, alice)

    assert bob.call("POST", "/api/auth/logout", cluster.b.url).status_code == 204

    bob_on_a.wait_for("disconnect")
    assert not bob_on_a.client.connected
    # Only that login's sockets go: Bob's other session and Alice stay connected and usable.
    for recorder in (bob_other_session, alice_on_a):
        recorder.assert_no("disconnect")
        recorder.join(room_id)
    again = Recorder("Bob again")
    with pytest.raises(socketio.exceptions.ConnectionError):
        again.connect(cluster.a, bob.token)
    assert "revoked" in again.wait_for("connect_error")["message"]


def test_socket_on_a_that_never_joined_gets_no_room_events(cluster: Cluster) -> None:
    alice, bob, carol, dave = (cluster.user(name) for name in ("Alice", "Bob", "Carol", "Dave"))
    room_id = make_group(alice, bob, carol)
    joined, idle = cluster.socket(cluster.a, bob), cluster.socket(cluster.a, bob)
    stranger = cluster.socket(cluster.a, dave)
    joined.join(room_id)
    alice_on_b = cluster.socket(cluster.b, alice)
    alice_on_b.join(room_id)

    message_id = post(alice, cluster.b, room_id, "members only")["id"]
    assert alice.call("PATCH", f"/api/chat/messages/{message_id}", cluster.b.url, json={"content": "edited"}).ok
    assert alice_on_b.call("typing", {"room_id": room_id, "is_typing": True})["ok"] is True
    read = carol.call("POST", f"/api/chat/rooms/{room_id}/read", cluster.b.url, json={"message_ids": [message_id]})
    assert read.status_code == 200, read.text
    assert alice.call("DELETE", f"/api/chat/messages/{message_id}", cluster.b.url).ok

    room_events = ["new_message", "message_edited", "user_typing", "messages_read", "message_deleted"]
    for event in room_events:
        joined.wait_for(event)
    for recorder in (idle, stranger):
        for event in room_events:
            recorder.assert_no(event, within=0.2)


# ---- Redis outage ---------------------------------------------------------------------------------------------


class RedisProcess:
    """A redis-server of this test's own, on its own port: the shared one is never stopped."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen([binary, *args], stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + EVENT_SECONDS
        with redis.Redis.from_url(self.url, socket_connect_timeout=1) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    assert self.process.poll() is None, self.log.read_text(errors="replace")[-2000:]
                    assert time.monotonic() < deadline, "redis-server did not answer"
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=EVENT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=EVENT_SECONDS)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of the test's own, stopped afterwards even if the test left it frozen (tests/test_faults.py)."""
    server = RedisProcess(tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)  # a frozen one cannot stop
        server.stop()


def poll_delivery(sender: HttpUser, via: Server, room_id: str, listener: Recorder) -> float:
    """Post on `via` about once a second until `listener` hears one of those messages; the seconds it took."""
    started = time.monotonic()
    sent: set[str] = set()
    while time.monotonic() - started < RECOVERY_SECONDS:
        sent.add(post(sender, via, room_id, f"probe {len(sent)}")["id"])
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


def test_redis_outage_keeps_rest_working_and_delivery_resumes_after_restart(
    own_redis: RedisProcess, tmp_path: Path
) -> None:
    with cluster_on(own_redis.url, tmp_path) as cluster:
        alice, bob = cluster.user("Alice"), cluster.user("Bob")
        room_id = make_group(alice, bob)
        bob_on_a = cluster.socket(cluster.a, bob)
        bob_on_a.join(room_id)
        alice_on_b = cluster.socket(cluster.b, alice)
        alice_on_b.join(room_id)
        last_seen = post(alice, cluster.b, room_id, "before the outage")["id"]
        bob_on_a.wait_for("new_message", about(last_seen))

        own_redis.stop()
        for server in (cluster.a, cluster.b):
            wait_in_log(server, "Cannot receive from redis")
        started = time.monotonic()
        during = [post(alice, cluster.b, room_id, f"during the outage {i}")["id"] for i in range(3)]
        took = time.monotonic() - started
        assert took < 3 * 5, f"3 sends took {took:.1f}s while Redis was down"  # each gives up on Redis quickly
        assert [m["id"] for m in history(bob, cluster.a, room_id)][-3:] == during
        # Bob missed them live; he catches up from the last message he saw.
        assert [m["id"] for m in history(bob, cluster.a, room_id, after=last_seen)] == during
        assert bob_on_a.client.connected and alice_on_b.client.connected

        own_redis.start()
        b_to_a = poll_delivery(alice, cluster.b, room_id, bob_on_a)
        a_to_b = poll_delivery(bob, cluster.a, room_id, alice_on_b)
        # Recovered listeners subscribe once: a new message arrives exactly once in each direction.
        fresh = post(alice, cluster.b, room_id, "after recovery")["id"]
        reply = post(bob, cluster.a, room_id, "welcome back")["id"]
        once(bob_on_a, "new_message", about(fresh), f"(B -> A delivery resumed {b_to_a:.1f}s after the restart)")
        once(alice_on_b, "new_message", about(reply), f"(A -> B delivery resumed {a_to_b:.1f}s after the restart)")


def test_removal_and_logout_missed_during_redis_outage_apply_once_redis_is_back(
    own_redis: RedisProcess, tmp_path: Path
) -> None:
    with cluster_on(own_redis.url, tmp_path) as cluster:
        alice, bob, carol = cluster.user("Alice"), cluster.user("Bob"), cluster.user("Carol")
        room_id = make_group(alice, bob, carol)
        bob_on_a, carol_on_a, carol_on_b = [cluster.socket(cluster.a, bob), cluster.socket(cluster.a, carol),
                                            cluster.socket(cluster.b, carol)]
        other_token = second_login(cluster, bob)
        bob_other_session = cluster.socket(cluster.a, bob, other_token)
        for recorder in (bob_on_a, carol_on_a, carol_on_b, bob_other_session):
            recorder.join(room_id)

        own_redis.stop()
        for server in (cluster.a, cluster.b):
            wait_in_log(server, "Cannot receive from redis")
        removed = alice.call("DELETE", f"/api/chat/rooms/{room_id}/members/{carol.id}", cluster.b.url)
        assert removed.status_code == 204, removed.text
        headers = {"Authorization": f"Bearer {other_token}"}
        logout = cluster.http.post(f"{cluster.b.url}/api/auth/logout", headers=headers, timeout=10)
        assert logout.status_code == 204, logout.text

        own_redis.start()
        took = f"(delivery resumed {poll_delivery(alice, cluster.b, room_id, bob_on_a):.1f}s after the restart)"
        # A missed the removal and the logout; it re-checks its sockets before handling anything newer.
        assert once(carol_on_a, "member_removed", anything, took) == {"room_id": room_id, "user_id": carol.id}
        bob_other_session.wait_for("disconnect")
        assert not bob_other_session.received("new_message"), took
        # Carol's socket on B, the process that removed her, left at once, as without an outage.
        assert once(carol_on_b, "member_removed", anything) == {"room_id": room_id, "user_id": carol.id}
        last = post(alice, cluster.a, room_id, "after recovery")["id"]
        bob_on_a.wait_for("new_message", about(last))
        for recorder in (carol_on_a, carol_on_b):
            recorder.assert_no("new_message")
        assert bob_on_a.client.connected and carol_on_a.client.connected


# ---- a PUBLISH whose reply is lost ----------------------------------------------------------------------------


class ReplyLosingProxy:
    """A TCP proxy in front of Redis. Armed with a marker, it passes the next PUBLISH carrying it to Redis, waits
    for Redis's reply, throws the reply away and cuts that connection: the command ran, but the client only saw
    its connection drop, as when a network fails at the wrong moment. Every other byte passes unchanged."""

    def __init__(self, redis_url: str) -> None:
        target = urlsplit(redis_url)
        self.target = (target.hostname or "127.0.0.1", target.port or 6379)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}{target.path}"
        self.marker: bytes | None = None
        self.cut = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, marker: str) -> None:
        self.marker = marker.encode()

    def close(self) -> None:
        for sock in self._open:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self.target)
            self._open += [client, upstream]
            doomed = threading.Event()  # this connection's next reply is to be lost
            threading.Thread(target=self._requests, args=(client, upstream, doomed), daemon=True).start()
            threading.Thread(target=self._replies, args=(upstream, client, doomed), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, doomed: threading.Event) -> None:
        try:
            while data := client.recv(65536):
                if self.marker is not None and b"PUBLISH" in data and self.marker in data:
                    self.marker = None
                    doomed.set()
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()

    def _replies(self, upstream: socket.socket, client: socket.socket, doomed: threading.Event) -> None:
        try:
            while data := upstream.recv(65536):
                if doomed.is_set():  # Redis has run the PUBLISH: lose its reply and the connection
                    client.shutdown(socket.SHUT_RDWR)
                    self.cut.set()
                    return
                client.sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()


def test_a_publish_retried_after_its_reply_was_lost_is_delivered_once(redis_url: str, tmp_path: Path) -> None:
    proxy = ReplyLosingProxy(redis_url)
    channel = f"armada-test-{uuid.uuid4().hex}"
    try:
        with fresh_database(tmp_path, "armada_cluster") as database_url:
            migrate(database_url)
            with (
                run_server(database_url, tmp_path, "a", REDIS_URL=proxy.url, REDIS_CHANNEL=channel) as a,
                run_server(database_url, tmp_path, "b", REDIS_URL=redis_url, REDIS_CHANNEL=channel) as b,
                requests.Session() as http,
            ):
                cluster = Cluster(a, b, http, [])
                try:
                    alice, bob = cluster.user("Alice"), cluster.user("Bob")
                    room_id = make_group(alice, bob)
                    cluster.socket(a, alice).join(room_id)
                    on_b = cluster.socket(b, bob)
                    on_b.join(room_id)
                    wait_listening(redis_url, channel, 2)

                    content = f"once-{uuid.uuid4().hex}"
                    proxy.arm(content)
                    message = post(alice, a, room_id, content)
                    # Process A's publish of new_message reached Redis, its reply did not, and A sent it again.
                    assert proxy.cut.wait(EVENT_SECONDS), "the proxy never saw the PUBLISH"
                    once(on_b, "new_message", about(message["id"]), "after a retried publish")
                    # The publisher recovered on a new connection: the next message goes through once too.
                    later = post(alice, a, room_id, "and then")
                    once(on_b, "new_message", about(later["id"]))
                    assert "Dropped a repeated Redis message" in b.log.read_text(errors="replace")
                finally:
                    for recorder in cluster.sockets:
                        recorder.close()
    finally:
        proxy.close()
