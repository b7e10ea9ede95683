"""Sending a message: a new one, a reply or a forward, with idempotent retries by `client_id`."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from armada import outbox
from armada.chat import mentions as mention_rules
from armada.chat import threads
from armada.chat.events import MessageCreated
from armada.chat.sequencing import take_message_seq
from armada.chat.viewer import with_my_reactions
from armada.errors import NotFound, ValidationFailed
from armada.extensions import db
from armada.media.services import attach_media
from armada.models import ChatMessage, MessageType, User, utcnow
from armada.permissions import access_message, check_room_access
from armada.transaction import transactional, undo

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
    # Called under the room's row lock (after take_message_seq): a deletion takes the same lock for its change
    # number, so the target cannot be deleted between this check and the reply's commit.
    target = db.session.execute(
        select(ChatMessage.is_deleted).where(ChatMessage.id == reply_to_id, ChatMessage.room_id == room_id)
    ).first()
    if target is None:
        raise ValidationFailed.field("reply_to_id", "No such message in this room.")
    if target.is_deleted:
        raise ValidationFailed.field("reply_to_id", "A deleted message cannot be replied to.")


_messages = ChatMessage.__table__


def _previous_send(user: User, room_id: uuid.UUID, client_id: str) -> ChatMessage | None:
    """The message this sender already sent to the room with this client_id, if any."""
    # Asked twice per send with a client_id and almost always answered "none": a Core query of the id, and the
    # message loaded only for a retry (one statement more there), since the ORM's entity query costs more CPU.
    found = (
        db.session.connection()
        .execute(
            select(_messages.c.id).where(
                _messages.c.room_id == room_id, _messages.c.sender_id == user.id, _messages.c.client_id == client_id
            )
        )
        .scalar()
    )
    return None if found is None else db.session.get(ChatMessage, found)


def _message_body(
    user: User,
    message_type: MessageType | None,
    content: str | None,
    media_url: str | None,
    forwarded_from_id: uuid.UUID | None,
) -> dict[str, object]:
    """The type, content and media columns of a new message, validated."""
    if forwarded_from_id is not None:
        if content is not None or media_url is not None:
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
        if media_url is not None:
            raise ValidationFailed.field(
                "media_url", "A text message has no media; use an image/video/audio/file type."
            )
        return {"message_type": message_type, "content": content}
    # Media must be the sender's own upload; size, type and filename come from it, not from the client.
    return {"message_type": message_type, "content": content, **attach_media(user, message_type, media_url)}


def access_sent_message(user: User, message_id: uuid.UUID, room_id: uuid.UUID | None = None) -> ChatMessage:
    """A message the caller may see, named again after it was sent (the socket's notify-only form), with `me`."""
    message, _ = access_message(user, message_id)
    if room_id is not None and room_id != message.room_id:
        raise ValidationFailed.field("room_id", "The message is not in this room.")
    with_my_reactions(user, [message])
    return message


@transactional
def send_message(
    user: User,
    room_id: uuid.UUID,
    *,
    message_type: MessageType | None = None,
    content: str | None = None,
    media_url: str | None = None,
    reply_to_id: uuid.UUID | None = None,
    forwarded_from_id: uuid.UUID | None = None,
    thread_root_id: uuid.UUID | None = None,
    mentions: list[uuid.UUID] | None = None,
    mentions_room: bool = False,
    client_id: str | None = None,
) -> tuple[ChatMessage, bool]:
    """Post a message to a room (or a thread); a retry with the same `client_id` returns the first one.

    Bool: newly created.
    """
    checked_stamp = check_room_access(user, room_id)
    # A retry answers what the first send answered, even if its checks would now fail (e.g. the forwarded
    # original was deleted in between).
    if client_id is not None and (existing := _previous_send(user, room_id, client_id)) is not None:
        with_my_reactions(user, [existing])
        return existing, False
    body = _message_body(user, message_type, content, media_url, forwarded_from_id)
    now = utcnow()
    seq = take_message_seq(user, room_id, checked_stamp, now, in_thread=thread_root_id is not None)
    if client_id is not None and (existing := _previous_send(user, room_id, client_id)) is not None:
        undo()  # the first send committed while we waited for the lock: take back the number we took
        with_my_reactions(user, [existing])
        return existing, False
    if reply_to_id is not None:
        _check_reply_target(room_id, reply_to_id)
    # Under the lock too: the root cannot be deleted, nor a mentioned member removed, before this commits.
    root = threads.check_thread_root(room_id, thread_root_id) if thread_root_id is not None else None
    mentioned = mention_rules.check_mentions(room_id, mentions or [])
    message = ChatMessage(
        room_id=room_id,
        sender_id=user.id,
        seq=seq,
        change_seq=seq,
        reply_to_id=reply_to_id,
        forwarded_from_id=forwarded_from_id,
        thread_root_id=thread_root_id,
        thread_level=0 if root is None else 1,
        root_thread_level=None if root is None else 0,
        thread_reply_count=0,
        thread_participant_ids=[],
        reaction_summary=[],
        mention_ids=[str(u) for u in mentioned],
        mentions_room=mentions_room,
        client_id=client_id,
        created_at=now,
        **body,
    )
    db.session.add(message)
    db.session.flush()  # the mention rows name it
    newly_mentioned = mention_rules.record_mentions(message)
    outbox.record(MessageCreated(message))
    if root is not None:
        threads.add_reply(root, message)
    mention_rules.announce(message, newly_mentioned)
    return message, True
