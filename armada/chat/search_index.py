"""The search index's place in the schema: objects the models do not describe, and a change of language.

Migration 0007 made the index: on PostgreSQL a generated `search_vector` column with a GIN index, on SQLite the
FTS5 table `chat_messages_fts` (with its shadow tables) and three triggers. SQLAlchemy's models leave them out
(neither has a portable type), so the schema comparison of Alembic's autogenerate and of the tests skips them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

FTS_TABLE = "chat_messages_fts"
PG_COLUMN = "search_vector"
PG_INDEX = "ix_chat_messages_search_vector"
PG_CONFIG = "armada_search"
# The parser's word token types, which go through unaccent before the language's own dictionaries.
WORD_TOKENS = (
    *("asciiword", "word", "numword", "asciihword", "hword", "numhword"),
    *("hword_asciipart", "hword_part", "hword_numpart"),
)


def is_index_object(name: str | None, type_: str) -> bool:
    """Whether a schema object is the search index's (and so not in the models)."""
    if type_ == "table":
        return name == FTS_TABLE or bool(name and name.startswith(FTS_TABLE + "_"))
    return (type_, name) in {("column", PG_COLUMN), ("index", PG_INDEX)}


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's `include_object` hook: compare everything but the search index with the models."""
    return not is_index_object(name, type_)


def set_language(conn: Connection, language: str) -> int:
    """Rebuild PostgreSQL's search configuration from `language`'s and re-index every message; the row count.

    Changes the mappings of `armada_search` in place (the column's expression names it), then rewrites each
    message's text to itself, which recomputes its generated `search_vector`.
    """
    if conn.scalar(text("SELECT count(*) FROM pg_ts_config WHERE cfgname = :name"), {"name": language}) != 1:
        raise ValueError(f"{language!r} is not a text search configuration of this PostgreSQL")
    quote = conn.dialect.identifier_preparer.quote
    mappings = conn.execute(
        text(
            "SELECT t.alias, array_agg(d.dictname::text ORDER BY m.mapseqno) FROM pg_ts_config_map m"
            " JOIN pg_ts_config c ON c.oid = m.mapcfg JOIN pg_ts_dict d ON d.oid = m.mapdict"
            " JOIN ts_token_type('default') t ON t.tokid = m.maptokentype"
            " WHERE c.cfgname = :name GROUP BY t.alias"
        ),
        {"name": language},
    ).all()
    for alias, names in mappings:
        chain = [quote(name) for name in names]
        if alias in WORD_TOKENS:
            chain.insert(0, "unaccent")
        # alias comes from ts_token_type, dictionary names are quoted: nothing here is user text.
        conn.exec_driver_sql(
            f"ALTER TEXT SEARCH CONFIGURATION {PG_CONFIG} ALTER MAPPING FOR {alias} WITH {', '.join(chain)}"
        )
    return conn.execute(text("UPDATE chat_messages SET content = content WHERE content IS NOT NULL")).rowcount
