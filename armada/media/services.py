"""Media services: uploads (through Armada or straight to storage), media on messages, and purging."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, false, select, true, update

from armada.database import chunked
from armada.errors import Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from armada.extensions import db
from armada.media import files, urls
from armada.media.storage import ObjectMissing, SignedUpload, storage
from armada.media.urls import thumbnail_key
from armada.models import ChatMessage, MediaUpload, MessageType, UploadStatus, User, utcnow
from armada.permissions import access_upload
from armada.transaction import transactional


def _new_key(user: User, extension: str) -> str:
    # Generated, never derived from the user's filename: no traversal, no clashes, nothing to guess.
    return f"{user.id}/{uuid.uuid4().hex}{extension}"


def _check_size(size: int) -> None:
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if size > limit:
        raise PayloadTooLarge(f"Files may be at most {limit} bytes.", code="file_too_large")
    if size <= 0:
        raise ValidationFailed.field("file", "The file is empty.")


def _store(key: str, data: bytes, sniffed: files.Sniffed) -> None:
    """Store an upload, plus a thumbnail for an image (made first: an image that cannot be decoded is refused)."""
    thumb = None
    if sniffed.message_type is MessageType.IMAGE:
        thumb = files.thumbnail(data, current_app.config["MAX_IMAGE_PIXELS"])
    storage().put(key, data, sniffed.mime_type)
    if thumb is not None:
        storage().put(thumbnail_key(key), thumb, files.THUMBNAIL_TYPE)


@transactional
def upload_file(user: User, data: bytes, filename: str | None, declared_type: str | None) -> MediaUpload:
    """Store a file sent through Armada; its type comes from its bytes."""
    _check_size(len(data))
    name = files.clean_filename(filename)
    sniffed = files.sniff(data, name, declared_type)
    upload = MediaUpload(
        key=_new_key(user, sniffed.extension),
        uploader_id=user.id,
        filename=name,
        size=len(data),
        mime_type=sniffed.mime_type,
        message_type=sniffed.message_type,
        status=UploadStatus.READY,
    )
    _store(upload.key, data, sniffed)
    db.session.add(upload)
    return upload


@transactional
def issue_upload_url(user: User, filename: str, mime_type: str, size: int) -> tuple[MediaUpload, SignedUpload]:
    """A URL to upload one file straight to storage; the file is checked when a message first uses it."""
    _check_size(size)
    name = files.clean_filename(filename)
    kind = files.kind_of(mime_type) or MessageType.FILE
    upload = MediaUpload(
        key=_new_key(user, files.SAFE_EXTENSIONS.get(mime_type, ".bin")),
        uploader_id=user.id,
        filename=name,
        size=size,
        mime_type=mime_type,
        message_type=kind,
        status=UploadStatus.PENDING,
    )
    db.session.add(upload)
    db.session.flush()
    return upload, storage().sign_upload(upload.key, mime_type, current_app.config["MEDIA_URL_EXPIRES"])


def receive_direct_upload(token: str, data: bytes, content_type: str | None) -> None:
    """Store the bytes PUT to one of Armada's own signed upload URLs (once per URL)."""
    backend = storage()
    if not backend.receives_direct_uploads:
        raise NotFound()  # this backend's upload URLs lead to the backend itself, never here
    allowed = backend.read_upload_token(token, max_age=current_app.config["MEDIA_URL_EXPIRES"])
    if allowed is None:
        raise Forbidden("This upload URL is not valid or has expired.", code="invalid_link")
    key, signed_type = allowed
    if len(data) > current_app.config["MAX_UPLOAD_BYTES"]:
        raise PayloadTooLarge("The file is too large.", code="file_too_large")
    try:
        backend.put(key, data, content_type or signed_type)
    except FileExistsError:
        raise Forbidden("This upload URL has been used.", code="invalid_link") from None


def _verify_direct_upload(upload: MediaUpload) -> None:
    """Check what the client put at a signed upload URL: present, within the cap, and of the type it claimed."""
    size = storage().size(upload.key)
    if size is None:
        raise ValidationFailed.field("media_url", "Nothing has been uploaded to this URL yet.")
    _check_size(size)  # before downloading: the backend may have accepted more than our cap
    try:
        data = storage().get(upload.key)
    except ObjectMissing:
        raise ValidationFailed.field("media_url", "Nothing has been uploaded to this URL yet.") from None
    sniffed = files.sniff(data, upload.filename, upload.mime_type)
    # A send that fails after this point (or a retry) checks again; the thumbnail may already be there.
    if sniffed.message_type is MessageType.IMAGE and storage().size(thumbnail_key(upload.key)) is None:
        thumb = files.thumbnail(data, current_app.config["MAX_IMAGE_PIXELS"])
        storage().put(thumbnail_key(upload.key), thumb, files.THUMBNAIL_TYPE)
    upload.size, upload.mime_type, upload.message_type = len(data), sniffed.mime_type, sniffed.message_type
    upload.status = UploadStatus.READY


def attach_media(user: User, message_type: MessageType, media_url: str | None) -> dict[str, object]:
    """The media columns of a new message: the sender's own upload, with size and type from storage."""
    if not media_url:
        raise ValidationFailed.field("media_url", f"A {message_type.value} message needs an uploaded file.")
    upload = access_upload(user, urls.key_of(media_url))
    if upload.status is UploadStatus.PENDING:
        _verify_direct_upload(upload)
    if message_type not in (upload.message_type, MessageType.FILE):
        raise ValidationFailed.field(
            "message_type", f"This upload is {upload.mime_type}: send it as {upload.message_type.value} or file."
        )
    return {
        "media_url": upload.key,
        "media_filename": upload.filename,
        "media_size": upload.size,
        "media_mime_type": upload.mime_type,
    }


@dataclass(frozen=True)
class PurgeReport:
    """What purge_media removed."""

    deleted_message_objects: int
    orphaned_uploads: int


@transactional
def purge_media(older_than: timedelta, now: datetime | None = None) -> PurgeReport:
    """Remove stored media of messages deleted before the cutoff, and uploads no message ever used."""
    cutoff = (now or utcnow()) - older_than
    deleted_keys: set[str] = set(
        db.session.scalars(
            select(ChatMessage.media_url).where(
                ChatMessage.is_deleted == true(), ChatMessage.deleted_at < cutoff, ChatMessage.media_url.is_not(None)
            )
        )
    )
    # A forward shares its original's object: it stays while any live message still shows it.
    still_shown = {
        key
        for chunk in chunked(deleted_keys)
        for key in db.session.scalars(
            select(ChatMessage.media_url).where(ChatMessage.media_url.in_(chunk), ChatMessage.is_deleted == false())
        )
    }
    doomed = deleted_keys - still_shown
    orphans = set(
        db.session.scalars(
            select(MediaUpload.key).where(
                MediaUpload.created_at < cutoff,
                ~exists().where(ChatMessage.media_url == MediaUpload.key),
            )
        )
    )
    storage().delete([k for key in sorted(doomed | orphans) for k in (key, thumbnail_key(key))])
    for chunk in chunked(deleted_keys):
        db.session.execute(
            update(ChatMessage)
            .where(ChatMessage.media_url.in_(chunk), ChatMessage.is_deleted == true(), ChatMessage.deleted_at < cutoff)
            .values(media_url=None)
        )
    for chunk in chunked(doomed | orphans):
        db.session.execute(delete(MediaUpload).where(MediaUpload.key.in_(chunk)))
    return PurgeReport(len(doomed), len(orphans))
