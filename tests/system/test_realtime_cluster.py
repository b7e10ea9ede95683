"""Socket.IO across two real gunicorn processes sharing one PostgreSQL database and one Redis message queue.

Process A holds the listening sockets; the change is made on process B (REST or socket), so every event
asserted here crossed Redis. Each test gets its own REDIS_CHANNEL, so concurrent runs never hear each other.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import socketio

from tests.helpers.factories import make_message, make_room
from tests.helpers.private_services import RedisProcess
from tests.helpers.realtime import (
    EVENT_SECONDS,
    SETTLE_SECONDS,
    Cluster,
    Joined,
    Recorder,
    about,
    anything,
    cluster_on,
    joined_across,
    poll_delivery,
    wait_in_log,
    wait_listening,
)
from tests.helpers.servers import free_port, fresh_database, migrate, run_server

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]


@pytest.fixture
def cluster(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Two processes on a fresh database and a Redis channel of their own, both listening."""
    with cluster_on(redis_url, tmp_path) as running:
        yield running


@pytest.fixture
def joined(cluster: Cluster) -> Joined:
    """Alice and Bob in a group, Bob's socket joined on process A and Alice's on B."""
    return joined_across(cluster)


# ---- events made on B reach sockets on A, once -------------------------------------------------------------


def test_message_posted_over_rest_on_b_reaches_joined_socket_on_a_once(cluster: Cluster, joined: Joined) -> None:
    alice, _, room_id, _, bob_on_a = joined
    sent = make_message(alice, room_id, "across the queue 🚀", url=cluster.b.url)

    data = bob_on_a.exactly_one("new_message", about(sent["id"]))
    assert data["room_id"] == room_id
    assert data["message"]["content"] == "across the queue 🚀"
    assert data["message"]["sender_id"] == alice.id


def test_message_sent_over_socket_on_b_reaches_a_once_and_the_sender_once(joined: Joined) -> None:
    _, _, room_id, alice_on_b, bob_on_a = joined
    ack = alice_on_b.call("send_message", {"room_id": room_id, "content": "over the socket", "client_id": "c-1"})
    assert ack["ok"] is True and ack["created"] is True, ack
    message_id = ack["message"]["id"]

    assert bob_on_a.exactly_one("new_message", about(message_id))["message"]["content"] == "over the socket"
    # The sending process delivers to its own sockets itself and ignores its own message coming back from Redis.
    assert alice_on_b.exactly_one("new_message", about(message_id))["room_id"] == room_id
    # A retry with the same client_id is the same message and broadcasts nothing again.
    retry = alice_on_b.call("send_message", {"room_id": room_id, "content": "over the socket", "client_id": "c-1"})
    assert (retry["ok"], retry["created"], retry["message"]["id"]) == (True, False, message_id)
    time.sleep(SETTLE_SECONDS)
    assert bob_on_a.count("new_message", about(message_id)) == 1


@pytest.mark.parametrize("via", ["rest", "socket"])
def test_edit_on_b_reaches_socket_on_a_once(cluster: Cluster, joined: Joined, via: str) -> None:
    alice, _, room_id, alice_on_b, bob_on_a = joined
    message_id = make_message(alice, room_id, "draft", url=cluster.b.url)["id"]

    if via == "rest":
        response = alice.call("PATCH", f"/api/chat/messages/{message_id}", cluster.b.url, json={"content": "final ✅"})
        assert response.status_code == 200, response.text
    else:
        ack = alice_on_b.call("message_edited", {"message_id": message_id, "content": "final ✅"})
        assert (ack["ok"], ack["changed"]) == (True, True), ack

    data = bob_on_a.exactly_one("message_edited", about(message_id))
    assert data["room_id"] == room_id
    assert (data["message"]["content"], data["message"]["is_edited"]) == ("final ✅", True)


@pytest.mark.parametrize("via", ["rest", "socket"])
def test_delete_on_b_reaches_socket_on_a_once(cluster: Cluster, joined: Joined, via: str) -> None:
    alice, _, room_id, alice_on_b, bob_on_a = joined
    message_id = make_message(alice, room_id, "oops", url=cluster.b.url)["id"]

    if via == "rest":
        response = alice.call("DELETE", f"/api/chat/messages/{message_id}", cluster.b.url)
        assert response.status_code == 200, response.text
    else:
        ack = alice_on_b.call("message_deleted", {"message_id": message_id})
        assert (ack["ok"], ack["changed"]) == (True, True), ack

    assert bob_on_a.exactly_one("message_deleted", about(message_id)) == {"room_id": room_id, "message_id": message_id}


@pytest.mark.parametrize("via", ["rest", "socket"])
def test_read_receipts_made_on_b_reach_socket_on_a_once(cluster: Cluster, via: str) -> None:
    alice, bob = cluster.user("Alice"), cluster.user("Bob")
    room_id = make_room(alice, bob)["id"]
    alice_on_a = cluster.socket(cluster.a, alice)
    alice_on_a.join(room_id)
    message_ids = [make_message(alice, room_id, text, url=cluster.b.url)["id"] for text in ("one", "two")]

    if via == "rest":
        response = bob.call("POST", f"/api/chat/rooms/{room_id}/read", cluster.b.url, json={"message_ids": message_ids})
        assert response.status_code == 200, response.text
    else:
        ack = cluster.socket(cluster.b, bob).call("mark_as_read", {"room_id": room_id, "message_ids": message_ids})
        assert ack["ok"] is True, ack

    data = alice_on_a.exactly_one("messages_read", lambda d: d["user_id"] == bob.id)
    assert (data["room_id"], sorted(data["message_ids"])) == (room_id, sorted(message_ids))
    assert data["read_at"]


def test_typing_on_b_reaches_socket_on_a_once(joined: Joined) -> None:
    alice, _, room_id, alice_on_b, bob_on_a = joined
    assert alice_on_b.call("typing", {"room_id": room_id, "is_typing": True}) == {"ok": True, "forwarded": True}

    data = bob_on_a.exactly_one("user_typing", anything)
    assert data == {"room_id": room_id, "user_id": alice.id, "is_typing": True}
    alice_on_b.assert_no("user_typing")  # not echoed to the typist


# ---- membership and sessions --------------------------------------------------------------------------------


def test_member_removed_on_b_leaves_the_room_on_both_processes_and_hears_nothing_more(cluster: Cluster) -> None:
    alice, bob, carol = cluster.user("Alice"), cluster.user("Bob"), cluster.user("Carol")
    room_id = make_room(alice, bob, carol)["id"]
    carol_on_a, carol_on_b = cluster.socket(cluster.a, carol), cluster.socket(cluster.b, carol)
    bob_on_a = cluster.socket(cluster.a, bob)
    for recorder in (carol_on_a, carol_on_b, bob_on_a):
        recorder.join(room_id)

    response = alice.call("DELETE", f"/api/chat/rooms/{room_id}/members/{carol.id}", cluster.b.url)
    assert response.status_code == 204, response.text

    removed = {"room_id": room_id, "user_id": carol.id}
    for recorder in (carol_on_a, carol_on_b, bob_on_a):
        assert recorder.exactly_one("member_removed", anything) == removed

    after = [
        make_message(alice, room_id, "after, from B", url=cluster.b.url),
        make_message(alice, room_id, "after, from A", url=cluster.a.url),
    ]
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
    room_id = make_room(alice, bob)["id"]
    bob_on_a = cluster.socket(cluster.a, bob)
    bob_other_session = cluster.socket(cluster.a, bob, bob.login_again())
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
        again.open(cluster.a.url, bob.token)
    assert "revoked" in again.wait_for("connect_error")["message"]


def test_socket_on_a_that_never_joined_gets_no_room_events(cluster: Cluster) -> None:
    alice, bob, carol, dave = (cluster.user(name) for name in ("Alice", "Bob", "Carol", "Dave"))
    room_id = make_room(alice, bob, carol)["id"]
    joined, idle = cluster.socket(cluster.a, bob), cluster.socket(cluster.a, bob)
    stranger = cluster.socket(cluster.a, dave)
    joined.join(room_id)
    alice_on_b = cluster.socket(cluster.b, alice)
    alice_on_b.join(room_id)

    message_id = make_message(alice, room_id, "members only", url=cluster.b.url)["id"]
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


def test_redis_outage_keeps_rest_working_and_delivery_resumes_after_restart(
    own_redis: RedisProcess, tmp_path: Path
) -> None:
    with cluster_on(own_redis.url, tmp_path) as cluster:
        alice, bob, room_id, alice_on_b, bob_on_a = joined_across(cluster)
        last_seen = make_message(alice, room_id, "before the outage", url=cluster.b.url)["id"]
        bob_on_a.wait_for("new_message", about(last_seen))

        own_redis.stop()
        for server in (cluster.a, cluster.b):
            wait_in_log(server, "Cannot receive from redis")
        started = time.monotonic()
        during = [make_message(alice, room_id, f"during the outage {i}", url=cluster.b.url)["id"] for i in range(3)]
        took = time.monotonic() - started
        assert took < 3 * 5, f"3 sends took {took:.1f}s while Redis was down"  # each gives up on Redis quickly
        assert [m["id"] for m in bob.history(room_id, cluster.a.url)][-3:] == during
        # Bob missed them live; he catches up from the last message he saw.
        assert [m["id"] for m in bob.history(room_id, cluster.a.url, after=last_seen)] == during
        assert bob_on_a.client.connected and alice_on_b.client.connected

        own_redis.start()
        b_to_a = poll_delivery(alice, cluster.b, room_id, bob_on_a)
        a_to_b = poll_delivery(bob, cluster.a, room_id, alice_on_b)
        # Recovered listeners subscribe once: a new message arrives exactly once in each direction.
        fresh = make_message(alice, room_id, "after recovery", url=cluster.b.url)["id"]
        reply = make_message(bob, room_id, "welcome back", url=cluster.a.url)["id"]
        bob_on_a.exactly_one("new_message", about(fresh), f"(B -> A delivery resumed {b_to_a:.1f}s after the restart)")
        alice_on_b.exactly_one(
            "new_message", about(reply), f"(A -> B delivery resumed {a_to_b:.1f}s after the restart)"
        )


def test_removal_and_logout_missed_during_redis_outage_apply_once_redis_is_back(
    own_redis: RedisProcess, tmp_path: Path
) -> None:
    with cluster_on(own_redis.url, tmp_path) as cluster:
        alice, bob, carol = cluster.user("Alice"), cluster.user("Bob"), cluster.user("Carol")
        room_id = make_room(alice, bob, carol)["id"]
        bob_on_a, carol_on_a, carol_on_b = [
            cluster.socket(cluster.a, bob),
            cluster.socket(cluster.a, carol),
            cluster.socket(cluster.b, carol),
        ]
        other_token = bob.login_again()
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
        assert carol_on_a.exactly_one("member_removed", anything, took) == {"room_id": room_id, "user_id": carol.id}
        bob_other_session.wait_for("disconnect")
        assert not bob_other_session.matching("new_message"), took
        # Carol's socket on B, the process that removed her, left at once, as without an outage.
        assert carol_on_b.exactly_one("member_removed", anything) == {"room_id": room_id, "user_id": carol.id}
        last = make_message(alice, room_id, "after recovery", url=cluster.a.url)["id"]
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
                    room_id = make_room(alice, bob)["id"]
                    cluster.socket(a, alice).join(room_id)
                    on_b = cluster.socket(b, bob)
                    on_b.join(room_id)
                    wait_listening(redis_url, channel, 2)

                    content = f"once-{uuid.uuid4().hex}"
                    proxy.arm(content)
                    message = make_message(alice, room_id, content, url=a.url)
                    # Process A's publish of new_message reached Redis, its reply did not, and A sent it again.
                    assert proxy.cut.wait(EVENT_SECONDS), "the proxy never saw the PUBLISH"
                    on_b.exactly_one("new_message", about(message["id"]), "after a retried publish")
                    # The publisher recovered on a new connection: the next message goes through once too.
                    later = make_message(alice, room_id, "and then", url=a.url)
                    on_b.exactly_one("new_message", about(later["id"]))
                    assert "Dropped a repeated Redis message" in b.log.read_text(errors="replace")
                finally:
                    for recorder in cluster.sockets:
                        recorder.close()
    finally:
        proxy.close()
