"""What the search benchmark asks each database directly: the index's size, a copy without the index (the write
cost's baseline) and the plan of the service's own statement."""

from __future__ import annotations

import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import make_url

from bench.history import libpq_url


def sqlite_path(url: str) -> str:
    """The file of a sqlite:/// URL."""
    return str(make_url(url).database)


def index_size(kind: str, url: str) -> dict[str, Any]:
    """PostgreSQL: the GIN index and the bytes the search_vector column holds; SQLite: the FTS5 shadow tables."""
    if kind == "postgres":
        with psycopg.connect(libpq_url(url)) as conn:
            row = conn.execute(
                "SELECT pg_relation_size('ix_chat_messages_search_vector'), sum(pg_column_size(search_vector)),"
                " pg_relation_size('chat_messages'), pg_total_relation_size('chat_messages'),"
                " sum(pg_column_size(content)) FROM chat_messages"
            ).fetchone()
        assert row is not None
        index, column, heap, total, text = row
        return {"index": index, "column": int(column), "heap": heap, "table_total": total, "content": int(text)}
    with sqlite3.connect(sqlite_path(url)) as conn:
        sizes = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        text = conn.execute("SELECT sum(length(CAST(content AS BLOB))) FROM chat_messages").fetchone()[0]
    fts = {name: size for name, size in sizes.items() if name.startswith("chat_messages_fts")}
    return {
        "index": sum(fts.values()),
        "shadow_tables": fts,
        "heap": sizes.get("chat_messages", 0),
        "file": sum(sizes.values()),
        "content": int(text),
    }


def strip_search(kind: str, url: str) -> list[str]:
    """Remove what search adds to a write, leaving the rows as they are; the statements run."""
    # Search's order (newest first across rooms) is an index of its own, which every insert also writes.
    order = "DROP INDEX ix_chat_messages_created_at_id"
    if kind == "postgres":
        # The column dropped: PostgreSQL only marks it so (no rewrite), and inserts no longer compute it.
        done = [
            "DROP INDEX ix_chat_messages_search_vector",
            "ALTER TABLE chat_messages DROP COLUMN search_vector",
            order,
        ]
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            for sql in done:
                conn.execute(sql)
            conn.execute("VACUUM (ANALYZE) chat_messages")
        return done
    with sqlite3.connect(sqlite_path(url)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()]
        done = [*(f"DROP TRIGGER {name}" for name in names if name.startswith("chat_messages_fts")), order]
        for sql in done:
            conn.execute(sql)
    return done


@contextmanager
def copy_of(kind: str, url: str, scratch: Path) -> Iterator[str]:
    """A copy of the database (CREATE DATABASE ... TEMPLATE, or the SQLite file); dropped afterwards. Nothing
    may be connected to a PostgreSQL source."""
    if kind == "sqlite":
        target = scratch / f"copy-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(sqlite_path(url), target)
        yield f"sqlite:///{target}"
        return
    source = make_url(url)
    name = f"{source.database}_copy"
    admin = libpq_url(source.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"')
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def explain(kind: str, url: str, statement: str, parameters: Any) -> dict[str, Any]:
    """The plan of one statement as the service sent it: EXPLAIN (ANALYZE, BUFFERS), or SQLite's query plan."""
    if kind == "postgres":
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            lines = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).fetchall()]
        found = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(lines))
        return {"plan": lines, "execution_ms": float(found.group(1)) if found else None}
    with sqlite3.connect(sqlite_path(url)) as conn:
        rows = conn.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
    return {"plan": [f"{'  ' * (r[1] > 0)}{r[3]}" for r in rows], "execution_ms": None}


def search_statement(statements: list[str], parameters: list[Any]) -> tuple[str, Any]:
    """The statement of a search request that asks the index (the one naming the tsvector or the FTS table)."""
    for statement, params in zip(statements, parameters, strict=True):
        if "search_vector" in statement or "chat_messages_fts" in statement:
            return statement, params
    raise LookupError("no statement of the request used the search index")
