"""Uploads against the real server process (gunicorn, the Procfile's web line): the cap holds on the wire."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers.media_support import MB, jpeg, multipart_file
from tests.helpers.servers import HttpUser, Server, fresh_database, migrate, run_server

CHUNK = 64 * 1024


@contextmanager
def media_server(tmp: Path, **env: str) -> Iterator[Server]:
    """A production server on the local backend, on a fresh database."""
    with fresh_database(tmp) as database_url:
        migrate(database_url)
        with run_server(database_url, tmp, STORAGE_BACKEND="local", MEDIA_ROOT=str(tmp / "media"), **env) as running:
            yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default 25 MB cap."""
    with media_server(tmp_path_factory.mktemp("media-server")) as running:
        yield running


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A 1 MB cap: what it reads past the cap must stay far below what a client sends."""
    with media_server(tmp_path_factory.mktemp("small-media-server"), MAX_UPLOAD_BYTES=str(MB)) as running:
        yield running


@pytest.fixture
def user(server: Server) -> Iterator[HttpUser]:
    with requests.Session() as http:
        yield HttpUser(http, server.url, "Uploader")


def connect(server: Server) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def request_head(server: Server, user: HttpUser, content_type: str, framing: str) -> bytes:
    host = urlsplit(server.url).netloc
    return (
        f"POST /api/chat/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {user.token}\r\n"
        f"Content-Type: {content_type}\r\n{framing}\r\n\r\n"
    ).encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body, read off a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def assert_contract_413(body: bytes) -> dict[str, Any]:
    error = json.loads(body)["error"]
    assert error["code"] in ("file_too_large", "payload_too_large") and error["message"], error
    return error


def test_a_26_mb_upload_is_refused_before_its_body_is_read(server: Server, user: HttpUser) -> None:
    payload, content_type = multipart_file(b"\x00" * (26 * MB), "big.bin", "application/octet-stream")
    with connect(server) as sock:
        sock.sendall(request_head(server, user, content_type, f"Content-Length: {len(payload)}"))
        sock.sendall(payload[:CHUNK])  # the headers and the first 64 KB: nothing more is ever sent
        status, headers, body = read_response(sock)
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    assert assert_contract_413(body)["code"] == "file_too_large"
    assert requests.get(f"{server.url}/api/health", timeout=5).status_code == 200


def test_a_chunked_upload_is_cut_off_at_the_cap(small_server: Server) -> None:
    """Without a Content-Length the server reads up to the cap and then answers 413: never the whole body."""
    with requests.Session() as http:
        user = HttpUser(http, small_server.url, "Chunked")
    payload, content_type = multipart_file(b"\x00" * (64 * MB), "big.bin", "application/octet-stream")
    sent = 0
    with connect(small_server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)  # what was sent is (nearly) what was read
        sock.sendall(request_head(small_server, user, content_type, "Transfer-Encoding: chunked"))
        sock.settimeout(5)
        try:
            while sent < len(payload) and not select.select([sock], [], [], 0)[0]:
                piece = payload[sent : sent + CHUNK]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is waiting
        sock.settimeout(10)
        status, _, body = read_response(sock)
    assert status == 413
    assert_contract_413(body)
    assert sent < 16 * MB, sent  # it answered long before the 64 MB were through


def test_an_upload_within_the_cap_round_trips_over_http(server: Server, user: HttpUser) -> None:
    data = jpeg(1200, 900)
    payload, content_type = multipart_file(data, "photo.jpg", "image/jpeg")
    response = requests.post(
        f"{server.url}/api/chat/upload",
        data=payload,
        headers={"Authorization": f"Bearer {user.token}", "Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"].startswith(f"{server.url}/api/media/")
    got = requests.get(body["url"], timeout=10)
    assert (got.status_code, got.content, got.headers["X-Content-Type-Options"]) == (200, data, "nosniff")
    assert requests.get(body["thumbnail_url"], timeout=10).headers["Content-Type"] == "image/webp"
