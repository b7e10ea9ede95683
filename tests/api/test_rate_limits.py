"""Rate limits in process: the switch that turns them off, and the 429 every limited operation documents.

What the limits do to real clients is tested against real servers in tests/system/test_rate_limits.py.
"""

from __future__ import annotations

import pytest
from flask import Flask

from armada import create_app
from tests.helpers.testing_config import TestingConfig

PASSWORD = "pass word 123"


def test_limits_off_never_count_even_beside_an_app_with_limits_on(app: Flask, database_url: str) -> None:
    one_a_minute = {"DATABASE_URL": database_url, "RATE_LIMIT_LOGIN": "1/minute"}
    limited = create_app(TestingConfig({**one_a_minute, "RATE_LIMIT_ENABLED": "true"}))
    switched_off = create_app(TestingConfig({**one_a_minute, "RATE_LIMIT_ENABLED": "false"}))
    body = {"email": "alice@example.com", "password": PASSWORD, "display_name": "Alice"}
    assert limited.test_client().post("/api/auth/register", json=body).status_code == 201
    credentials = {"email": body["email"], "password": PASSWORD}
    on = limited.test_client()
    assert on.post("/api/auth/login", json=credentials).status_code == 200
    refused = on.post("/api/auth/login", json=credentials)
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit(), refused.get_json()
    # RATE_LIMIT_ENABLED=false (the benchmarks' switch) and the test config's default: nothing is ever refused.
    for off in (switched_off.test_client(), app.test_client()):
        assert [off.post("/api/auth/login", json=credentials).status_code for _ in range(5)] == [200] * 5


LIMITED_OPERATIONS = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/chat/rooms"),
    ("post", "/api/chat/messages"),
    ("post", "/api/chat/upload"),
    ("get", "/api/chat/upload/signed-url"),
]


@pytest.mark.parametrize("method, path", LIMITED_OPERATIONS)
def test_limited_operations_document_the_429_and_its_retry_after(app: Flask, method: str, path: str) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    response = spec["paths"][path][method]["responses"]["429"]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert response["headers"]["Retry-After"]["schema"] == {"type": "integer"}
