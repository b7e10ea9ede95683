"""Mentions: the members a message names by id (and `@room`), kept as rows that mention counts are read from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, true

from armada import outbox
from armada.chat.events import Mentioned
from armada.errors import ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, ChatRoomMember, MessageMention


def _active_members(room_id: uuid.UUID, user_ids: Sequence[uuid.UUID] | None = None) -> set[uuid.UUID]:
    stmt = select(ChatRoomMember.user_id).where(ChatRoomMember.room_id == room_id, ChatRoomMember.is_active == true())
    if user_ids is not None:
        stmt = stmt.where(ChatRoomMember.user_id.in_(user_ids))
    return set(db.session.scalars(stmt))


def check_mentions(room_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The mentioned ids, duplicates collapsed in order; 422 on mentions unless each is an active member."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    members = _active_members(room_id, wanted)
    strangers = [str(u) for u in wanted if u not in members]
    if strangers:
        raise ValidationFailed(
            "Only active members of the room can be mentioned.",
            details={"mentions": [f"Not a member of this room: {u}" for u in strangers]},
        )
    return wanted


def _add_rows(message: ChatMessage, user_ids: list[uuid.UUID]) -> None:
    db.session.add_all(
        MessageMention(message_id=message.id, user_id=u, room_id=message.room_id, seq=message.seq) for u in user_ids
    )


def _newly_mentioned(message: ChatMessage, before: set[uuid.UUID], had_room: bool) -> list[uuid.UUID]:
    """Who the message mentions now and did not before (by id or `@room`), never its sender."""
    everyone = _active_members(message.room_id) if message.mentions_room or had_room else set()
    now = {uuid.UUID(u) for u in message.mention_ids} | (everyone if message.mentions_room else set())
    newly = now - before - (everyone if had_room else set()) - {message.sender_id}
    return sorted(newly, key=str)


def record_mentions(message: ChatMessage) -> list[uuid.UUID]:
    """Store a new message's mentions (set on it, checked); returns who it mentions, for `announce`."""
    _add_rows(message, [uuid.UUID(u) for u in message.mention_ids])
    return _newly_mentioned(message, set(), had_room=False)


def set_mentions(message: ChatMessage, user_ids: list[uuid.UUID], mentions_room: bool) -> list[uuid.UUID]:
    """Make these an edited message's mentions; returns the newly mentioned users, for `announce`."""
    before = {uuid.UUID(u) for u in message.mention_ids}
    had_room = message.mentions_room
    if before != set(user_ids):
        db.session.execute(delete(MessageMention).where(MessageMention.message_id == message.id))
        _add_rows(message, user_ids)
    message.mention_ids = [str(u) for u in user_ids]
    message.mentions_room = mentions_room
    return _newly_mentioned(message, before, had_room)


def announce(message: ChatMessage, newly: list[uuid.UUID]) -> None:
    """Tell the newly mentioned, on every socket of theirs, after commit (record it after the message's own event)."""
    if newly:
        outbox.record(Mentioned(message, newly))


def clear_mentions(message: ChatMessage) -> None:
    """A tombstone mentions no one."""
    if message.mention_ids:
        db.session.execute(delete(MessageMention).where(MessageMention.message_id == message.id))
    message.mention_ids, message.mentions_room = [], False
