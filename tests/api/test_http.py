"""Request-level behaviour shared by every endpoint: body parsing, size limit, routing, the error envelope."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from armada import create_app
from armada.extensions import db
from tests.helpers.support import Actor, ApiClient, assert_error
from tests.helpers.testing_config import TestingConfig

JSON = "application/json"
MIB = 1024 * 1024
UNREACHABLE_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/nope"


@dataclass
class World:
    """Two users, a group of theirs with one message, and an outsider: real targets for every endpoint."""

    client: FlaskClient
    alice: Actor
    bob: Actor
    carol: Actor
    room: dict[str, Any]
    message: dict[str, Any]

    def targets(self) -> dict[str, tuple[Actor | None, str, str]]:
        """Endpoint name -> (who calls it, method, path) for every endpoint that takes a JSON body."""
        room, message = self.room["id"], self.message["id"]
        return {
            "register": (None, "POST", "/api/auth/register"),
            "login": (None, "POST", "/api/auth/login"),
            "create_room": (self.alice, "POST", "/api/chat/rooms"),
            "update_room": (self.alice, "PATCH", f"/api/chat/rooms/{room}"),
            "add_member": (self.alice, "POST", f"/api/chat/rooms/{room}/members/{self.bob.id}"),
            "send_message": (self.alice, "POST", "/api/chat/messages"),
            "edit_message": (self.alice, "PATCH", f"/api/chat/messages/{message}"),
            "mark_read": (self.alice, "POST", f"/api/chat/rooms/{room}/read"),
        }

    def send(self, endpoint: str, **kwargs: Any) -> TestResponse:
        """Call one endpoint as its caller with a raw body."""
        actor, method, path = self.targets()[endpoint]
        headers = actor.headers if actor else {}
        return self.client.open(path, method=method, headers=headers, **kwargs)


BODY_ENDPOINTS = [
    "register",
    "login",
    "create_room",
    "update_room",
    "add_member",
    "send_message",
    "edit_message",
    "mark_read",
]


@pytest.fixture
def world(api: ApiClient, client: FlaskClient) -> World:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob, name="Team")
    return World(client, alice, bob, carol, room, alice.say(room, "hello"))


def assert_envelope(response: TestResponse) -> dict[str, Any]:
    """Exactly {"error": {code, message[, details]}}, as JSON, with a snake_case code."""
    assert response.mimetype == JSON, response.mimetype
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "details"}, error
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", error["code"]), error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    if "details" in error:
        assert isinstance(error["details"], dict) and error["details"], error
    return error


# ---- body parsing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
@pytest.mark.parametrize("body", ['{"content": ', "{'a': 1}", "{,}", "   ", '{"a": 1} trailing'])
def test_malformed_json_is_400_malformed_json(world: World, endpoint: str, body: str) -> None:
    assert_error(world.send(endpoint, data=body, content_type=JSON), 400, "malformed_json")


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
@pytest.mark.parametrize("body", ["[]", '[{"content": "hi"}]', '"text"', "42", "1.5", "true", "null"])
def test_json_that_is_not_an_object_is_400(world: World, endpoint: str, body: str) -> None:
    assert_error(world.send(endpoint, data=body, content_type=JSON), 400, "malformed_json")


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", '{"content": "hi"}'),
        ("application/x-www-form-urlencoded", "content=hi&room_id=x"),
        ("multipart/form-data; boundary=x", '{"content": "hi"}'),
        ("application/xml", "<content>hi</content>"),
    ],
)
def test_body_that_is_not_declared_json_is_400_unsupported_content_type(
    world: World, endpoint: str, content_type: str, body: str
) -> None:
    response = world.send(endpoint, data=body, content_type=content_type)
    assert_error(response, 400, "unsupported_content_type")


def test_form_encoded_fields_are_not_read_as_the_body(world: World) -> None:
    response = world.alice.post("/api/chat/messages", data={"room_id": world.room["id"], "content": "hi"})
    assert_error(response, 400, "unsupported_content_type")
    assert len(world.alice.get(f"/api/chat/rooms/{world.room['id']}/messages").get_json()["items"]) == 1


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
@pytest.mark.parametrize("raw", [b'{"content": "\xff\xfe"}', b'{"content": "caf\xe9"}', b'{"content": "\xed\xa0\x80"}'])
def test_invalid_utf8_in_json_body_is_400(world: World, endpoint: str, raw: bytes) -> None:
    assert_error(world.send(endpoint, data=raw, content_type=JSON), 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"content": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"media_size": ' + "9" * 5_000 + "}",
        '{"media_size": NaN}',
        '{"media_size": Infinity}',
        '{"media_size": -Infinity}',
    ],
    ids=["deep-array", "deep-field", "5000-digit-integer", "nan", "infinity", "minus-infinity"],
)
def test_json_python_accepts_but_is_not_valid_or_safe_is_400(world: World, body: str) -> None:
    assert_error(world.send("send_message", data=body, content_type=JSON), 400, "malformed_json")


def test_json_with_charset_parameter_is_accepted(world: World) -> None:
    body = json.dumps({"room_id": world.room["id"], "content": "with charset"})
    response = world.send("send_message", data=body, content_type="application/json; charset=utf-8")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["content"] == "with charset"


def test_raw_utf8_emoji_body_round_trips(world: World) -> None:
    text = "héllo 👋🏽 世界 \u200d"
    body = json.dumps({"room_id": world.room["id"], "content": text}, ensure_ascii=False).encode("utf-8")
    response = world.send("send_message", data=body, content_type=JSON)
    assert response.status_code == 201, response.get_json()
    items = world.bob.get(f"/api/chat/rooms/{world.room['id']}/messages").get_json()["items"]
    assert items[-1]["content"] == text


@pytest.mark.parametrize("raw", ['"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"\\udfff x"'])
def test_nul_or_lone_surrogate_in_a_field_is_422_for_that_field(world: World, raw: str) -> None:
    body = '{"room_id": "%s", "content": %s}' % (world.room["id"], raw)
    error = assert_error(world.send("send_message", data=body, content_type=JSON), 422, "validation_failed")
    assert list(error["details"]) == ["content"]


# ---- size limit -------------------------------------------------------------------------------------------


def test_request_limit_is_one_mebibyte(app: Flask) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == MIB


def oversize_message(room_id: str, size: int) -> bytes:
    """A send-message body of exactly `size` bytes."""
    head, tail = b'{"room_id": "%s", "content": "' % room_id.encode(), b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_body_over_one_mebibyte_is_413(world: World, endpoint: str) -> None:
    response = world.send(endpoint, data=oversize_message(world.room["id"], MIB + 1), content_type=JSON)
    assert_error(response, 413, "payload_too_large")
    assert_envelope(response)


def test_body_of_exactly_one_mebibyte_is_read_not_refused(world: World) -> None:
    # At the limit the body is parsed; its 1 MB content then fails the message length rule instead.
    response = world.send("send_message", data=oversize_message(world.room["id"], MIB), content_type=JSON)
    error = assert_error(response, 422, "validation_failed")
    assert "content" in error["details"]


def test_oversize_message_is_not_stored(world: World) -> None:
    world.send("send_message", data=oversize_message(world.room["id"], 2 * MIB), content_type=JSON)
    assert len(world.bob.get(f"/api/chat/rooms/{world.room['id']}/messages").get_json()["items"]) == 1


# ---- routing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/chat", "/api/chat/nope", "/api/auth", "/api/users/me/extra", "/nope.php", "/api/%00"]
)
def test_unknown_route_is_404_in_contract_format(client: FlaskClient, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")
    assert_envelope(client.post(path, json={}))


def test_unknown_route_under_a_real_room_is_404(world: World) -> None:
    response = world.alice.get(f"/api/chat/rooms/{world.room['id']}/nope")
    assert_error(response, 404, "not_found")


def test_unknown_route_is_404_even_with_a_token(world: World) -> None:
    assert_error(world.alice.get("/api/chat/nope"), 404, "not_found")


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("GET", "/api/auth/register", {"POST"}),
        ("GET", "/api/auth/login", {"POST"}),
        ("PUT", "/api/auth/logout", {"POST"}),
        ("DELETE", "/api/health", {"GET"}),
        ("POST", "/api/health", {"GET"}),
        ("POST", "/api/users/me", {"GET"}),
        ("DELETE", "/api/users", {"GET"}),
        ("PUT", "/api/chat/rooms", {"GET", "POST"}),
        ("DELETE", "/api/chat/rooms/{room}", {"GET", "PATCH"}),
        ("GET", "/api/chat/rooms/{room}/read", {"POST"}),
        ("POST", "/api/chat/rooms/{room}/messages", {"GET"}),
        ("GET", "/api/chat/messages", {"POST"}),
        ("GET", "/api/chat/messages/{message}", {"PATCH", "DELETE"}),
        ("PUT", "/api/chat/messages/{message}", {"PATCH", "DELETE"}),
        ("GET", "/api/chat/rooms/{room}/members/{user}", {"POST", "DELETE"}),
    ],
)
def test_wrong_method_is_405_with_allow_header(world: World, method: str, path: str, allowed: set[str]) -> None:
    url = path.format(room=world.room["id"], message=world.message["id"], user=world.bob.id)
    response = world.client.open(url, method=method, headers=world.alice.headers)
    assert_error(response, 405, "method_not_allowed")
    allow = {m.strip() for m in response.headers.get("Allow", "").split(",")}
    assert allowed <= allow and method not in allow, allow


def test_wrong_method_is_405_without_a_token_too(client: FlaskClient) -> None:
    response = client.delete("/api/chat/messages")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


# ---- non-uuid ids -----------------------------------------------------------------------------------------

BAD_IDS = ["abc", "123", "00000000-0000-0000-0000", "00000000-0000-0000-0000-00000000000g", "%F0%9F%98%80", "%00"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    "method, template",
    [
        ("GET", "/api/chat/rooms/{bad}"),
        ("PATCH", "/api/chat/rooms/{bad}"),
        ("GET", "/api/chat/rooms/{bad}/messages"),
        ("POST", "/api/chat/rooms/{bad}/read"),
        ("POST", "/api/chat/rooms/{room}/members/{bad}"),
        ("DELETE", "/api/chat/rooms/{bad}/members/{alice}"),
        ("PATCH", "/api/chat/messages/{bad}"),
        ("DELETE", "/api/chat/messages/{bad}"),
    ],
)
def test_non_uuid_path_id_is_404(world: World, method: str, template: str, bad: str) -> None:
    url = template.format(bad=bad, room=world.room["id"], alice=world.alice.id)
    response = world.client.open(url, method=method, headers=world.alice.headers, json={"content": "x"})
    assert_error(response, 404)


@pytest.mark.parametrize(
    "method, template",
    [
        ("GET", "/api/chat/rooms/{id}"),
        ("GET", "/api/chat/rooms/{id}/messages"),
        ("DELETE", "/api/chat/messages/{id}"),
    ],
)
def test_well_formed_but_unknown_id_is_404(world: World, method: str, template: str) -> None:
    url = template.format(id=uuid.uuid4())
    assert_error(world.client.open(url, method=method, headers=world.alice.headers), 404)


# ---- 422 details ------------------------------------------------------------------------------------------

INVALID_REQUESTS: dict[str, tuple[str, dict[str, Any], set[str]]] = {
    "register-wrong-types": (
        "register",
        {"email": 5, "password": ["x"], "display_name": {"a": 1}},
        {"email", "password", "display_name"},
    ),
    "register-missing-all": ("register", {}, {"email", "password", "display_name"}),
    "create-room-bad-member-ids": (
        "create_room",
        {"room_type": "group", "name": "x", "member_ids": ["x", 3]},
        {"member_ids"},
    ),
    "create-room-bad-enum": ("create_room", {"room_type": "GROUP", "name": "x"}, {"room_type"}),
    "send-message-wrong-types": (
        "send_message",
        {"room_id": "nope", "media_size": "big"},
        {"room_id", "media_size"},
    ),
    "mark-read-bad-item": ("mark_read", {"message_ids": [None, "x"]}, {"message_ids"}),
    "update-room-too-long": ("update_room", {"name": "n" * 101}, {"name"}),
}


@pytest.mark.parametrize("case", INVALID_REQUESTS)
def test_422_details_map_each_field_to_a_list_of_strings(world: World, case: str) -> None:
    endpoint, body, fields = INVALID_REQUESTS[case]
    error = assert_error(world.send(endpoint, json=body), 422, "validation_failed")
    details = error["details"]
    assert fields <= set(details), details
    for field, messages in details.items():
        assert isinstance(messages, list) and messages, (field, messages)
        assert all(isinstance(m, str) and m for m in messages), (field, messages)


def test_422_list_item_errors_say_which_item(world: World) -> None:
    body = {"room_type": "group", "name": "x", "member_ids": [world.bob.id, "x"]}
    error = assert_error(world.send("create_room", json=body), 422, "validation_failed")
    assert error["details"] == {"member_ids": ["1: Not a valid UUID."]}


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=101", "limit=1e3", "cursor=" + "c" * 600])
def test_422_details_for_query_parameters(world: World, query: str) -> None:
    error = assert_error(world.alice.get(f"/api/chat/rooms?{query}"), 422, "validation_failed")
    field = query.split("=")[0]
    assert list(error["details"]) == [field]
    assert all(isinstance(m, str) for m in error["details"][field])


# ---- the error envelope everywhere ------------------------------------------------------------------------


def wrong_password(w: World) -> TestResponse:
    return w.client.post("/api/auth/login", json={"email": w.alice.user["email"], "password": "nope nope"})


def email_taken(w: World) -> TestResponse:
    body = {"email": w.alice.user["email"], "password": "long enough 1", "display_name": "A"}
    return w.client.post("/api/auth/register", json=body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": token}


ERROR_CASES: dict[str, tuple[Callable[[World], TestResponse], int]] = {
    "malformed-json": (lambda w: w.send("login", data="{", content_type=JSON), 400),
    "non-object": (lambda w: w.send("create_room", data="[]", content_type=JSON), 400),
    "wrong-content-type": (lambda w: w.send("send_message", data="x", content_type="text/plain"), 400),
    "no-token": (lambda w: w.client.get("/api/users/me"), 401),
    "garbage-token": (lambda w: w.client.get("/api/chat/rooms", headers=bearer("Bearer a.b.c")), 401),
    "basic-auth": (lambda w: w.client.get("/api/chat/rooms", headers=bearer("Basic YTpi")), 401),
    "wrong-password": (wrong_password, 401),
    "not-admin": (lambda w: w.bob.patch(f"/api/chat/rooms/{w.room['id']}", json={"name": "x"}), 403),
    "unknown-route": (lambda w: w.client.get("/api/unknown"), 404),
    "not-a-member": (lambda w: w.carol.get(f"/api/chat/rooms/{w.room['id']}/messages"), 404),
    "unknown-room": (lambda w: w.alice.get(f"/api/chat/rooms/{uuid.uuid4()}"), 404),
    "wrong-method": (lambda w: w.client.put("/api/chat/rooms"), 405),
    "email-taken": (email_taken, 409),
    "too-large": (lambda w: w.send("register", data=b"{" + b" " * MIB + b"}", content_type=JSON), 413),
    "validation": (lambda w: w.send("send_message", json={}), 422),
    "limit-too-big": (lambda w: w.alice.get("/api/users?limit=1000"), 422),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_every_error_response_has_exactly_the_contract_envelope(world: World, case: str) -> None:
    make_request, status = ERROR_CASES[case]
    response = make_request(world)
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    error = assert_envelope(response)
    assert ("details" in error) == (status == 422), error


# ---- health -----------------------------------------------------------------------------------------------


def test_health_needs_no_token_and_reports_ok(client: FlaskClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_ignores_a_bad_token(client: FlaskClient) -> None:
    response = client.get("/api/health", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


@pytest.fixture(scope="module")
def unreachable_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app whose database refuses connections (port 1)."""
    application = create_app(TestingConfig({"DATABASE_URL": UNREACHABLE_DATABASE}))
    application.instance_path = str(tmp_path_factory.mktemp("unreachable"))
    yield application
    with application.app_context():
        db.engine.dispose()


def test_health_is_503_database_unavailable_when_database_is_unreachable(unreachable_app: Flask) -> None:
    response = unreachable_app.test_client().get("/api/health")
    error = assert_error(response, 503, "database_unavailable")
    assert_envelope(response)
    assert "database" in error["message"].lower()


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/api/auth/login", {"email": "a@example.com", "password": "whatever1"}),
        ("POST", "/api/auth/register", {"email": "a@example.com", "password": "whatever1", "display_name": "A"}),
    ],
)
def test_database_outage_is_503_not_500_on_other_endpoints(
    unreachable_app: Flask, method: str, path: str, body: dict[str, Any]
) -> None:
    response = unreachable_app.test_client().open(path, method=method, json=body)
    assert_error(response, 503, "database_unavailable")
    assert_envelope(response)
