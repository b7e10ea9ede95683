"""The data model; Alembic migrations in migrations/ are the only thing that creates it."""

from armada.models.base import Base, utcnow
from armada.models.chat import (
    ChatMessage,
    ChatRoom,
    ChatRoomMember,
    MessageEdit,
    MessageMention,
    MessageReaction,
    MessageReadReceipt,
    MessageType,
    RoomType,
    ThreadFollow,
    ThreadSummary,
)
from armada.models.media import MediaUpload, UploadStatus
from armada.models.user import Invite, RevokedSession, User, UserNameKey

__all__ = [
    "Base",
    "ChatMessage",
    "ChatRoom",
    "ChatRoomMember",
    "Invite",
    "MediaUpload",
    "MessageEdit",
    "MessageMention",
    "MessageReaction",
    "MessageReadReceipt",
    "MessageType",
    "RevokedSession",
    "RoomType",
    "ThreadFollow",
    "ThreadSummary",
    "UploadStatus",
    "User",
    "UserNameKey",
    "utcnow",
]
