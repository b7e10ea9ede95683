"""The search index the database keeps (migration 0007): filled with the messages already there, consistent after
every change, through VACUUM on SQLite, and in SEARCH_LANGUAGE on PostgreSQL (also when it changes later)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Connection, text

from armada import create_app
from armada.extensions import db
from armada.models import utcnow
from tests.helpers.support import Actor, ApiClient, postgres_database
from tests.helpers.testing_config import TestingConfig, app_on

PG_ENV = "ARMADA_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]
SEARCH = "/api/chat/search"


def database_url(backend: str, tmp_path: Path) -> AbstractContextManager[str]:
    """A fresh, empty database of that kind for one test."""
    if backend == "postgresql":
        return postgres_database(os.environ[PG_ENV], f"armada_search_{uuid.uuid4().hex[:12]}")
    return nullcontext(f"sqlite:///{tmp_path / 'search.db'}")


@pytest.fixture(params=BACKENDS)
def fresh_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of its own, not migrated yet."""
    with database_url(request.param, tmp_path) as url, app_on(url, tmp_path / "instance") as application:
        yield application


def contents(actor: Actor, q: str) -> list[str]:
    """The texts a search finds."""
    response = actor.get(SEARCH, query_string={"q": q})
    assert response.status_code == 200, response.get_json()
    return [item["message"]["content"] for item in response.get_json()["items"]]


def insert_message(conn: Connection, content: str) -> None:
    """A message written straight into a database at revision 0006 (before the index existed), with its room."""
    tables = db.metadata.tables
    now, user, room = utcnow(), uuid.uuid4(), uuid.uuid4()
    conn.execute(
        tables["users"]
        .insert()
        .values(id=user, email=f"{user.hex}@example.com", password_hash="!", display_name="Old", created_at=now)
    )
    conn.execute(tables["chat_rooms"].insert().values(id=room, name="Old", room_type="group", created_by=user))
    conn.execute(tables["chat_room_members"].insert().values(id=uuid.uuid4(), room_id=room, user_id=user))
    conn.execute(
        tables["chat_messages"]
        .insert()
        .values(
            id=uuid.uuid4(), room_id=room, sender_id=user, seq=1, change_seq=1, message_type="text", content=content
        )
    )


def found_by_sql(conn: Connection, word: str) -> int:
    """How many messages the index itself matches for one word (no room filter)."""
    if conn.dialect.name == "sqlite":
        return int(
            conn.scalar(text("SELECT count(*) FROM chat_messages_fts WHERE chat_messages_fts MATCH :q"), {"q": word})
        )
    q = "SELECT count(*) FROM chat_messages WHERE search_vector @@ to_tsquery('armada_search', :q)"
    return int(conn.scalar(text(q), {"q": word}))


def test_the_migration_indexes_the_messages_already_there(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        upgrade(revision="0006")
        with db.engine.begin() as conn:
            insert_message(conn, "an archived café conversation")
        upgrade()
        with db.engine.connect() as conn:
            assert found_by_sql(conn, "cafe") == found_by_sql(conn, "archived") == 1
            assert found_by_sql(conn, "missing") == 0


def sqlite_index_is_consistent(conn: Connection) -> None:
    """FTS5's own check of the index against the messages table (rank 1: compare with the external content too)."""
    conn.exec_driver_sql("INSERT INTO chat_messages_fts(chat_messages_fts, rank) VALUES ('integrity-check', 1)")


@pytest.fixture
def busy(app: Flask, api: ApiClient) -> tuple[Actor, Actor, dict[str, Any]]:
    """Alice and Bob after sends, an edit, a deletion, reactions and a pin."""
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    kept = alice.say(room, "kept words")
    edited = alice.say(room, "first draft")
    gone = bob.say(room, "soon deleted")
    assert alice.patch(f"/api/chat/messages/{edited['id']}", json={"content": "final draft"}).status_code == 200
    assert bob.delete(f"/api/chat/messages/{gone['id']}").status_code == 200
    assert bob.put(f"/api/chat/messages/{kept['id']}/reactions/👍").status_code == 200
    assert alice.put(f"/api/chat/rooms/{room['id']}/pins/{kept['id']}").status_code == 200
    return alice, bob, room


def test_the_index_stays_consistent_with_the_messages(app: Flask, busy: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, _, _ = busy
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":  # PostgreSQL's is a generated column: the database cannot let it drift
            sqlite_index_is_consistent(conn)
        assert found_by_sql(conn, "first") == found_by_sql(conn, "deleted") == 0
        assert found_by_sql(conn, "final") == 1
    assert contents(alice, "draft") == ["final draft"]


def test_sqlite_vacuum_keeps_the_index_right(tmp_path: Path) -> None:
    # The FTS5 table is keyed by chat_messages' rowid, which VACUUM may renumber in a table without an INTEGER
    # PRIMARY KEY; this checks it does not (SQLite keeps rowids when it copies a table in order), so an upgrade of
    # SQLite that changed that would fail here first.
    with app_on(f"sqlite:///{tmp_path / 'vacuum.db'}", tmp_path / "instance") as application:
        with application.app_context():
            upgrade()
        api = ApiClient(application.test_client())
        alice, bob = api.users("Alice", "Bob")
        room = alice.make_group(bob)
        sent = [alice.say(room, f"word{n} common") for n in range(30)]
        for message in sent[::2]:
            assert alice.delete(f"/api/chat/messages/{message['id']}").status_code == 200
        with application.app_context(), db.engine.connect() as conn:
            conn.exec_driver_sql("DELETE FROM chat_messages WHERE is_deleted")  # leave holes in the rowids
            conn.commit()
            conn.exec_driver_sql("VACUUM")
            sqlite_index_is_consistent(conn)
        assert contents(bob, "word7") == ["word7 common"]
        assert len(contents(bob, "common")) == 15


@pytest.mark.needs_postgres  # SEARCH_LANGUAGE is PostgreSQL's
def test_search_language_stems_words_and_can_change_later(tmp_path: Path) -> None:
    with postgres_database(os.environ[PG_ENV], f"armada_language_{uuid.uuid4().hex[:12]}") as url:
        english = create_app(TestingConfig({"DATABASE_URL": url, "SEARCH_LANGUAGE": "english"}))
        english.instance_path = str(tmp_path / "instance")
        try:
            with english.app_context():
                upgrade()
            api = ApiClient(english.test_client())
            alice, bob = api.users("Alice", "Bob")
            room = alice.make_group(bob)
            alice.say(room, "We deployed the services")
            assert contents(bob, "deployment service") == ["We deployed the services"]
            # Back to "simple": words as written, so the stem no longer matches.
            simple = create_app(TestingConfig({"DATABASE_URL": url, "SEARCH_LANGUAGE": "simple"}))
            result = simple.test_cli_runner().invoke(args=["armada", "search-language"])
            assert result.exit_code == 0 and "re-indexed 1 message" in result.output, result.output
            assert contents(bob, "deployment") == []
            assert contents(bob, "deployed") == ["We deployed the services"]
            unknown = create_app(TestingConfig({"DATABASE_URL": url, "SEARCH_LANGUAGE": "klingon"}))
            result = unknown.test_cli_runner().invoke(args=["armada", "search-language"])
            assert result.exit_code != 0 and "'klingon' is not a text search configuration" in result.output
            for application in (simple, unknown):
                with application.app_context():
                    db.engine.dispose()
        finally:
            with english.app_context():
                db.engine.dispose()


def test_search_language_on_sqlite_says_there_is_nothing_to_do(tmp_path: Path) -> None:
    with app_on(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path / "instance") as application:
        result = application.test_cli_runner().invoke(args=["armada", "search-language"])
    assert result.exit_code != 0 and "same for every language" in result.output
