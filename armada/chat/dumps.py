"""Hand-written dumps of the hot objects (messages and rooms): the same dicts their marshmallow schemas make.

A history page or a room list is 50-100 of these, and marshmallow's generic field machinery (a lookup, a
serialize call and a post-dump hook per field) was the largest share of those requests' CPU. The schemas stay
the contract and the document; `armada.chat.schemas` routes their plain dumps here, and
tests/api/test_hand_written_dumps.py keeps every output equal to the schema's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from armada.media.urls import links
from armada.models import ChatMessage, ChatRoom

PREVIEW_CHARS = 200
# What a deleted message's post-dump hook empties (MessageSchema.empty_tombstone).
_TOMBSTONE: dict[str, Any] = {
    "content": None,
    "media_url": None,
    "thumbnail_url": None,
    "media_filename": None,
    "media_size": None,
    "media_mime_type": None,
}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _enum(value: Any) -> Any:
    return None if value is None else value.value


def reply_preview(message: ChatMessage | None) -> dict[str, Any] | None:
    """ReplyPreviewSchema's dump."""
    if message is None:
        return None
    content = message.content
    return {
        "id": _str(message.id),
        "sender_id": _str(message.sender_id),
        "message_type": _enum(message.message_type),
        "content": None if message.is_deleted or content is None else content[:PREVIEW_CHARS],
        "is_deleted": _bool(message.is_deleted),
    }


def _thread(message: ChatMessage) -> dict[str, Any] | None:
    summary = message.thread
    if summary is None:
        return None
    return {
        "reply_count": _int(summary.reply_count),
        "last_reply_at": _time(summary.last_reply_at),
        "participant_ids": [_str(p) for p in summary.participant_ids],
    }


def _message(message: ChatMessage, reactions: list[dict[str, Any]]) -> dict[str, Any]:
    deleted = message.is_deleted
    media_url, thumbnail_url = (
        (None, None)
        if deleted
        else links(message.media_url, message.media_filename, message.media_mime_type, message.message_type)
    )
    mention_ids = message.mention_ids
    data = {
        "id": _str(message.id),
        "room_id": _str(message.room_id),
        "sender_id": _str(message.sender_id),
        "message_type": _enum(message.message_type),
        "content": _str(message.content),
        "media_url": media_url,
        "thumbnail_url": thumbnail_url,
        "media_filename": _str(message.media_filename),
        "media_size": _int(message.media_size),
        "media_mime_type": _str(message.media_mime_type),
        "reply_to_id": _str(message.reply_to_id),
        "reply_to": reply_preview(message.reply_to),
        "forwarded_from_id": _str(message.forwarded_from_id),
        "is_edited": _bool(message.is_edited),
        "edited_at": _time(message.edited_at),
        "is_deleted": _bool(deleted),
        "deleted_at": _time(message.deleted_at),
        "created_at": _time(message.created_at),
        "client_id": _str(message.client_id),
        "reactions": reactions,
        "thread_root_id": _str(message.thread_root_id),
        "thread": _thread(message),
        "mentions": None if mention_ids is None else [_str(m) for m in mention_ids],
        "mentions_room": _bool(message.mentions_room),
        "pinned_at": _time(message.pinned_at),
        "pinned_by": _str(message.pinned_by),
        "link_previews": [],  # none are made yet (MessageSchema.no_previews)
    }
    if deleted:
        data.update(_TOMBSTONE, reactions=[], mentions=[], mentions_room=False)
    return data


def message(message: ChatMessage) -> dict[str, Any]:
    """MessageSchema's dump: reactions with the viewer's `me`."""
    reactions = [
        {"emoji": _str(r["emoji"]), "count": _int(r["count"]), "me": _bool(r["me"])} for r in message.reactions
    ]
    return _message(message, reactions)


def broadcast_message(message: ChatMessage) -> dict[str, Any]:
    """BroadcastMessageSchema's dump: reactions without `me`."""
    reactions = [{"emoji": _str(r["emoji"]), "count": _int(r["count"])} for r in message.reaction_summary]
    return _message(message, reactions)


def members_of(room: ChatRoom) -> Sequence[Any]:
    """The members a room serves: the room list's `member_views` when it read them, else `active_members`."""
    # Empty means not read: a listed room always has its viewer as an active member.
    return room.member_views or room.active_members


def room(room: ChatRoom, message_dump: Callable[[ChatMessage], dict[str, Any]] = message) -> dict[str, Any]:
    """RoomSchema's dump: members in join order, and the last message."""
    last = room.last_message
    return {
        "id": _str(room.id),
        "name": _str(room.name),
        "room_type": _enum(room.room_type),
        "description": _str(room.description),
        "avatar_url": _str(room.avatar_url),
        "created_by": _str(room.created_by),
        "created_at": _time(room.created_at),
        "updated_at": _time(room.updated_at),
        "is_active": _bool(room.is_active),
        "members": [
            {
                "user_id": _str(m.user_id),
                "display_name": _str(m.user.display_name),
                "is_admin": _bool(m.is_admin),
                "joined_at": _time(m.joined_at),
                "last_read_at": _time(m.last_read_at),
            }
            for m in members_of(room)
        ],
        "unread_count": _int(room.unread_count),
        "mention_count": _int(room.mention_count),
        "last_message": None if last is None else message_dump(last),
    }
