"""The OpenAPI document at /api/openapi.json and the offline Swagger UI at /api/docs."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient

# Every path and method of CONTRACT.md, as OpenAPI spells the path.
CONTRACT_OPERATIONS = [
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
    ("get", "/api/health"),
]
PUBLIC_OPERATIONS = [("post", "/api/auth/register"), ("post", "/api/auth/login"), ("get", "/api/health")]
# Capability links: the signed token in the path is the authorization (media in <img src>, direct uploads).
LINK_OPERATIONS = [("get", "/api/media/{token}"), ("put", "/api/media/upload/{token}")]
PROTECTED_OPERATIONS = [op for op in CONTRACT_OPERATIONS if op not in PUBLIC_OPERATIONS]
CDN_HOSTS = ("unpkg", "jsdelivr", "cdnjs", "googleapis", "cloudflare")


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (#/components/...) to what it names."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


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


@pytest.mark.parametrize("method, path", CONTRACT_OPERATIONS)
def test_every_contract_operation_is_documented(spec: dict[str, Any], method: str, path: str) -> None:
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


def test_error_schema_is_the_contract_envelope(spec: dict[str, Any]) -> None:
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


@pytest.mark.parametrize("method, path", CONTRACT_OPERATIONS)
def test_every_documented_error_response_uses_the_envelope(spec: dict[str, Any], method: str, path: str) -> None:
    responses = operation(spec, method, path)["responses"]
    errors = {code: resolve(spec, r) for code, r in responses.items() if code == "default" or code[0] in "45"}
    assert "default" in errors
    for code, response in errors.items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        assert schema == {"$ref": "#/components/schemas/Error"}, (code, response)


BODY_OPERATIONS = [
    (method, path)
    for method, path in CONTRACT_OPERATIONS
    if method in ("post", "patch") and path not in ("/api/auth/logout", "/api/auth/refresh")
]


@pytest.mark.parametrize("method, path", BODY_OPERATIONS)
def test_body_endpoints_document_a_422(spec: dict[str, Any], method: str, path: str) -> None:
    assert "422" in operation(spec, method, path)["responses"]


# ---- Swagger UI -------------------------------------------------------------------------------------------


class AssetLinks(HTMLParser):
    """Collects stylesheet and script URLs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")


def docs_assets(client: FlaskClient) -> tuple[str, list[str]]:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    parser = AssetLinks()
    parser.feed(html)
    return html, parser.urls


def test_docs_page_loads_no_cdn(client: FlaskClient) -> None:
    html, urls = docs_assets(client)
    assert not any(host in html.lower() for host in CDN_HOSTS), html
    assert not re.search(r"(src|href)=[\"'](https?:)?//", html), "an asset is loaded from another host"
    assert any(u.endswith(".css") for u in urls) and any(u.endswith(".js") for u in urls), urls


def test_docs_page_points_at_our_spec(client: FlaskClient) -> None:
    html, _ = docs_assets(client)
    assert "/api/openapi.json" in html


def test_every_docs_asset_is_served_locally(client: FlaskClient) -> None:
    _, urls = docs_assets(client)
    for url in urls:
        assert url.startswith("/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.data) > 1000, url
        expected = "text/css" if url.endswith(".css") else "javascript"
        assert expected in response.mimetype, (url, response.mimetype)


@pytest.mark.parametrize(
    "path",
    ["/api/docs/assets/nope.js", "/api/docs/assets/../../config.py", "/api/docs/assets/..%2f..%2fconfig.py"],
)
def test_docs_assets_outside_the_bundle_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert b"SECRET_KEY" not in response.data
