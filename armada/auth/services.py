"""Accounts: creation, password checks and logout."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from armada import outbox
from armada.auth.directory import index_name, normalize_email
from armada.auth.events import SessionRevoked
from armada.database import chunked, insert_skipping_duplicates
from armada.errors import Conflict, Unauthorized
from armada.extensions import db
from armada.models import RevokedSession, User, utcnow
from armada.transaction import transactional

# Compared against when the email is unknown, so a miss costs the same time as a wrong password.
_DUMMY_HASH: dict[str, str] = {}


def _hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@transactional
def register_user(email: str, password: str, display_name: str) -> User:
    """Create an account; an email already in use is a 409."""
    user = User(email=normalize_email(email), password_hash=_hash_password(password), display_name=display_name)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("An account with this email already exists.", code="email_taken") from None
    index_name(user)
    return user


def authenticate(email: str, password: str) -> User:
    """The user with these credentials; any failure is the same 401, whether or not the email exists."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if method not in _DUMMY_HASH:
            _DUMMY_HASH[method] = _hash_password("not-a-real-password")
        check_password_hash(_DUMMY_HASH[method], password)
    elif check_password_hash(user.password_hash, password):
        return user
    raise Unauthorized("The email or password is incorrect.", code="invalid_credentials")


@transactional
def logout(sid: str) -> None:
    """Revoke a login session: its access and refresh tokens stop working, across restarts."""
    now = utcnow()
    # Every token of the session was issued before now, so none outlives now + the refresh lifetime.
    lifetime: timedelta = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    # Skipping an existing row, rather than looking first: a concurrent logout with the same token may commit
    # between a look-up and the insert, and the session is just as revoked either way.
    db.session.execute(insert_skipping_duplicates(RevokedSession, "sid").values(sid=sid, expires_at=now + lifetime))
    # Rows whose tokens have all expired protect nothing; prune them as we go.
    db.session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    outbox.record(SessionRevoked(sid))


def revoked_sessions(sids: Iterable[str]) -> set[str]:
    """Which of these login sessions have logged out."""
    return {
        sid
        for chunk in chunked(sids)
        for sid in db.session.scalars(select(RevokedSession.sid).where(RevokedSession.sid.in_(chunk)))
    }
