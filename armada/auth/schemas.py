"""Request and response schemas of the auth and users endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from armada.auth.directory import MIN_QUERY_CHARS
from armada.auth.registration import MODES
from armada.schemas import PageArgsSchema, RequestSchema, SafeString, TrimmedString, page_schema


class PublicUserSchema(ma.Schema):
    """Another user, as anyone may see them: never their email."""

    id = fields.UUID(required=True)
    display_name = fields.String(required=True)
    avatar_url = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)


class UserSchema(PublicUserSchema):
    """The caller's own account (GET /api/users/me, register and login): the public fields and the email."""

    email = fields.String(required=True)


MAX_EMAIL_CHARS = 254


def fits_when_lowercased(email: str) -> None:
    """Emails are stored lower-cased (directory.normalize_email), and some characters grow then: "İ" becomes two."""
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
    invite_code = TrimmedString(
        validate=validate.Length(max=100),
        metadata={"description": "Needed when the registration mode is `invite` (GET /api/auth/registration)."},
    )


class RegistrationModeSchema(ma.Schema):
    """GET /api/auth/registration."""

    mode = fields.String(
        required=True,
        metadata={
            "enum": list(MODES),
            "description": "`open`: anyone may register; `invite`: register needs `invite_code`; `closed`: no sign-up.",
        },
    )


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
        required=True,
        validate=validate.Length(min=MIN_QUERY_CHARS, max=MAX_EMAIL_CHARS),
        metadata={
            "description": (
                "At least 2 characters. Finds users with a word of their display name starting with `q` (or several "
                "words in a row: `anna bo` finds Anna Bolt), case-insensitively, or whose email is exactly `q`."
            ),
            "example": "bo",
        },
    )


UserPageSchema = page_schema(PublicUserSchema, "UserPage")
