"""Fixtures for tests through the in-process Flask test client (the session's `app`, `client` and `api` come from
tests/conftest.py)."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.helpers.factories import make_user
from tests.helpers.support import Actor, ApiClient


@pytest.fixture
def jwt_key(app: Flask) -> str:
    """The key the app signs its tokens with, to forge tokens it would accept."""
    key: str = app.config["JWT_SECRET_KEY"]
    return key


@pytest.fixture
def pair(api: ApiClient) -> tuple[Actor, Actor]:
    """Alice and Bob, registered, in no room yet."""
    return make_user(api, "Alice"), make_user(api, "Bob")
