"""Request and response schemas of the auth and users endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from armada.schemas import PageArgsSchema, RequestSchema, SafeString, TrimmedString, page_schema


class UserSchema(ma.Schema):
    """A user as every endpoint shows it."""

    id = fields.UUID(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    avatar_url = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)


MAX_EMAIL_CHARS = 254


def fits_when_lowercased(email: str) -> None:
    """Emails are stored lower-cased (services.normalize_email), and some characters grow then: "İ" becomes two."""
    if len(email.lower()) > MAX_EMAIL_CHARS:
        raise ValidationError(f"Longer than maximum length {MAX_EMAIL_CHARS} once lower-cased.")


class RegisterSchema(RequestSchema):
    """POST /api/auth/register."""

    # A TrimmedString first: fields.Email lets an unpaired surrogate through in the domain part.
    email = TrimmedString(
        required=True,
        validate=[validate.Length(max=MAX_EMAIL_CHARS), fits_when_lowercased, validate.Email()],
        metadata={"format": "email"},
    )
    password = SafeString(required=True, validate=validate.Length(min=8, max=128))
    display_name = TrimmedString(required=True, validate=validate.Length(min=1, max=100))


class LoginSchema(RequestSchema):
    """POST /api/auth/login."""

    email = TrimmedString(required=True, validate=validate.Length(min=1, max=254))
    password = SafeString(required=True, validate=validate.Length(min=1, max=1024))


class AuthResultSchema(ma.Schema):
    """A user and a fresh token pair."""

    user = fields.Nested(UserSchema, required=True)
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)


class AccessTokenSchema(ma.Schema):
    """A new access token."""

    access_token = fields.String(required=True)


class UserSearchArgsSchema(PageArgsSchema):
    """GET /api/users."""

    q = TrimmedString(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "Matches display names and emails, case-insensitively."},
    )


UserPageSchema = page_schema(UserSchema, "UserPage")
