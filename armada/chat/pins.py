"""Pins: a room's pinned messages, at most 100, each in one of the room's pin slots (unique in the database).

Pinning takes the room's change number (the message's JSON changes), so it holds the room's lock while it counts.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from armada import outbox
from armada.chat.events import MessagePinned, MessageUnpinned
from armada.chat.sequencing import lock_and_recheck_message
from armada.chat.viewer import with_my_reactions
from armada.errors import Conflict
from armada.extensions import db
from armada.models import ChatMessage, User, utcnow
from armada.pagination import Page, decode_cursor, encode_cursor, keyset_page
from armada.permissions import RoomAccess, access_message_in_room, access_room, check_can_pin, check_live
from armada.transaction import discard, transactional

MAX_PINS = 100


def _free_slot(room_id: uuid.UUID) -> int:
    """The lowest unused pin slot of the room; 409 when all 100 are taken."""
    taken = set(
        db.session.scalars(
            select(ChatMessage.pin_slot).where(ChatMessage.room_id == room_id, ChatMessage.pin_slot.isnot(None))
        )
    )
    free = next((slot for slot in range(MAX_PINS) if slot not in taken), None)
    if free is None:
        raise Conflict(f"A room can have at most {MAX_PINS} pinned messages.", code="too_many_pins")
    return free


def _locked(user: User, message: ChatMessage, access: RoomAccess) -> tuple[int, ChatMessage]:
    change, message, access = lock_and_recheck_message(user, message, access)
    check_can_pin(access)  # again: demoted while we waited for the lock
    return change, message


@transactional
def pin_message(user: User, room_id: uuid.UUID, message_id: uuid.UUID) -> tuple[ChatMessage, bool]:
    """Pin a message of the room (group admins; either member of a direct room); again is a no-op."""
    message, access = access_message_in_room(user, room_id, message_id)
    check_can_pin(access)
    check_live(message)
    if message.pinned_at is None:
        change, message = _locked(user, message, access)
        check_live(message)  # deleted while we waited for the lock
        if message.pinned_at is None:
            message.pin_slot = _free_slot(room_id)
            message.change_seq, message.pinned_at, message.pinned_by = change, utcnow(), user.id
            outbox.record(MessagePinned(message))
            with_my_reactions(user, [message])
            return message, True
        discard()
    with_my_reactions(user, [message])
    return message, False


@transactional
def unpin_message(user: User, room_id: uuid.UUID, message_id: uuid.UUID) -> tuple[ChatMessage, bool]:
    """Unpin a message of the room (who may pin it); unpinning one that is not pinned is a no-op."""
    message, access = access_message_in_room(user, room_id, message_id)
    check_can_pin(access)
    if message.pinned_at is not None:
        change, message = _locked(user, message, access)
        if message.pinned_at is not None:
            message.change_seq, message.pinned_at, message.pinned_by, message.pin_slot = change, None, None, None
            outbox.record(MessageUnpinned(message))
            with_my_reactions(user, [message])
            return message, True
        discard()
    with_my_reactions(user, [message])
    return message, False


def list_pins(user: User, room_id: uuid.UUID, limit: int, cursor: str | None) -> Page[ChatMessage]:
    """The room's pinned messages, most recently pinned first (members only)."""
    access_room(user, room_id)
    stmt = (
        select(ChatMessage)
        .where(ChatMessage.room_id == room_id, ChatMessage.pinned_at.isnot(None))
        .options(selectinload(ChatMessage.reply_to))
    )
    if cursor:
        at, message_id = decode_cursor(cursor, "cursor", (datetime, uuid.UUID))
        stmt = stmt.where(
            or_(ChatMessage.pinned_at < at, and_(ChatMessage.pinned_at == at, ChatMessage.id < message_id))
        )
    stmt = stmt.order_by(ChatMessage.pinned_at.desc(), ChatMessage.id.desc())
    page: Page[ChatMessage] = keyset_page(stmt, limit, lambda m: encode_cursor([m.pinned_at, m.id]))
    with_my_reactions(user, page.items)
    return page
