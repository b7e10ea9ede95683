"""Request and response schemas of message search."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from armada.chat.schemas import MessageSchema
from armada.chat.search_text import MAX_QUERY_CHARS
from armada.schemas import PageArgsSchema, SafeString, page_schema


class UtcDateTime(fields.AwareDateTime):
    """An ISO time; without an offset it is UTC. One whose offset puts it outside the calendar is refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class SearchArgsSchema(PageArgsSchema):
    """GET /api/chat/search."""

    q = SafeString(
        required=True,
        metadata={
            "description": f"Words to find (at most {MAX_QUERY_CHARS} characters): every word must match, the last "
            'also as a prefix; `"quoted words"` match in order. `OR`, `NOT` and `-` are plain words.'
        },
    )
    room_id = fields.UUID(metadata={"description": "Only this room (one of yours)."})
    sender_id = fields.UUID(metadata={"description": "Only messages of this sender."})
    thread_root_id = fields.UUID(metadata={"description": "Only this thread: its root and its replies."})
    since = UtcDateTime(default_timezone=UTC, metadata={"description": "Sent at or after this time."})
    until = UtcDateTime(default_timezone=UTC, metadata={"description": "Sent before this time."})
    has = fields.String(
        validate=validate.OneOf(["media", "link"]),
        metadata={"description": "`media`: photos, videos, audio and files; `link`: text with an http(s):// URL."},
    )

    @ma.validates_schema
    def time_order(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("Must be later than since.", "until")


class SearchHitSchema(ma.Schema):
    """A message that matched, its room, and where the matched words are in its content."""

    message = fields.Nested(MessageSchema, required=True)
    room_id = fields.UUID(required=True)
    highlights = fields.List(
        fields.List(fields.Integer(), validate=validate.Length(equal=2)),
        required=True,
        metadata={
            "description": "`[start, end]` of each matched word: half-open offsets into `message.content`, counted "
            "in Unicode code points (not UTF-16 units)."
        },
    )


SearchPageSchema = page_schema(SearchHitSchema, "SearchPage")
