"""Message services: send (reply, forward, idempotent retry), history pages, edit, delete, read receipts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Update, case, false, literal, select, true, update
from sqlalchemy.orm import selectinload

from armada.chat.permissions import (
    RoomAccess,
    access_message,
    access_room,
    check_can_delete,
    check_can_edit,
    room_not_found,
)
from armada.chat.rooms import unread_counts
from armada.database import insert_skipping_duplicates
from armada.errors import NotFound, ValidationFailed
from armada.extensions import db
from armada.media.services import attach_media
from armada.models import ChatMessage, ChatRoom, ChatRoomMember, MessageReadReceipt, MessageType, User, utcnow
from armada.pagination import Page, decode_cursor, encode_cursor
from armada.realtime import events

MEDIA_FIELDS = ("media_url", "media_filename", "media_size", "media_mime_type")


def _forward_source(user: User, message_id: uuid.UUID) -> ChatMessage:
    # Same answer for a missing message and one in a room the sender cannot read.
    try:
        original, _ = access_message(user, message_id)
    except NotFound:
        raise ValidationFailed.field("forwarded_from_id", "No such message.") from None
    if original.is_deleted:
        raise ValidationFailed.field("forwarded_from_id", "A deleted message cannot be forwarded.")
    return original


def _check_reply_target(room_id: uuid.UUID, reply_to_id: uuid.UUID) -> None:
    found = db.session.scalar(
        select(ChatMessage.id).where(ChatMessage.id == reply_to_id, ChatMessage.room_id == room_id)
    )
    if found is None:
        raise ValidationFailed.field("reply_to_id", "No such message in this room.")


def _previous_send(user: User, room_id: uuid.UUID, client_id: str) -> ChatMessage | None:
    """The message this sender already sent to the room with this client_id, if any."""
    return db.session.scalar(
        select(ChatMessage).where(
            ChatMessage.room_id == room_id, ChatMessage.sender_id == user.id, ChatMessage.client_id == client_id
        )
    )


def _message_body(
    user: User,
    message_type: MessageType | None,
    content: str | None,
    media: dict[str, object],
    forwarded_from_id: uuid.UUID | None,
) -> dict[str, object]:
    """The type, content and media columns of a new message, validated."""
    if forwarded_from_id is not None:
        if content is not None or any(v is not None for v in media.values()):
            raise ValidationFailed.field("content", "A forward copies the original; send no content or media.")
        original = _forward_source(user, forwarded_from_id)
        return {
            "message_type": original.message_type,
            "content": original.content,
            **{f: getattr(original, f) for f in MEDIA_FIELDS},
        }
    message_type = message_type or MessageType.TEXT
    if message_type is MessageType.TEXT:
        if content is None or not content.strip():
            raise ValidationFailed.field("content", "A text message needs content.")
        if any(v is not None for v in media.values()):
            raise ValidationFailed.field(
                "media_url", "A text message has no media; use an image/video/audio/file type."
            )
        return {"message_type": message_type, "content": content}
    # Media must be the sender's own upload; size, type and filename come from it, not from the client.
    return {"message_type": message_type, "content": content, **attach_media(user, message_type, media["media_url"])}


# No session synchronization on the counter UPDATEs: nothing reads the room object's counters after them, and
# evaluating the SET against the identity map cost more than the UPDATE itself on the send path (see BENCHMARKS.md).
_UNSYNCHRONIZED = {"synchronize_session": False}


def _counter_update(room_id: uuid.UUID, new_message_at: datetime | None = None) -> Update:
    """The UPDATE that takes the room's next change number (returned); it row-locks the room until commit."""
    values: dict[str, Any] = {"last_seq": ChatRoom.last_seq + 1}
    if new_message_at is not None:
        # Both SET expressions read the old last_seq, so last_message_seq gets the same new number.
        values |= {"last_message_seq": ChatRoom.last_seq + 1, "last_activity_at": new_message_at}
    return update(ChatRoom).where(ChatRoom.id == room_id).values(values).returning(ChatRoom.last_seq)


def _next_change(room_id: uuid.UUID, new_message_at: datetime | None = None) -> int:
    """Take the room's next change number; this row-locks the room until commit.

    So changes to one room commit in number order: a client catching up with `after=` or `changed_after=`
    can never miss one that committed late, and a concurrent retry of the same client_id waits here and then
    finds the first send.
    """
    return db.session.execute(_counter_update(room_id, new_message_at), execution_options=_UNSYNCHRONIZED).scalar_one()


def _next_message_seq(user: User, room_id: uuid.UUID, checked_stamp: datetime, now: datetime) -> int:
    """Take the room's next change number for a new message (_next_change), the sender still a member once it is.

    The sender's access was checked before the lock, when the room's updated_at was `checked_stamp`, and a removal
    the send waited for (it holds the same lock) may have committed since. Every membership change stamps
    updated_at under that lock (rooms._lock_room), so the number is taken only if the stamp is unchanged, which
    PostgreSQL re-evaluates on the row as a removal that held it left it; only if it changed does the send check
    again, now under the lock. So a send costs no statement more. (A condition on the membership row in that
    UPDATE would not do: after waiting, PostgreSQL re-reads only the row it locks, other tables as they were.)
    """
    unchanged = _counter_update(room_id, now).where(ChatRoom.updated_at == checked_stamp)
    seq = db.session.execute(unchanged, execution_options=_UNSYNCHRONIZED).scalar_one_or_none()
    if seq is None:
        seq = _next_change(room_id, new_message_at=now)
        access_room(user, room_id)
    return seq


def send_message(
    user: User,
    room_id: uuid.UUID,
    *,
    message_type: MessageType | None = None,
    content: str | None = None,
    reply_to_id: uuid.UUID | None = None,
    forwarded_from_id: uuid.UUID | None = None,
    client_id: str | None = None,
    media_url: str | None = None,
    media_filename: str | None = None,
    media_size: int | None = None,
    media_mime_type: str | None = None,
) -> tuple[ChatMessage, bool]:
    """Post a message to a room; a retry with the same `client_id` returns the first one. Bool: newly created."""
    media = {
        "media_url": media_url,
        "media_filename": media_filename,
        "media_size": media_size,
        "media_mime_type": media_mime_type,
    }
    checked_stamp = access_room(user, room_id).room.updated_at
    # A retry answers what the first send answered, even if its checks would now fail (e.g. the forwarded
    # original was deleted in between).
    if client_id is not None and (existing := _previous_send(user, room_id, client_id)) is not None:
        return existing, False
    body = _message_body(user, message_type, content, media, forwarded_from_id)
    if reply_to_id is not None:
        _check_reply_target(room_id, reply_to_id)
    now = utcnow()
    seq = _next_message_seq(user, room_id, checked_stamp, now)
    if client_id is not None and (existing := _previous_send(user, room_id, client_id)) is not None:
        db.session.rollback()
        return existing, False
    message = ChatMessage(
        room_id=room_id,
        sender_id=user.id,
        seq=seq,
        change_seq=seq,
        reply_to_id=reply_to_id,
        forwarded_from_id=forwarded_from_id,
        client_id=client_id,
        created_at=now,
        **body,
    )
    db.session.add(message)
    _commit_keeping_state()
    events.message_created(message)
    return message, True


def _commit_keeping_state() -> None:
    """Commit without expiring the session's objects.

    The new message holds exactly what was inserted, and the response and the event serialize nothing else,
    so reloading it after the commit (the default) would only cost every send another query.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _anchor_seq(room_id: uuid.UUID, message_id: uuid.UUID, field: str) -> int:
    seq = db.session.scalar(select(ChatMessage.seq).where(ChatMessage.id == message_id, ChatMessage.room_id == room_id))
    if seq is None:
        raise ValidationFailed.field(field, "No such message in this room.")
    return seq


def list_messages(
    user: User,
    room_id: uuid.UUID,
    limit: int,
    before: str | None = None,
    after: uuid.UUID | None = None,
    changed_after: str | None = None,
) -> Page[ChatMessage]:
    """A page of a room's history, oldest first: the newest page, or `before`, `after` or `changed_after`.

    `changed_after` (a message id, or a `next_cursor` of this kind) lists the messages created, edited or
    deleted since that message was sent, in the order the changes happened: a reconnecting client's catch-up.
    """
    access_room(user, room_id)
    given = [name for name, value in (("before", before), ("after", after), ("changed_after", changed_after)) if value]
    if len(given) > 1:
        raise ValidationFailed.field(
            given[1], f"Use only one of before, after and changed_after (got {', '.join(given)})."
        )
    stmt = select(ChatMessage).where(ChatMessage.room_id == room_id).options(selectinload(ChatMessage.reply_to))
    if after is not None:
        anchor = _anchor_seq(room_id, after, "after")
        rows = list(db.session.scalars(stmt.where(ChatMessage.seq > anchor).order_by(ChatMessage.seq).limit(limit + 1)))
        items = rows[:limit]
        return Page(items, str(items[-1].id) if len(rows) > limit else None)
    if changed_after is not None:
        try:
            since = _anchor_seq(room_id, uuid.UUID(changed_after), "changed_after")
        except ValueError:
            (since,) = decode_cursor(changed_after, "changed_after", (int,))
        ordered = stmt.where(ChatMessage.change_seq > since).order_by(ChatMessage.change_seq).limit(limit + 1)
        rows = list(db.session.scalars(ordered))
        items = rows[:limit]
        return Page(items, encode_cursor([items[-1].change_seq]) if len(rows) > limit else None)
    if before is not None:
        (before_seq,) = decode_cursor(before, "before", (int,))
        stmt = stmt.where(ChatMessage.seq < before_seq)
    rows = list(db.session.scalars(stmt.order_by(ChatMessage.seq.desc()).limit(limit + 1)))
    items = rows[:limit][::-1]
    return Page(items, encode_cursor([items[0].seq]) if len(rows) > limit else None)


def _lock_and_recheck(user: User, message: ChatMessage, access: RoomAccess) -> tuple[int, ChatMessage, RoomAccess]:
    """Take the room's next change number, then read the message and the caller's access to it again.

    Either may have changed while we waited for the lock: the message edited or deleted, or the caller removed
    or demoted by a membership change, which holds the same lock (rooms._lock_room); it must hold as if the two
    had run one after the other. One query, as the plain re-read of the message it replaces.
    """
    message_id = message.id
    change = _next_change(message.room_id)
    for row in (message, access.room, access.member):
        db.session.expire(row)
    message, access = access_message(user, message_id)
    return change, message, access


def edit_message(user: User, message_id: uuid.UUID, content: str) -> tuple[ChatMessage, bool]:
    """Change the text of one's own message; the same text again changes nothing. Bool: whether it changed."""
    message, access = access_message(user, message_id)
    if not content.strip():
        raise ValidationFailed.field("content", "A text message needs content.")
    check_can_edit(user, message)
    if content == message.content:
        return message, False
    change, message, _ = _lock_and_recheck(user, message, access)
    check_can_edit(user, message)  # again: it may have been deleted while we waited for the lock
    if content == message.content:
        db.session.rollback()
        return message, False
    message.change_seq, message.content, message.is_edited, message.edited_at = change, content, True, utcnow()
    db.session.commit()
    events.message_edited(message)
    return message, True


def delete_message(user: User, message_id: uuid.UUID) -> tuple[ChatMessage, bool]:
    """Soft-delete a message (sender or room admin), leaving a tombstone; again is a no-op. Bool: whether it changed."""
    message, access = access_message(user, message_id)
    check_can_delete(access, message)
    if message.is_deleted:
        return message, False
    change, message, access = _lock_and_recheck(user, message, access)
    check_can_delete(access, message)  # again: an admin may have been demoted while we waited for the lock
    if message.is_deleted:
        db.session.rollback()
        return message, False
    # The text goes now; media objects stay until purge-media removes them from storage.
    message.change_seq, message.is_deleted, message.deleted_at, message.content = change, True, utcnow(), None
    db.session.commit()
    events.message_deleted(message)
    return message, True


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
    # No session synchronization: the commit that follows expires the member object anyway.
    return db.session.execute(statement, execution_options=_UNSYNCHRONIZED).scalar_one_or_none() is not None


def mark_read(
    user: User, room_id: uuid.UUID, message_ids: Sequence[uuid.UUID] | None = None, up_to: uuid.UUID | None = None
) -> ReadResult:
    """Record read receipts for the given messages, or for everything up to one, and move the read pointer."""
    member = access_room(user, room_id).member
    # Receipts are for live messages of others; one's own messages are read by definition.
    readable = (ChatMessage.room_id == room_id, ChatMessage.sender_id != user.id, ChatMessage.is_deleted == false())
    if up_to is not None:
        top = db.session.scalar(select(ChatMessage.seq).where(ChatMessage.id == up_to, ChatMessage.room_id == room_id))
        if top is None:
            raise ValidationFailed.field("up_to", "No such message in this room.")
        unread = select(ChatMessage.id).where(*readable, ChatMessage.seq > member.last_read_seq, ChatMessage.seq <= top)
        targets = list(db.session.scalars(unread))
    else:
        wanted = list(dict.fromkeys(message_ids or []))
        # .all(): dict() of a Result itself would treat it as a mapping (it has .keys()) and fail.
        found: dict[uuid.UUID, int] = dict(
            db.session.execute(
                select(ChatMessage.id, ChatMessage.seq).where(
                    ChatMessage.id.in_(wanted), ChatMessage.room_id == room_id
                )
            ).all()
        )
        missing = [f"No such message in this room: {m}" for m in wanted if m not in found]
        if missing:
            raise ValidationFailed("Some message_ids are not messages of this room.", details={"message_ids": missing})
        top = max(found.values(), default=0)
        targets = list(db.session.scalars(select(ChatMessage.id).where(*readable, ChatMessage.id.in_(wanted))))
    now = utcnow()
    newly_read = _insert_receipts(user, targets, now)
    # The pointer can only be behind what we read: if `top` is not past it, there is nothing to move.
    if (top > member.last_read_seq or newly_read) and not _move_read_pointer(member, top, now, bool(newly_read)):
        raise room_not_found()  # removed meanwhile: as if the removal came first (the receipts roll back)
    db.session.commit()
    result = ReadResult(room_id, user.id, newly_read, now, unread_counts(user, [room_id]).get(room_id, 0))
    if newly_read:
        events.messages_read(result)
    return result
