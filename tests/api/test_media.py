"""Media through the API, the same tests on every storage backend: uploads, links, types, names, thumbnails."""

from __future__ import annotations

import io
import re
import time
import uuid
from typing import Any

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from PIL import Image

from armada.extensions import db
from armada.models import ChatMessage, MediaUpload
from tests.helpers.media_support import (
    HTML,
    MB,
    MESSAGES,
    MP3,
    SVG,
    UPLOAD,
    Backend,
    Media,
    disposition,
    image_bytes,
    jpeg,
    multipart_file,
    open_image,
    png,
    png_bomb,
)
from tests.helpers.support import Actor, assert_error

KEY_SHAPE = re.compile(r"^(?P<owner>[0-9a-f-]{36})/[0-9a-f]{32}\.[a-z0-9]+$")
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(512)
WEBM = b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm" + bytes(512)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(512)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
OPAQUE = "application/octet-stream"

pytest_plugins = ["tests.helpers.media_fixtures"]  # the backend-parametrized `media` fixture


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def with_token(url: str, token: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{token}"


def link_payload(app: Flask, url: str) -> Any:
    """What one of Armada's links names (read with the app's secret, as only the server can)."""
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="armada.media.download").loads(token_of(url))


class TwoHoursAgoSigner(TimestampSigner):
    """Signs as if it were two hours ago."""

    def get_timestamp(self) -> int:
        return int(time.time()) - 2 * 3600


def image_message(media: Media, sender: Actor, room: dict[str, Any], data: bytes | None = None) -> dict[str, Any]:
    upload = media.uploaded(sender, data or jpeg(), "holiday.jpg")
    return media.sent(sender, room, message_type="image", media_url=upload["url"])


def upload_count(media: Media) -> int:
    with media.app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(MediaUpload))
        db.session.remove()
        return int(count or 0)


# --- round trip -------------------------------------------------------------------------------------------------------


def test_upload_result_describes_the_stored_object(media: Media) -> None:
    alice = media.user()
    data = jpeg()
    body = media.uploaded(alice, data, "holiday.jpg")
    assert set(body) == {"url", "path", "filename", "size", "mime_type", "message_type", "thumbnail_url"}
    assert (body["filename"], body["size"], body["mime_type"], body["message_type"]) == (
        "holiday.jpg",
        len(data),
        "image/jpeg",
        "image",
    )
    assert KEY_SHAPE.match(body["path"])["owner"] == alice.id
    assert body["url"].startswith("http://localhost/api/media/")
    assert body["thumbnail_url"].startswith("http://localhost/api/media/")
    assert media.fetch(body["url"]).body == data
    assert media.stored(body["path"]) == len(data)


@pytest.mark.parametrize("reference", ["url", "path"])
def test_another_member_gets_the_exact_bytes_through_the_message_link(media: Media, reference: str) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    data = jpeg(800, 600)
    upload = media.uploaded(alice, data, "holiday.jpg")
    sent = media.sent(alice, room, message_type="image", media_url=upload[reference], content="Look!")
    seen = media.message_in_room(bob, room, sent["id"])
    assert (seen["content"], seen["media_filename"], seen["media_size"], seen["media_mime_type"]) == (
        "Look!",
        "holiday.jpg",
        len(data),
        "image/jpeg",
    )
    got = media.fetch(seen["media_url"])
    assert got.status == 200
    assert got.body == data
    assert got.headers["Content-Type"] == "image/jpeg"
    assert disposition(got.headers)[0] != "attachment"  # an allowed image is shown inline


def test_size_type_and_filename_come_from_the_upload_not_the_client(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_direct(bob)
    data = png()
    upload = media.uploaded(alice, data, "chart.png")
    sent = media.sent(
        alice,
        room,
        message_type="image",
        media_url=upload["path"],
        media_size=1,
        media_mime_type="text/html",
        media_filename="evil.exe",
    )
    assert (sent["media_size"], sent["media_mime_type"], sent["media_filename"]) == (
        len(data),
        "image/png",
        "chart.png",
    )
    got = media.fetch(sent["media_url"])
    assert (got.body, got.headers["Content-Type"]) == (data, "image/png")


def test_only_the_storage_key_is_stored_never_a_signed_link(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, jpeg(), "a.jpg")
    sent = media.sent(alice, room, message_type="image", media_url=upload["url"])
    with media.app.app_context():
        stored = db.session.scalar(db.select(ChatMessage.media_url).where(ChatMessage.id == uuid.UUID(sent["id"])))
        db.session.remove()
    assert stored == upload["path"]
    assert link_payload(media.app, sent["media_url"])[0] == upload["path"]


@pytest.mark.parametrize(
    ("data", "filename", "mime_type", "message_type"),
    [
        (image_bytes("JPEG"), "a.jpg", "image/jpeg", "image"),
        (image_bytes("PNG"), "a.png", "image/png", "image"),
        (image_bytes("GIF"), "a.gif", "image/gif", "image"),
        (image_bytes("WEBP"), "a.webp", "image/webp", "image"),
        (MP4, "clip.mp4", "video/mp4", "video"),
        (MP3, "song.mp3", "audio/mpeg", "audio"),
        (WAV, "voice.wav", "audio/x-wav", "audio"),
        (MP4, "voice.m4a", "audio/mp4", "audio"),
        (WEBM, "clip.webm", "video/webm", "video"),
        (PDF, "report.pdf", "application/pdf", "file"),
        (b"PK\x03\x04" + bytes(100), "archive.zip", OPAQUE, "file"),
        (b"just some notes\n", "notes.txt", OPAQUE, "file"),
    ],
    ids=["jpeg", "png", "gif", "webp", "mp4", "mp3", "wav", "m4a", "webm", "pdf", "zip", "text"],
)
def test_each_kind_is_recognised_from_its_bytes_and_sent_as_that_kind(
    media: Media, data: bytes, filename: str, mime_type: str, message_type: str
) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, data, filename)
    assert (upload["mime_type"], upload["message_type"], upload["size"]) == (mime_type, message_type, len(data))
    assert (upload["thumbnail_url"] is not None) == (message_type == "image")
    sent = media.sent(alice, room, message_type=message_type, media_url=upload["path"])
    seen = media.message_in_room(bob, room, sent["id"])
    assert (seen["message_type"], seen["media_mime_type"]) == (message_type, mime_type)
    got = media.fetch(seen["media_url"])
    assert (got.status, got.body) == (200, data)
    # Only inline-safe media types are shown inline; files (even PDFs) are downloads.
    assert (disposition(got.headers)[0] == "attachment") == (message_type == "file")


# --- who can see it ---------------------------------------------------------------------------------------------------


def test_a_non_member_sees_neither_the_message_nor_its_link(media: Media) -> None:
    alice, bob, mallory = media.user(), media.user(), media.user()
    room = alice.make_group(bob)
    sent = image_message(media, alice, room)
    assert_error(media.messages(mallory, room), 404)
    assert_error(mallory.get(f"/api/chat/rooms/{room['id']}"), 404)
    assert all(r["id"] != room["id"] for r in mallory.get("/api/chat/rooms").get_json()["items"])
    forward = media.send(mallory, mallory.make_group(name="Mine"), forwarded_from_id=sent["id"])
    assert_error(forward, 422)


def test_a_removed_member_can_no_longer_see_the_media_message(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    sent = image_message(media, alice, room)
    assert media.message_in_room(bob, room, sent["id"])["media_url"]
    assert alice.delete(f"/api/chat/rooms/{room['id']}/members/{bob.id}").status_code == 204
    assert_error(media.messages(bob, room), 404)
    assert_error(media.send(bob, bob.make_group(name="Elsewhere"), forwarded_from_id=sent["id"]), 422)


# --- links ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["media_url", "thumbnail_url"])
def test_an_expired_link_is_refused(media: Media, which: str) -> None:
    alice, bob = media.user(), media.user()
    sent = image_message(media, alice, alice.make_group(bob))
    payload = link_payload(media.app, sent[which])
    old = URLSafeTimedSerializer(
        media.app.config["SECRET_KEY"], salt="armada.media.download", signer=TwoHoursAgoSigner
    ).dumps(payload)
    error = assert_error(media.open(with_token(sent[which], old)), 403, "link_expired")
    assert "expired" in error["message"]
    assert media.fetch(sent[which]).status == 200  # the fresh link still works


def test_a_link_stops_working_after_media_url_expires(backend: Backend, media: Media) -> None:
    short = media.on(backend.build(MEDIA_URL_EXPIRES=1))
    data = png()
    upload = short.uploaded(media.user(), data, "a.png")
    assert short.fetch(upload["url"]).body == data
    time.sleep(2.1)
    assert_error(short.open(upload["url"]), 403, "link_expired")
    assert_error(short.open(upload["thumbnail_url"]), 403, "link_expired")


def test_a_link_may_be_cached_privately_never_by_a_shared_cache(media: Media) -> None:
    upload = media.uploaded(media.user(), png(), "a.png")
    for link in (upload["url"], upload["thumbnail_url"]):
        cache = media.open(link).headers["Cache-Control"]
        assert "private" in cache and "public" not in cache, cache


def tamperings(url: str, other_url: str, app: Flask) -> dict[str, str]:
    token, other = token_of(url), token_of(other_url)
    payload, stamp, signature = token.rsplit(".", 2)
    other_payload = other.rsplit(".", 2)[0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    foreign = URLSafeTimedSerializer("another-secret-key-0123456789abcdefghij", salt="armada.media.download")
    upload_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="armada.media.direct-upload")
    return {
        "signature changed": f"{payload}.{stamp}.{flipped}",
        "another object's payload": f"{other_payload}.{stamp}.{signature}",
        "timestamp changed": f"{payload}.{stamp[:-1]}{'A' if stamp[-1] != 'A' else 'B'}.{signature}",
        "signature cut": f"{payload}.{stamp}.{signature[:10]}",
        "no signature": payload,
        "garbage": "not-a-token",
        "signed with another secret": foreign.dumps(link_payload(app, url)),
        "a direct-upload token": upload_salt.dumps({"k": link_payload(app, url)[0], "t": "image/png"}),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "signature changed",
        "another object's payload",
        "timestamp changed",
        "signature cut",
        "no signature",
        "garbage",
        "signed with another secret",
        "a direct-upload token",
    ],
)
def test_a_tampered_link_is_refused(media: Media, kind: str) -> None:
    alice = media.user()
    mine = media.uploaded(alice, png(), "mine.png")
    other = media.uploaded(media.user(), jpeg(), "theirs.jpg")
    bad = with_token(mine["url"], tamperings(mine["url"], other["url"], media.app)[kind])
    assert_error(media.open(bad), 403, "invalid_link")


# --- size -------------------------------------------------------------------------------------------------------------


def test_an_upload_over_25_mb_is_refused_with_413(media: Media) -> None:
    alice = media.user()
    error = assert_error(media.upload(alice, b"\x00" * (26 * MB), "big.bin"), 413, "file_too_large")
    assert str(25 * MB) in error["message"]
    assert upload_count(media) == 0


@pytest.mark.parametrize(("size", "status"), [(2048, 201), (2049, 413), (100_000, 413)])
def test_max_upload_bytes_from_config_is_the_cap(backend: Backend, media: Media, size: int, status: int) -> None:
    small = media.on(backend.build(MAX_UPLOAD_BYTES=2048))
    alice = media.user()
    response = small.upload(alice, b"\x01" * size, "notes.txt")
    if status == 201:
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["size"] == size
    else:
        assert "2048" in assert_error(response, 413, "file_too_large")["message"]


def test_a_zero_byte_file_is_refused_with_a_clear_message(media: Media) -> None:
    error = assert_error(media.upload(media.user(), b"", "empty.txt"), 422, "validation_failed")
    assert error["details"] == {"file": ["The file is empty."]}
    assert upload_count(media) == 0


@pytest.mark.parametrize(
    "form",
    [{}, {"file": "just a text field"}, {"attachment": (b"x", "x.txt")}],
    ids=["no fields", "text field named file", "file under another name"],
)
def test_an_upload_without_a_file_part_is_422(media: Media, form: dict[str, Any]) -> None:
    data = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in form.items()}
    response = media.user().post(UPLOAD, data=data, content_type="multipart/form-data")
    error = assert_error(response, 422, "validation_failed")
    assert "file" in str(error["details"])


def test_an_upload_needs_a_bearer_token(media: Media) -> None:
    response = media.client.post(
        UPLOAD, data={"file": (io.BytesIO(png()), "a.png")}, content_type="multipart/form-data"
    )
    assert_error(response, 401)


# --- types ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (HTML, "cat.png", None),
        (HTML, "cat.png", "image/png"),
        (HTML, "cat", "image/png"),
        (HTML, "cat.jpg", "text/html"),
        (MP3, "cat.png", None),
        (MP3, "song", "image/png"),
        (jpeg(), "song.mp3", None),
        (jpeg(), "photo", "video/mp4"),
        (png(), "clip.mp4", "image/png"),
    ],
    ids=[
        "html named png",
        "html declared and named png",
        "html declared png",
        "html named jpg declared html",
        "audio named png",
        "audio declared png",
        "jpeg named mp3",
        "jpeg declared mp4",
        "png named mp4",
    ],
)
def test_a_name_or_declared_type_claiming_another_kind_of_media_is_415(
    media: Media, data: bytes, filename: str, content_type: str | None
) -> None:
    error = assert_error(media.upload(media.user(), data, filename, content_type), 415, "media_type_mismatch")
    assert "claims" in error["message"]
    assert upload_count(media) == 0


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "mime_type"),
    [
        (jpeg(), "photo.png", "image/png", "image/jpeg"),
        (png(), "photo.jpg", "image/jpeg", "image/png"),
        (image_bytes("GIF"), "anim.webp", None, "image/gif"),
        (MP3, "voice.wav", "audio/wav", "audio/mpeg"),
        (jpeg(), "photo", OPAQUE, "image/jpeg"),
    ],
    ids=["jpeg as png", "png as jpeg", "gif named webp", "mp3 as wav", "jpeg declared octet-stream"],
)
def test_a_claim_of_the_same_kind_is_fine_and_the_bytes_decide_the_type(
    media: Media, data: bytes, filename: str, content_type: str | None, mime_type: str
) -> None:
    body = media.uploaded(media.user(), data, filename, content_type)
    assert body["mime_type"] == mime_type
    assert body["path"].endswith(
        {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif"}.get(mime_type, ".mp3")
    )


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "mime_type"),
    [
        (WEBM, "voice.webm", "audio/webm", "audio/webm"),
        (WEBM, "recording", "audio/webm", "audio/webm"),
        (MP4, "memo.m4a", "audio/mp4", "audio/mp4"),
        (MP4, "memo.m4a", None, "audio/mp4"),
        (WEBM, "clip.webm", "video/webm", "video/webm"),
        (MP4, "clip.mp4", "video/mp4", "video/mp4"),
    ],
    ids=["webm declared audio", "unnamed webm declared audio", "m4a declared", "m4a named", "webm video", "mp4 video"],
)
def test_an_mp4_or_webm_is_audio_or_video_as_the_client_says(
    media: Media, data: bytes, filename: str, content_type: str | None, mime_type: str
) -> None:
    """Such containers hold a video or only sound (a voice note): the bytes cannot tell, the declared type can."""
    alice, bob = media.user(), media.user()
    body = media.uploaded(alice, data, filename, content_type)
    kind = mime_type.split("/")[0]
    assert (body["mime_type"], body["message_type"]) == (mime_type, kind)
    sent = media.sent(alice, alice.make_group(bob), message_type=kind, media_url=body["path"])
    got = media.fetch(sent["media_url"])
    assert (got.body, got.headers["Content-Type"], disposition(got.headers)[0]) == (
        data,
        mime_type,
        "inline" if media.kind == "local" else "",
    )


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (HTML, "page.html", "text/html"),
        (HTML, "page.htm", None),
        (SVG, "drawing.svg", "image/svg+xml"),
        (SVG, "drawing.svg", None),
        (SVG, "drawing.txt", "text/plain"),
        (image_bytes("TIFF"), "scan.tiff", "image/tiff"),
        (image_bytes("BMP"), "old.bmp", "image/bmp"),
    ],
    ids=["html", "htm", "svg declared", "svg named", "svg as txt", "tiff", "bmp"],
)
def test_active_or_unlisted_content_is_stored_opaque_and_only_served_as_an_attachment(
    media: Media, data: bytes, filename: str, content_type: str | None
) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    body = media.uploaded(alice, data, filename, content_type)
    assert (body["mime_type"], body["message_type"], body["thumbnail_url"]) == (OPAQUE, "file", None)
    assert body["path"].endswith(".bin")
    assert_error(media.send(alice, room, message_type="image", media_url=body["path"]), 422)
    sent = media.sent(alice, room, message_type="file", media_url=body["path"])
    got = media.fetch(media.message_in_room(bob, room, sent["id"])["media_url"])
    assert got.status == 200 and got.body == data
    assert disposition(got.headers) == ("attachment", filename)
    assert got.headers["Content-Type"] == OPAQUE
    if media.kind == "local":
        assert got.headers["X-Content-Type-Options"] == "nosniff"


# --- filenames --------------------------------------------------------------------------------------------------------

LONG_NAME = "x" * 1000 + ".pdf"
FILENAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\win.ini", "win.ini"),
    ("/absolute/path/report.txt", "report.txt"),
    ("nul\x00byte.txt", "nulbyte.txt"),
    ("invoice\u202egnp.exe", "invoicegnp.exe"),
    ("zero\u200bwidth\u2066isolate\u2069.txt", "zerowidthisolate.txt"),
    ("tab\tand\x1bescape.txt", "tabandescape.txt"),
    (LONG_NAME, "x" * 251 + ".pdf"),
    ("...", "file"),
    ("..", "file"),
    ("   ", "file"),
    ("party 🎉 façade 日本.txt", "party 🎉 façade 日本.txt"),
    ('quote" and ; semicolon.txt', 'quote" and ; semicolon.txt'),
    ("Cafe\u0301.txt", "Café.txt"),
]


@pytest.mark.parametrize(("raw", "shown"), FILENAMES, ids=[repr(raw)[:40] for raw, _ in FILENAMES])
def test_a_filename_is_only_display_metadata_and_is_made_harmless(media: Media, raw: str, shown: str) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    data = b"plain text\n"
    body = media.uploaded(alice, data, raw)
    assert body["filename"] == shown
    assert len(body["filename"]) <= 255
    assert KEY_SHAPE.match(body["path"])["owner"] == alice.id  # generated: nothing of the user's name
    sent = media.sent(alice, room, message_type="file", media_url=body["url"])
    seen = media.message_in_room(bob, room, sent["id"])
    assert seen["media_filename"] == shown
    got = media.fetch(seen["media_url"])
    assert got.body == data
    header = got.headers["Content-Disposition"]
    assert not re.search(r"[\x00-\x1f\x7f]", header)
    assert disposition(got.headers) == ("attachment", shown)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("line\r\nSet-Cookie: x=1.txt", "lineSet-Cookie: x=1.txt"),
        ("🎉\u202e.txt", "🎉.txt"),
        ("../up/evil.txt", "evil.txt"),
    ],
    ids=["crlf", "emoji and rtl", "traversal"],
)
def test_an_rfc_5987_encoded_filename_is_cleaned_too(media: Media, raw: str, shown: str) -> None:
    alice = media.user()
    body, form_type = multipart_file(b"text", raw, encoded=True)
    response = media.client.post(UPLOAD, data=body, content_type=form_type, headers=alice.headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["filename"] == shown
    got = media.fetch(response.get_json()["url"])
    assert not re.search(r"[\x00-\x1f\x7f]", got.headers["Content-Disposition"])
    assert "Set-Cookie" not in got.headers
    assert disposition(got.headers) == ("attachment", shown)


@pytest.mark.parametrize(
    "raw", [b"\xff\xfe.txt", b"\xed\xa0\x80.txt", b"cut\xc3.txt"], ids=["latin", "surrogate", "cut"]
)
def test_a_filename_that_is_not_utf_8_is_422_never_500(media: Media, raw: bytes) -> None:
    body = b'--X\r\nContent-Disposition: form-data; name="file"; filename="' + raw + b'"\r\n\r\ndata\r\n--X--\r\n'
    response = media.client.post(
        UPLOAD, data=body, content_type="multipart/form-data; boundary=X", headers=media.user().headers
    )
    assert "file" in assert_error(response, 422, "validation_failed")["details"]
    assert upload_count(media) == 0


def test_a_long_filename_keeps_its_extension(media: Media) -> None:
    body = media.uploaded(media.user(), jpeg(), "y" * 1000 + ".jpeg")
    assert len(body["filename"]) == 255
    assert body["filename"].endswith(".jpeg")
    assert body["path"].endswith(".jpg")


# --- thumbnails -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (jpeg(1000, 500), "wide.jpg", (320, 160)),
        (jpeg(300, 900), "tall.jpg", (107, 320)),
        (png(640, 640), "square.png", (320, 320)),
        (png(400, 800, mode="RGB"), "tall.png", (160, 320)),
        (png(100, 50), "small.png", (100, 50)),
        (image_bytes("GIF", 500, 250), "anim.gif", (320, 160)),
    ],
    ids=["wide jpeg", "tall jpeg", "square png", "tall png", "small png kept small", "gif"],
)
def test_an_image_gets_a_bounded_webp_thumbnail_keeping_its_aspect_ratio(
    media: Media, data: bytes, filename: str, expected: tuple[int, int]
) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, data, filename)
    sent = media.sent(alice, room, message_type="image", media_url=upload["path"])
    got = media.fetch(media.message_in_room(bob, room, sent["id"])["thumbnail_url"])
    assert got.status == 200
    assert got.headers["Content-Type"] == "image/webp"
    thumb = open_image(got.body)
    assert thumb.format == "WEBP"
    assert thumb.size == expected
    assert max(thumb.size) <= 320


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("1", "PNG"), ("L", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("I;16", "PNG"), ("L", "JPEG"), ("CMYK", "JPEG"),
     ("P", "GIF"), ("RGBA", "WEBP")],
)  # fmt: skip
def test_every_image_mode_gets_a_thumbnail(media: Media, mode: str, fmt: str) -> None:
    out = io.BytesIO()
    Image.new(mode, (500, 300)).save(out, fmt)
    upload = media.uploaded(media.user(), out.getvalue(), f"image.{fmt.lower()}")
    thumb = open_image(media.fetch(upload["thumbnail_url"]).body)
    assert (thumb.format, thumb.size) == ("WEBP", (320, 192))


def test_a_transparent_image_keeps_its_transparency_in_the_thumbnail(media: Media) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (400, 400), (255, 0, 0, 0)).save(out, "PNG")
    upload = media.uploaded(media.user(), out.getvalue(), "clear.png")
    thumb = open_image(media.fetch(upload["thumbnail_url"]).body)
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((160, 160))[3] == 0


def test_exif_orientation_is_applied_and_the_thumbnail_carries_no_exif(media: Media) -> None:
    data = jpeg(400, 200, orientation=6)  # stored sideways: shown rotated 90 degrees clockwise
    upload = media.uploaded(media.user(), data, "phone.jpg")
    thumb = open_image(media.fetch(upload["thumbnail_url"]).body)
    assert thumb.size == (160, 320)
    assert "exif" not in thumb.info
    assert dict(thumb.getexif()) == {}
    # Rotated clockwise, the left (red) half is now on top and the right (blue) half below.
    top, bottom = thumb.convert("RGB").getpixel((80, 40)), thumb.convert("RGB").getpixel((80, 280))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom
    assert media.fetch(upload["url"]).body == data  # the original is kept as sent


def test_non_images_have_no_thumbnail_even_in_messages(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, MP3, "song.mp3")
    sent = media.sent(alice, room, message_type="audio", media_url=upload["path"])
    assert (upload["thumbnail_url"], sent["thumbnail_url"]) == (None, None)


def test_an_image_sent_as_a_file_is_a_download_without_thumbnail(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, jpeg(), "photo.jpg")
    sent = media.sent(alice, room, message_type="file", media_url=upload["path"])
    assert (sent["message_type"], sent["media_mime_type"], sent["thumbnail_url"]) == ("file", "image/jpeg", None)
    assert disposition(media.fetch(sent["media_url"]).headers) == ("attachment", "photo.jpg")


@pytest.mark.parametrize(
    "data",
    [png_bomb(20000, 20000), png_bomb(8000, 8000), png_bomb(65535, 65535), png_bomb(2_000_000_000, 1)],
    ids=["20000x20000", "8000x8000 just over the limit", "65535x65535", "2e9x1"],
)
def test_a_decompression_bomb_is_refused_cleanly(media: Media, data: bytes) -> None:
    error = assert_error(media.upload(media.user(), data, "bomb.png"), 422, "validation_failed")
    assert error["details"] == {"file": ["The image has too many pixels."]}
    assert upload_count(media) == 0


def test_max_image_pixels_from_config_bounds_what_is_decoded(backend: Backend, media: Media) -> None:
    strict = media.on(backend.build(MAX_IMAGE_PIXELS=10_000))
    alice = media.user()
    assert strict.upload(alice, png(100, 100), "fits.png").status_code == 201
    error = assert_error(strict.upload(alice, png(101, 100), "just-over.png"), 422, "validation_failed")
    assert error["details"] == {"file": ["The image has too many pixels."]}
    assert_error(strict.upload(alice, jpeg(400, 300), "way-over.jpg"), 422, "validation_failed")


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + b"garbage" * 200,
        jpeg()[: len(jpeg()) // 2],
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 200,
        png()[:60],
        b"GIF89a" + b"\x00" * 3,
    ],
    ids=["jpeg magic then garbage", "truncated jpeg", "png magic then garbage", "truncated png", "gif header only"],
)
def test_a_corrupt_image_is_refused_with_422_never_500(media: Media, data: bytes) -> None:
    error = assert_error(media.upload(media.user(), data, "broken.jpg" if data[:2] == b"\xff\xd8" else "broken"), 422)
    assert error["details"] == {"file": ["The image cannot be decoded."]}
    assert upload_count(media) == 0


# --- messages with media ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["url", "path"])
def test_another_users_upload_cannot_be_sent(media: Media, reference: str) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    theirs = media.uploaded(bob, jpeg(), "bobs.jpg")
    error = assert_error(media.send(alice, room, message_type="image", media_url=theirs[reference]), 422)
    assert "media_url" in error["details"]


@pytest.mark.parametrize(
    "media_url",
    [
        "https://evil.example/x.png",
        "http://localhost/api/media/not-a-token",
        "https://evil.example/api/media/.eJwFwTEKgDAMAMC_ZK5go1XJW8Qh1NBBCrXUQcS_e7fBKZckZlT5HIfAORfqnDT1jg1a",
        "/etc/passwd",
        "../../etc/passwd",
        "file:///etc/passwd",
        "x" * 1024,
    ],
    ids=["foreign url", "bad token", "foreign with token shape", "absolute path", "traversal", "file url", "long"],
)
def test_a_url_that_is_not_one_of_my_uploads_is_422(media: Media, media_url: str) -> None:
    alice, bob = media.user(), media.user()
    error = assert_error(media.send(alice, alice.make_group(bob), message_type="image", media_url=media_url), 422)
    assert "media_url" in error["details"]


def test_my_thumbnail_link_or_a_mangled_path_is_not_an_upload(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, jpeg(), "a.jpg")
    for reference in (
        upload["thumbnail_url"],
        upload["path"] + ".thumb.webp",
        f"../{upload['path']}",
        upload["path"].upper(),
    ):
        assert_error(media.send(alice, room, message_type="image", media_url=reference), 422)


@pytest.mark.parametrize(
    ("data", "filename", "message_type"),
    [
        (jpeg(), "a.jpg", "video"),
        (jpeg(), "a.jpg", "audio"),
        (MP3, "a.mp3", "image"),
        (MP4, "a.mp4", "audio"),
        (PDF, "a.pdf", "image"),
        (b"notes", "a.txt", "video"),
    ],
)
def test_a_media_type_other_than_the_uploads_kind_is_422(
    media: Media, data: bytes, filename: str, message_type: str
) -> None:
    alice, bob = media.user(), media.user()
    upload = media.uploaded(alice, data, filename)
    error = assert_error(
        media.send(alice, alice.make_group(bob), message_type=message_type, media_url=upload["path"]), 422
    )
    assert "message_type" in error["details"]


def test_a_text_message_cannot_carry_media(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, jpeg(), "a.jpg")
    for body in (
        {"content": "hi", "media_url": upload["path"]},
        {"message_type": "text", "content": "hi", "media_url": upload["url"]},
    ):
        error = assert_error(media.send(alice, room, **body), 422)
        assert "media_url" in error["details"]


@pytest.mark.parametrize("media_url", [None, ""])
def test_a_media_message_needs_an_upload(media: Media, media_url: str | None) -> None:
    alice, bob = media.user(), media.user()
    body = {"message_type": "image", "content": "caption"} | ({} if media_url is None else {"media_url": media_url})
    error = assert_error(media.send(alice, alice.make_group(bob), **body), 422)
    assert "media_url" in error["details"]


@pytest.mark.parametrize("media_url", ["with\u0000nul", "x" * 1025])
def test_an_unstorable_media_url_is_422(media: Media, media_url: str) -> None:
    alice, bob = media.user(), media.user()
    error = assert_error(media.send(alice, alice.make_group(bob), message_type="image", media_url=media_url), 422)
    assert "media_url" in error["details"]


@pytest.mark.parametrize(
    "raw_media_url",
    ['"\\ud800"', "42", "true", '["a"]', '{"url": "x"}'],
    ids=["lone surrogate", "int", "bool", "list", "object"],
)
def test_a_media_url_that_is_not_a_string_of_text_is_422(media: Media, raw_media_url: str) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    body = f'{{"room_id": "{room["id"]}", "message_type": "image", "media_url": {raw_media_url}}}'
    response = media.client.post(MESSAGES, data=body, content_type="application/json", headers=alice.headers)
    assert "media_url" in assert_error(response, 422, "validation_failed")["details"]


def test_forwarding_an_image_message_shows_working_links_to_the_same_media(media: Media) -> None:
    alice, bob, carol = media.user(), media.user(), media.user()
    data = jpeg(500, 400)
    original = image_message(media, alice, alice.make_group(bob), data)
    elsewhere = bob.make_group(carol, name="Elsewhere")
    forward = media.sent(bob, elsewhere, forwarded_from_id=original["id"])
    assert forward["forwarded_from_id"] == original["id"]
    seen = media.message_in_room(carol, elsewhere, forward["id"])
    assert (seen["message_type"], seen["media_filename"], seen["media_size"], seen["media_mime_type"]) == (
        "image",
        "holiday.jpg",
        len(data),
        "image/jpeg",
    )
    assert media.fetch(seen["media_url"]).body == data
    assert open_image(media.fetch(seen["thumbnail_url"]).body).size == (320, 256)


def test_a_forward_cannot_also_carry_media(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    original = image_message(media, alice, room)
    mine = media.uploaded(bob, png(), "b.png")
    assert_error(media.send(bob, room, forwarded_from_id=original["id"], media_url=mine["path"]), 422)


def test_a_deleted_media_message_hides_its_media_in_every_response(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    sent = image_message(media, alice, room)
    reply = media.sent(bob, room, content="nice", reply_to_id=sent["id"])
    deleted = alice.delete(f"/api/chat/messages/{sent['id']}")
    assert deleted.status_code == 200
    hidden = ("media_url", "thumbnail_url", "media_filename", "media_size", "media_mime_type", "content")
    views = [
        deleted.get_json(),
        media.message_in_room(bob, room, sent["id"]),
        media.message_in_room(alice, room, sent["id"]),
    ]
    rooms = {r["id"]: r for r in bob.get("/api/chat/rooms").get_json()["items"]}
    assert rooms[room["id"]]["last_message"]["id"] == reply["id"]
    for view in views:
        assert view["is_deleted"] is True
        assert {field: view[field] for field in hidden} == dict.fromkeys(hidden)
    preview = media.message_in_room(bob, room, reply["id"])["reply_to"]
    assert preview["is_deleted"] is True and preview["content"] is None
    assert "holiday" not in str(media.messages(bob, room).get_json())


def test_a_deleted_media_message_as_last_message_shows_no_media(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    sent = image_message(media, alice, room)
    assert alice.delete(f"/api/chat/messages/{sent['id']}").status_code == 200
    last = {r["id"]: r for r in bob.get("/api/chat/rooms").get_json()["items"]}[room["id"]]["last_message"]
    assert last["id"] == sent["id"] and last["is_deleted"] is True
    assert (last["media_url"], last["thumbnail_url"], last["media_filename"]) == (None, None, None)


def test_a_media_message_with_a_client_id_is_sent_once(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, jpeg(), "a.jpg")
    first = media.send(alice, room, message_type="image", media_url=upload["path"], client_id="c-1")
    again = media.send(alice, room, message_type="image", media_url=upload["path"], client_id="c-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert media.fetch(again.get_json()["media_url"]).status == 200
