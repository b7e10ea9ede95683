"""JWT issuing and checking: `sub` is the user id, `sid` ties a login's tokens together for logout."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import ExpiredSignatureError, InvalidTokenError
from sqlalchemy import bindparam, select

from armada.errors import Unauthorized, error_response
from armada.extensions import db, jwt
from armada.models import RevokedSession, User
from armada.thirdparty.flask_jwt_extended import decode_each_token_once


def issue_tokens(user: User) -> dict[str, str]:
    """A fresh access and refresh token pair for a new login session."""
    claims = {"sid": secrets.token_urlsafe(24)}
    return {
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=claims),
    }


def issue_access_token(user: User, sid: str) -> str:
    """A new access token for an existing session (the refresh flow)."""
    token: str = create_access_token(identity=str(user.id), additional_claims={"sid": sid})
    return token


def is_session_revoked(sid: str, user_id: uuid.UUID | None = None) -> bool:
    """Whether the login session has been logged out.

    Given the token's user id, the same query also loads that user into the session's identity map, so the
    user lookup that follows every check costs no second round trip (it is on every authenticated request).
    """
    if user_id is not None:
        row = db.session.execute(_USER_AND_REVOKED, {"sid": sid, "user_id": user_id}).first()
        if row is not None:
            # The identity map holds objects weakly: keep the user for the lookup until the session ends.
            db.session.info[_TOKEN_USER] = row[0]
            return bool(row[1])
    return bool(db.session.scalar(_REVOKED, {"sid": sid}))


# Built once, with parameters: on every request and socket event, building them anew cost more CPU than the
# round trip's own work in Python.
_REVOKED_ROW = select(RevokedSession.sid).where(RevokedSession.sid == bindparam("sid")).exists()
_USER_AND_REVOKED = select(User, _REVOKED_ROW).where(User.id == bindparam("user_id"))
_REVOKED = select(_REVOKED_ROW)


_TOKEN_USER = "armada.token_user"


def token_user(user_id: uuid.UUID) -> User | None:
    """The token's user: the one `is_session_revoked` loaded, else from the database."""
    user = db.session.info.get(_TOKEN_USER)
    return user if user is not None and user.id == user_id else db.session.get(User, user_id)


@dataclass(frozen=True)
class TokenIdentity:
    """Who an access token speaks for, and until when."""

    user_id: uuid.UUID
    sid: str
    expires_at: int  # unix seconds


def decode_access_token(token: object) -> TokenIdentity:
    """An access token's identity if it is well-formed, signed by this server and unexpired (no database read;
    check_session then checks it the rest of the way REST does, for Socket.IO); any failure is Unauthorized."""
    if not isinstance(token, str) or not token:
        raise Unauthorized("Send an access token in the auth payload: {token: ...}.", code="authorization_required")
    try:
        payload = decode_token(token)
    except ExpiredSignatureError:
        raise Unauthorized("The token has expired; refresh it and reconnect.", code="token_expired") from None
    except (InvalidTokenError, JWTExtendedException) as exc:
        raise Unauthorized(f"The token is invalid: {exc}.", code="invalid_token") from None
    user_id, sid, exp = decode_subject(payload.get("sub")), payload.get("sid"), payload.get("exp")
    if payload.get("type") != "access" or not isinstance(sid, str) or not isinstance(exp, int) or user_id is None:
        raise Unauthorized("The token is invalid: not an access token of this server.", code="invalid_token")
    return TokenIdentity(user_id, sid, exp)


def check_session(identity: TokenIdentity) -> None:
    """Refuse an identity whose session was logged out or whose user no longer exists (one statement)."""
    if is_session_revoked(identity.sid, identity.user_id):
        raise Unauthorized("The token has been revoked (logged out); log in again.", code="token_revoked")
    if token_user(identity.user_id) is None:
        raise Unauthorized("The token's user no longer exists.", code="invalid_token")


def decode_subject(sub: Any) -> uuid.UUID | None:
    """The user id in a token's `sub`, or None when it is not a UUID."""
    try:
        return uuid.UUID(str(sub))
    except ValueError:
        return None


def _unauthorized(code: str, message: str) -> tuple[Response, int]:
    return error_response(Unauthorized(message, code=code))


def init_app(app: Flask) -> None:
    """Bind flask-jwt-extended and make every token failure a 401 in the API's error format."""
    jwt.init_app(app)
    decode_each_token_once(jwt)  # revocation is still read on every use (check_revoked, check_session)

    @jwt.user_lookup_loader
    def load_user(_header: dict[str, Any], payload: dict[str, Any]) -> User | None:
        user_id = decode_subject(payload.get("sub"))
        return token_user(user_id) if user_id else None

    @jwt.token_in_blocklist_loader
    def check_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        # Runs before verify_claims: a token without a string `sid` is left for verify_claims to refuse.
        sid = payload.get("sid")
        return isinstance(sid, str) and is_session_revoked(sid, decode_subject(payload.get("sub")))

    @jwt.token_verification_loader
    def verify_claims(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        # PyJWT checks `exp` only when present: a token without one, or without a session, is refused.
        return isinstance(payload.get("exp"), int) and isinstance(payload.get("sid"), str)

    @jwt.unauthorized_loader
    def missing_token(reason: str) -> tuple[Response, int]:
        return _unauthorized("authorization_required", "Send a bearer token in the Authorization header.")

    @jwt.invalid_token_loader
    def invalid_token(reason: str) -> tuple[Response, int]:
        return _unauthorized("invalid_token", f"The token is invalid: {reason}.")

    @jwt.expired_token_loader
    def expired_token(_header: dict[str, Any], payload: dict[str, Any]) -> tuple[Response, int]:
        return _unauthorized("token_expired", "The token has expired; refresh it or log in again.")

    @jwt.revoked_token_loader
    def revoked_token(_header: dict[str, Any], payload: dict[str, Any]) -> tuple[Response, int]:
        return _unauthorized("token_revoked", "The token has been revoked (logged out); log in again.")

    @jwt.token_verification_failed_loader
    def failed_verification(_header: dict[str, Any], payload: dict[str, Any]) -> tuple[Response, int]:
        return _unauthorized("invalid_token", "The token lacks required claims.")

    @jwt.user_lookup_error_loader
    def unknown_user(_header: dict[str, Any], payload: dict[str, Any]) -> tuple[Response, int]:
        return _unauthorized("invalid_token", "The token's user no longer exists.")
