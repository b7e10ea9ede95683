"""Who may register: the REGISTRATION mode, the allowed email domains, and invites."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from armada.auth.services import register_user
from armada.errors import Forbidden
from armada.extensions import db
from armada.models import Invite, User, utcnow
from armada.transaction import transactional

MODES = ("open", "invite", "closed")
MAX_INVITE_USES = 1_000_000
MAX_INVITE_DAYS = 3650
_CODE_BYTES = 18  # 144 random bits: no rate limit is needed against guessing


def registration_mode() -> str:
    """`open`, `invite` or `closed` (the REGISTRATION setting)."""
    mode: str = current_app.config["REGISTRATION"]
    return mode


def _code_hash(code: str) -> str:
    # A fast hash is enough: the code is random and long, unlike a password.
    return hashlib.sha256(code.encode()).hexdigest()


@transactional
def create_invite(uses: int, expires_in: timedelta) -> str:
    """Store a new invite good for `uses` registrations within `expires_in`; the code, which only its hash keeps."""
    code = secrets.token_urlsafe(_CODE_BYTES)
    db.session.add(Invite(code_hash=_code_hash(code), uses_left=uses, expires_at=utcnow() + expires_in))
    return code


def use_invite(code: str | None) -> None:
    """Spend one use of an invite, in the caller's unit of work; a missing, unknown, expired or used-up one is a 403.

    One conditional UPDATE: parallel registrations with the last use queue on the row, and only the first still
    finds a use left.
    """
    if code:
        spent = db.session.execute(
            update(Invite)
            .where(Invite.code_hash == _code_hash(code), Invite.uses_left > 0, Invite.expires_at > utcnow())
            .values(uses_left=Invite.uses_left - 1)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount == 1:  # type: ignore[attr-defined]
            return
    raise Forbidden("This invite code is unknown, expired or used up.", code="invalid_invite")


def check_email_domain(email: str) -> None:
    """Refuse an email outside REGISTRATION_EMAIL_DOMAINS (when set): the whole domain must be one of them."""
    allowed: frozenset[str] = current_app.config["REGISTRATION_EMAIL_DOMAINS"]
    if allowed and email.rpartition("@")[2].strip().lower() not in allowed:
        raise Forbidden("Accounts with this email domain cannot be registered here.", code="email_domain_not_allowed")


@transactional
def sign_up(email: str, password: str, display_name: str, invite_code: str | None = None) -> User:
    """Register through the API, as REGISTRATION and REGISTRATION_EMAIL_DOMAINS allow."""
    mode = registration_mode()
    if mode == "closed":
        raise Forbidden("Registration is closed; an administrator creates accounts.", code="registration_closed")
    check_email_domain(email)
    if mode == "invite":
        use_invite(invite_code)
    # A refused registration (email taken) rolls the invite's use back with it.
    return register_user(email, password, display_name)
