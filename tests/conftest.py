"""Session-wide fixtures: one migrated database per run (SQLite file, or a fresh PostgreSQL database), emptied per
test, and the app on it; and the needs_postgres / needs_redis markers.

The layers: tests/unit (pure functions), tests/api (the in-process test client), tests/system (real servers and
services), tests/browser (Chromium), tests/fuzz (schemathesis and hypothesis); helpers and factories are in
tests/helpers. Each layer's conftest.py holds what only its tests use.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import make_url

from armada import create_app
from armada.extensions import db, socketio
from tests.helpers.support import ApiClient, empty_all_tables, postgres_database
from tests.helpers.testing_config import TestingConfig

PG_ENV = "ARMADA_TEST_DATABASE_URL"
SOCKETIO_SERVER = "tests.socketio_server"
REDIS_ENV = "ARMADA_TEST_REDIS_URL"
# Tests marked with these run only when the suite is given the service (as .ci/run does); without it they are
# deselected, so the SQLite-only run needs nothing installed. Given the service, an unreachable one fails.
SERVICE_MARKERS = {"needs_postgres": PG_ENV, "needs_redis": REDIS_ENV}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_postgres: runs only with ARMADA_TEST_DATABASE_URL (PostgreSQL)")
    config.addinivalue_line("markers", "needs_redis: runs only with ARMADA_TEST_REDIS_URL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {marker for marker, env in SERVICE_MARKERS.items() if not os.environ.get(env)}
    keep = [item for item in items if not missing & {m.name for m in item.iter_markers()}]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis given to the suite (tests use their own channel names and keys on it)."""
    url = os.environ.get(REDIS_ENV)
    assert url, "mark the test needs_redis"
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite by default; with ARMADA_TEST_DATABASE_URL, a database of our own on that server."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'armada-test.db'}"
        return
    with postgres_database(server_url, f"armada_test_{uuid.uuid4().hex[:12]}") as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app, with the schema made by the migrations (never create_all)."""
    application = create_app(TestingConfig({"DATABASE_URL": database_url}))
    application.instance_path = str(tmp_path_factory.mktemp("instance"))
    with application.app_context():
        upgrade()
    # armada.extensions are module singletons: each create_app (several tests make apps of their own, some on other
    # databases) rebinds Socket.IO to its app. Each test using this app gets it back (see _clean_database), so its
    # in-process sockets, the emitter and the delivery ledger (which reads this app's database) are this app's.
    application.extensions[SOCKETIO_SERVER] = socketio.server
    return application


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    if "app" in request.fixturenames:
        socketio.server = request.getfixturevalue("app").extensions[SOCKETIO_SERVER]
    yield
    if "app" in request.fixturenames:
        application: Flask = request.getfixturevalue("app")
        with application.app_context():
            db.session.remove()
            empty_all_tables()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """The app's test client."""
    return app.test_client()


@pytest.fixture
def api(client: FlaskClient) -> ApiClient:
    """Makes users and talks to the API as them."""
    return ApiClient(client)


def pytest_report_header(config: Any) -> list[str]:
    url = os.environ.get(PG_ENV)
    database = make_url(url).render_as_string(hide_password=True) if url else "SQLite (temporary file)"
    redis = os.environ.get(REDIS_ENV) or "not given: needs_redis tests deselected"
    return [f"database: {database}", f"redis: {redis}"]
