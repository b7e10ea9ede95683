"""Faults under traffic, on real servers: PostgreSQL or Redis restarted (or frozen) while messages flow, PostgreSQL
cut off by a network partition, slow upload clients, SIGTERM.

Every service stopped here is one the test started itself (tests/helpers/private_services.py): the shared
PostgreSQL and Redis are never touched.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPResponse
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import socketio
from sqlalchemy import make_url

from tests.helpers.factories import make_message, make_room
from tests.helpers.private_services import PostgresCluster, RedisProcess
from tests.helpers.realtime import (
    Recorder,
    about,
    anything,
    poll_delivery,
    two_processes,
    wait_in_log,
    wait_listening,
)
from tests.helpers.servers import (
    HttpUser,
    Server,
    assert_exits_cleanly,
    fresh_database,
    migrate,
    run_server,
    serve_fresh,
)

REQUEST_SECONDS = 10  # no request may take longer, outage or not: a hang is a failure
RECOVERY_SECONDS = 15  # how long after a restart the same server process must be serving again
GRACEFUL_SECONDS = 20  # the Procfile's --graceful-timeout


# ---- a client that keeps sending through the fault --------------------------------------------------------------


@dataclass
class Attempt:
    """One POST /api/chat/messages and what came back (status None: no answer at all)."""

    client_id: str
    status: int | None
    body: Any
    headers: dict[str, str]
    error: str | None = None


class Sender:
    """Posts messages to a room from its own thread, one after another, each with a client_id of its own."""

    def __init__(self, url: str, token: str, room_id: str, name: str) -> None:
        self.url, self.token, self.room_id, self.name = url, token, room_id, name
        self.attempts: list[Attempt] = []
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sender-{name}", daemon=True)

    def _run(self) -> None:
        with requests.Session() as http:
            for n in itertools.count():
                if self._stop.is_set():
                    return
                client_id = f"{self.name}-{n}"
                body = {"room_id": self.room_id, "content": f"{self.name} #{n} ✉️", "client_id": client_id}
                self._record(send(http, self.url, self.token, body, client_id))
                time.sleep(0.02)

    def _record(self, attempt: Attempt) -> None:
        with self.changed:
            self.attempts.append(attempt)
            self.changed.notify_all()

    def mark(self) -> int:
        """The number of attempts so far: pass it to `wait_for` to look only at later ones."""
        with self.changed:
            return len(self.attempts)

    def wait_for(
        self,
        what: str,
        predicate: Callable[[Attempt], bool],
        since: int = 0,
        count: int = 1,
        timeout: float = RECOVERY_SECONDS,
    ) -> list[Attempt]:
        """Wait until `count` attempts made after `since` satisfy `predicate`; those attempts."""

        def matching() -> list[Attempt]:
            return [a for a in self.attempts[since:] if predicate(a)]

        with self.changed:
            if not self.changed.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                seen = [(a.status, a.error) for a in self.attempts[since:]][-10:]
                raise AssertionError(f"sender {self.name}: no {count} {what} within {timeout}s; last: {seen}")
            return matching()

    def start(self) -> Sender:
        self._thread.start()
        return self

    def stop(self) -> list[Attempt]:
        self._stop.set()
        self._thread.join(timeout=REQUEST_SECONDS + 5)
        assert not self._thread.is_alive(), f"sender {self.name} is stuck in a request"
        return list(self.attempts)


def send(http: requests.Session, url: str, token: str, body: dict[str, Any], client_id: str) -> Attempt:
    """POST a message; any answer is recorded, no answer (refused, reset, timed out) too."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = http.post(f"{url}/api/chat/messages", json=body, headers=headers, timeout=REQUEST_SECONDS)
    except requests.RequestException as exc:
        return Attempt(client_id, None, None, {}, repr(exc))
    try:
        parsed = response.json()
    except ValueError:
        parsed = response.text
    return Attempt(client_id, response.status_code, parsed, dict(response.headers))


@contextmanager
def sending(*senders: Sender) -> Iterator[None]:
    for sender in senders:
        sender.start()
    try:
        yield
    finally:
        for sender in senders:
            sender.stop()


def created(attempt: Attempt) -> bool:
    return attempt.status == 201


def unavailable(attempt: Attempt) -> bool:
    return attempt.status == 503


def assert_database_unavailable(status: int, body: Any, headers: Mapping[str, str], what: str) -> None:
    """The contract's 503: `{"error": {code: database_unavailable, message}}`, with a Retry-After."""
    assert status == 503, f"{what}: {status} {body}"
    assert isinstance(body, dict) and set(body) == {"error"}, f"{what}: {body}"
    error = body["error"]
    assert error["code"] == "database_unavailable" and error["message"], f"{what}: {error}"
    assert set(error) <= {"code", "message", "details"}, f"{what}: {error}"
    retry_after = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    assert retry_after is not None and retry_after.isdigit(), f"{what}: Retry-After {retry_after!r}"


def worker_boots(server: Server) -> int:
    """How many gunicorn workers this server has booted: more than one means a worker died and was replaced."""
    return server.log.read_text(errors="replace").count("Booting worker with pid")


def libpq_url(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def stored_messages(conn: psycopg.Connection, room_id: str) -> dict[str, str]:
    """client_id -> message id of every message stored in the room, read straight from PostgreSQL."""
    rows = conn.execute("SELECT client_id, id FROM chat_messages WHERE room_id = %s", (room_id,)).fetchall()
    stored = {client_id: str(message_id) for client_id, message_id in rows}
    assert len(stored) == len(rows), "two messages share a client_id"
    return stored


def assert_counters_consistent(conn: psycopg.Connection) -> None:
    """No half-written change: each room's counters match its messages, and read pointers stay within them."""
    rooms = conn.execute(
        """
        SELECT r.id, r.last_seq, r.last_message_seq,
               coalesce(max(m.seq), 0), coalesce(max(m.change_seq), 0), count(m.id), count(DISTINCT m.seq)
        FROM chat_rooms r LEFT JOIN chat_messages m ON m.room_id = r.id
        GROUP BY r.id, r.last_seq, r.last_message_seq
        """
    ).fetchall()
    assert rooms
    for room_id, last_seq, last_message_seq, max_seq, max_change_seq, messages, distinct_seqs in rooms:
        assert last_message_seq == max_seq, f"room {room_id}: last_message_seq {last_message_seq}, newest {max_seq}"
        assert last_seq == max_change_seq, f"room {room_id}: last_seq {last_seq}, newest change {max_change_seq}"
        assert messages == distinct_seqs, f"room {room_id}: two messages share a seq"
    ahead = conn.execute(
        """
        SELECT count(*) FROM chat_room_members mb JOIN chat_rooms r ON r.id = mb.room_id
        WHERE mb.last_read_seq > r.last_message_seq
        """
    ).fetchone()
    assert ahead == (0,), "a read pointer points past the room's newest message"


# ---- PostgreSQL restarted --------------------------------------------------------------------------------------


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def assert_every_kind_of_request_gets_503(
    http: requests.Session, server: Server, alice: HttpUser, room_id: str
) -> None:
    """While the database is down: reads, writes, logins and the health check all answer the same clear 503."""
    auth = {"Authorization": f"Bearer {alice.token}"}
    login = {"email": f"nobody-{uuid.uuid4().hex[:6]}@example.com", "password": "pass word 123"}
    register = {**login, "display_name": "Late"}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/health", {}),
        ("GET", "/api/users/me", {"headers": auth}),
        ("GET", "/api/chat/rooms", {"headers": auth}),
        ("GET", f"/api/chat/rooms/{room_id}/messages", {"headers": auth}),
        ("PATCH", f"/api/chat/rooms/{room_id}", {"headers": auth, "json": {"name": "Renamed"}}),
        ("POST", "/api/auth/login", {"json": login}),
        ("POST", "/api/auth/register", {"json": register}),
    ]
    for method, path, kwargs in calls:
        response = http.request(method, f"{server.url}{path}", timeout=REQUEST_SECONDS, **kwargs)
        assert_database_unavailable(response.status_code, response.json(), response.headers, f"{method} {path}")


@pytest.mark.needs_postgres
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_during_traffic_answers_503_then_recovers_without_half_written_rows(
    own_postgres: PostgresCluster, tmp_path: Path, mode: str
) -> None:
    database_url = own_postgres.create_database("armada")
    migrate(database_url)
    with run_server(database_url, tmp_path, "server") as server, requests.Session() as http:
        alice, bob = HttpUser(http, server.url, "Alice"), HttpUser(http, server.url, "Bob")
        room_id = make_room(alice, bob)["id"]
        bob_socket = Recorder("Bob").open(server.url, bob.token)
        bob_socket.join(room_id)
        senders = [Sender(server.url, token, room_id, name) for token, name in ((alice.token, "a"), (bob.token, "b"))]
        try:
            with sending(*senders):
                for sender in senders:
                    sender.wait_for("201 before the outage", created, count=3)

                # `fast` ends every session (open transactions roll back); `immediate` is a crash (WAL recovery).
                own_postgres.stop(mode)
                marks = [sender.mark() for sender in senders]
                for sender, mark in zip(senders, marks, strict=True):
                    sender.wait_for("503 during the outage", unavailable, since=mark, count=3)
                assert_every_kind_of_request_gets_503(http, server, alice, room_id)
                refused = bob_socket.client.call(
                    "send_message",
                    {"room_id": room_id, "content": "over the socket", "client_id": "sock-1"},
                    timeout=REQUEST_SECONDS,
                )
                assert refused["ok"] is False and refused["error"]["code"] == "database_unavailable", refused
                assert bob_socket.client.connected
                # A new socket is refused with the same reason (its token check reads the database).
                newcomer = Recorder("Bob, connecting during the outage")
                with pytest.raises(socketio.exceptions.ConnectionError):
                    newcomer.open(server.url, bob.token)
                assert newcomer.wait_for("connect_error")["data"] == {"code": "database_unavailable"}

                own_postgres.start()
                marks = [sender.mark() for sender in senders]
                after = [
                    sender.wait_for("201 after the restart", created, since=mark)[0]
                    for sender, mark in zip(senders, marks, strict=True)
                ]
                # Real-time delivery carries on through the same socket.
                for attempt in after:
                    bob_socket.wait_for("new_message", about(attempt.body["id"]))
        finally:
            bob_socket.close()

        attempts = [attempt for sender in senders for attempt in sender.attempts]
        # Only two answers ever: created, or the clear 503; never a 500, a reset, or a hang past the timeout.
        assert {a.status for a in attempts} == {201, 503}, [
            (a.status, a.error, a.body) for a in attempts if a.status not in (201, 503)
        ][:5]
        for attempt in attempts:
            if attempt.status == 503:
                assert_database_unavailable(503, attempt.body, attempt.headers, attempt.client_id)
        # The same process serves again: the pool reconnected (pre-ping), no worker was replaced.
        assert server.process.poll() is None and worker_boots(server) == 1, server.output()
        health = http.get(f"{server.url}/api/health", timeout=REQUEST_SECONDS)
        assert health.json() == {"status": "ok", "database": "ok"}

        # A client retries what failed, with the same client_id: 201 if it was never stored, else the stored one.
        retried: dict[str, str] = {}
        for sender in senders:
            token = alice.token if sender.name == "a" else bob.token
            for attempt in sender.attempts:
                if attempt.status == 503:
                    cid = attempt.client_id
                    retry = {"room_id": room_id, "content": "retry", "client_id": cid}
                    again = send(http, server.url, token, retry, cid)
                    assert again.status in (200, 201), (again.status, again.body)
                    retried[cid] = again.body["id"]

        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            stored = stored_messages(conn, room_id)
            accepted = {a.client_id: a.body["id"] for a in attempts if a.status == 201}
            # Every 201 is in the database, and every message there is one a client was told about.
            assert {cid: stored.get(cid) for cid in accepted} == accepted
            assert stored == accepted | retried
            assert_counters_consistent(conn)

        # A new socket connects too (its token check reads the database).
        Recorder("Bob again").open(server.url, bob.token).close()


# ---- PostgreSQL cut off by a network partition ----------------------------------------------------------------


@dataclass
class Partitionable:
    """A network namespace of the test's own, joined to this one by a veth pair: a server inside is reached at
    `address`, and `cut` takes its end of the link down, so every packet either way is dropped and nothing is
    refused (a partition, or a host that died), until `heal`."""

    namespace: str
    inside: str
    address: str

    def _link(self, state: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.namespace, "ip", "link", "set", self.inside, state], check=True)

    def cut(self) -> None:
        self._link("down")

    def heal(self) -> None:
        self._link("up")


@contextmanager
def partitionable_network() -> Iterator[Partitionable]:
    suffix = uuid.uuid4().hex[:6]
    namespace, outside, inside = f"armada-{suffix}", f"arm{suffix}o", f"arm{suffix}i"
    subnet = f"10.231.{uuid.uuid4().int % 256}"  # private, and only ever inside this test's own namespace
    commands = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", outside, "type", "veth", "peer", "name", inside],
        ["ip", "link", "set", inside, "netns", namespace],
        ["ip", "addr", "add", f"{subnet}.1/24", "dev", outside],
        ["ip", "link", "set", outside, "up"],
        ["ip", "netns", "exec", namespace, "ip", "addr", "add", f"{subnet}.2/24", "dev", inside],
        ["ip", "netns", "exec", namespace, "ip", "link", "set", inside, "up"],
        ["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield Partitionable(namespace, inside, f"{subnet}.2")
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)  # the pair goes with it
        subprocess.run(["ip", "link", "del", outside], check=False, capture_output=True)


def waiting_on_a_lock(conn: psycopg.Connection) -> bool:
    """Whether some session of the `armada` database waits on a lock."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = 'armada' AND wait_event_type = 'Lock'"
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def room_is_free(conn: psycopg.Connection, room_id: str) -> bool:
    """Whether the room's row can be locked right now (no transaction holds it)."""
    try:
        with conn.transaction():
            conn.execute("SELECT 1 FROM chat_rooms WHERE id = %s FOR UPDATE NOWAIT", (room_id,))
    except psycopg.errors.LockNotAvailable:
        return False
    return True


@pytest.mark.needs_postgres
# CI runs as root (.ci/run installs packages): there a missing root fails the test rather than skipping it.
@pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"), reason="network namespaces need root")
def test_a_partition_from_postgres_answers_503_in_seconds_and_frees_the_locks_of_transactions_it_cut(
    tmp_path: Path,
) -> None:
    with partitionable_network() as network:
        cluster = PostgresCluster(host=network.address, netns=network.namespace)
        try:
            cluster.init()
            cluster.start()
            database_url = cluster.create_database("armada")
            migrate(database_url)
            timeouts = {"DB_NETWORK_TIMEOUT": "2", "DB_CONNECT_TIMEOUT": "2", "DB_POOL_TIMEOUT": "2"}
            with (
                run_server(database_url, tmp_path, "server", **timeouts) as server,
                requests.Session() as http,
                requests.Session() as alices_http,
                cluster.connect_local("armada") as watcher,
            ):
                alice, bob = HttpUser(http, server.url, "Alice"), HttpUser(http, server.url, "Bob")
                room_id = make_room(alice, bob)["id"]
                answer: list[Attempt] = []
                body = {"room_id": room_id, "content": "sent as the network went", "client_id": "cut"}
                sender = threading.Thread(
                    target=lambda: answer.append(send(alices_http, server.url, alice.token, body, "cut"))
                )
                # Over the unix socket, which the partition never reaches: hold the room's row, so that Alice's
                # send waits for it inside its transaction.
                with cluster.connect_local("armada") as holder, holder.transaction():
                    holder.execute("SELECT 1 FROM chat_rooms WHERE id = %s FOR UPDATE", (room_id,))
                    sender.start()
                    deadline = time.monotonic() + REQUEST_SECONDS
                    while not waiting_on_a_lock(watcher):
                        assert time.monotonic() < deadline, "Alice's send never waited on the room"
                        time.sleep(0.05)
                    network.cut()
                # Alice's transaction now holds the room, and its answers are lost: the server's end must give up
                # on a client it cannot reach, and Armada's end on a database that does not answer.
                sender.join(REQUEST_SECONDS + 5)
                assert not sender.is_alive() and len(answer) == 1
                assert answer[0].status == 503, answer[0]
                assert_database_unavailable(503, answer[0].body, answer[0].headers, "the send cut off")
                assert_every_kind_of_request_gets_503(http, server, alice, room_id)
                # Other instances, on the other side of no partition, need the room too: the server must end the
                # transaction it cannot finish, and free the room, while the partition lasts.
                deadline = time.monotonic() + RECOVERY_SECONDS
                while not room_is_free(watcher, room_id):
                    assert time.monotonic() < deadline, "the cut-off transaction still holds the room"
                    time.sleep(0.2)

                network.heal()
                deadline = time.monotonic() + RECOVERY_SECONDS
                bobs = {"room_id": room_id, "content": "back", "client_id": "back"}
                while (after := send(http, server.url, bob.token, bobs, "back")).status != 201:
                    assert after.status == 503 and time.monotonic() < deadline, after
                    time.sleep(0.2)
                retried = send(alices_http, server.url, alice.token, body, "cut")
                assert retried.status == 201, retried  # never stored before: the cut transaction rolled back
                assert server.process.poll() is None and worker_boots(server) == 1, server.output()
                assert stored_messages(watcher, room_id) == {"back": after.body["id"], "cut": retried.body["id"]}
                assert_counters_consistent(watcher)
        finally:
            cluster.close()


# ---- Redis restarted or frozen ---------------------------------------------------------------------------------


def begin_fault(fault: str, redis_server: RedisProcess, servers: tuple[Server, ...]) -> None:
    """`restart`: Redis stops (refused connections, the listeners notice). `freeze`: Redis stops answering but
    keeps every connection open (SIGSTOP: a hung Redis, or a network partition), which nobody notices by itself."""
    if fault == "restart":
        redis_server.stop()
        for server in servers:
            wait_in_log(server, "Cannot receive from redis")
    else:
        assert redis_server.process is not None
        redis_server.process.send_signal(signal.SIGSTOP)


def end_fault(fault: str, redis_server: RedisProcess) -> None:
    if fault == "restart":
        redis_server.start()
    else:
        assert redis_server.process is not None
        redis_server.process.send_signal(signal.SIGCONT)


@pytest.mark.needs_postgres
@pytest.mark.needs_redis
@pytest.mark.parametrize("fault", ["restart", "freeze"])
def test_redis_fault_during_traffic_keeps_every_message_and_delivery_resumes(
    own_redis: RedisProcess, tmp_path: Path, fault: str
) -> None:
    channel = f"armada-faults-{uuid.uuid4().hex}"
    queue = {"REDIS_URL": own_redis.url, "REDIS_CHANNEL": channel}
    with fresh_database(tmp_path, "armada_faults") as database_url:
        migrate(database_url)
        with (
            run_server(database_url, tmp_path, "a", **queue) as a,
            run_server(database_url, tmp_path, "b", **queue) as b,
            requests.Session() as http,
        ):
            alice, bob, carol = (HttpUser(http, a.url, name) for name in ("Alice", "Bob", "Carol"))
            room_id = make_room(alice, bob, carol)["id"]
            bob_on_a, carol_on_a, alice_on_b = Recorder("Bob@A"), Recorder("Carol@A"), Recorder("Alice@B")
            try:
                bob_on_a.open(a.url, bob.token).join(room_id)
                carol_on_a.open(a.url, carol.token).join(room_id)
                alice_on_b.open(b.url, alice.token).join(room_id)
                wait_listening(own_redis.url, channel, 2)
                sender = Sender(b.url, alice.token, room_id, "b")  # posts on B; Bob and Carol listen on A
                with sending(sender):
                    first = sender.wait_for("201 before the fault", created)[0]
                    bob_on_a.wait_for("new_message", about(first.body["id"]))

                    begin_fault(fault, own_redis, (a, b))
                    sender.wait_for("201 during the fault", created, since=sender.mark(), count=3)
                    socket_message = {"room_id": room_id, "content": "socket, no redis", "client_id": "sock-1"}
                    ack = alice_on_b.call("send_message", socket_message)
                    assert ack["ok"] is True and ack["created"] is True, ack
                    # Carol is removed on B: A cannot hear of it now, and must act on it once Redis is back.
                    removed = alice.call("DELETE", f"/api/chat/rooms/{room_id}/members/{carol.id}", b.url)
                    assert removed.status_code == 204, removed.text

                    end_fault(fault, own_redis)
                    restarted = sender.mark()

                    def sent_after_restart(data: Any) -> bool:
                        ids = {x.body["id"] for x in sender.attempts[restarted:] if x.status == 201}
                        return data["message"]["id"] in ids

                    # Delivery B -> A resumes by itself, on the same processes and sockets.
                    bob_on_a.wait_for("new_message", sent_after_restart, timeout=RECOVERY_SECONDS)
                    carol_on_a.wait_for("member_removed", timeout=RECOVERY_SECONDS)
                    resumed = sender.mark()
                    sender.wait_for("201 after delivery resumed", created, since=resumed, count=2)
                attempts = sender.attempts

                # REST answered every send throughout.
                failed = [(x.status, x.error, x.body) for x in attempts if x.status != 201]
                assert not failed, failed[:5]
                with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
                    stored = stored_messages(conn, room_id)
                    assert_counters_consistent(conn)
                accepted = {x.client_id: x.body["id"] for x in attempts}
                assert stored == accepted | {"sock-1": ack["message"]["id"]}

                # Nothing arrived twice; what Bob missed live he gets from the catch-up call.
                heard = [data["message"]["id"] for data in bob_on_a.matching("new_message")]
                assert len(heard) == len(set(heard)), "a message was delivered twice"
                caught_up: list[str] = []
                cursor: str | None = first.body["id"]
                while cursor:
                    params = {"after": cursor, "limit": "100"}
                    page = bob.call("GET", f"/api/chat/rooms/{room_id}/messages", a.url, params=params).json()
                    caught_up += [m["id"] for m in page["items"]]
                    cursor = page["next_cursor"]
                assert {first.body["id"], *caught_up} == set(stored.values())
                # Carol's socket left the room: of what Bob heard after delivery resumed, nothing reached her.
                later = {x.body["id"] for x in attempts[resumed:]}
                for message_id in later:
                    bob_on_a.wait_for("new_message", about(message_id))
                assert later and not carol_on_a.matching("new_message", lambda d: d["message"]["id"] in later)

                # A -> B resumed too, and neither process was restarted.
                reply = bob.call("POST", "/api/chat/messages", a.url, json={"room_id": room_id, "content": "back"})
                assert reply.status_code == 201, reply.text
                alice_on_b.wait_for("new_message", about(reply.json()["id"]), timeout=RECOVERY_SECONDS)
                assert bob_on_a.client.connected and alice_on_b.client.connected and carol_on_a.client.connected
                for server in (a, b):
                    assert server.process.poll() is None and worker_boots(server) == 1, server.output()
            finally:
                for recorder in (bob_on_a, carol_on_a, alice_on_b):
                    recorder.close()


@pytest.mark.needs_postgres
@pytest.mark.needs_redis
def test_removal_and_logout_missed_during_redis_outage_apply_when_postgres_comes_back_after_redis(
    own_postgres: PostgresCluster, own_redis: RedisProcess, tmp_path: Path
) -> None:
    # A host reboot where Redis is back before PostgreSQL: the reconcile on resubscribing fails, and must be retried.
    database_url = own_postgres.create_database("armada")
    migrate(database_url)
    queue = {"REDIS_URL": own_redis.url, "REDIS_CHANNEL": f"armada-faults-{uuid.uuid4().hex}"}
    with two_processes(database_url, tmp_path, **queue) as cluster:
        a, b, http = cluster.a, cluster.b, cluster.http
        alice, bob, carol = cluster.user("Alice"), cluster.user("Bob"), cluster.user("Carol")
        room_id = make_room(alice, bob, carol)["id"]
        other_token = bob.login_again()
        bob_on_a, carol_on_a = cluster.socket(a, bob), cluster.socket(a, carol)
        bob_other_session = cluster.socket(a, bob, other_token)
        for recorder in (bob_on_a, carol_on_a, bob_other_session):
            recorder.join(room_id)
        wait_listening(own_redis.url, queue["REDIS_CHANNEL"], 1)  # A: B has no socket, so it never listens

        own_redis.stop()
        wait_in_log(a, "Cannot receive from redis")
        # Made on B while Redis is down: A never hears of them.
        removed = alice.call("DELETE", f"/api/chat/rooms/{room_id}/members/{carol.id}", b.url)
        assert removed.status_code == 204, removed.text
        logout = http.post(
            f"{b.url}/api/auth/logout", headers={"Authorization": f"Bearer {other_token}"}, timeout=REQUEST_SECONDS
        )
        assert logout.status_code == 204, logout.text

        own_postgres.stop()
        own_redis.start()
        # A resubscribes and cannot reconcile. B publishes RESYNC (it dropped events): if A hears it, its
        # reconcile fails too. Nothing else will come to make A look again.
        wait_in_log(a, "Could not reconcile sockets")
        wait_in_log(b, "Publishing to Redis again")
        time.sleep(1)  # A handles that RESYNC, if it hears it, while PostgreSQL is still down
        assert carol_on_a.client.connected and bob_other_session.client.connected
        own_postgres.start()

        assert carol_on_a.exactly_one("member_removed", anything) == {"room_id": room_id, "user_id": carol.id}
        bob_other_session.wait_for("disconnect", timeout=RECOVERY_SECONDS)
        poll_delivery(alice, b, room_id, bob_on_a)
        last = make_message(alice, room_id, "after both came back", url=b.url)["id"]
        bob_on_a.wait_for("new_message", about(last))
        carol_on_a.assert_no("new_message")
        assert bob_on_a.client.connected and carol_on_a.client.connected
        for server in (a, b):
            assert server.process.poll() is None and worker_boots(server) == 1, server.output()


# ---- SIGTERM ---------------------------------------------------------------------------------------------------


def read_head(sock: socket.socket) -> bytes:
    """Read one response head (up to the blank line), nothing after it."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        assert chunk, f"connection closed after {head!r}"
        head += chunk
    return head


def address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def wait_refusing(server: Server) -> None:
    """Wait until the server no longer accepts connections: its shutdown is under way."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(address(server), timeout=1).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.05)
    raise AssertionError(f"still accepting connections 5s after SIGTERM:\n{server.output()}")


def multipart_file(payload: bytes, boundary: str) -> bytes:
    """A multipart/form-data body with `payload` as its `file` field (notes.txt, text/plain)."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="notes.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode()


@contextmanager
def upload_in_flight(server: Server, token: str, payload: bytes) -> Iterator[tuple[socket.socket, bytes]]:
    """POST /api/chat/upload from a slow client: the head and a third of the body sent, the rest left to the test
    (the socket and the unsent rest). The worker is handling the request once it has answered 100 Continue."""
    boundary = uuid.uuid4().hex
    body = multipart_file(payload, boundary)
    host, port = address(server)
    with socket.create_connection((host, port), timeout=REQUEST_SECONDS) as sock:
        head = (
            f"POST /api/chat/upload HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        sock.sendall(head.encode())
        assert read_head(sock).startswith(b"HTTP/1.1 100 "), "no 100 Continue"
        third = len(body) // 3
        sock.sendall(body[:third])
        yield sock, body[third:]


def finish_upload(sock: socket.socket, rest: bytes) -> tuple[int, Any]:
    """Send the rest of an upload_in_flight's body; its status and JSON answer."""
    for start in range(0, len(rest), 64 * 1024):
        sock.sendall(rest[start : start + 64 * 1024])
    response = HTTPResponse(sock)
    response.begin()
    return response.status, json.loads(response.read())


PAYLOAD = b"Armada keeps a slow upload going while it shuts down.\n" * 40_000  # about 2 MB


def test_sigterm_lets_a_slow_upload_in_flight_finish(tmp_path: Path) -> None:
    with serve_fresh(tmp_path, STORAGE_BACKEND="local", MEDIA_ROOT=str(tmp_path / "media")) as server:
        with requests.Session() as session:
            alice = HttpUser(session, server.url, "Alice")
        with upload_in_flight(server, alice.token, PAYLOAD) as (sock, rest):
            server.process.send_signal(signal.SIGTERM)
            wait_refusing(server)
            # The slow client sends the rest only now that the server is shutting down.
            status, result = finish_upload(sock, rest)
        assert status == 201, result
        assert (result["filename"], result["size"], result["message_type"]) == ("notes.txt", len(PAYLOAD), "file")
        assert_exits_cleanly(server, GRACEFUL_SECONDS)


@pytest.mark.needs_postgres
def test_slow_uploads_hold_no_database_connection_while_their_bodies_arrive(tmp_path: Path) -> None:
    # One pooled connection, and a request waits 2 s for it: a slow upload that kept it would starve the rest.
    pool = {"DB_POOL_SIZE": "1", "DB_MAX_OVERFLOW": "0", "DB_POOL_TIMEOUT": "2"}
    with (
        serve_fresh(tmp_path, STORAGE_BACKEND="local", MEDIA_ROOT=str(tmp_path / "media"), **pool) as server,
        requests.Session() as http,
    ):
        alice = HttpUser(http, server.url, "Alice")
        with (
            upload_in_flight(server, alice.token, PAYLOAD) as (first, first_rest),
            upload_in_flight(server, alice.token, PAYLOAD) as (second, second_rest),
        ):
            time.sleep(0.5)  # both past their token check, waiting on their clients
            for _ in range(3):
                me = alice.call("GET", "/api/users/me")
                assert me.status_code == 200, me.text
            answers = [finish_upload(first, first_rest), finish_upload(second, second_rest)]
        assert [status for status, _ in answers] == [201, 201], answers
        assert answers[0][1]["path"] != answers[1][1]["path"]


def test_sigterm_closes_websocket_and_polling_clients_and_exits_before_the_graceful_timeout(tmp_path: Path) -> None:
    with serve_fresh(tmp_path) as server:
        with requests.Session() as session:
            alice, bob = HttpUser(session, server.url, "Alice"), HttpUser(session, server.url, "Bob")
            room_id = make_room(alice, bob)["id"]
        on_websocket = Recorder("Alice (websocket)")
        on_polling = Recorder("Bob (long-polling)")
        try:
            # An engine.io session whose client went quiet after its handshake and never polls again, opened
            # first so that the server comes to it before the others: it must not hold up their closing.
            silent = requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=REQUEST_SECONDS)
            assert silent.status_code == 200 and '"sid"' in silent.text, silent.text
            on_websocket.open(server.url, alice.token).join(room_id)
            on_polling.client.connect(
                server.url, auth={"token": bob.token}, transports=["polling"], socketio_path="socket.io"
            )
            on_polling.wait_for("connected")
            on_polling.join(room_id)

            server.process.send_signal(signal.SIGTERM)
            # Both hear the server close their connection (a client then reconnects, to the next process) well
            # before the graceful timeout would cut them off.
            for recorder in (on_websocket, on_polling):
                recorder.wait_for("disconnect", timeout=GRACEFUL_SECONDS / 2)
            assert_exits_cleanly(server, GRACEFUL_SECONDS / 2)
            assert not on_websocket.client.connected and not on_polling.client.connected
        finally:
            on_websocket.close()
            on_polling.close()
        with pytest.raises(socketio.exceptions.ConnectionError):
            socketio.Client(reconnection=False).connect(
                server.url, auth={"token": alice.token}, transports=["websocket"], wait_timeout=2
            )
