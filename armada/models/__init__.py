"""The data model; Alembic migrations in migrations/ are the only thing that creates it."""

from armada.models.base import Base, utcnow
from armada.models.chat import (
    ChatMessage,
    ChatRoom,
    ChatRoomMember,
    MessageReadReceipt,
    MessageType,
    RoomType,
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
    "MessageReadReceipt",
    "MessageType",
    "RevokedSession",
    "RoomType",
    "UploadStatus",
    "User",
    "UserNameKey",
    "utcnow",
]
