"""Media test helpers: sample files, multipart bodies, and a client that opens Armada's links like a browser.

The fixtures that run each test on every storage backend are in tests/helpers/media_fixtures.py.
"""

from __future__ import annotations

import io
import os
import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.http import parse_options_header
from werkzeug.test import TestResponse

from armada import create_app
from armada.media.storage import storage
from tests.helpers.fake_supabase import FakeSupabase
from tests.helpers.support import Actor, ApiClient
from tests.helpers.testing_config import TestingConfig

SUPABASE_ENV = ("SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_BUCKET")
REAL_SUPABASE = all(os.environ.get(name) for name in SUPABASE_ENV)
UPLOAD = "/api/chat/upload"
SIGNED_URL = "/api/chat/upload/signed-url"
MESSAGES = "/api/chat/messages"
MB = 1024 * 1024


# --- sample files -----------------------------------------------------------------------------------------------------


def jpeg(width: int = 640, height: int = 480, orientation: int | None = None) -> bytes:
    """A real JPEG (left half red, right half blue), optionally with an EXIF Orientation tag."""
    image = Image.new("RGB", (width, height), "red")
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    out = io.BytesIO()
    if orientation is None:
        image.save(out, "JPEG", quality=90)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation  # Orientation
        exif[0x010F] = "SecretCam"  # Make: metadata a thumbnail must not carry
        image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def png(width: int = 600, height: int = 300, mode: str = "RGBA") -> bytes:
    """A real PNG."""
    out = io.BytesIO()
    Image.new(mode, (width, height), (0, 128, 0, 200) if mode == "RGBA" else "green").save(out, "PNG")
    return out.getvalue()


def image_bytes(fmt: str, width: int = 64, height: int = 48) -> bytes:
    """A real image in any format Pillow writes."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), "yellow").save(out, fmt)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny, well-formed PNG whose header claims width x height pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + _png_chunk(b"IEND", b"")
    )


def multipart_file(
    data: bytes, filename: str, content_type: str | None = None, field: str = "file", encoded: bool = False
) -> tuple[bytes, str]:
    """A multipart/form-data body with one file part; its name a quoted-string in raw UTF-8 as browsers send it,
    or (encoded) an RFC 5987 filename*, which can carry any character, CR and LF included."""
    boundary = f"armada-test-{uuid.uuid4().hex}"
    if encoded:
        name = f"filename*=UTF-8''{quote(filename, safe='')}"
    else:
        name = 'filename="' + filename.replace("\\", "\\\\").replace('"', '\\"') + '"'
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; {name}\r\n'
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    body = head.encode() + b"\r\n" + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


# --- the app per backend ----------------------------------------------------------------------------------------------


@dataclass
class Backend:
    """One storage backend's settings; builds apps that share them (and the suite's database)."""

    kind: str
    database_url: str
    instance: Path
    settings: dict[str, str]
    fake: FakeSupabase | None

    def build(self, **overrides: object) -> Flask:
        """An app on this backend and the suite's database, with config overrides (MAX_UPLOAD_BYTES=...)."""
        env = {"DATABASE_URL": self.database_url, **self.settings, **{k: str(v) for k, v in overrides.items()}}
        application = create_app(TestingConfig(env))
        application.instance_path = str(self.instance)
        return application


@dataclass
class Fetched:
    """What a browser ends up with after opening a link (following Armada's redirect to Supabase)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Media:
    """Talks to one media app as registered users, and opens the signed links it hands out."""

    kind: str
    app: Flask
    client: FlaskClient
    api: ApiClient
    fake: FakeSupabase | None

    def user(self, name: str | None = None) -> Actor:
        return self.api.register(name)

    def open(self, url: str) -> TestResponse:
        """Armada's own answer to one of its absolute links (http://localhost/...)."""
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("http", "localhost"), url
        return self.client.get(parts.path + (f"?{parts.query}" if parts.query else ""))

    def fetch(self, url: str) -> Fetched:
        """Open a link like a browser: Armada's bytes (local), or its redirect followed to Supabase."""
        response = self.open(url)
        if self.kind == "supabase" and response.status_code == 302:
            target = response.headers["Location"]
            assert urlsplit(target).netloc != "localhost", target  # the bytes come from Supabase, not Armada
            got = requests.get(target, allow_redirects=False, timeout=30)
            return Fetched(got.status_code, got.headers, got.content)
        return Fetched(response.status_code, response.headers, response.get_data())

    def on(self, app: Flask) -> Media:
        """The same users, talking to another app (other config, same database and storage)."""
        return replace(self, app=app, client=app.test_client())

    def upload(
        self, actor: Actor, data: bytes, filename: str = "photo.jpg", content_type: str | None = None
    ) -> TestResponse:
        """POST /api/chat/upload with one multipart `file`, encoded as a browser does."""
        body, form_type = multipart_file(data, filename, content_type)
        return self.client.post(UPLOAD, data=body, content_type=form_type, headers=actor.headers)

    def uploaded(
        self, actor: Actor, data: bytes, filename: str = "photo.jpg", content_type: str | None = None
    ) -> dict[str, Any]:
        """An upload that must succeed."""
        response = self.upload(actor, data, filename, content_type)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def send(self, actor: Actor, room: dict[str, Any], **body: Any) -> TestResponse:
        return self.client.post(MESSAGES, json={"room_id": room["id"], **body}, headers=actor.headers)

    def sent(self, actor: Actor, room: dict[str, Any], **body: Any) -> dict[str, Any]:
        """A message that must be created."""
        response = self.send(actor, room, **body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def messages(self, actor: Actor, room: dict[str, Any]) -> TestResponse:
        return self.client.get(f"/api/chat/rooms/{room['id']}/messages", headers=actor.headers)

    def message_in_room(self, actor: Actor, room: dict[str, Any], message_id: str) -> dict[str, Any]:
        """A message as a member reads it in the room's history."""
        response = self.messages(actor, room)
        assert response.status_code == 200, response.get_json()
        return next(m for m in response.get_json()["items"] if m["id"] == message_id)

    def put_direct(self, signed: dict[str, Any], data: bytes, content_type: str | None = None) -> int:
        """Upload bytes to a signed upload URL as told (local: Armada's route; Supabase: the storage server)."""
        headers = dict(signed["headers"])
        if content_type is not None:
            headers["Content-Type"] = content_type
        if self.kind == "local":
            parts = urlsplit(signed["upload_url"])
            assert (parts.scheme, parts.netloc) == ("http", "localhost"), signed
            response = self.client.open(parts.path, method=signed["method"], data=data, headers=headers)
            return response.status_code
        return requests.request(
            signed["method"], signed["upload_url"], data=data, headers=headers, timeout=30
        ).status_code

    def stored(self, key: str) -> int | None:
        """The size of a stored object, straight from the backend (None when absent)."""
        with self.app.app_context():
            return storage().size(key)


# --- reading responses ------------------------------------------------------------------------------------------------


def disposition(headers: Mapping[str, str]) -> tuple[str, str | None]:
    """(inline|attachment, the file name it gives, filename* preferred) of a Content-Disposition header."""
    kind, params = parse_options_header(headers.get("Content-Disposition", ""))
    return kind, params.get("filename")


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
