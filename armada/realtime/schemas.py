"""Payload schemas of socket events: what clients send (the REST schemas, or these where REST spells a path
parameter instead), the acknowledgements the handlers answer, and the server -> client events the emitter sends.

The handlers load the client -> server ones; the broadcast room and read result are the emitter's (events.py);
the acknowledgement and event envelopes describe what handlers.py and events.py build, for the AsyncAPI document
(asyncapi.py), which tests check against what sockets actually receive.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from armada.chat.feature_schemas import ReactionsResultSchema
from armada.chat.schemas import (
    BroadcastMessageSchema,
    EditMessageSchema,
    MarkReadSchema,
    MessageSchema,
    ReadResultSchema,
    RoomSchema,
)
from armada.chat.summary_schemas import ThreadSummarySchema
from armada.schemas import ErrorDetailSchema, RequestSchema

# ---- client -> server ------------------------------------------------------------------------------------------


class RoomRefSchema(RequestSchema):
    """`{room_id}`: join_room, leave_room."""

    room_id = fields.UUID(required=True)


class MessageRefSchema(RequestSchema):
    """`{message_id}`: message_deleted, and send_message's notify-only form."""

    message_id = fields.UUID(required=True)


class ReactionRefSchema(MessageRefSchema):
    """`{message_id, emoji}`: add_reaction, remove_reaction (REST: .../messages/{id}/reactions/{emoji})."""

    emoji = fields.String(required=True, validate=validate.Length(min=1, max=64))


class NotifySchema(MessageRefSchema):
    """`{message_id[, room_id]}`: send_message's notify-only form (seed clients also name the room)."""

    room_id = fields.UUID()


class TypingSchema(RoomRefSchema):
    """`{room_id, is_typing}`."""

    is_typing = fields.Boolean(required=True)


class SocketEditSchema(EditMessageSchema, MessageRefSchema):
    """`{message_id, content}`: message_edited (REST: PATCH /api/chat/messages/{id})."""


class SocketMarkReadSchema(MarkReadSchema, RoomRefSchema):
    """`{room_id, message_ids}` or `{room_id, up_to}`: mark_as_read (REST: POST /api/chat/rooms/{id}/read)."""


# ---- acknowledgements ------------------------------------------------------------------------------------------


class AckSchema(ma.Schema):
    """`{"ok": true, ...}`: the acknowledgement of an event that succeeded."""

    ok = fields.Boolean(required=True, validate=validate.Equal(True))


class RoomAckSchema(AckSchema):
    """join_room, leave_room."""

    room_id = fields.UUID(required=True)


class SendAckSchema(AckSchema):
    """send_message."""

    message = fields.Nested(MessageSchema, required=True)
    created = fields.Boolean(
        required=True,
        metadata={"description": "False for a retry with a known `client_id`, and for the notify-only form."},
    )


class TypingAckSchema(AckSchema):
    """typing."""

    forwarded = fields.Boolean(
        required=True,
        metadata={"description": "False when dropped: the same state again within TYPING_MIN_INTERVAL_MS."},
    )


class ChangeAckSchema(AckSchema):
    """message_edited, message_deleted."""

    message = fields.Nested(MessageSchema, required=True)
    changed = fields.Boolean(required=True, metadata={"description": "False for a no-op (the same edit again)."})


class ReactionAckSchema(AckSchema, ReactionsResultSchema):
    """add_reaction, remove_reaction: as the REST answer, with the caller's `me`."""


class ReadAckSchema(AckSchema, ReadResultSchema):
    """mark_as_read: the read result, with the caller's own `unread_count`."""


class ErrorAckSchema(ma.Schema):
    """`{"ok": false, "error": {code, message, details?}}`: the acknowledgement of a refused event."""

    ok = fields.Boolean(required=True, validate=validate.Equal(False))
    error = fields.Nested(ErrorDetailSchema, required=True)


# ---- server -> client ------------------------------------------------------------------------------------------


class BroadcastRoomSchema(RoomSchema):
    """A room as broadcast: no viewer-specific counts or reactions' `me` (each recipient keeps its own)."""

    last_message = fields.Nested(BroadcastMessageSchema, allow_none=True)

    class Meta:
        exclude = ("unread_count", "mention_count")


class ReadEventSchema(ReadResultSchema):
    """messages_read: a read result as broadcast, without the reader's `unread_count`."""

    class Meta:
        exclude = ("unread_count",)


class ConnectedEventSchema(ma.Schema):
    """connected."""

    user_id = fields.UUID(required=True)


class RoomEventSchema(ma.Schema):
    """room_joined, room_left."""

    room_id = fields.UUID(required=True)


class MembershipEventSchema(RoomEventSchema):
    """user_joined, user_left, member_added, member_removed."""

    user_id = fields.UUID(required=True)


class TypingEventSchema(MembershipEventSchema):
    """user_typing."""

    is_typing = fields.Boolean(required=True)


class MessageEventSchema(RoomEventSchema):
    """new_message, message_edited."""

    message = fields.Nested(BroadcastMessageSchema, required=True)


class ReactionEventSchema(RoomEventSchema):
    """reaction_added, reaction_removed: `count` is the emoji's count after the change."""

    message_id = fields.UUID(required=True)
    emoji = fields.String(required=True)
    user_id = fields.UUID(required=True)
    count = fields.Integer(required=True)


class ThreadEventSchema(RoomEventSchema):
    """thread_updated."""

    root_id = fields.UUID(required=True)
    thread = fields.Nested(ThreadSummarySchema, allow_none=True, required=True)


class PinnedEventSchema(RoomEventSchema):
    """message_pinned."""

    message_id = fields.UUID(required=True)
    pinned_by = fields.UUID(required=True)
    pinned_at = fields.DateTime(required=True)


class MessageDeletedEventSchema(RoomEventSchema):
    """message_deleted, message_unpinned."""

    message_id = fields.UUID(required=True)


class RoomChangeEventSchema(ma.Schema):
    """room_created, room_updated."""

    room = fields.Nested(BroadcastRoomSchema, required=True)


class RefusalDataSchema(ma.Schema):
    """A refused connection's `data`."""

    code = fields.String(required=True, metadata={"example": "token_expired"})


class ConnectRefusalSchema(ma.Schema):
    """A refused connection's `connect_error`: `{message, data: {code}}`."""

    message = fields.String(required=True, metadata={"description": "Why, in words."})
    data = fields.Nested(RefusalDataSchema, required=True)
