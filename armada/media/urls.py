"""Armada's own signed, expiring media links: made fresh whenever a response is serialized, never stored.

A link names the object, its download name and type, and whether it may be shown inline. Signing is a local
HMAC for every backend, so a page of 100 messages costs no call to the storage service; the link's handler
asks the backend (Supabase: for its own short-lived signed URL) only when someone actually opens it.
Schemas import `links` from here rather than from the services, which need the database and storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from armada.errors import Forbidden
from armada.media import files
from armada.models import MessageType

_SALT = "armada.media.download"


@dataclass(frozen=True)
class MediaLink:
    """What a verified link grants."""

    key: str
    filename: str
    mime_type: str
    inline: bool


def thumbnail_key(key: str) -> str:
    """Where an image upload's thumbnail is stored."""
    return f"{key}.thumb.webp"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def signed_url(key: str, filename: str, mime_type: str, inline: bool) -> str:
    """An absolute, expiring link to one stored object."""
    token = _serializer().dumps([key, filename, mime_type, inline])
    return url_for("media.download", token=token, _external=True)


def verify(token: str) -> MediaLink:
    """The grant of a link; 403 when it was tampered with or has expired."""
    try:
        key, filename, mime_type, inline = _serializer().loads(token, max_age=current_app.config["MEDIA_URL_EXPIRES"])
    except SignatureExpired:
        raise Forbidden(
            "This media link has expired; fetch the message again for a fresh one.", code="link_expired"
        ) from None
    except (BadSignature, ValueError, TypeError):
        raise Forbidden("This media link is not valid.", code="invalid_link") from None
    return MediaLink(key, filename, mime_type, bool(inline))


def key_of(url_or_path: str) -> str:
    """The object key a client refers to: one of our links (expired or not), or the upload's `path` itself."""
    token = url_or_path.rstrip("/").rsplit("/", 1)[-1] if "://" in url_or_path else None
    if token:
        try:
            return str(_serializer().loads(token)[0])  # no max_age: only which object is meant matters here
        except (BadSignature, ValueError, TypeError, IndexError):
            return url_or_path  # a foreign URL: it matches no upload and is refused by the caller
    return url_or_path


def links(
    key: str | None, filename: str | None, mime_type: str | None, message_type: MessageType
) -> tuple[str | None, str | None]:
    """Fresh signed (url, thumbnail_url) for a stored object, as responses show them."""
    if not key:
        return None, None
    mime = mime_type or files.OPAQUE
    inline = mime in files.INLINE_TYPES.get(message_type, frozenset())
    url = signed_url(key, filename or "file", mime, inline)
    if message_type is not MessageType.IMAGE:
        return url, None
    return url, signed_url(thumbnail_key(key), f"thumbnail-{filename or 'image'}.webp", files.THUMBNAIL_TYPE, True)
