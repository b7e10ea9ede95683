"""Schemas of the summaries a message carries: its reactions and its thread."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class ReactionSchema(ma.Schema):
    """One emoji's reactions on a message."""

    emoji = fields.String(required=True, metadata={"example": "\N{THUMBS UP SIGN}"})
    count = fields.Integer(required=True)
    me = fields.Boolean(required=True, metadata={"description": "Whether the caller reacted with it (REST and acks)."})


class BroadcastReactionSchema(ReactionSchema):
    """One emoji's reactions as broadcast: no viewer-specific `me`."""

    class Meta:
        exclude = ("me",)


class ThreadSummarySchema(ma.Schema):
    """A thread root's replies so far."""

    reply_count = fields.Integer(required=True)
    last_reply_at = fields.DateTime(required=True)
    participant_ids = fields.List(
        fields.UUID(), required=True, metadata={"description": "Up to 5 most recent distinct repliers, newest first."}
    )
