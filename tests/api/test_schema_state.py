"""A database whose schema is not this release's is reported as what it is (not as an outage), and recovers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from armada import MIGRATIONS_DIR
from armada.extensions import db
from tests.helpers.servers import fresh_database
from tests.helpers.support import assert_error
from tests.helpers.testing_config import app_on

UPGRADE = "flask --app armada db upgrade"
# The newest migration in the repository, read from migrations/ with alembic itself: it moves with each release.
HEAD = ScriptDirectory(str(Path(MIGRATIONS_DIR))).get_current_head()
SCHEMA_LOGGER = "armada.schema_state"


@pytest.fixture
def unmigrated_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of its own (SQLite, or PostgreSQL when the suite runs on it), never migrated."""
    with fresh_database(tmp_path, "armada_unmigrated") as url, app_on(url, tmp_path / "instance") as application:
        yield application


def register(client: FlaskClient, n: int) -> int:
    body = {"email": f"user{n}@example.com", "password": "correct horse 1", "display_name": f"User {n}"}
    return client.post("/api/auth/register", json=body).status_code


def schema_log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SCHEMA_LOGGER]


def test_a_never_migrated_database_says_so_then_recovers_once_migrated(
    unmigrated_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    client = unmigrated_app.test_client()
    health = assert_error(client.get("/api/health"), 503, "schema_not_migrated")
    assert UPGRADE in health["message"]
    assert health["details"] == {"database_revision": [], "release_revision": [HEAD]}
    # Ordinary requests (one that reads users first, one that needs a token) say the same, not "try again shortly".
    for _ in range(3):
        body = {"email": "alice@example.com", "password": "correct horse 1", "display_name": "Alice"}
        error = assert_error(client.post("/api/auth/register", json=body), 503, "schema_not_migrated")
        assert UPGRADE in error["message"]
        login = {"email": "alice@example.com", "password": "correct horse 1"}
        assert_error(client.post("/api/auth/login", json=login), 503, "schema_not_migrated")
    assert_error(client.get("/api/health"), 503, "schema_not_migrated")
    # Said once in the log, with the command, not once per request; and not as an outage.
    (line,) = schema_log_lines(caplog)
    assert "never migrated" in line and UPGRADE in line
    assert not [r for r in caplog.records if "database unavailable" in r.getMessage()]

    # Migrated while the server runs: it recovers without a restart.
    with unmigrated_app.app_context():
        upgrade()
    assert client.get("/api/health").get_json() == {"status": "ok", "database": "ok"}
    assert register(client, 1) == 201


def test_a_database_behind_this_release_is_not_migrated(unmigrated_app: Flask) -> None:
    with unmigrated_app.app_context():
        upgrade(revision="0002")
    client = unmigrated_app.test_client()
    health = assert_error(client.get("/api/health"), 503, "schema_not_migrated")
    assert health["details"] == {"database_revision": ["0002"], "release_revision": [HEAD]}
    with unmigrated_app.app_context():
        upgrade()
    assert client.get("/api/health").status_code == 200


def test_a_database_ahead_of_this_release_is_reported_once(
    unmigrated_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    # A newer release's migration ran (its revision is unknown here); this release's tables are all still there.
    with unmigrated_app.app_context():
        upgrade()
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0004_from_the_future'"))
    # Alembic's migration environment reconfigures logging (fileConfig), taking caplog's handler off the root.
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.WARNING)
    client = unmigrated_app.test_client()
    for _ in range(2):
        health = assert_error(client.get("/api/health"), 503, "schema_ahead")
        assert health["details"] == {"database_revision": ["0004_from_the_future"], "release_revision": [HEAD]}
    # Readiness says no, but requests that work keep working (as during a rolling deploy).
    assert register(client, 1) == 201
    (line,) = schema_log_lines(caplog)
    assert "ahead" in line and "0004_from_the_future" in line


def test_a_missing_table_in_a_migrated_database_stays_a_bug(
    unmigrated_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    # The schema check runs only for a statement naming a missing object, and answers only if the schema is off:
    # at the head, a missing table is our bug (a 500), not an outage nor something an upgrade would fix.
    app = unmigrated_app
    with app.app_context():
        upgrade()
    logging.getLogger().addHandler(caplog.handler)

    @app.get("/api/test-missing-table")
    def missing() -> str:
        db.session.execute(text("SELECT * FROM no_such_table_here"))
        return "unreachable"

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/api/test-missing-table")
    assert response.status_code == 500
    assert not [r for r in caplog.records if r.name == SCHEMA_LOGGER]
