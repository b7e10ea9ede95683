"""The query arguments of a room's history: its cursors, one thread, or the page around a message."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from armada.schemas import RequestSchema, SafeString, limit_field


class MessageListArgsSchema(RequestSchema):
    """GET /api/chat/rooms/{room_id}/messages."""

    limit = limit_field()
    before = SafeString(
        validate=validate.Length(max=512), metadata={"description": "`next_cursor` of a page: older messages."}
    )
    after = fields.UUID(metadata={"description": "A message id: the messages newer than it (catch-up)."})
    changed_after = SafeString(
        validate=validate.Length(max=512),
        metadata={
            "description": "A message id (or a `next_cursor` of a changed_after page): the messages created, "
            "edited or deleted since that message was sent, in change order (catch-up including edits)."
        },
    )
    thread_root_id = fields.UUID(
        metadata={"description": "List this thread's replies (root excluded) instead of the room's history."}
    )
    around = fields.UUID(
        metadata={
            "description": "A message id: the page around it (a search result), up to half of `limit` older "
            "messages, then it and newer ones; `next_cursor` continues older (`before`), `after=<last id>` newer. "
            "A thread reply is shown at its root, unless `thread_root_id` names its thread."
        }
    )

    @validates_schema
    def one_anchor(self, data: dict[str, Any], **_: Any) -> None:
        given = [name for name in ("before", "after", "changed_after", "around") if data.get(name)]
        if len(given) > 1:
            raise ValidationError(
                f"Use only one of before, after, changed_after and around (got {', '.join(given)}).", given[1]
            )
