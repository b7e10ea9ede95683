"""Reactions: one per (message, user, emoji), at most 20 distinct emoji per message, counted as they change.

Each change takes the room's change number, so it holds the room's lock: the summary on the message (what every
read serializes, never counted from rows) and the 20-emoji cap are kept under it, whatever runs concurrently.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, or_, select

from armada import outbox
from armada.chat.emoji import normalize_emoji
from armada.chat.events import ReactionChanged
from armada.chat.sequencing import lock_and_recheck_message
from armada.chat.viewer import with_my_reactions
from armada.database import insert_skipping_duplicates
from armada.errors import Conflict
from armada.extensions import db
from armada.models import ChatMessage, MessageReaction, User, utcnow
from armada.pagination import Page, decode_cursor, encode_cursor, keyset_page
from armada.permissions import access_message, check_live
from armada.transaction import discard, transactional

MAX_DISTINCT_EMOJI = 20


class Reactor(NamedTuple):
    """Someone who reacted with an emoji, and when."""

    user_id: uuid.UUID
    display_name: str
    reacted_at: datetime


def _mine(user: User, message_id: uuid.UUID, emoji: str) -> bool:
    found = db.session.scalar(
        select(MessageReaction.id).where(
            MessageReaction.message_id == message_id, MessageReaction.emoji == emoji, MessageReaction.user_id == user.id
        )
    )
    return found is not None


def _counted(summary: list[dict[str, Any]], emoji: str, delta: int) -> tuple[list[dict[str, Any]], int]:
    """The summary with the emoji's count moved by delta (a new emoji last, an emptied one gone), and its count."""
    counts = [dict(r) for r in summary]
    entry = next((r for r in counts if r["emoji"] == emoji), None)
    if entry is None:
        entry = {"emoji": emoji, "count": 0}
        counts.append(entry)
    entry["count"] += delta
    return [r for r in counts if r["count"] > 0], entry["count"]


def _answer(user: User, message: ChatMessage, changed: bool) -> tuple[ChatMessage, bool]:
    with_my_reactions(user, [message])
    return message, changed


@transactional
def add_reaction(user: User, message_id: uuid.UUID, emoji: str) -> tuple[ChatMessage, bool]:
    """React to a message with one emoji; again is a no-op. Bool: whether it changed."""
    emoji = normalize_emoji(emoji)
    # Whether it is ours, before the message: a no-op then answers a summary at least as new as that look (read
    # after it, a reaction of ours committed concurrently would be missing from the answer).
    already = _mine(user, message_id, emoji)
    message, access = access_message(user, message_id)
    check_live(message)
    if already:
        return _answer(user, message, False)
    change, message, access = lock_and_recheck_message(user, message, access)
    check_live(message)  # again: deleted while we waited for the lock
    if (
        all(r["emoji"] != emoji for r in message.reaction_summary)
        and len(message.reaction_summary) >= MAX_DISTINCT_EMOJI
    ):
        raise Conflict(f"A message can carry at most {MAX_DISTINCT_EMOJI} different emoji.", code="too_many_reactions")
    row = {"id": uuid.uuid4(), "message_id": message.id, "user_id": user.id, "emoji": emoji, "created_at": utcnow()}
    added = db.session.scalars(
        insert_skipping_duplicates(MessageReaction, "message_id", "emoji", "user_id").returning(MessageReaction.id),
        [row],
    ).first()
    if added is None:  # the same reaction committed while we waited for the lock
        discard()
        return _answer(user, message, False)
    message.reaction_summary, count = _counted(message.reaction_summary, emoji, +1)
    message.change_seq = change
    outbox.record(ReactionChanged(message, emoji, user.id, True, count))
    return _answer(user, message, True)


@transactional
def remove_reaction(user: User, message_id: uuid.UUID, emoji: str) -> tuple[ChatMessage, bool]:
    """Take back one's reaction; removing one you do not have is a no-op. Bool: whether it changed."""
    emoji = normalize_emoji(emoji)
    already = _mine(user, message_id, emoji)  # before the message, as in add_reaction
    message, access = access_message(user, message_id)
    if not already:
        return _answer(user, message, False)
    change, message, access = lock_and_recheck_message(user, message, access)
    removed = db.session.scalars(
        delete(MessageReaction)
        .where(
            MessageReaction.message_id == message.id, MessageReaction.emoji == emoji, MessageReaction.user_id == user.id
        )
        .returning(MessageReaction.id)
    ).first()
    if removed is None:  # taken back, or the message deleted, while we waited for the lock
        discard()
        return _answer(user, message, False)
    message.reaction_summary, count = _counted(message.reaction_summary, emoji, -1)
    message.change_seq = change
    outbox.record(ReactionChanged(message, emoji, user.id, False, count))
    return _answer(user, message, True)


def list_reactors(user: User, message_id: uuid.UUID, emoji: str, limit: int, cursor: str | None) -> Page[Reactor]:
    """Who reacted to a message with an emoji, oldest first (members only)."""
    emoji = normalize_emoji(emoji)
    message, _ = access_message(user, message_id)
    stmt = select(MessageReaction).where(MessageReaction.message_id == message.id, MessageReaction.emoji == emoji)
    if cursor:
        at, reaction_id = decode_cursor(cursor, "cursor", (datetime, uuid.UUID))
        stmt = stmt.where(
            or_(
                MessageReaction.created_at > at,
                and_(MessageReaction.created_at == at, MessageReaction.id > reaction_id),
            )
        )
    stmt = stmt.order_by(MessageReaction.created_at, MessageReaction.id)
    page: Page[MessageReaction] = keyset_page(stmt, limit, lambda r: encode_cursor([r.created_at, r.id]))
    return Page([Reactor(r.user_id, r.user.display_name, r.created_at) for r in page.items], page.next_cursor)
