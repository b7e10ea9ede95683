"""Viewer-specific parts of messages (the `me` of each reaction): filled in for one user before a REST answer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select

from armada.extensions import db
from armada.models import ChatMessage, MessageReaction, User


def with_my_reactions(user: User, messages: Iterable[ChatMessage | None]) -> None:
    """Set each message's `my_reactions`: one query for the lot, none if no message has a reaction."""
    reacted = {m.id: m for m in messages if m is not None and m.reaction_summary and not m.is_deleted}
    if not reacted:
        return
    mine: dict[object, set[str]] = defaultdict(set)
    rows = db.session.execute(
        select(MessageReaction.message_id, MessageReaction.emoji).where(
            MessageReaction.message_id.in_(list(reacted)), MessageReaction.user_id == user.id
        )
    )
    for message_id, emoji in rows:
        mine[message_id].add(emoji)
    for message_id, message in reacted.items():
        message.my_reactions = frozenset(mine.get(message_id, ()))
