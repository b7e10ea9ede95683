"""Test helpers: an API client that acts as a user, a query counter, database plumbing."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, make_url
from werkzeug.test import TestResponse

from armada.extensions import db
from tests.helpers.factories import make_message, make_room

_counter = itertools.count(1)


@dataclass
class Actor:
    """A registered user and their tokens, able to call the API as themselves."""

    client: FlaskClient
    user: dict[str, Any]
    access_token: str
    refresh_token: str
    password: str

    @property
    def id(self) -> str:
        """The user's id."""
        return self.user["id"]

    @property
    def headers(self) -> dict[str, str]:
        """The bearer header of the actor's access token."""
        return {"Authorization": f"Bearer {self.access_token}"}

    def get(self, path: str, **kw: Any) -> TestResponse:
        """GET as this actor."""
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        """POST as this actor."""
        return self.client.post(path, headers=self.headers, **kw)

    def put(self, path: str, **kw: Any) -> TestResponse:
        """PUT as this actor."""
        return self.client.put(path, headers=self.headers, **kw)

    def patch(self, path: str, **kw: Any) -> TestResponse:
        """PATCH as this actor."""
        return self.client.patch(path, headers=self.headers, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        """DELETE as this actor."""
        return self.client.delete(path, headers=self.headers, **kw)

    # The factories (tests/helpers/factories.py) as the actor's own calls: each asserts its own success.
    def make_group(self, *others: Actor, name: str = "Team", **extra: Any) -> dict[str, Any]:
        """A group of this actor's with the others (make_room)."""
        return make_room(self, *others, name=name, **extra)

    def make_direct(self, other: Actor) -> dict[str, Any]:
        """This actor's direct room with the other, made now or already there (make_room)."""
        return make_room(self, other, room_type="direct")

    def say(self, room: dict[str, Any] | str, content: str = "hello", **extra: Any) -> dict[str, Any]:
        """A message of this actor's in the room (make_message)."""
        return make_message(self, room, content, **extra)


@dataclass
class ApiClient:
    """Registers users through the real endpoint."""

    client: FlaskClient
    actors: list[Actor] = field(default_factory=list)

    def register(self, name: str | None = None, email: str | None = None, password: str = "correct horse 1") -> Actor:
        """A user registered through the endpoint (a unique name and email unless given)."""
        n = next(_counter)
        name = name or f"User {n}"
        email = email or f"user{n}@example.com"
        response = self.client.post(
            "/api/auth/register", json={"email": email, "password": password, "display_name": name}
        )
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        actor = Actor(self.client, body["user"], body["access_token"], body["refresh_token"], password)
        self.actors.append(actor)
        return actor

    def users(self, *names: str) -> list[Actor]:
        """One registered user per name."""
        return [self.register(name) for name in names]


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a contract-shaped error with this status (and code)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"], error
    if code is not None:
        assert error["code"] == code, error
    return error


def details_of(response: TestResponse, status: int = 422) -> dict[str, Any]:
    """The `details` of a contract-shaped error with this status (a 422 is always validation_failed)."""
    error = assert_error(response, status, "validation_failed" if status == 422 else None)
    details: dict[str, Any] = error.get("details") or {}
    return details


def history_url(room_id: str) -> str:
    """The room's message history (GET /api/chat/rooms/{room_id}/messages)."""
    return f"/api/chat/rooms/{room_id}/messages"


def history_page(actor: Actor, room_id: str, **params: Any) -> dict[str, Any]:
    """One successful page of the room's history, with these query parameters."""
    response = actor.get(history_url(room_id), query_string=params)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"items", "next_cursor"}
    return body


def cursor_of(value: Any) -> str:
    """A hand-made cursor in the server's packing (URL-safe base64 of JSON), with values of the test's choosing."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# Query parameters that every list keyed by (time, id) refuses with a 422 naming them: broken cursors and limits.
BAD_TIME_ID_PAGE_ARGS: list[dict[str, Any]] = [
    {"cursor": "!!not a cursor!!"},
    {"cursor": cursor_of(["x"])},
    {"cursor": cursor_of([1, 2, 3])},
    {"cursor": cursor_of(["2024-01-01T00:00:00+00:00", "not a uuid"])},
    {"cursor": cursor_of(["not a time", "5d0a2d0e-8f5e-4e7e-9d1c-2b1f0c3a4e5f"])},
    {"cursor": "a\u0000b"},
    {"cursor": "a" * 513},
    {"limit": 0},
    {"limit": -1},
    {"limit": 101},
    {"limit": "ten"},
]


class QueryCounter:
    """Counts statements; use `with counter:` to count a block."""

    def __init__(self) -> None:
        self.count = 0
        self.active = False
        self.statements: list[str] = []
        self.parameters: list[Any] = []
        # Each statement's isolation_level execution option ("AUTOCOMMIT": it ran in no transaction; None: the
        # engine's default, a transaction).
        self.isolation: list[str | None] = []

    def on_execute(self, conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        """Count the statement, while active (a before_cursor_execute listener)."""
        if self.active:
            self.count += 1
            self.statements.append(statement)
            self.parameters.append(parameters)
            self.isolation.append(conn.get_execution_options().get("isolation_level"))

    def __enter__(self) -> QueryCounter:
        self.count, self.statements, self.parameters, self.isolation, self.active = 0, [], [], [], True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False


@contextmanager
def committed_just_before(
    app: Flask, prefix: str, change: Callable[[Connection], object], passing: int = 0
) -> Iterator[list[str]]:
    """While active, `change` runs and commits on a connection of its own just before the first statement that
    starts with `prefix` is sent (after letting `passing` such statements through): a concurrent request that
    committed in between a read and the write that follows it, at that very moment every time. Yields the
    statements it ran before (empty if it never ran)."""
    with app.app_context():
        engine = db.engine
    ran_before: list[str] = []
    seen = [0]

    def interpose(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if ran_before or not statement.lstrip().upper().startswith(prefix.upper()):
            return
        seen[0] += 1
        if seen[0] <= passing:
            return
        ran_before.append(statement)  # first, so that `change` sending the same kind of statement is not caught
        with engine.begin() as other:
            change(other)

    event.listen(engine, "before_cursor_execute", interpose)
    try:
        yield ran_before
    finally:
        event.remove(engine, "before_cursor_execute", interpose)


def empty_all_tables() -> None:
    """Delete every row, children first (faster than re-migrating per test)."""
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@contextmanager
def postgres_database(server_url: str, name: str) -> Iterator[str]:
    """Create a database on the server for this run and drop it afterwards."""
    url = make_url(server_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
