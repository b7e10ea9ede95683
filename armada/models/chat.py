"""Rooms, memberships, messages and read receipts: the seed's four tables plus what the API needs."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
    true,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from armada.models.base import Base, db_enum, utcnow
from armada.models.user import User


class RoomType(enum.Enum):
    """Kinds of room; the values are what travels on the wire."""

    DIRECT = "direct"
    GROUP = "group"


class MessageType(enum.Enum):
    """Kinds of message; the values are what travels on the wire."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    FILE = "file"


class ThreadSummary(NamedTuple):
    """A thread root's `thread` field: its replies so far."""

    reply_count: int
    last_reply_at: datetime | None
    participant_ids: list[str]


class ChatMessage(Base):
    """A message in a room; deletion leaves a tombstone."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        # The room's timeline: range scans for history pages, catch-up and unread counts.
        UniqueConstraint("room_id", "seq"),
        # Idempotent retries: one message per (room, sender, client-made id).
        UniqueConstraint("room_id", "sender_id", "client_id"),
        # The room's change feed: catch-up of new, edited and deleted messages after a reconnect.
        Index("ix_chat_messages_room_id_change_seq", "room_id", "change_seq"),
        # Threads are one level deep, in the database too: a reply names its root with the root's thread_level,
        # which must be 0 (the root is no reply), and its room, which must be the reply's.
        CheckConstraint(
            "(thread_root_id IS NULL AND thread_level = 0 AND root_thread_level IS NULL)"
            " OR (thread_root_id IS NOT NULL AND thread_level = 1 AND root_thread_level = 0)",
            name="thread_one_level",
        ),
        UniqueConstraint("id", "room_id", "thread_level"),
        ForeignKeyConstraint(
            ["thread_root_id", "room_id", "root_thread_level"],
            ["chat_messages.id", "chat_messages.room_id", "chat_messages.thread_level"],
            name="fk_chat_messages_thread_root",
        ),
        # A thread's replies, in order; and the room's own history, which leaves them out (so a page reads no
        # reply rows, however busy the room's threads).
        Index("ix_chat_messages_thread_root_id_seq", "thread_root_id", "seq"),
        Index(
            "ix_chat_messages_room_id_seq_top_level",
            "room_id",
            "seq",
            postgresql_where=text("thread_root_id IS NULL"),
            sqlite_where=text("thread_root_id IS NULL"),
        ),
        # The room's pins, most recently pinned first; pin_slot caps them (0..99, one message per slot).
        Index("ix_chat_messages_room_id_pinned_at", "room_id", "pinned_at"),
        UniqueConstraint("room_id", "pin_slot"),
        CheckConstraint("pin_slot >= 0 AND pin_slot < 100", name="pin_slot_range"),
        # Search's order, newest first over all rooms: a common word reads it backwards until a page matches.
        Index("ix_chat_messages_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_rooms.id"))
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    # Position in the room, allocated under the room's row lock, so commit order equals seq order and a
    # client catching up with `after=` can never miss a message that committed late.
    seq: Mapped[int] = mapped_column(BigInteger)
    # The room counter's value at this message's latest change (creation, edit or deletion): the change feed.
    change_seq: Mapped[int] = mapped_column(BigInteger)
    message_type: Mapped[MessageType] = mapped_column(db_enum(MessageType, "message_type"))
    content: Mapped[str | None] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(String(1024))
    media_filename: Mapped[str | None] = mapped_column(String(255))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    media_mime_type: Mapped[str | None] = mapped_column(String(255))
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("chat_messages.id"))
    forwarded_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("chat_messages.id"))
    is_edited: Mapped[bool] = mapped_column(default=False)
    edited_at: Mapped[datetime | None]
    is_deleted: Mapped[bool] = mapped_column(default=False)
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    client_id: Mapped[str | None] = mapped_column(String(64))
    # Threads: a reply's root (same room), and on a root the summary its replies keep current.
    thread_root_id: Mapped[uuid.UUID | None] = mapped_column()
    thread_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    root_thread_level: Mapped[int | None] = mapped_column(SmallInteger)
    thread_reply_count: Mapped[int] = mapped_column(default=0)
    thread_last_reply_at: Mapped[datetime | None]
    thread_participant_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Reactions as read: [{emoji, count}] in first-use order, kept by the reaction services (no row counting).
    reaction_summary: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mention_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    mentions_room: Mapped[bool] = mapped_column(default=False)
    pinned_at: Mapped[datetime | None]
    pinned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    pin_slot: Mapped[int | None] = mapped_column(SmallInteger)

    reply_to: Mapped[ChatMessage | None] = relationship(remote_side=[id], foreign_keys=[reply_to_id], viewonly=True)

    # Per-viewer: the emoji the viewer reacted with, filled in by chat.viewer before a REST answer; not a column.
    my_reactions: frozenset[str] = frozenset()

    @property
    def reactions(self) -> list[dict[str, Any]]:
        """`[{emoji, count, me}]` in first-use order; `me` from `my_reactions`."""
        return [{**r, "me": r["emoji"] in self.my_reactions} for r in self.reaction_summary]

    @property
    def thread(self) -> ThreadSummary | None:
        """The root's thread summary, None while it has no replies."""
        if not self.thread_reply_count:
            return None
        return ThreadSummary(self.thread_reply_count, self.thread_last_reply_at, list(self.thread_participant_ids))


class ChatRoom(Base):
    """A direct (two people) or group conversation."""

    __tablename__ = "chat_rooms"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str | None] = mapped_column(String(100))
    room_type: Mapped[RoomType] = mapped_column(db_enum(RoomType, "room_type"))
    description: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_active: Mapped[bool] = mapped_column(default=True)
    # "<smaller user id>:<larger user id>" for direct rooms, so the pair can only ever have one room.
    direct_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    # The room's change counter: every send, edit and delete takes the next value under this row's lock.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # seq of the newest message (last_seq also moves on edits and deletes).
    last_message_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Orders the room list ("most recent activity first").
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)

    active_members: Mapped[list[ChatRoomMember]] = relationship(
        primaryjoin=lambda: and_(ChatRoomMember.room_id == ChatRoom.id, ChatRoomMember.is_active == true()),
        order_by=lambda: (ChatRoomMember.joined_at, ChatRoomMember.id),
        viewonly=True,
    )
    last_message: Mapped[ChatMessage | None] = relationship(
        primaryjoin=lambda: and_(
            foreign(ChatMessage.room_id) == ChatRoom.id, foreign(ChatMessage.seq) == ChatRoom.last_message_seq
        ),
        viewonly=True,
        uselist=False,
    )

    # Per-viewer values filled in by the room services before serialization; not columns.
    unread_count: int = 0
    mention_count: int = 0
    # The room list's members (room_views.MemberView, read without ORM objects), served for active_members when set.
    member_views: tuple[Any, ...] = ()


class ChatRoomMember(Base):
    """A user's membership of a room; leaving or removal sets is_active False (kept for history)."""

    __tablename__ = "chat_room_members"
    __table_args__ = (
        UniqueConstraint("room_id", "user_id"),
        # "My rooms": the room list starts here.
        Index("ix_chat_room_members_user_id_is_active", "user_id", "is_active"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_rooms.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_read_at: Mapped[datetime | None]
    # seq of the newest message this member has read; unread = later messages from others.
    last_read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class MessageReadReceipt(Base):
    """That a user has read a message, and when."""

    __tablename__ = "message_read_receipts"
    # Also the "receipts by message" index.
    __table_args__ = (UniqueConstraint("message_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_messages.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageReaction(Base):
    """One user's reaction with one emoji to a message."""

    __tablename__ = "message_reactions"
    __table_args__ = (
        # One reaction per (message, emoji, user); also the reactors of an emoji, oldest first, and "mine".
        UniqueConstraint("message_id", "emoji", "user_id"),
        Index("ix_message_reactions_message_id_emoji_created_at", "message_id", "emoji", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_messages.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    emoji: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class MessageMention(Base):
    """That a message mentions a user by id: what mention counts are read from."""

    __tablename__ = "message_mentions"
    __table_args__ = (
        # A user's mentions in a room after their read pointer (the room list's mention_count).
        Index("ix_message_mentions_user_id_room_id_seq", "user_id", "room_id", "seq"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_messages.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_rooms.id"))
    seq: Mapped[int] = mapped_column(BigInteger)


class MessageEdit(Base):
    """An earlier version of a message's text, and when it was replaced."""

    __tablename__ = "message_edits"
    __table_args__ = (Index("ix_message_edits_message_id_edited_at", "message_id", "edited_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_messages.id"))
    content: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThreadFollow(Base):
    """A user's place in a thread: whether they follow it, and the newest reply they have read."""

    __tablename__ = "thread_follows"
    __table_args__ = (Index("ix_thread_follows_user_id_following", "user_id", "following"),)

    root_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_messages.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_rooms.id"))
    following: Mapped[bool] = mapped_column(default=True)
    last_read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
