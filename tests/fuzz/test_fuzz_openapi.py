"""Schemathesis over /api/openapi.json: nothing a client sends gets a 5xx, and every answer is as documented.

The fuzzed document is the served one minus its catch-all `default` responses, so an undocumented status code
fails `status_code_conformance` instead of hiding behind `default`. Requests carry a real user's bearer token,
and path parameters are drawn from real rooms, users, messages and media links as well as generated values, so
the fuzzer reaches the code behind the 404s. `ARMADA_FUZZ_EXAMPLES=500 .venv/bin/pytest
tests/fuzz/test_fuzz_openapi.py` digs much deeper than the few examples per operation `make test` runs. The bugs
it found are pinned as plain API tests in tests/api/test_fuzz_findings.py.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from armada import create_app
from tests.helpers.media_support import SIGNED_URL, UPLOAD, multipart_file, png
from tests.helpers.support import Actor, ApiClient
from tests.helpers.testing_config import TestingConfig

EXAMPLES = int(os.environ.get("ARMADA_FUZZ_EXAMPLES") or 20)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Operations whose bearer token is not the shared access token (see World.headers_for).
REFRESH = "/api/auth/refresh"
LOGOUT = "/api/auth/logout"


@dataclass
class World:
    """Users, rooms, messages and media links the fuzzer can aim at, and the tokens it calls with."""

    api: ApiClient
    caller: Actor
    ids: dict[str, list[Any]] = field(default_factory=dict)  # by parameter or body field name
    bodies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # valid ones, by "METHOD /path"

    def headers_for(self, case: schemathesis.Case) -> dict[str, str]:
        """The caller's access token; its refresh token for refresh; a token of a fresh login for logout."""
        if case.path == REFRESH:
            token = self.caller.refresh_token
        elif case.path == LOGOUT:
            # Logging out revokes the session: the shared token must survive for the other operations.
            response = self.api.client.post(
                "/api/auth/login", json={"email": self.caller.user["email"], "password": self.caller.password}
            )
            assert response.status_code == 200, response.get_json()
            token = response.get_json()["access_token"]
        else:
            token = self.caller.access_token
        return {"Authorization": f"Bearer {token}"}


def _uploaded_png(actor: Actor) -> dict[str, Any]:
    body, content_type = multipart_file(png(40, 30), "dot.png", "image/png")
    response = actor.post(UPLOAD, data=body, content_type=content_type)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _direct_upload_token(actor: Actor) -> str:
    response = actor.get(SIGNED_URL, query_string={"filename": "a.png", "mime_type": "image/png", "size": 100})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["upload_url"].rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def world(app: Flask) -> World:
    """Alice (the caller) admin of one group and plain member of another, a direct room, a room she is not in."""
    api = ApiClient(app.test_client())
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    group = alice.make_group(bob, carol, name="Alice's")
    bobs = bob.make_group(alice, name="Bob's")
    direct = alice.make_direct(bob)
    elsewhere = carol.make_group(bob, name="Not Alice's")
    hello = alice.say(group, "hello")
    reply = bob.say(group, "hi back", reply_to_id=hello["id"])
    gone = bob.say(bobs, "soon gone")
    assert bob.delete(f"/api/chat/messages/{gone['id']}").status_code == 200
    forwarded = alice.post("/api/chat/messages", json={"room_id": direct["id"], "forwarded_from_id": reply["id"]})
    assert forwarded.status_code == 201, forwarded.get_json()
    hidden = carol.say(elsewhere, "not for Alice")
    upload = _uploaded_png(alice)
    image = alice.post(
        "/api/chat/messages", json={"room_id": group["id"], "message_type": "image", "media_url": upload["path"]}
    )
    assert image.status_code == 201, image.get_json()
    rooms = [group["id"], bobs["id"], direct["id"], elsewhere["id"]]
    users = [alice.id, bob.id, carol.id, api.register("Dave").id]
    messages = [hello["id"], reply["id"], gone["id"], forwarded.get_json()["id"], hidden["id"], image.get_json()["id"]]
    second_upload = _uploaded_png(alice)
    # Generated bodies rarely get every field right at once; these valid ones (aimed at further on) do.
    bodies = {
        "POST /api/chat/messages": [
            {"room_id": group["id"], "content": "hi"},
            {"room_id": group["id"], "content": "again", "client_id": "c-1"},
            {"room_id": group["id"], "content": "re", "reply_to_id": hello["id"]},
            {"room_id": bobs["id"], "forwarded_from_id": hello["id"]},
            {"room_id": direct["id"], "message_type": "image", "media_url": second_upload["path"]},
        ],
        "POST /api/chat/rooms": [
            {"room_type": "group", "name": "New", "member_ids": [bob.id]},
            {"room_type": "direct", "member_ids": [carol.id]},
        ],
        "POST /api/chat/rooms/{room_id}/read": [{"up_to": hello["id"]}, {"message_ids": [hello["id"], reply["id"]]}],
        "PATCH /api/chat/messages/{message_id}": [{"content": "edited"}],
        "PATCH /api/chat/rooms/{room_id}": [{"name": "Renamed", "description": None}],
    }
    return World(
        api,
        alice,
        {
            # Path parameters.
            "room_id": rooms,  # also a body field
            "user_id": users,
            "message_id": messages,
            "token": [
                upload["url"].rsplit("/", 1)[-1],
                upload["thumbnail_url"].rsplit("/", 1)[-1],
                _direct_upload_token(alice),
            ],
            # Query parameters and body fields.
            "after": messages,
            "changed_after": messages,
            "reply_to_id": messages,
            "forwarded_from_id": messages,
            "up_to": messages,
            "message_ids": [messages[:2], messages],
            "member_ids": [[bob.id], [bob.id, carol.id], [users[3]]],
            "media_url": [second_upload["path"], second_upload["url"]],
        },
        bodies,
    )


def strict_document(app: Flask) -> dict[str, Any]:
    """The served OpenAPI document without `default` responses, which would make any status conform."""
    document = copy.deepcopy(app.test_client().get("/api/openapi.json").get_json())
    for path_item in document["paths"].values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("default", None)
    return document


# Collection needs the operations, so the document comes from an app built for it alone (never served; its
# in-memory database is never connected to). Requests go to the test's `app`.
schema = schemathesis.openapi.from_dict(
    strict_document(create_app(TestingConfig({"DATABASE_URL": "sqlite://"}))),
    # The bearer token comes from World.headers_for; generated ones would only ever be refused.
    config=schemathesis.Config.from_dict(
        {"generation": {"mode": "all", "with-security-parameters": False, "database": "none"}}
    ),
)
# The current test's World: real values by parameter or body field name, and valid bodies by operation.
TARGETS: dict[str, list[Any]] = {}
BODIES: dict[str, list[dict[str, Any]]] = {}


def aim(values: Any) -> st.SearchStrategy:
    """Each field with real values of its kind is either the given value or one of those."""
    if not isinstance(values, dict) or not values:
        return st.just(values)
    return st.fixed_dictionaries(
        {name: st.sampled_from([value, *TARGETS.get(name, [])]) for name, value in values.items()}
    )


def flatmap_parameters(_context: schemathesis.HookContext, values: Any) -> st.SearchStrategy:
    """Path and query parameters: generated or real."""
    return aim(values)


def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy:
    """The generated body or a valid one, either with fields swapped for real values."""
    operation = context.operation
    valid = BODIES.get(f"{operation.method.upper()} {operation.path}", []) if operation else []
    return st.sampled_from([body, *valid]).flatmap(aim)


schema.hook("flatmap_path_parameters")(flatmap_parameters)
schema.hook("flatmap_query")(flatmap_parameters)
schema.hook("flatmap_body")(flatmap_body)


@pytest.fixture
def targets(world: World) -> Iterator[None]:
    """Aim the fuzzer at this test's world too."""
    TARGETS.update(world.ids)
    BODIES.update(world.bodies)
    yield
    TARGETS.clear()
    BODIES.clear()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # The same examples on every run, so CI cannot flake; ARMADA_FUZZ_EXAMPLES explores further locally.
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
@schema.parametrize()
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, app: Flask, world: World, targets: None
) -> None:
    case.call_and_validate(app=app, headers=world.headers_for(case), checks=CHECKS)


def test_errors_common_to_a_kind_of_operation_are_documented_on_each(app: Flask) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":  # the path's own, not an operation
                continue
            statuses = set(operation["responses"])
            if operation.get("security") != []:  # needs a bearer token
                assert "401" in statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                assert {"400", "413"} <= statuses, (method, path)


def test_the_strict_document_leaves_no_status_to_default(app: Flask) -> None:
    # Otherwise status_code_conformance above could never fail.
    document = strict_document(app)
    operations = [op for item in document["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert operations and all("default" not in op["responses"] and op["responses"] for op in operations)
