"""Request and response schemas of reactions, threads, pins and edit history."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from armada.chat.schemas import MessageSchema
from armada.chat.summary_schemas import ReactionSchema, ThreadSummarySchema
from armada.models import ChatMessage
from armada.schemas import RequestSchema, page_schema


class ReactionsResultSchema(ma.Schema):
    """A message's reactions after adding or removing one."""

    message_id = fields.UUID(required=True)
    reactions = fields.List(fields.Nested(ReactionSchema), required=True)


class ReactorSchema(ma.Schema):
    """Someone who reacted with an emoji."""

    user_id = fields.UUID(required=True)
    display_name = fields.String(required=True)
    reacted_at = fields.DateTime(required=True)


class EditSchema(ma.Schema):
    """An earlier version of a message's text, and when it was replaced."""

    content = fields.String(required=True)
    edited_at = fields.DateTime(required=True)


class FollowedThreadSchema(ma.Schema):
    """A thread the caller follows."""

    room_id = fields.UUID(required=True)
    root = fields.Nested(MessageSchema, required=True)
    thread = fields.Nested(ThreadSummarySchema, allow_none=True, required=True)
    unread_replies = fields.Integer(required=True, metadata={"description": "Replies of others you have not read."})


class ThreadReadSchema(RequestSchema):
    """POST /api/chat/threads/{root_id}/read."""

    up_to = fields.UUID(required=True, metadata={"description": "A reply of this thread: read up to and with it."})


class ThreadReadResultSchema(ma.Schema):
    """A thread's unread replies after reading it."""

    root_id = fields.UUID(required=True)
    unread_replies = fields.Integer(required=True)


def reactions_answer(message: ChatMessage) -> dict[str, Any]:
    """What ReactionsResultSchema dumps for a message: `{message_id, reactions}` (`me` filled in by the service)."""
    return {"message_id": message.id, "reactions": [] if message.is_deleted else message.reactions}


ReactorPageSchema = page_schema(ReactorSchema, "ReactorPage")
EditPageSchema = page_schema(EditSchema, "EditPage")
FollowedThreadPageSchema = page_schema(FollowedThreadSchema, "FollowedThreadPage")
PinPageSchema = page_schema(MessageSchema, "PinPage")
