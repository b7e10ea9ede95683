"""Marshmallow pieces shared by every blueprint: safe strings, pagination and the error body."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

# NUL breaks PostgreSQL text columns; lone surrogates cannot be encoded as UTF-8 anywhere.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


def has_unsafe_text(text: str) -> bool:
    """Whether text holds a NUL byte or an unpaired surrogate."""
    return _UNSAFE.search(text) is not None


class SafeString(fields.String):
    """A string that refuses NUL bytes and lone surrogates, which no database stores."""

    default_error_messages = {"unsafe": "Must not contain NUL bytes or unpaired surrogates."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if has_unsafe_text(text):
            raise self.make_error("unsafe")
        return text


class SafeURL(fields.URL):
    """A URL that refuses NUL bytes and lone surrogates (the URL validator lets them through the path)."""

    default_error_messages = SafeString.default_error_messages

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str) and has_unsafe_text(value):
            raise self.make_error("unsafe")
        return super()._deserialize(value, attr, data, **kwargs)


class TrimmedString(SafeString):
    """A SafeString with surrounding whitespace removed (names, emails, search terms)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class RequestSchema(ma.Schema):
    """Base of every request schema: unknown fields are ignored, and the OpenAPI document says so."""

    class Meta:
        # ArmadaParser excludes unknown fields whatever the schema says; this only stops the document from
        # claiming `additionalProperties: false` for bodies the API in fact accepts.
        unknown = ma.EXCLUDE


def limit_field() -> fields.Integer:
    """The `limit` query parameter of every list endpoint."""
    return fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"Page size, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."},
    )


class PageArgsSchema(RequestSchema):
    """`limit` and an opaque `cursor`, shared by every list endpoint."""

    limit = limit_field()
    cursor = SafeString(
        validate=validate.Length(max=512),
        metadata={"description": "`next_cursor` of the previous page."},
    )


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A `{items, next_cursor}` schema for one kind of item."""
    return ma.Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": fields.String(
                allow_none=True,
                required=True,
                metadata={"description": "Pass back to get the next page; null on the last page."},
            ),
        },
        name=name,
    )


class ErrorDetailSchema(ma.Schema):
    """Inside the error envelope."""

    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    # Not only 422's lists: a 429 has {retry_after, limit}, the health check's 503 {database}.
    details = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "For 422: field name -> list of messages. For 429: `retry_after` (seconds) and `limit`."
        },
    )


class ErrorSchema(ma.Schema):
    """`{"error": {code, message, details?}}`, the body of every error response."""

    error = fields.Nested(ErrorDetailSchema, required=True)
