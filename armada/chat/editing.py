"""Changing sent messages: editing one's text (keeping its history) and mentions, and deleting to a tombstone."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, delete, or_, select

from armada import outbox
from armada.chat import mentions as mention_rules
from armada.chat import threads
from armada.chat.events import MessageDeleted, MessageEdited
from armada.chat.sequencing import lock_and_recheck_message
from armada.chat.viewer import with_my_reactions
from armada.errors import ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, MessageEdit, MessageReaction, User, utcnow
from armada.pagination import Page, decode_cursor, encode_cursor, keyset_page
from armada.permissions import access_message, check_can_delete, check_can_edit
from armada.transaction import discard, transactional


def _changes(message: ChatMessage, content: str, mentions: list[uuid.UUID] | None, mentions_room: bool | None) -> bool:
    """Whether the edit changes anything: the text, or (when sent) the mentions."""
    if content != message.content:
        return True
    if mentions is not None and [str(u) for u in mentions] != message.mention_ids:
        return True
    return mentions_room is not None and mentions_room != message.mentions_room


@transactional
def edit_message(
    user: User,
    message_id: uuid.UUID,
    content: str,
    mentions: list[uuid.UUID] | None = None,
    mentions_room: bool | None = None,
) -> tuple[ChatMessage, bool]:
    """Change the text (and, when sent, the mentions) of one's own message; nothing new is a no-op.

    Bool: whether it changed. The replaced text joins the message's edit history.
    """
    message, access = access_message(user, message_id)
    if not content.strip():
        raise ValidationFailed.field("content", "A text message needs content.")
    check_can_edit(user, message)
    if mentions is not None:
        mentions = list(dict.fromkeys(mentions))
    if not _changes(message, content, mentions, mentions_room):
        with_my_reactions(user, [message])
        return message, False
    change, message, _ = lock_and_recheck_message(user, message, access)
    check_can_edit(user, message)  # again: it may have been deleted while we waited for the lock
    if not _changes(message, content, mentions, mentions_room):
        discard()
        with_my_reactions(user, [message])
        return message, False
    now = utcnow()
    if content != message.content:
        db.session.add(MessageEdit(message_id=message.id, content=message.content, edited_at=now))
        message.content, message.is_edited, message.edited_at = content, True, now
    message.change_seq = change
    newly_mentioned: list[uuid.UUID] = []
    if mentions is not None or mentions_room is not None:
        wanted = mention_rules.check_mentions(message.room_id, mentions) if mentions is not None else None
        keep = [uuid.UUID(u) for u in message.mention_ids]
        room = message.mentions_room if mentions_room is None else mentions_room
        newly_mentioned = mention_rules.set_mentions(message, keep if wanted is None else wanted, room)
        threads.follow_mentions(message, newly_mentioned)
    outbox.record(MessageEdited(message))
    mention_rules.announce(message, newly_mentioned)
    with_my_reactions(user, [message])
    return message, True


@transactional
def delete_message(user: User, message_id: uuid.UUID) -> tuple[ChatMessage, bool]:
    """Soft-delete a message (sender or room admin), leaving a tombstone; again is a no-op. Bool: whether it changed."""
    message, access = access_message(user, message_id)
    check_can_delete(access, message)
    if message.is_deleted:
        return message, False
    change, message, access = lock_and_recheck_message(user, message, access)
    check_can_delete(access, message)  # again: an admin may have been demoted while we waited for the lock
    if message.is_deleted:
        discard()
        return message, False
    # The text goes now, with its history, reactions, mentions and pin; media objects stay until purge-media
    # removes them from storage. A root's thread lives on.
    message.change_seq, message.is_deleted, message.deleted_at, message.content = change, True, utcnow(), None
    db.session.execute(delete(MessageEdit).where(MessageEdit.message_id == message.id))
    if message.reaction_summary:
        db.session.execute(delete(MessageReaction).where(MessageReaction.message_id == message.id))
    message.reaction_summary, message.my_reactions = [], frozenset()
    mention_rules.clear_mentions(message)
    message.pinned_at, message.pinned_by, message.pin_slot = None, None, None
    outbox.record(MessageDeleted(message))
    if message.thread_root_id is not None:
        threads.remove_reply(message)
    return message, True


def list_edit_history(user: User, message_id: uuid.UUID, limit: int, cursor: str | None) -> Page[MessageEdit]:
    """A message's earlier versions, oldest first, each with the time it was replaced (members only)."""
    message, _ = access_message(user, message_id)
    stmt = select(MessageEdit).where(MessageEdit.message_id == message.id)
    if cursor:
        at, edit_id = decode_cursor(cursor, "cursor", (datetime, uuid.UUID))
        stmt = stmt.where(or_(MessageEdit.edited_at > at, and_(MessageEdit.edited_at == at, MessageEdit.id > edit_id)))
    stmt = stmt.order_by(MessageEdit.edited_at, MessageEdit.id)
    return keyset_page(stmt, limit, lambda edit: encode_cursor([edit.edited_at, edit.id]))
