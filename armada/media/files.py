"""What uploaded bytes are: type sniffing, filename cleaning and image thumbnails."""

from __future__ import annotations

import io
import mimetypes
import unicodedata
import warnings
from dataclasses import dataclass

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

from armada.errors import UnsupportedMediaType, ValidationFailed
from armada.models import MessageType

# What may be shown inline, by kind; anything else is a plain `file`, always served as an attachment.
INLINE_TYPES: dict[MessageType, frozenset[str]] = {
    MessageType.IMAGE: frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
    MessageType.VIDEO: frozenset({"video/mp4", "video/webm", "video/quicktime"}),
    MessageType.AUDIO: frozenset(
        {"audio/mpeg", "audio/ogg", "audio/x-wav", "audio/wav", "audio/mp4", "audio/aac", "audio/x-flac", "audio/webm"}
    ),
}
SAFE_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov",
    "audio/mpeg": ".mp3", "audio/ogg": ".ogg", "audio/x-wav": ".wav", "audio/wav": ".wav", "audio/mp4": ".m4a",
    "audio/aac": ".aac", "audio/x-flac": ".flac", "audio/webm": ".weba", "application/pdf": ".pdf",
}  # fmt: skip
# MP4 and WebM hold a video or only sound (a voice note): such bytes are audio when the client says so first.
AUDIO_CONTAINERS = {"video/mp4": "audio/mp4", "video/webm": "audio/webm"}
OPAQUE = "application/octet-stream"
THUMBNAIL_SIZE = (320, 320)
THUMBNAIL_TYPE = "image/webp"


@dataclass(frozen=True)
class Sniffed:
    """The type the bytes really have, and what kind of message they make."""

    mime_type: str
    message_type: MessageType
    extension: str


def kind_of(mime_type: str | None) -> MessageType | None:
    """The media kind a MIME type claims (image/video/audio), or None."""
    if not mime_type:
        return None
    major = mime_type.split("/", 1)[0].lower()
    return {"image": MessageType.IMAGE, "video": MessageType.VIDEO, "audio": MessageType.AUDIO}.get(major)


def sniff(head: bytes, filename: str, declared: str | None) -> Sniffed:
    """Classify uploaded bytes; a filename or declared type that claims another kind of media is a 415."""
    if not head:
        raise ValidationFailed.field("file", "The file is empty.")
    guess = filetype.guess_mime(head)
    claims = [claim for claim in (declared, mimetypes.guess_type(filename)[0]) if claim]
    container = guess in AUDIO_CONTAINERS
    if container and kind_of(claims[0] if claims else None) is MessageType.AUDIO:
        guess = AUDIO_CONTAINERS[guess]
    actual = next((kind for kind, types in INLINE_TYPES.items() if guess in types), MessageType.FILE)
    for claim in claims:
        claimed = kind_of(claim)
        if container and claimed in (MessageType.AUDIO, MessageType.VIDEO):
            continue  # the bytes fit either (voice.webm declared audio/webm)
        # Only a claim to be media we show inline can be a lie worth refusing: an SVG (active content) or a TIFF
        # named and typed as such is kept as a plain file whatever its bytes are.
        if claimed is not None and claimed is not actual and claim.lower() in INLINE_TYPES[claimed]:
            raise UnsupportedMediaType(
                f"The file claims to be {claim} but its contents are {guess or 'not a recognised media type'}.",
                code="media_type_mismatch",
            )
    mime = guess if actual is not MessageType.FILE or guess == "application/pdf" else OPAQUE
    # Active content (HTML, SVG, scripts) is never recognised as media, so it is stored as opaque bytes.
    return Sniffed(mime, actual, SAFE_EXTENSIONS.get(mime, ".bin"))


def clean_filename(raw: str | None) -> str:
    """A display name that is harmless anywhere: no path, no control or bidi characters, at most 255 chars."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: NUL and other controls; Cf: format characters such as U+202E RIGHT-TO-LEFT OVERRIDE; Cs: surrogates.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs")).strip().strip(".")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: 254 - len(ext)]}.{ext}" if dot and len(ext) <= 16 else name[:255]
    return name or "file"


def thumbnail(data: bytes, max_pixels: int) -> bytes:
    """A small WebP of an image, upright per its EXIF orientation and stripped of metadata.

    Images over max_pixels are refused from their header, before any pixel is decoded.
    """
    with warnings.catch_warnings():
        # Pillow's own process-wide bomb guard only warns below twice its limit: make it a refusal too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > max_pixels:
                    raise Image.DecompressionBombError("over MAX_IMAGE_PIXELS")
                image.draft("RGB", THUMBNAIL_SIZE)  # JPEG: decode at reduced scale
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail(THUMBNAIL_SIZE)
                converted = upright.convert("RGBA" if upright.mode in ("RGBA", "LA", "P") else "RGB")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValidationFailed.field("file", "The image has too many pixels.") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ValidationFailed.field("file", "The image cannot be decoded.") from None
    out = io.BytesIO()
    converted.save(out, "WEBP", quality=80)  # a new image: no EXIF or other metadata is carried over
    return out.getvalue()
