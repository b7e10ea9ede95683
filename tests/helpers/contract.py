"""The contract's object shapes (as the README and the OpenAPI document state them): the keys a
serialized message or room has, written out once for every test that checks a response or an event."""

from __future__ import annotations

from typing import Any

MESSAGE_KEYS = {
    "id",
    "room_id",
    "sender_id",
    "message_type",
    "content",
    "media_url",
    "media_filename",
    "media_size",
    "media_mime_type",
    "thumbnail_url",
    "reply_to_id",
    "reply_to",
    "forwarded_from_id",
    "is_edited",
    "edited_at",
    "is_deleted",
    "deleted_at",
    "created_at",
    "client_id",
    # Second wave: "Message fields added".
    "reactions",
    "thread_root_id",
    "thread",
    "mentions",
    "mentions_room",
    "pinned_at",
    "pinned_by",
    "link_previews",
}
REACTION_KEYS = {"emoji", "count", "me"}
THREAD_KEYS = {"reply_count", "last_reply_at", "participant_ids"}

ROOM_KEYS = {
    "id",
    "name",
    "room_type",
    "description",
    "avatar_url",
    "created_by",
    "created_at",
    "updated_at",
    "is_active",
    "members",
    "unread_count",
    "mention_count",
    "last_message",
}
MEMBER_KEYS = {"user_id", "display_name", "is_admin", "joined_at", "last_read_at"}

# The contract's room minus the viewer-specific counts: a broadcast goes to several users, each with their own.
BROADCAST_ROOM_KEYS = ROOM_KEYS - {"unread_count", "mention_count"}

# The Socket.IO section of the contract: the client -> server events, and each server -> client event with the keys
# of its payload.
SOCKET_CLIENT_EVENTS = {
    "join_room",
    "leave_room",
    "send_message",
    "typing",
    "message_edited",
    "message_deleted",
    "mark_as_read",
    # Second wave (reactions; presence and calls come with their issues).
    "add_reaction",
    "remove_reaction",
}
SOCKET_SERVER_EVENTS = {
    "connected": {"user_id"},
    "room_joined": {"room_id"},
    "room_left": {"room_id"},
    "user_joined": {"room_id", "user_id"},
    "user_left": {"room_id", "user_id"},
    "new_message": {"room_id", "message"},
    "message_edited": {"room_id", "message"},
    "message_deleted": {"room_id", "message_id"},
    "messages_read": {"room_id", "user_id", "message_ids", "read_at"},
    "user_typing": {"room_id", "user_id", "is_typing"},
    "room_created": {"room"},
    "room_updated": {"room"},
    "member_added": {"room_id", "user_id"},
    "member_removed": {"room_id", "user_id"},
    "error": {"code", "message"},
    # Second wave.
    "reaction_added": {"room_id", "message_id", "emoji", "user_id", "count"},
    "reaction_removed": {"room_id", "message_id", "emoji", "user_id", "count"},
    "thread_updated": {"room_id", "root_id", "thread"},
    "message_pinned": {"room_id", "message_id", "pinned_by", "pinned_at"},
    "message_unpinned": {"room_id", "message_id"},
    "mentioned": {"room_id", "message"},
}
# Connection refusals: the codes a refused socket's connect_error carries in `data.code` (README).
SOCKET_REFUSAL_CODES = {"token_expired", "token_revoked", "invalid_token", "authorization_required"}

# What differs from one viewer to the next: in REST answers and acknowledgements, never in a broadcast (the
# contract's "Additions, second wave").
VIEWER_KEYS = {"me", "unread_count", "mention_count", "notification_level", "notifications_muted_until"}


def viewer_fields(data: Any, path: str = "") -> list[str]:
    """Where in an event's payload (at any depth) a viewer-specific key appears; [] when nowhere."""
    if isinstance(data, dict):
        here = [f"{path}.{key}" for key in data if key in VIEWER_KEYS]
        return here + [found for key, value in data.items() for found in viewer_fields(value, f"{path}.{key}")]
    if isinstance(data, list):
        return [found for index, item in enumerate(data) for found in viewer_fields(item, f"{path}[{index}]")]
    return []


# What a change to a room's messages is heard as (the room's ordered events, and `mentioned`).
MESSAGE_CHANGE_EVENTS = {
    "new_message",
    "message_edited",
    "message_deleted",
    "reaction_added",
    "reaction_removed",
    "thread_updated",
    "message_pinned",
    "message_unpinned",
    "mentioned",
}
