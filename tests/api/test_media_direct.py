"""Direct uploads on every storage backend: GET /api/chat/upload/signed-url, PUT the bytes, then send the `path`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.helpers.media_support import (
    HTML,
    MB,
    MP3,
    SIGNED_URL,
    SVG,
    Backend,
    Media,
    disposition,
    jpeg,
    open_image,
    png,
    png_bomb,
)
from tests.helpers.support import Actor, assert_error

SIGNED_KEYS = {"upload_url", "path", "method", "headers", "expires_at"}

pytest_plugins = ["tests.helpers.media_fixtures"]  # the backend-parametrized `media` fixture


def sign(media: Media, actor: Actor, **params: Any) -> Any:
    """GET the signed-url endpoint with these query parameters."""
    return media.client.get(f"{SIGNED_URL}?{urlencode(params)}", headers=actor.headers)


def signed(media: Media, actor: Actor, filename: str, mime_type: str, size: int) -> dict[str, Any]:
    response = sign(media, actor, filename=filename, mime_type=mime_type, size=size)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def direct(media: Media, actor: Actor, data: bytes, filename: str, mime_type: str) -> dict[str, Any]:
    """A direct upload that storage accepted: the signed-url answer."""
    target = signed(media, actor, filename, mime_type, len(data))
    assert media.put_direct(target, data) in (200, 201)
    return target


# --- the signed URL ---------------------------------------------------------------------------------------------------


def test_a_signed_url_tells_how_to_put_the_file(media: Media) -> None:
    alice = media.user()
    before = datetime.now(UTC)
    body = signed(media, alice, "holiday.png", "image/png", 1234)
    assert set(body) == SIGNED_KEYS
    assert (body["method"], body["headers"]) == ("PUT", {"Content-Type": "image/png"})
    owner, name = body["path"].split("/")
    assert owner == alice.id and name.endswith(".png") and "holiday" not in name
    assert urlsplit(body["upload_url"]).scheme in ("http", "https")
    expires = datetime.fromisoformat(body["expires_at"])
    # Local URLs live MEDIA_URL_EXPIRES (an hour); Supabase fixes its own two hours and reports that.
    lifetime = timedelta(hours=1) if media.kind == "local" else timedelta(hours=2)
    assert before + lifetime - timedelta(seconds=10) <= expires <= datetime.now(UTC) + lifetime + timedelta(seconds=10)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"mime_type": "image/png", "size": 10}, "filename"),
        ({"filename": "a.png", "size": 10}, "mime_type"),
        ({"filename": "a.png", "mime_type": "image/png"}, "size"),
        ({"filename": "", "mime_type": "image/png", "size": 10}, "filename"),
        ({"filename": "a\x00.png", "mime_type": "image/png", "size": 10}, "filename"),
        ({"filename": "a" * 1001, "mime_type": "image/png", "size": 10}, "filename"),
        ({"filename": "a.png", "mime_type": "png", "size": 10}, "mime_type"),
        ({"filename": "a.png", "mime_type": "image/png; charset=utf-8", "size": 10}, "mime_type"),
        ({"filename": "a.png", "mime_type": "", "size": 10}, "mime_type"),
        ({"filename": "a.png", "mime_type": "image/png\x00", "size": 10}, "mime_type"),
        ({"filename": "a.png", "mime_type": "image/png", "size": 0}, "size"),
        ({"filename": "a.png", "mime_type": "image/png", "size": -1}, "size"),
        ({"filename": "a.png", "mime_type": "image/png", "size": "ten"}, "size"),
        ({"filename": "a.png", "mime_type": "image/png", "size": 1.5}, "size"),
    ],
    ids=[
        "no filename", "no mime_type", "no size", "empty filename", "nul in filename", "filename too long",
        "not a mime type", "mime type with parameters", "empty mime type", "nul in mime type", "size 0", "size -1",
        "size not a number", "size not an integer",
    ],
)  # fmt: skip
def test_signed_url_parameters_are_validated(media: Media, params: dict[str, Any], field: str) -> None:
    error = assert_error(sign(media, media.user(), **params), 422, "validation_failed")
    assert field in str(error["details"])


@pytest.mark.parametrize("size", [25 * MB + 1, 26 * MB, 10**30])
def test_a_signed_url_for_more_than_the_cap_is_413(media: Media, size: int) -> None:
    response = sign(media, media.user(), filename="big.mp4", mime_type="video/mp4", size=size)
    assert str(25 * MB) in assert_error(response, 413, "file_too_large")["message"]


def test_a_signed_url_needs_a_bearer_token(media: Media) -> None:
    assert_error(media.client.get(f"{SIGNED_URL}?filename=a.png&mime_type=image/png&size=10"), 401)


# --- upload then send -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "mime_type", "message_type", "size"),
    [
        (jpeg(900, 600), "photo.jpg", "image/jpeg", "image", (320, 213)),
        (png(300, 600), "chart.png", "image/png", "image", (160, 320)),
        (MP3, "song.mp3", "audio/mpeg", "audio", None),
    ],
    ids=["jpeg", "png", "mp3"],
)
def test_a_direct_upload_sent_by_path_reaches_another_member_with_a_thumbnail(
    media: Media, data: bytes, filename: str, mime_type: str, message_type: str, size: tuple[int, int] | None
) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    target = direct(media, alice, data, filename, mime_type)
    sent = media.sent(alice, room, message_type=message_type, media_url=target["path"])
    seen = media.message_in_room(bob, room, sent["id"])
    assert (seen["media_filename"], seen["media_size"], seen["media_mime_type"]) == (filename, len(data), mime_type)
    assert media.fetch(seen["media_url"]).body == data
    if size is None:
        assert seen["thumbnail_url"] is None
    else:
        thumb = open_image(media.fetch(seen["thumbnail_url"]).body)
        assert (thumb.format, thumb.size) == ("WEBP", size)


def test_the_stored_size_and_type_win_over_what_was_announced(media: Media) -> None:
    alice, bob = media.user(), media.user()
    data = jpeg()
    target = signed(media, alice, "photo.png", "image/png", 10)  # says: a 10-byte PNG
    assert media.put_direct(target, data) in (200, 201)
    sent = media.sent(alice, alice.make_group(bob), message_type="image", media_url=target["path"], media_size=10)
    assert (sent["media_size"], sent["media_mime_type"]) == (len(data), "image/jpeg")


def test_sending_before_uploading_is_422_and_works_once_uploaded(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    data = png()
    target = signed(media, alice, "later.png", "image/png", len(data))
    error = assert_error(media.send(alice, room, message_type="image", media_url=target["path"]), 422)
    assert error["details"] == {"media_url": ["Nothing has been uploaded to this URL yet."]}
    assert media.put_direct(target, data) in (200, 201)
    assert media.sent(alice, room, message_type="image", media_url=target["path"])["media_size"] == len(data)


@pytest.mark.parametrize(("data", "mime_type"), [(HTML, "image/png"), (MP3, "image/png"), (jpeg(), "audio/mpeg")])
def test_bytes_of_another_kind_than_the_url_was_signed_for_are_415_when_sent(
    media: Media, data: bytes, mime_type: str
) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    target = direct(media, alice, data, "upload", mime_type)
    kind = mime_type.split("/")[0]
    for _ in range(2):  # and again: a refused upload does not become acceptable by retrying
        assert_error(media.send(alice, room, message_type=kind, media_url=target["path"]), 415, "media_type_mismatch")
    assert all(m["message_type"] == "text" for m in media.messages(bob, room).get_json()["items"])


def test_an_empty_direct_upload_is_422_when_sent(media: Media) -> None:
    alice, bob = media.user(), media.user()
    target = signed(media, alice, "empty.png", "image/png", 100)
    assert media.put_direct(target, b"") in (200, 201)
    response = media.send(alice, alice.make_group(bob), message_type="image", media_url=target["path"])
    assert assert_error(response, 422, "validation_failed")["details"] == {"file": ["The file is empty."]}


@pytest.mark.parametrize(
    "data", [png_bomb(20000, 20000), b"\xff\xd8\xff\xe0" + b"garbage" * 100], ids=["bomb", "corrupt jpeg"]
)
def test_a_bad_image_uploaded_directly_is_422_when_sent(media: Media, data: bytes) -> None:
    alice, bob = media.user(), media.user()
    target = direct(media, alice, data, "x.png" if data[:4] == b"\x89PNG" else "x.jpg", "image/png")
    error = assert_error(media.send(alice, alice.make_group(bob), message_type="image", media_url=target["path"]), 422)
    assert "file" in error["details"]


def test_active_content_uploaded_directly_is_only_ever_an_attachment(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    target = direct(media, alice, SVG, "drawing.svg", "image/svg+xml")
    assert_error(media.send(alice, room, message_type="image", media_url=target["path"]), 422)
    sent = media.sent(alice, room, message_type="file", media_url=target["path"])
    assert (sent["media_mime_type"], sent["thumbnail_url"]) == ("application/octet-stream", None)
    got = media.fetch(sent["media_url"])
    assert got.body == SVG
    assert disposition(got.headers) == ("attachment", "drawing.svg")


def test_another_user_cannot_send_my_direct_upload(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    target = signed(media, alice, "mine.jpg", "image/jpeg", 100)
    assert_error(media.send(bob, room, message_type="image", media_url=target["path"]), 422)  # before the upload
    assert media.put_direct(target, jpeg()) in (200, 201)
    error = assert_error(media.send(bob, room, message_type="image", media_url=target["path"]), 422)
    assert "media_url" in error["details"]
    assert media.sent(alice, room, message_type="image", media_url=target["path"])["sender_id"] == alice.id


def test_a_signed_upload_url_works_once(media: Media) -> None:
    alice, bob = media.user(), media.user()
    data = png()
    target = direct(media, alice, data, "once.png", "image/png")
    assert media.put_direct(target, jpeg()) in ((403,) if media.kind == "local" else (400, 409))
    sent = media.sent(alice, alice.make_group(bob), message_type="image", media_url=target["path"])
    assert media.fetch(sent["media_url"]).body == data


def test_more_bytes_than_the_cap_at_a_signed_url_are_never_accepted(backend: Backend, media: Media) -> None:
    small = media.on(backend.build(MAX_UPLOAD_BYTES=2048))
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    target = signed(small, alice, "notes.txt", "text/plain", 1000)
    status = small.put_direct(target, b"\x01" * 5000)
    if small.kind == "local":
        assert status == 413  # Armada's own upload route refuses it
    else:
        assert status == 200  # the bucket has no limit of its own here: the send must catch it
        assert_error(small.send(alice, room, message_type="file", media_url=target["path"]), 413, "file_too_large")
    assert media.messages(bob, room).get_json()["items"] == []


# --- the local backend's own upload route -----------------------------------------------------------------------------


class TwoHoursAgoSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 2 * 3600


def test_a_tampered_or_expired_local_upload_url_is_refused(media: Media) -> None:
    target = signed(media, media.user(), "a.png", "image/png", 100)
    if media.kind != "local":
        assert urlsplit(target["upload_url"]).netloc != "localhost"  # Supabase URLs go to Supabase
        assert_error(media.client.put(f"/api/media/upload/{target['upload_url'].rsplit('/', 1)[1]}", data=b"x"), 404)
        return
    token = target["upload_url"].rsplit("/", 1)[1]
    serializer = URLSafeTimedSerializer(media.app.config["SECRET_KEY"], salt="armada.media.direct-upload")
    payload = serializer.loads(token)
    old = URLSafeTimedSerializer(
        media.app.config["SECRET_KEY"], salt="armada.media.direct-upload", signer=TwoHoursAgoSigner
    ).dumps(payload)
    download_salt = URLSafeTimedSerializer(media.app.config["SECRET_KEY"], salt="armada.media.download")
    for bad in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), old, download_salt.dumps(payload), "garbage"):
        response = media.client.put(f"/api/media/upload/{bad}", data=png(), headers={"Content-Type": "image/png"})
        assert_error(response, 403, "invalid_link")
    assert media.stored(target["path"]) is None
