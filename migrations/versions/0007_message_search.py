"""message search: a full-text index of message text, kept current by the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 00:40:00

PostgreSQL: a stored generated tsvector column (`search_vector`) with a GIN index, built with the text search
configuration `armada_search`: a copy of SEARCH_LANGUAGE's whose words go through `unaccent` first. SQLite: an
FTS5 table over chat_messages (external content, keyed by its rowid) kept in sync by triggers, filled here with
the messages already there. Both read ASCII punctuation as spaces, so `example.com`, `foo_bar` and `a@b.com` are
words to both engines (PostgreSQL's parser would otherwise keep them whole) and both find the same messages.

This migration is a snapshot: armada/chat/search_index.py holds the same definitions for `flask armada
search-language`, which moves an existing database to another language.

"""
import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
# The parser's word token types: the ones unaccent goes in front of.
WORD_TOKENS = ("asciiword", "word", "numword", "asciihword", "hword", "numhword", "hword_asciipart", "hword_part", "hword_numpart")


def _postgresql(language):
    bind = op.get_bind()
    if bind.scalar(sa.text("SELECT count(*) FROM pg_ts_config WHERE cfgname = :name"), {"name": language}) != 1:
        raise RuntimeError(f"SEARCH_LANGUAGE={language!r} is not a text search configuration of this PostgreSQL")
    quote = bind.dialect.identifier_preparer.quote
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION armada_search (COPY = {quote(language)})")
    dictionaries = bind.execute(sa.text(
        "SELECT t.alias, array_agg(d.dictname::text ORDER BY m.mapseqno) FROM pg_ts_config_map m"
        " JOIN pg_ts_config c ON c.oid = m.mapcfg JOIN pg_ts_dict d ON d.oid = m.mapdict"
        " JOIN ts_token_type('default') t ON t.tokid = m.maptokentype"
        " WHERE c.cfgname = :name GROUP BY t.alias"
    ), {"name": language}).all()
    for alias, names in dictionaries:
        if alias in WORD_TOKENS:
            chain = ", ".join(["unaccent", *(quote(name) for name in names)])
            op.execute(f"ALTER TEXT SEARCH CONFIGURATION armada_search ALTER MAPPING FOR {alias} WITH {chain}")
    spaces = " " * len(PUNCTUATION)
    literal = PUNCTUATION.replace("'", "''")
    op.execute(
        "ALTER TABLE chat_messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
        f"(to_tsvector('armada_search'::regconfig, translate(coalesce(content, ''), '{literal}', '{spaces}'))) STORED"
    )
    op.execute("CREATE INDEX ix_chat_messages_search_vector ON chat_messages USING gin (search_vector)")


def _sqlite():
    # Words are runs of letters, digits and marks, as PostgreSQL's parser reads them: unicode61's default
    # categories ("L* N* Co") would split a word at a spacing or enclosing mark (Devanagari's vowel signs, Mc).
    # Variation selectors (U+FE00..U+FE0F, as in ❤️) are marks that only choose a glyph: separators.
    selectors = "".join(map(chr, range(0xFE00, 0xFE10)))
    op.execute(
        "CREATE VIRTUAL TABLE chat_messages_fts USING fts5(content, content='chat_messages', content_rowid='rowid',"
        f" tokenize=\"unicode61 remove_diacritics 2 categories 'L* N* M*' separators '{selectors}'\")"
    )
    op.execute(
        "CREATE TRIGGER chat_messages_fts_insert AFTER INSERT ON chat_messages BEGIN"
        " INSERT INTO chat_messages_fts(rowid, content) VALUES (new.rowid, new.content); END"
    )
    op.execute(
        "CREATE TRIGGER chat_messages_fts_delete AFTER DELETE ON chat_messages BEGIN"
        " INSERT INTO chat_messages_fts(chat_messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content); END"
    )
    # Only a change of the text touches the index: reactions, pins and thread summaries rewrite rows often.
    op.execute(
        "CREATE TRIGGER chat_messages_fts_update AFTER UPDATE OF content ON chat_messages BEGIN"
        " INSERT INTO chat_messages_fts(chat_messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);"
        " INSERT INTO chat_messages_fts(rowid, content) VALUES (new.rowid, new.content); END"
    )
    op.execute("INSERT INTO chat_messages_fts(chat_messages_fts) VALUES ('rebuild')")


def upgrade():
    # Search's order, newest first across rooms: PostgreSQL reads it backwards for a common word.
    op.create_index("ix_chat_messages_created_at_id", "chat_messages", ["created_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql(current_app.config.get("SEARCH_LANGUAGE", "simple"))
    else:
        _sqlite()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_chat_messages_search_vector")
        op.execute("ALTER TABLE chat_messages DROP COLUMN search_vector")
        op.execute("DROP TEXT SEARCH CONFIGURATION armada_search")
        # unaccent stays: other schemas may use it, and creating it again is harmless.
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER chat_messages_fts_{trigger}")
        op.execute("DROP TABLE chat_messages_fts")
    op.drop_index("ix_chat_messages_created_at_id", table_name="chat_messages")
