"""permessage-deflate is off unless WEBSOCKET_COMPRESSION asks for it: a real gunicorn server, a raw websocket
handshake offering compression the way browsers do, and the engine.io open packet read off the wire."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers.servers import serve_fresh

OFFER = "permessage-deflate; client_max_window_bits"


def handshake(url: str) -> tuple[list[str], bytes]:
    """Upgrade /socket.io to a websocket offering compression; the response's header lines and first frame."""
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {OFFER}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed during the handshake: {received!r}"
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        # The first frame: a 2-byte header and, for the open packet (< 126 bytes), the length in its 7 bits.
        while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
            rest += sock.recv(4096)
    return head.decode("latin-1").split("\r\n"), rest


def extensions(lines: list[str]) -> str | None:
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-extensions":
            return value.strip()
    return None


@pytest.mark.parametrize(("setting", "compressed"), [(None, False), ("false", False), ("true", True)])
def test_websocket_compression_follows_the_setting(tmp_path: Path, setting: str | None, compressed: bool) -> None:
    env = {"WEBSOCKET_COMPRESSION": setting} if setting is not None else {}
    with serve_fresh(tmp_path, **env) as server:
        lines, frame = handshake(server.url)
    assert lines[0].startswith("HTTP/1.1 101"), lines
    negotiated = extensions(lines)
    if compressed:
        assert negotiated is not None and negotiated.startswith("permessage-deflate"), lines
        assert frame[0] & 0x40, "the open packet should be a compressed frame (RSV1 set)"
    else:
        assert negotiated is None, lines
        # An uncompressed text frame carrying engine.io's open packet: "0{...}".
        assert frame[0] == 0x81, frame
        assert frame[2 : 2 + (frame[1] & 0x7F)].startswith(b'0{"sid":'), frame
