"""Whether the database's schema is the one this release's migrations make: its alembic_version against their heads.

A database that was never migrated (or is behind, or ahead after a newer release's migration) is a lasting problem
an operator must fix, not an outage to wait out: health and requests say so (armada.errors), and the log once.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")
UPGRADE_COMMAND = "flask --app armada db upgrade"
VERSION_TABLE = "alembic_version"  # Flask-Migrate's (alembic's) default
# SQLSTATEs of a statement naming a table or column the database does not have (PostgreSQL).
_UNDEFINED_OBJECT = ("42P01", "42703")
# SQLite's words for the same.
_SQLITE_UNDEFINED_OBJECT = ("no such table", "no such column", "has no column named")


@dataclass(frozen=True)
class SchemaStatus:
    """The database's revisions against the migrations' heads: current, behind (or never migrated) or ahead."""

    state: Literal["current", "behind", "ahead"]
    database: tuple[str, ...]
    migrations: tuple[str, ...]

    def describe(self) -> str:
        """One line for the log: what is wrong and what to run."""
        at = f"at revision {', '.join(self.database)}" if self.database else "never migrated"
        heads = ", ".join(self.migrations)
        if self.state == "ahead":
            return (
                f"database schema is ahead of this release ({at}; this release's migrations end at {heads}): "
                "a newer release migrated it; deploy that release, or downgrade the database with its migrations"
            )
        return f"database schema is behind this release ({at}; migrations end at {heads}): run `{UPGRADE_COMMAND}`"


@cache
def _migrations() -> tuple[frozenset[str], frozenset[str]]:
    """The migrations' heads and every revision they know; read from migrations/ once per process."""
    script = ScriptDirectory(MIGRATIONS_DIR)
    return frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions())


def schema_status(connection: Connection) -> SchemaStatus:
    """Compare the database's alembic_version with the migrations' heads (two small queries)."""
    # Not alembic's MigrationContext: it logs two lines each time it is made, and health is called every few seconds.
    current: frozenset[str] = frozenset()
    if inspect(connection).has_table(VERSION_TABLE):
        current = frozenset(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    heads, known = _migrations()
    state: Literal["current", "behind", "ahead"]
    if current == heads:
        state = "current"
    elif current <= known:
        state = "behind"
    else:
        state = "ahead"
    return SchemaStatus(state, tuple(sorted(current)), tuple(sorted(heads)))


# What has been logged in this process: each problem once, again only after the schema was seen current.
_reported: set[SchemaStatus] = set()


def note(status: SchemaStatus) -> None:
    """Log a schema problem the first time this process sees it; forget them once the schema is current."""
    if status.state == "current":
        _reported.clear()
    elif status not in _reported:
        _reported.add(status)
        log.error("%s", status.describe())


def names_a_missing_object(exc: BaseException) -> bool:
    """Whether a database error is about a table or column the database lacks (a schema problem, maybe)."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig).startswith(_SQLITE_UNDEFINED_OBJECT) or _SQLITE_UNDEFINED_OBJECT[2] in str(orig)
    return getattr(orig, "sqlstate", None) in _UNDEFINED_OBJECT


def schema_problem(exc: BaseException) -> SchemaStatus | None:
    """For a statement that failed on a missing table or column: the schema's status if it is not current (on a
    fresh connection: the failed one's transaction may be aborted); None otherwise, or if that cannot be told."""
    if not names_a_missing_object(exc):
        return None
    try:
        with current_app.extensions["sqlalchemy"].engine.connect() as connection:
            status = schema_status(connection)
    except SQLAlchemyError:
        return None
    note(status)
    return None if status.state == "current" else status
