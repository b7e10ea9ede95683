"""The delivery guarantee on real servers: every connected, joined socket gets every committed message of its rooms
exactly once, in room order, within seconds, whatever failed — Redis restarted, frozen or unreachable, or a worker
killed between its commit and its publish.

Two processes on one PostgreSQL database and a Redis of the test's own; two sockets on each stay connected and
joined throughout, while two clients keep posting to both processes.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.helpers.factories import make_room
from tests.helpers.private_services import RedisProcess
from tests.helpers.realtime import Recorder, about, wait_in_log, wait_listening
from tests.helpers.servers import (
    SECRETS,
    HttpUser,
    Server,
    base_env,
    free_port,
    fresh_database,
    migrate,
    procfile_line,
    run_server,
    serve_process,
)
from tests.helpers.traffic import Poster, assert_heard_exactly, room_history

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]

SWEEP_SECONDS = 2.0  # REALTIME_SWEEP_SECONDS's default, which these servers keep
# A missed message reaches a socket within the sweep's period, the gap's wait (0.5 s) and a few queries; the
# rest is slack for a loaded CI machine.
DELIVERY_BOUND = SWEEP_SECONDS + 0.5 + 7.5
CRASH_MARKER = "crash-after-commit"  # what makes tests/helpers/crash_after_commit.py kill its worker


@dataclass
class Stage:
    """Processes a and b on one database and Redis channel, a room, two joined sockets on each, and a poster."""

    a: Server
    b: Server
    database_url: str
    channel: str
    users: list[HttpUser]
    room_id: str
    listeners: list[Recorder]

    def stored(self) -> list[str]:
        """Every message of the room, in room order."""
        return room_history(self.users[0], self.room_id)

    def assert_every_socket_heard_everything(self) -> None:
        stored = self.stored()
        assert stored, "nothing was sent"
        for listener in self.listeners:
            assert_heard_exactly(listener, self.room_id, stored, DELIVERY_BOUND)
            assert listener.client.connected, f"{listener.name} was disconnected: it must have stayed connected"
            assert not listener.matching("disconnect"), listener.name


@contextmanager
def stage(own_redis: RedisProcess, tmp_path: Path) -> Iterator[Stage]:
    channel = f"armada-delivery-{uuid.uuid4().hex}"
    queue = {"REDIS_URL": own_redis.url, "REDIS_CHANNEL": channel}
    with fresh_database(tmp_path, "armada_delivery") as database_url:
        migrate(database_url)
        with (
            run_server(database_url, tmp_path, "a", **queue) as a,
            run_server(database_url, tmp_path, "b", **queue) as b,
            requests.Session() as http,
            ExitStack() as sockets,
        ):
            users = [HttpUser(http, a.url, name) for name in ("Alice", "Bob", "Carol", "Dave")]
            room_id = make_room(*users)["id"]
            listeners = []
            for user, server in zip(users, (a, a, b, b), strict=True):
                listener = Recorder(f"{user.name}@{'A' if server is a else 'B'}")
                sockets.callback(listener.close)
                listener.open(server.url, user.token).join(room_id)
                listeners.append(listener)
            wait_listening(own_redis.url, channel, 2)
            yield Stage(a, b, database_url, channel, users, room_id, listeners)


def posters(scene: Stage) -> ExitStack:
    """Two clients posting to both processes, alternately, until the stack closes."""
    stack = ExitStack()
    for n, user in enumerate(scene.users[:2]):
        stack.enter_context(Poster(user, scene.room_id, [scene.a.url, scene.b.url], f"p{n}"))
    return stack


def wait_for_posts(seconds: float) -> None:
    time.sleep(seconds)


@pytest.mark.parametrize("fault", ["restart", "freeze", "unreachable"])
def test_sockets_that_stay_connected_get_every_message_once_in_order_through_a_redis_fault(
    own_redis: RedisProcess, tmp_path: Path, fault: str
) -> None:
    with stage(own_redis, tmp_path) as scene:
        with posters(scene):
            wait_for_posts(2)
            if fault == "restart":  # refused for 3 s; the listeners notice and resubscribe
                own_redis.stop()
                wait_in_log(scene.a, "Cannot receive from redis")
                wait_for_posts(3)
                own_redis.start()
            elif fault == "freeze":  # hung for 5 s with every connection open: nobody notices by itself
                assert own_redis.process is not None
                own_redis.process.send_signal(signal.SIGSTOP)
                wait_for_posts(5)
                own_redis.process.send_signal(signal.SIGCONT)
            else:  # gone for longer: what is sent meanwhile still reaches the other process, from the database
                own_redis.stop()
                wait_in_log(scene.a, "Cannot receive from redis")
                wait_for_posts(2)
                sent = scene.users[2].call(
                    "POST", "/api/chat/messages", scene.b.url, json={"room_id": scene.room_id, "content": "no redis"}
                )
                assert sent.status_code == 201, sent.text
                alice_on_a = scene.listeners[0]
                alice_on_a.wait_for("new_message", about(sent.json()["id"]), timeout=DELIVERY_BOUND)
                assert own_redis.process is None or own_redis.process.poll() is not None, "Redis came back"
                wait_for_posts(2)
                own_redis.start()
            wait_for_posts(3)  # traffic goes on after the fault
        scene.assert_every_socket_heard_everything()


def test_a_message_whose_worker_died_between_commit_and_publish_reaches_the_sockets_of_the_other_processes(
    own_redis: RedisProcess, tmp_path: Path
) -> None:
    with stage(own_redis, tmp_path) as scene:
        # A third process, whose worker kills itself right after committing a message that carries the marker.
        port = free_port()
        command = procfile_line("web").replace("wsgi:app", "tests.helpers.crash_after_commit:app")
        env = base_env(
            PORT=str(port),
            DATABASE_URL=scene.database_url,
            REDIS_URL=own_redis.url,
            REDIS_CHANNEL=scene.channel,
            CRASH_MARKER=CRASH_MARKER,
            **SECRETS,
        )
        with serve_process(["sh", "-c", command], env, port, tmp_path / "crashing.log") as crashing:
            alice = scene.users[0]
            body = {"room_id": scene.room_id, "content": f"{CRASH_MARKER} 1", "client_id": "doomed-1"}
            with pytest.raises(requests.ConnectionError):
                alice.call("POST", "/api/chat/messages", crashing.url, json=body)
            # The client retries elsewhere and finds its message stored: its event was never published.
            retried = alice.call("POST", "/api/chat/messages", scene.a.url, json=body)
            assert retried.status_code == 200, retried.text
            doomed = retried.json()["id"]
            # Nothing else happens in the room: only the sweep can tell the sockets.
            for listener in scene.listeners:
                listener.wait_for("new_message", about(doomed), timeout=DELIVERY_BOUND)
            # And under traffic, with another crash in its middle.
            with posters(scene):
                wait_for_posts(2)
                body = {"room_id": scene.room_id, "content": f"{CRASH_MARKER} 2", "client_id": "doomed-2"}
                with pytest.raises(requests.ConnectionError):
                    alice.call("POST", "/api/chat/messages", crashing.url, json=body)
                wait_for_posts(2)
            # Gunicorn replaced the killed worker each time; the process itself never went away.
            assert crashing.process.poll() is None, crashing.output()
        scene.assert_every_socket_heard_everything()
