"""Fixtures for tests through the in-process Flask test client (the session's `app`, `client` and `api` come from
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import event

from armada.extensions import db, socketio
from tests.helpers.factories import make_user
from tests.helpers.in_process import InProcessSocket
from tests.helpers.support import Actor, ApiClient, QueryCounter


@pytest.fixture
def count_queries(app: Flask) -> Iterator[QueryCounter]:
    """Counts SQL statements sent to the database while active."""
    counter = QueryCounter()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter.on_execute)
    yield counter
    event.remove(engine, "before_cursor_execute", counter.on_execute)


@pytest.fixture
def jwt_key(app: Flask) -> str:
    """The key the app signs its tokens with, to forge tokens it would accept."""
    key: str = app.config["JWT_SECRET_KEY"]
    return key


@pytest.fixture
def pair(api: ApiClient) -> tuple[Actor, Actor]:
    """Alice and Bob, registered, in no room yet."""
    return make_user(api, "Alice"), make_user(api, "Bob")


@pytest.fixture
def sockets(app: Flask) -> Iterator[Callable[..., InProcessSocket]]:
    """Opens in-process sockets with a token (in the auth payload, or the query string); closes them afterwards."""
    opened: list[InProcessSocket] = []

    def open_socket(token: str | None, via: str = "auth") -> InProcessSocket:
        if via == "auth":
            socket = InProcessSocket(app, socketio, auth=None if token is None else {"token": token})
        else:
            socket = InProcessSocket(app, socketio, query_string=None if token is None else f"token={token}")
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        socket.close()
