"""Database engine setup that the ORM does not do by itself."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import Insert, event
from sqlalchemy.dialects import postgresql, sqlite

from armada.extensions import db
from config import postgres_keepalives

T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked; WAL lets readers proceed while one request writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()
    # SQLite's own lower() folds only ASCII; case-insensitive search must agree with Python's str.lower().
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# Values per IN (...) list: well under every backend's bound-parameter limit.
IN_LIST_CHUNK = 1000


def chunked(values: Iterable[T], size: int = IN_LIST_CHUNK) -> Iterator[list[T]]:
    """Split values into lists of at most `size`, for IN (...) queries over arbitrarily many ids."""
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def release_connection() -> None:
    """End the session's transaction and give its connection back to the pool; what it loaded stays readable.

    For a request about to wait on something slow that needs no database (a client's upload body, storage): held
    meanwhile, the connection would sit idle in a transaction, and a few slow clients would take the whole pool.
    """
    # close(), not rollback(): loaded objects (the current user) are detached with their attributes kept instead
    # of expired, so reading them later costs no query.
    db.session.close()


_AUTOCOMMIT = "armada.database.autocommit"


def autocommit_reads() -> None:
    """Run this session's statements each in its own transaction, for work that only reads (socket checks).

    A transaction costs two round trips of its own (BEGIN, then ROLLBACK when the connection goes back to the
    pool), more than the one or two lookups such work makes. Call before the session's first statement; later,
    it changes nothing (the session's transaction already began). The pool restores the default on return.
    """
    session = db.session()
    if not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        # Marks this transaction only: a later one of the same session is an ordinary one.
        session.info[_AUTOCOMMIT] = session.get_transaction()


def see_latest_commits() -> None:
    """Make the session's next statement see every transaction committed by now: end the session's transaction,
    unless its statements run in their own (autocommit_reads), where each already does."""
    session = db.session()
    if session.info.get(_AUTOCOMMIT) is None or session.info[_AUTOCOMMIT] is not session.get_transaction():
        session.rollback()


def _postgres_keepalives(seconds: int) -> Callable[[Any, Any], None]:
    """A connect hook giving the server's end of each connection the keepalives its client end has (config's
    postgres_keepalives): a backend whose client vanished mid-transaction (a partition) ends, and its locks go,
    instead of waiting ~2 hours for the operating system to notice."""
    client = postgres_keepalives(seconds)
    settings = {
        "tcp_keepalives_idle": client["keepalives_idle"],
        "tcp_keepalives_interval": client["keepalives_interval"],
        "tcp_keepalives_count": client["keepalives_count"],
        "tcp_user_timeout": client["tcp_user_timeout"],
    }

    def apply(dbapi_connection: Any, _record: Any) -> None:
        chosen = dict(settings)
        if dbapi_connection.info.server_version < 120000:  # tcp_user_timeout came with PostgreSQL 12
            del chosen["tcp_user_timeout"]
        statement = "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in chosen)
        with dbapi_connection.cursor() as cursor:
            cursor.execute(statement, [str(item) for pair in chosen.items() for item in pair])
        # Committed, or the pool's rollback on return would undo them.
        dbapi_connection.commit()

    return apply


def insert_skipping_duplicates(model: type[Any], *unique_columns: str) -> Insert:
    """INSERT ... ON CONFLICT (unique_columns) DO NOTHING on PostgreSQL or SQLite: an existing row is skipped."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement: Insert = dialect.insert(model).on_conflict_do_nothing(index_elements=list(unique_columns))
    return statement


def insert_or_update(model: type[Any], unique_columns: tuple[str, ...], values: dict[str, Any]) -> Insert:
    """INSERT ... ON CONFLICT (unique_columns) DO UPDATE SET values, on PostgreSQL or SQLite: one statement."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement: Insert = dialect.insert(model).on_conflict_do_update(index_elements=list(unique_columns), set_=values)
    return statement


def init_app(app: Flask) -> None:
    """Bind Flask-SQLAlchemy; give SQLite connections the pragmas Armada relies on, PostgreSQL ones keepalives."""
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        elif db.engine.dialect.name == "postgresql" and app.config["DB_NETWORK_TIMEOUT"] > 0:
            event.listen(db.engine, "connect", _postgres_keepalives(app.config["DB_NETWORK_TIMEOUT"]))
