"""What changed in rooms and messages: the events chat services record (armada.outbox), one per real change.

Each names the change and carries the objects it is about; the emitter (armada.realtime.events) decides who hears
of it and how it is spelled on the wire.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from armada.models import ChatMessage, ChatRoom


@dataclass(frozen=True)
class MessageCreated:
    """A message was sent."""

    message: ChatMessage


@dataclass(frozen=True)
class MessageEdited:
    """A message's text changed."""

    message: ChatMessage


@dataclass(frozen=True)
class MessageDeleted:
    """A message became a tombstone."""

    message: ChatMessage


@dataclass(frozen=True)
class MessagesRead:
    """A member read messages for the first time."""

    room_id: uuid.UUID
    user_id: uuid.UUID
    message_ids: list[uuid.UUID]
    read_at: datetime


@dataclass(frozen=True)
class RoomCreated:
    """A room was made (its members and last message loaded)."""

    room: ChatRoom


@dataclass(frozen=True)
class RoomUpdated:
    """A room's settings or admins changed (its members and last message loaded)."""

    room: ChatRoom


@dataclass(frozen=True)
class MemberAdded:
    """Someone joined a group."""

    room: ChatRoom
    user_id: uuid.UUID


@dataclass(frozen=True)
class MemberRemoved:
    """Someone left a group or was removed from it."""

    room_id: uuid.UUID
    user_id: uuid.UUID


@dataclass(frozen=True)
class ReactionChanged:
    """A user added (or removed) a reaction; `count` is the emoji's count after it."""

    message: ChatMessage
    emoji: str
    user_id: uuid.UUID
    added: bool
    count: int


@dataclass(frozen=True)
class ThreadUpdated:
    """A thread root's summary changed (a reply was sent or deleted)."""

    root: ChatMessage


@dataclass(frozen=True)
class MessagePinned:
    """A message was pinned."""

    message: ChatMessage


@dataclass(frozen=True)
class MessageUnpinned:
    """A message was unpinned."""

    message: ChatMessage


@dataclass(frozen=True)
class Mentioned:
    """Users were newly mentioned by a message (sent or edited)."""

    message: ChatMessage
    user_ids: list[uuid.UUID]
