"""Users and revoked login sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from armada.models.base import Base, utcnow


class User(Base):
    """A person who can log in and chat."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Stored lower-cased, so the unique key is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedSession(Base):
    """A logged-out session: every access and refresh token carrying its `sid` is refused."""

    __tablename__ = "revoked_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Once every token of the session has expired the row is useless and may be purged.
    expires_at: Mapped[datetime] = mapped_column(index=True)
