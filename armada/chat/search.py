"""Message search: the caller's rooms' messages matching a query, newest first, with the matched words' spans.

The match comes from an index kept by the database (migration 0007): PostgreSQL's `search_vector` column (GIN)
or SQLite's FTS5 table `chat_messages_fts`. Both get the query as quoted word literals built from
`search_text.parse_query`'s words, which hold only letters, digits and marks: user text never becomes syntax.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Uuid,
    any_,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.orm import selectinload

from armada.chat.search_index import PG_CONFIG
from armada.chat.search_text import SearchQuery, highlights, parse_query
from armada.chat.viewer import with_my_reactions
from armada.errors import ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, MessageType, User
from armada.pagination import Page, decode_cursor, encode_cursor, keyset_page
from armada.permissions import access_message, access_room, visible_rooms

# SQLite's FTS5 table (migration 0007); its hidden column of the same name is what MATCH takes.
FTS = table("chat_messages_fts", column("rowid"), column("chat_messages_fts"))


@dataclass(frozen=True)
class SearchHit:
    """One result: the message, its room, and the spans of the words that matched."""

    message: ChatMessage
    room_id: uuid.UUID
    highlights: list[list[int]]


def _quoted(word: str, quote: str) -> str:
    # Words hold only letters, digits and marks (search_text.words); doubling is the literal syntax of both
    # engines, kept so the quoting is right whatever a word holds.
    return quote + word.replace(quote, quote * 2) + quote


def postgresql_tsquery(query: SearchQuery) -> str:
    """The query as to_tsquery text: phrases (`<->`) joined by `&`, the prefix word marked `:*`."""
    parts = []
    for phrase in query.phrases:
        words = [_quoted(word.replace("\\", "\\\\"), "'") for word in phrase.words]
        if phrase.prefix:
            words[-1] += ":*"
        parts.append(" <-> ".join(words))
    return " & ".join(parts)


def fts5_query(query: SearchQuery) -> str:
    """The query as an FTS5 expression: quoted phrases joined by spaces (AND), the prefix one followed by `*`."""
    return " ".join(_quoted(" ".join(p.words), '"') + ("*" if p.prefix else "") for p in query.phrases)


def _matches(query: SearchQuery, postgresql: bool) -> ColumnElement[bool]:
    """The index's condition: the message's text matches every phrase."""
    if postgresql:
        config: ColumnElement[Any] = literal_column(f"'{PG_CONFIG}'::regconfig")
        vector: ColumnElement[Any] = literal_column("chat_messages.search_vector")
        return vector.op("@@")(func.to_tsquery(config, postgresql_tsquery(query)))
    matching = select(FTS.c.rowid).where(FTS.c.chat_messages_fts.op("MATCH")(fts5_query(query)))
    return literal_column("chat_messages.rowid").in_(matching)


def search_messages(
    user: User,
    q: str,
    limit: int,
    cursor: str | None = None,
    room_id: uuid.UUID | None = None,
    sender_id: uuid.UUID | None = None,
    thread_root_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    has: str | None = None,
) -> Page[SearchHit]:
    """The messages of the caller's rooms matching `q`, newest first; deleted ones never, edited by current text.

    `room_id` and `thread_root_id` (the root and its replies) must be the caller's to see (404 otherwise);
    `since` is inclusive, `until` exclusive; `has` is `media` or `link` (an http(s):// URL in the text).
    """
    query = parse_query(q)
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # psycopg prepares a statement run five times on a connection, and PostgreSQL may then plan it once for
        # any values: a plan chosen for a rare word would read a common one's every match. Plan each search anew.
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    stmt = (
        select(ChatMessage)
        .where(_matches(query, postgresql), ChatMessage.is_deleted.is_(False))
        .options(selectinload(ChatMessage.reply_to))
    )
    if room_id is not None:
        access_room(user, room_id)
        stmt = stmt.where(ChatMessage.room_id == room_id)
    elif postgresql:
        # The ids as values, not a subquery: the planner then knows how much of the table they hold, and with
        # the word's frequency picks between reading the newest messages backwards until enough match (a
        # common word) and the GIN index's matches sorted (a rare one).
        room_ids = list(db.session.scalars(visible_rooms(user)))
        stmt = stmt.where(ChatMessage.room_id == any_(bindparam("room_ids", room_ids, type_=ARRAY(Uuid()))))
    else:
        stmt = stmt.where(ChatMessage.room_id.in_(visible_rooms(user)))
    if thread_root_id is not None:
        root, _ = access_message(user, thread_root_id)
        if root.thread_root_id is not None:
            raise ValidationFailed.field("thread_root_id", "A thread reply has no thread of its own; use its root.")
        stmt = stmt.where(or_(ChatMessage.thread_root_id == root.id, ChatMessage.id == root.id))
    if sender_id is not None:
        stmt = stmt.where(ChatMessage.sender_id == sender_id)
    if since is not None:
        stmt = stmt.where(ChatMessage.created_at >= since)
    if until is not None:
        stmt = stmt.where(ChatMessage.created_at < until)
    if has == "media":
        stmt = stmt.where(ChatMessage.message_type != MessageType.TEXT)
    elif has == "link":
        stmt = stmt.where(or_(ChatMessage.content.ilike("%http://%"), ChatMessage.content.ilike("%https://%")))
    if cursor is not None:
        created_at, message_id = decode_cursor(cursor, "cursor", (datetime, uuid.UUID))
        stmt = stmt.where(tuple_(ChatMessage.created_at, ChatMessage.id) < tuple_(created_at, message_id))
    newest: ColumnElement[datetime] = ChatMessage.created_at.expression
    if postgresql and any(len(phrase.words) > 1 for phrase in query.phrases):
        # PostgreSQL estimates a phrase as common as all its words together, far too common, and would read the
        # newest messages backwards for its few matches; sorting (by the same value) rules that plan out.
        newest = newest + literal(timedelta(0))
    newest_first = stmt.order_by(newest.desc(), ChatMessage.id.desc())
    page: Page[ChatMessage] = keyset_page(newest_first, limit, lambda m: encode_cursor([m.created_at, m.id]))
    with_my_reactions(user, page.items)
    hits = [SearchHit(m, m.room_id, highlights(m.content, query)) for m in page.items]
    return Page(hits, page.next_cursor)
