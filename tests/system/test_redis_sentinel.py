"""REDIS_URL=redis+sentinel://:password@sentinel/service: Armada's own Redis clients (the publisher) reach the master
that a real Sentinel names, with the URL's password, after python-socketio has connected with the same URL."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import socketio

from armada.realtime.managers import RedisQueueManager
from armada.realtime.server import REDIS_OPTIONS
from tests.helpers.servers import free_port

pytestmark = pytest.mark.needs_redis  # given the service, redis-server is installed (.ci/setup)

PASSWORD = "sentinel-guarded-secret"
SERVICE = "armada-master"
START_SECONDS = 10


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed"
    with log.open("ab") as sink:
        return subprocess.Popen([binary, *args], stdout=sink, stderr=subprocess.STDOUT)


def wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A password-protected master and a Sentinel watching it (each a redis-server of this module's own): the
    Sentinel's URL, and the master's port."""
    folder = tmp_path_factory.mktemp("sentinel")
    master_port, sentinel_port = free_port(), free_port()
    master_args = ["--port", str(master_port), "--bind", "127.0.0.1", "--save", "", "--requirepass", PASSWORD]
    config = folder / "sentinel.conf"  # Sentinel rewrites its configuration file, so it is one of ours
    config.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n"
        f'sentinel auth-pass {SERVICE} "{PASSWORD}"\n'
    )
    processes = [start(master_args, folder / "master.log")]
    try:
        master = redis.Redis(port=master_port, password=PASSWORD, socket_connect_timeout=1)
        wait_for(master.ping, "the master")
        processes.append(start([str(config), "--sentinel"], folder / "sentinel.log"))
        sentinel = redis.Redis(port=sentinel_port, socket_connect_timeout=1)
        wait_for(lambda: sentinel.sentinel_get_master_addr_by_name(SERVICE), "the Sentinel")
        yield f"redis+sentinel://:{PASSWORD}@127.0.0.1:{sentinel_port}/0/{SERVICE}", master_port
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=START_SECONDS)


def test_the_publisher_reaches_the_master_the_sentinel_names_with_the_urls_password(sentinel: tuple[str, int]) -> None:
    url, master_port = sentinel
    manager = RedisQueueManager(url, channel="armada-sentinel-test", redis_options=dict(REDIS_OPTIONS))
    socketio.Server(client_manager=manager, async_mode="threading")
    received: list[bytes] = []
    # The channel's listener, as python-socketio subscribes it (connecting with the URL first).
    listening = threading.Thread(target=lambda: received.append(next(manager.channel_payloads())), daemon=True)
    listening.start()
    master = redis.Redis(port=master_port, password=PASSWORD)
    wait_for(lambda: dict(master.pubsub_numsub(manager.channel)).get(manager.channel.encode()), "the subscription")
    # Then Armada's own publisher, made from the same URL.
    assert manager.new_redis_client().publish(manager.channel, b"hello") == 1
    listening.join(timeout=START_SECONDS)
    assert received == [b"hello"]
