"""Payload schemas of socket events that REST spells with a path parameter instead."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from armada.chat.schemas import EditMessageSchema, MarkReadSchema


class RoomRefSchema(ma.Schema):
    """`{room_id}`: join_room, leave_room."""

    room_id = fields.UUID(required=True)


class MessageRefSchema(ma.Schema):
    """`{message_id}`: message_deleted, and send_message's notify-only form."""

    message_id = fields.UUID(required=True)


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
