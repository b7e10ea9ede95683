"""The contract's object shapes (as the README and the OpenAPI document state them): the keys a
serialized message or room has, written out once for every test that checks a response or an event."""

from __future__ import annotations

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
}

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
    "last_message",
}
MEMBER_KEYS = {"user_id", "display_name", "is_admin", "joined_at", "last_read_at"}

# The contract's room minus unread_count: a broadcast goes to several users, each with their own count.
BROADCAST_ROOM_KEYS = ROOM_KEYS - {"unread_count"}
