"""Changing sent messages: editing one's text, and deleting (sender or room admin) to a tombstone."""

from __future__ import annotations

import uuid

from armada import outbox
from armada.chat.events import MessageDeleted, MessageEdited
from armada.chat.sequencing import lock_and_recheck_message
from armada.errors import ValidationFailed
from armada.models import ChatMessage, User, utcnow
from armada.permissions import access_message, check_can_delete, check_can_edit
from armada.transaction import discard, transactional


@transactional
def edit_message(user: User, message_id: uuid.UUID, content: str) -> tuple[ChatMessage, bool]:
    """Change the text of one's own message; the same text again changes nothing. Bool: whether it changed."""
    message, access = access_message(user, message_id)
    if not content.strip():
        raise ValidationFailed.field("content", "A text message needs content.")
    check_can_edit(user, message)
    if content == message.content:
        return message, False
    change, message, _ = lock_and_recheck_message(user, message, access)
    check_can_edit(user, message)  # again: it may have been deleted while we waited for the lock
    if content == message.content:
        discard()
        return message, False
    message.change_seq, message.content, message.is_edited, message.edited_at = change, content, True, utcnow()
    outbox.record(MessageEdited(message))
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
    # The text goes now; media objects stay until purge-media removes them from storage.
    message.change_seq, message.is_deleted, message.deleted_at, message.content = change, True, utcnow(), None
    outbox.record(MessageDeleted(message))
    return message, True
