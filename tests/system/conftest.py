"""Fixtures for tests against real servers. Each module starts its own `server` (one per module, shared by its
tests); these fixtures talk to whichever `server` the requesting module has."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers.factories import make_room
from tests.helpers.private_services import RedisProcess
from tests.helpers.realtime import Crew, Joined, Listener
from tests.helpers.servers import HttpUser, Server


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One HTTP client for the module's tests."""
    with requests.Session() as session:
        yield session


@pytest.fixture
def user(server: Server, http: requests.Session) -> Callable[[str], HttpUser]:
    """Registers a user on the module's server."""
    return lambda name: HttpUser(http, server.url, name)


@pytest.fixture
def sockets() -> Iterator[Callable[..., Listener]]:
    """Makes recording sockets (not yet connected); every one is disconnected afterwards."""
    opened: list[Listener] = []

    def open_socket(name: str = "socket") -> Listener:
        listener = Listener(name)
        opened.append(listener)
        return listener

    yield open_socket
    for listener in opened:
        listener.close()


@pytest.fixture
def connect(server: Server, sockets: Callable[..., Listener]) -> Callable[..., Listener]:
    """Connects a recording socket to the module's server as a user (with another token of theirs, or over other
    transports, if told), once the server said `connected`."""

    def connect_as(who: HttpUser, token: str | None = None, transports: list[str] | None = None) -> Listener:
        return sockets(who.name).open(server.url, token or who.token, transports)

    return connect_as


@pytest.fixture
def crew(user: Callable[[str], HttpUser]) -> Crew:
    """Alice and Bob on the module's server, in a group of theirs (Alice its admin)."""
    alice, bob = user("Alice"), user("Bob")
    return Crew(alice, bob, make_room(alice, bob)["id"])


@pytest.fixture
def joined(crew: Crew, connect: Callable[..., Listener]) -> Joined:
    """The crew, each with a socket connected and joined to their group."""
    alice_socket, bob_socket = connect(crew.alice), connect(crew.bob)
    alice_socket.join(crew.room_id)
    bob_socket.join(crew.room_id)
    return Joined(*crew, alice_socket, bob_socket)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of the test's own, stopped afterwards even if the test left it frozen."""
    server = RedisProcess(tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)  # a frozen one cannot stop
        server.stop()
