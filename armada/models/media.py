"""Uploaded media objects: what Armada stored for whom, so messages can only carry the sender's own uploads."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from armada.models.base import Base, db_enum, utcnow
from armada.models.chat import MessageType


class UploadStatus(enum.Enum):
    """A direct upload is pending until a message using it has checked the stored bytes."""

    PENDING = "pending"
    READY = "ready"


class MediaUpload(Base):
    """One stored object, made through POST /api/chat/upload or a signed upload URL.

    Image uploads also have a thumbnail object at `thumbnail_key(key)`.
    """

    __tablename__ = "media_uploads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The storage key (also the message's media_url column): "<uploader id>/<random hex><safe extension>".
    key: Mapped[str] = mapped_column(String(255), unique=True)
    uploader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    # The uploader's filename, cleaned, for display and as the download name only.
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(127))
    message_type: Mapped[MessageType] = mapped_column(db_enum(MessageType, "upload_message_type"))
    status: Mapped[UploadStatus] = mapped_column(db_enum(UploadStatus, "upload_status"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
