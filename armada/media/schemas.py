"""Request and response schemas of the media endpoints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from armada.media.urls import links
from armada.models import MessageType
from armada.schemas import RequestSchema, SafeString


class UploadFormSchema(RequestSchema):
    """POST /api/chat/upload (multipart/form-data)."""

    file = Upload(required=True, metadata={"description": "The file; its type is read from its bytes."})


class UploadResultSchema(ma.Schema):
    """A stored upload: send `url` (or `path`) as a message's media_url."""

    url = fields.Method("link", metadata={"description": "Signed, expiring download link."})
    path = fields.String(attribute="key", required=True)
    filename = fields.String(required=True)
    size = fields.Integer(required=True)
    mime_type = fields.String(required=True)
    message_type = fields.Enum(MessageType, by_value=True, required=True)
    thumbnail_url = fields.Method("thumbnail", allow_none=True)

    def link(self, upload: Any) -> str | None:
        return links(upload.key, upload.filename, upload.mime_type, upload.message_type)[0]

    def thumbnail(self, upload: Any) -> str | None:
        return links(upload.key, upload.filename, upload.mime_type, upload.message_type)[1]


class SignedUploadArgsSchema(RequestSchema):
    """GET /api/chat/upload/signed-url."""

    filename = SafeString(required=True, validate=validate.Length(min=1, max=1000))
    # It becomes an upload's Content-Type header and fills MediaUpload.mime_type: ASCII, at most 127 characters,
    # and no final newline (Python's `$` matches before one; the lookahead, valid in JSON Schema too, refuses it).
    mime_type = SafeString(
        required=True,
        validate=[
            validate.Length(max=127),
            validate.Regexp(r"^[A-Za-z0-9_.+-]+/[A-Za-z0-9_.+-]+(?!\n)$", error="Not a MIME type."),
        ],
    )
    size = fields.Integer(required=True, validate=validate.Range(min=1), metadata={"description": "Bytes."})


class SignedUploadSchema(ma.Schema):
    """Where to PUT the file; then send `path` as a message's media_url."""

    upload_url = fields.String(required=True)
    path = fields.String(required=True)
    method = fields.String(required=True)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    expires_at = fields.DateTime(required=True)
