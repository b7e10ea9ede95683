"""Users and revoked login sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from armada.models.base import Base, utcnow

# Byte order on PostgreSQL whatever the database's collation, so a range over it is exactly "starts with" (SQLite
# compares text bytewise already).
NAME_KEY_TYPE = String(100).with_variant(String(100, collation="C"), "postgresql")


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


class UserNameKey(Base):
    """The directory's index of display names: the folded name from the start of each of its words on, so a
    search for a prefix of any word (or of several words in a row) is one index range."""

    __tablename__ = "user_name_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(NAME_KEY_TYPE, primary_key=True)

    __table_args__ = (Index("ix_user_name_keys_key_user_id", "key", "user_id"),)


class Invite(Base):
    """A registration invite (REGISTRATION=invite); only a hash of its code is stored."""

    __tablename__ = "invites"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    uses_left: Mapped[int]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedSession(Base):
    """A logged-out session: every access and refresh token carrying its `sid` is refused."""

    __tablename__ = "revoked_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Once every token of the session has expired the row is useless and may be purged.
    expires_at: Mapped[datetime] = mapped_column(index=True)
