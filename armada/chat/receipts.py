"""Read receipts: marking messages read (by ids, or everything up to one) and moving the member's read pointer."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, false, literal, select, true, update

from armada import outbox
from armada.chat.events import MessagesRead
from armada.chat.room_views import unread_counts
from armada.chat.sequencing import UNSYNCHRONIZED
from armada.database import insert_skipping_duplicates
from armada.errors import ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, ChatRoomMember, MessageReadReceipt, User, utcnow
from armada.permissions import access_room, room_not_found
from armada.transaction import transactional


@dataclass(frozen=True)
class ReadResult:
    """What a mark-read changed: the newly receipted messages and the reader's unread count after it."""

    room_id: uuid.UUID
    user_id: uuid.UUID
    message_ids: list[uuid.UUID]
    read_at: datetime
    unread_count: int


def _insert_receipts(user: User, message_ids: Sequence[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    """Record receipts once each; returns the ids that were not receipted before."""
    if not message_ids:
        return []
    stmt = insert_skipping_duplicates(MessageReadReceipt, "message_id", "user_id").returning(
        MessageReadReceipt.message_id
    )
    rows = [{"id": uuid.uuid4(), "message_id": m, "user_id": user.id, "read_at": now} for m in message_ids]
    return list(db.session.scalars(stmt, rows))


def _move_read_pointer(member: ChatRoomMember, top: int, now: datetime, stamp: bool) -> bool:
    """Move the read pointer up to `top` if it is behind; stamp last_read_at when it moves, or anyway if `stamp`.

    Both conditions are evaluated by the UPDATE on the row as it is, not on `member` as the access check read it
    without a lock: a concurrent read may have moved the pointer further since (it must not move back), and a
    removal may have committed since, or while this waited for the row. False, nothing written, if removed.
    """
    # Both CASEs read the old last_read_seq.
    advances = ChatRoomMember.last_read_seq < top
    read_at = literal(now, ChatRoomMember.last_read_at.type)
    values = {
        "last_read_seq": case((advances, top), else_=ChatRoomMember.last_read_seq),
        "last_read_at": read_at if stamp else case((advances, read_at), else_=ChatRoomMember.last_read_at),
    }
    statement = (
        update(ChatRoomMember)
        .where(ChatRoomMember.id == member.id, ChatRoomMember.is_active == true())
        .values(values)
        .returning(ChatRoomMember.id)
    )
    return db.session.execute(statement, execution_options=UNSYNCHRONIZED).scalar_one_or_none() is not None


def _targets(
    user: User,
    member: ChatRoomMember,
    room_id: uuid.UUID,
    message_ids: Sequence[uuid.UUID] | None,
    up_to: uuid.UUID | None,
) -> tuple[int, list[uuid.UUID]]:
    """The highest seq read, and the messages to receipt: live messages of others (one's own are read already)."""
    readable = (ChatMessage.room_id == room_id, ChatMessage.sender_id != user.id, ChatMessage.is_deleted == false())
    if up_to is not None:
        top = db.session.scalar(select(ChatMessage.seq).where(ChatMessage.id == up_to, ChatMessage.room_id == room_id))
        if top is None:
            raise ValidationFailed.field("up_to", "No such message in this room.")
        # Reading the room up to a message reads its history, not the thread replies sent meanwhile (each thread
        # keeps its own read pointer: POST /api/chat/threads/{root_id}/read).
        unread = select(ChatMessage.id).where(
            *readable,
            ChatMessage.thread_root_id.is_(None),
            ChatMessage.seq > member.last_read_seq,
            ChatMessage.seq <= top,
        )
        return top, list(db.session.scalars(unread))
    wanted = list(dict.fromkeys(message_ids or []))
    # .all(): dict() of a Result itself would treat it as a mapping (it has .keys()) and fail.
    found: dict[uuid.UUID, int] = dict(
        db.session.execute(
            select(ChatMessage.id, ChatMessage.seq).where(ChatMessage.id.in_(wanted), ChatMessage.room_id == room_id)
        ).all()
    )
    missing = [f"No such message in this room: {m}" for m in wanted if m not in found]
    if missing:
        raise ValidationFailed("Some message_ids are not messages of this room.", details={"message_ids": missing})
    top = max(found.values(), default=0)
    return top, list(db.session.scalars(select(ChatMessage.id).where(*readable, ChatMessage.id.in_(wanted))))


@transactional
def mark_read(
    user: User, room_id: uuid.UUID, message_ids: Sequence[uuid.UUID] | None = None, up_to: uuid.UUID | None = None
) -> ReadResult:
    """Record read receipts for the given messages, or for everything up to one, and move the read pointer."""
    member = access_room(user, room_id).member
    top, targets = _targets(user, member, room_id, message_ids, up_to)
    now = utcnow()
    newly_read = _insert_receipts(user, targets, now)
    # The pointer can only be behind what we read: if `top` is not past it, there is nothing to move.
    if (top > member.last_read_seq or newly_read) and not _move_read_pointer(member, top, now, bool(newly_read)):
        raise room_not_found()  # removed meanwhile: as if the removal came first (the receipts roll back)
    if newly_read:
        outbox.record(MessagesRead(room_id, user.id, newly_read, now))
    return ReadResult(room_id, user.id, newly_read, now, unread_counts(user, [room_id]).get(room_id, (0, 0))[0])
