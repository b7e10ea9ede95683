"""The OpenAPI document at /api/openapi.json (its Swagger UI page: test_api_docs_page.py).

Besides the operations a client needs, the document must stand on its own: every operation documents the errors it
can answer in the one error format, every request and response body has an example that its schema accepts, the
description links the Socket.IO (AsyncAPI) document, and nothing offers offset pagination.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers.openapi import (
    all_operations,
    example_problems,
    json_bodies,
    operations,
    parameters_of,
    resolve,
    strings,
)

# Every REST operation a client needs, as OpenAPI spells the path.
CLIENT_OPERATIONS = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/users/me"),
    ("get", "/api/users"),
    ("get", "/api/chat/rooms"),
    ("post", "/api/chat/rooms"),
    ("get", "/api/chat/rooms/{room_id}"),
    ("patch", "/api/chat/rooms/{room_id}"),
    ("post", "/api/chat/rooms/{room_id}/members/{user_id}"),
    ("delete", "/api/chat/rooms/{room_id}/members/{user_id}"),
    ("get", "/api/chat/rooms/{room_id}/messages"),
    ("post", "/api/chat/rooms/{room_id}/read"),
    ("post", "/api/chat/messages"),
    ("patch", "/api/chat/messages/{message_id}"),
    ("delete", "/api/chat/messages/{message_id}"),
    ("post", "/api/chat/upload"),
    ("get", "/api/chat/upload/signed-url"),
    ("put", "/api/chat/messages/{message_id}/reactions/{emoji}"),
    ("delete", "/api/chat/messages/{message_id}/reactions/{emoji}"),
    ("get", "/api/chat/messages/{message_id}/reactions/{emoji}"),
    ("get", "/api/chat/messages/{message_id}/history"),
    ("get", "/api/chat/threads"),
    ("post", "/api/chat/threads/{root_id}/read"),
    ("put", "/api/chat/rooms/{room_id}/pins/{message_id}"),
    ("delete", "/api/chat/rooms/{room_id}/pins/{message_id}"),
    ("get", "/api/chat/rooms/{room_id}/pins"),
    ("get", "/api/health"),
]
PUBLIC_OPERATIONS = [("post", "/api/auth/register"), ("post", "/api/auth/login"), ("get", "/api/health")]
# Capability links: the signed token in the path is the authorization (media in <img src>, direct uploads).
LINK_OPERATIONS = [("get", "/api/media/{token}"), ("put", "/api/media/upload/{token}")]
PROTECTED_OPERATIONS = [op for op in CLIENT_OPERATIONS if op not in PUBLIC_OPERATIONS]
# Words of offset pagination (flask-smorest's @blp.paginate and its X-Pagination header among them).
OFFSET_WORDS = {"page", "page_size", "per_page", "offset", "total_pages", "first_page", "last_page", "x-pagination"}


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return spec["paths"][path][method]


def test_spec_is_openapi_3_with_a_title(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]


def test_bearer_auth_scheme_is_declared(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"


def test_bearer_auth_applies_globally(spec: dict[str, Any]) -> None:
    assert spec["security"] == [{"bearerAuth": []}]


@pytest.mark.parametrize("method, path", PUBLIC_OPERATIONS + LINK_OPERATIONS)
def test_public_operations_are_documented_as_needing_no_token(spec: dict[str, Any], method: str, path: str) -> None:
    assert operation(spec, method, path)["security"] == []


@pytest.mark.parametrize("method, path", PROTECTED_OPERATIONS)
def test_protected_operations_keep_bearer_auth(spec: dict[str, Any], method: str, path: str) -> None:
    security = operation(spec, method, path).get("security", spec["security"])
    assert {"bearerAuth": []} in security


@pytest.mark.parametrize("method, path", CLIENT_OPERATIONS)
def test_every_client_operation_is_documented(spec: dict[str, Any], method: str, path: str) -> None:
    op = operation(spec, method, path)
    assert op.get("summary") or op.get("description"), op
    assert any(code.startswith("2") for code in op["responses"]), op["responses"]


@pytest.mark.parametrize(
    "method, path, params",
    [
        ("get", "/api/chat/rooms/{room_id}/messages", {"room_id", "limit", "before", "after", "changed_after"}),
        ("get", "/api/chat/rooms", {"limit", "cursor"}),
        ("get", "/api/users", {"q", "limit", "cursor"}),
        ("delete", "/api/chat/rooms/{room_id}/members/{user_id}", {"room_id", "user_id"}),
    ],
)
def test_parameters_are_documented(spec: dict[str, Any], method: str, path: str, params: set[str]) -> None:
    documented = spec["paths"][path].get("parameters", []) + operation(spec, method, path).get("parameters", [])
    assert params <= {resolve(spec, p)["name"] for p in documented}


def test_error_schema_is_the_one_envelope(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    envelope = schemas["Error"]
    assert envelope["required"] == ["error"] and set(envelope["properties"]) == {"error"}
    inner = resolve(spec, envelope["properties"]["error"])
    assert set(inner["properties"]) == {"code", "message", "details"}
    assert sorted(inner["required"]) == ["code", "message"]
    details = inner["properties"]["details"]
    assert details["type"] == "object"
    # 422's details map fields to lists of messages; a 429's carry retry_after and limit: any JSON values.
    assert details.get("additionalProperties", {}) == {}
    assert "422" in details["description"] and "429" in details["description"]


@pytest.mark.parametrize("method, path", CLIENT_OPERATIONS)
def test_every_documented_error_response_uses_the_envelope(spec: dict[str, Any], method: str, path: str) -> None:
    responses = operation(spec, method, path)["responses"]
    errors = {code: resolve(spec, r) for code, r in responses.items() if code == "default" or code[0] in "45"}
    assert "default" in errors
    for code, response in errors.items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        assert schema == {"$ref": "#/components/schemas/Error"}, (code, response)


BODY_OPERATIONS = [
    (method, path)
    for method, path in CLIENT_OPERATIONS
    if method in ("post", "patch") and path not in ("/api/auth/logout", "/api/auth/refresh")
]


@pytest.mark.parametrize("method, path", BODY_OPERATIONS)
def test_body_endpoints_document_a_422(spec: dict[str, Any], method: str, path: str) -> None:
    assert "422" in operation(spec, method, path)["responses"]


# ---- The document stands on its own: errors, examples, description, keyset pagination only ----------------


def test_the_document_has_operations_beyond_those_listed_here(spec: dict[str, Any]) -> None:
    # The checks below walk the document itself, so an operation added later is held to them too.
    assert set(CLIENT_OPERATIONS) <= set(all_operations(spec))


def test_every_operation_documents_error_responses_in_the_error_format(spec: dict[str, Any]) -> None:
    problems = []
    for method, path, op in operations(spec):
        errors = {status: resolve(spec, r) for status, r in op["responses"].items() if status[0] in "45"}
        # Only an operation that takes nothing from the client, not even a token, may have no error to document.
        takes_input = op.get("parameters") or "requestBody" in op or op.get("security") != []
        if not errors and takes_input:
            problems.append(f"{method.upper()} {path}: no 4xx/5xx response")
        for status, response in errors.items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema != {"$ref": "#/components/schemas/Error"} or not response.get("description"):
                problems.append(f"{method.upper()} {path} {status}: {response}")
    assert problems == []


def test_every_operation_documents_the_errors_its_shape_implies(spec: dict[str, Any]) -> None:
    """A JSON body can be malformed (400), too large (413) or invalid (422); a query can be invalid (422); a bearer
    token can be missing or expired (401); an id in the path can name nothing (404)."""
    problems = []
    for method, path, op in operations(spec):
        expected = set()
        if "application/json" in resolve(spec, op.get("requestBody", {})).get("content", {}):
            expected |= {"400", "413", "422"}
        where = {p["in"] for p in parameters_of(spec, method, path)}
        if "query" in where:
            expected.add("422")
        if "path" in where:
            expected.add("404")
        if op.get("security", spec["security"]):
            expected.add("401")
        missing = expected - set(op["responses"])
        if missing:
            problems.append(f"{method.upper()} {path}: {sorted(missing)} not documented")
    assert problems == []


def test_every_json_body_has_an_example(spec: dict[str, Any]) -> None:
    missing = []
    for where, media in json_bodies(spec):
        schema = resolve(spec, media["schema"])
        if "example" not in media and "examples" not in media and "example" not in schema:
            missing.append(f"{where}: {media['schema']}")
    assert missing == []


def test_every_example_is_accepted_by_its_schema(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"].items()
    examples = [(f"schema {name}", schema, schema["example"]) for name, schema in schemas if "example" in schema]
    examples += [(where, media["schema"], media["example"]) for where, media in json_bodies(spec) if "example" in media]
    assert examples, "no examples at all"
    problems = {
        where: found for where, schema, example in examples if (found := example_problems(spec, schema, example))
    }
    assert problems == {}


def test_example_problems_finds_a_wrong_example(spec: dict[str, Any]) -> None:
    # The check above must be able to fail: a missing field, an unknown one, a wrong type, a bad format.
    message = resolve(spec, {"$ref": "#/components/schemas/Message"})
    good = message["example"]
    assert example_problems(spec, message, good) == []
    for bad in (
        {k: v for k, v in good.items() if k != "id"},
        {**good, "sender_email": "alice@example.com"},
        {**good, "is_deleted": "no"},
        {**good, "room_id": "not-a-uuid"},
        {**good, "created_at": None},
        {**good, "reactions": [{"emoji": "\N{THUMBS UP SIGN}", "count": 2}]},
        {**good, "thread": {"reply_count": "one", "last_reply_at": good["created_at"], "participant_ids": []}},
        {**good, "reply_to": {"id": good["id"]}},
        {**good, "mentions": ["alice"]},
        {**good, "pinned_by": "Alice"},
    ):
        assert example_problems(spec, message, bad), bad


def test_no_offset_pagination_anywhere(spec: dict[str, Any]) -> None:
    found = {text for text in strings(spec) if text.lower() in OFFSET_WORDS or text.lower().startswith("pagination")}
    assert found == set()


def test_every_list_is_a_keyset_page(spec: dict[str, Any]) -> None:
    pages = 0
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            media = resolve(spec, response).get("content", {}).get("application/json")
            schema = resolve(spec, media["schema"]) if media and status.startswith("2") else {}
            if "items" in schema.get("properties", {}):
                pages += 1
                assert set(schema["required"]) >= {"items", "next_cursor"}, (method, path, schema)
                assert "limit" in {p["name"] for p in parameters_of(spec, method, path)}, (method, path)
    assert pages >= 3  # users, rooms, messages


def test_description_says_what_armada_is_and_links_the_asyncapi_document(
    spec: dict[str, Any], client: FlaskClient
) -> None:
    description = spec["info"]["description"]
    assert "Armada" in description
    links = re.findall(r"\]\((/[^)\s]+)\)", description)
    assert links
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
    documents = [client.get(link).get_json() for link in links]
    assert any(str(doc.get("asyncapi", "")).startswith("3.") for doc in documents)


def test_description_names_only_operations_that_exist(spec: dict[str, Any]) -> None:
    named = re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/api/[\w/{}.-]+)", spec["info"]["description"])
    assert named
    assert [(m, p) for m, p in named if m.lower() not in spec["paths"].get(p, {})] == []


def test_description_documents_the_error_envelope_and_keyset_cursors(spec: dict[str, Any]) -> None:
    description = spec["info"]["description"]
    envelope = resolve(spec, spec["components"]["schemas"]["Error"]["properties"]["error"])
    for key in ["error", *envelope["properties"]]:
        assert f'"{key}"' in description, key
    cursors = {p["name"] for method, path in all_operations(spec) for p in parameters_of(spec, method, path)}
    cursors &= {"cursor", "before", "after", "changed_after", "limit"}
    assert cursors and all(f"`{name}`" in description for name in cursors), cursors


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/asyncapi.json"])
def test_no_document_points_outside_the_repository(client: FlaskClient, path: str) -> None:
    text = json.dumps(client.get(path).get_json())
    assert not re.search(r"contract|shared/", text, re.IGNORECASE)
