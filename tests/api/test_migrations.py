"""The Alembic migrations build exactly the schema the models describe, and undo it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError

from armada.chat import search_index
from armada.extensions import db
from armada.models import utcnow
from tests.helpers.support import ApiClient, postgres_database
from tests.helpers.testing_config import app_on

PG_ENV = "ARMADA_TEST_DATABASE_URL"
TABLES = {
    "users",
    "revoked_sessions",
    "chat_rooms",
    "chat_room_members",
    "chat_messages",
    "message_read_receipts",
    "media_uploads",
    "user_name_keys",
    "invites",
    "message_reactions",
    "message_mentions",
    "message_edits",
    "thread_follows",
}


def schema_diff(engine: Engine) -> list[Any]:
    """What autogenerate would put in a new migration: empty when the database matches the models."""
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": search_index.include_object}
        context = MigrationContext.configure(conn, opts=opts)
        return compare_metadata(context, db.metadata)


def unique_column_sets(engine: Engine, table: str) -> set[tuple[str, ...]]:
    """Column tuples that are unique in a table, as constraints or unique indexes."""
    inspector = inspect(engine)
    constraints = {tuple(c["column_names"]) for c in inspector.get_unique_constraints(table)}
    indexes = {tuple(i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]}
    return constraints | indexes


def table_names(engine: Engine) -> set[str]:
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    return {name for name in names if not search_index.is_index_object(name, "table")}


def head_revisions(app: Flask) -> set[str]:
    script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
    return set(script.get_heads())


# ---- the test database, migrated by the `app` fixture -----------------------------------------------------


def test_migrated_schema_matches_the_models(app: Flask) -> None:
    with app.app_context():
        assert schema_diff(db.engine) == []


def test_test_database_is_at_the_single_head(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        heads = head_revisions(app)
    assert len(heads) == 1
    assert current == heads


@pytest.mark.parametrize(
    "table, columns",
    [
        ("chat_messages", ("room_id", "seq")),
        ("chat_messages", ("room_id", "sender_id", "client_id")),
        ("chat_room_members", ("room_id", "user_id")),
        ("message_read_receipts", ("message_id", "user_id")),
        ("users", ("email",)),
        ("chat_rooms", ("direct_key",)),
        ("invites", ("code_hash",)),
    ],
)
def test_unique_keys_exist(app: Flask, table: str, columns: tuple[str, ...]) -> None:
    with app.app_context():
        assert columns in unique_column_sets(db.engine, table)


def test_room_members_are_indexed_by_user(app: Flask) -> None:
    # The room list starts from "my memberships": an index led by user_id.
    with app.app_context():
        indexes = inspect(db.engine).get_indexes("chat_room_members")
    assert any(index["column_names"][0] == "user_id" for index in indexes), indexes


def test_revoked_sessions_are_indexed_by_expiry(app: Flask) -> None:
    with app.app_context():
        indexes = inspect(db.engine).get_indexes("revoked_sessions")
    assert ["expires_at"] in [index["column_names"] for index in indexes], indexes


def test_duplicate_read_receipt_is_refused_by_the_database(app: Flask, api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    message = alice.say(alice.make_group(bob), "read me")
    receipts = db.metadata.tables["message_read_receipts"]
    row = {"message_id": uuid.UUID(message["id"]), "user_id": uuid.UUID(bob.id), "read_at": utcnow()}
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(receipts.insert().values(id=uuid.uuid4(), **row))
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(receipts.insert().values(id=uuid.uuid4(), **row))


# ---- a fresh database: upgrade, downgrade to base, upgrade again -------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"])
def fresh_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of its own (SQLite always; PostgreSQL too when the suite runs on it)."""
    with _fresh_database_url(request.param, tmp_path) as url, app_on(url, tmp_path / "instance") as application:
        yield application


def _fresh_database_url(backend: str, tmp_path: Path) -> AbstractContextManager[str]:
    if backend == "postgresql":
        return postgres_database(os.environ[PG_ENV], f"armada_migrations_{uuid.uuid4().hex[:12]}")
    return nullcontext(f"sqlite:///{tmp_path / 'migrations.db'}")


def test_upgrade_from_empty_creates_every_table(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        assert table_names(db.engine) == set()
        upgrade()
        assert table_names(db.engine) == TABLES
        assert schema_diff(db.engine) == []


def test_downgrade_to_base_then_upgrade_to_head(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        upgrade()
        downgrade(revision="base")
        assert table_names(db.engine) == set()
        upgrade()
        assert table_names(db.engine) == TABLES
        assert schema_diff(db.engine) == []
        assert unique_column_sets(db.engine, "chat_messages") >= {("room_id", "seq")}
        assert unique_column_sets(db.engine, "message_read_receipts") >= {("message_id", "user_id")}
        member_indexes = inspect(db.engine).get_indexes("chat_room_members")
        assert any(index["column_names"][0] == "user_id" for index in member_indexes)


def test_upgrade_twice_is_a_no_op(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        upgrade()
        upgrade()
        assert table_names(db.engine) == TABLES
        with db.engine.connect() as conn:
            assert set(MigrationContext.configure(conn).get_current_heads()) == head_revisions(fresh_app)


def test_the_directory_migration_indexes_the_names_of_existing_users(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        upgrade(revision="0003")
        users = db.metadata.tables["users"]
        with db.engine.begin() as conn:
            for name in ("Anna-Maria Bolt", "Zoë Straße"):
                conn.execute(
                    users.insert().values(
                        id=uuid.uuid4(),
                        email=f"{uuid.uuid4().hex}@example.com",
                        password_hash="!",
                        display_name=name,
                        created_at=utcnow(),
                    )
                )
        upgrade()
        keys = db.metadata.tables["user_name_keys"]
        with db.engine.connect() as conn:
            stored = set(conn.execute(select(keys.c.key)).scalars())
    assert stored == {"anna-maria bolt", "maria bolt", "bolt", "zoë strasse", "strasse"}


def test_connections_used_by_an_in_process_upgrade_still_enforce_foreign_keys(fresh_app: Flask) -> None:
    # SQLite's migrations turn foreign keys off on their connection, which then goes back to the engine's pool; an
    # app that migrated in-process (as the test suite's does) would otherwise run on it unchecked.
    members = db.metadata.tables["chat_room_members"]
    with fresh_app.app_context():
        upgrade()
        for _ in range(2):  # whichever pooled connection comes next
            with pytest.raises(IntegrityError), db.engine.begin() as conn:
                conn.execute(
                    members.insert().values(
                        id=uuid.uuid4(), room_id=uuid.uuid4(), user_id=uuid.uuid4(), joined_at=utcnow()
                    )
                )
