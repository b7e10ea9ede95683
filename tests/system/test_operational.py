"""Operational safety over real gunicorn processes: security headers, CORS, request ids, logs without secrets,
bounded Socket.IO messages, refused weak secrets, and Redis with a password and TLS.

The same in process: tests/api/test_operational.py; redaction and the settings: tests/unit; the docs page in
Chromium: tests/browser/test_docs_page.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import redis
import requests
import socketio
from socketio.exceptions import ConnectionError as SocketConnectionError

from armada.security_headers import API_CSP
from tests.helpers.factories import make_message
from tests.helpers.realtime import about, cluster_on, joined_across
from tests.helpers.servers import (
    PASSWORD,
    ROOT,
    SECRETS,
    HttpUser,
    Server,
    base_env,
    free_port,
    fresh_database,
    kill_group,
    migrate,
    procfile_line,
    run_server,
)

MESSAGE_LIMIT = 64 * 1024  # SOCKETIO_MAX_MESSAGE_BYTES and MAX_REQUEST_BYTES of the module's server
APP_ORIGIN, ADMIN_ORIGIN = "https://app.example.com", "https://admin.example.com"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
# gunicorn's own lines (its arbiter starting and booting the worker, before the app configures logging).
GUNICORN_LINE = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[[A-Z]+\] ")
LOG_SECONDS = 10


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database for the module's two servers."""
    with fresh_database(tmp_path_factory.mktemp("operational-db"), "armada_operational") as database_url:
        migrate(database_url)
        yield database_url


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Production defaults, with small message and body caps so the tests can go past them cheaply."""
    limits = {"SOCKETIO_MAX_MESSAGE_BYTES": str(MESSAGE_LIMIT), "MAX_REQUEST_BYTES": str(MESSAGE_LIMIT)}
    tmp = tmp_path_factory.mktemp("operational")
    with run_server(database, tmp, STORAGE_BACKEND="local", MEDIA_ROOT=str(tmp / "media"), **limits) as running:
        yield running


@pytest.fixture(scope="module")
def configured(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Every operational setting changed: two allowed origins, no HSTS, text logs."""
    env = {"ALLOWED_ORIGINS": f"{APP_ORIGIN}, {ADMIN_ORIGIN}", "HSTS_SECONDS": "0", "LOG_FORMAT": "text"}
    with run_server(database, tmp_path_factory.mktemp("configured"), **env) as running:
        yield running


@pytest.fixture(scope="module")
def alice(server: Server, http: requests.Session) -> HttpUser:
    return HttpUser(http, server.url, "Alice")


# ---- helpers -----------------------------------------------------------------------------------------------


def log_records(server: Server) -> list[dict[str, Any]]:
    """Every record of the server's log; fails on a line that is neither one JSON object nor gunicorn's own."""
    records = []
    # The last piece is empty, or a line still being written: leave it for the next look.
    for line in server.log.read_text(errors="replace").split("\n")[:-1]:
        if GUNICORN_LINE.match(line):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"a log line that is not JSON: {line!r}") from None
        assert isinstance(record, dict) and "request_id" in record, line
        assert {"time", "level", "logger", "message"} <= set(record), line
        records.append(record)
    return records


def wait_for_record(server: Server, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first log record matching `predicate`, waiting for it to be written (a websocket's, once it closed)."""
    deadline = time.monotonic() + LOG_SECONDS
    while True:
        found = [record for record in log_records(server) if predicate(record)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no such log record:\n{server.output()}"
        time.sleep(0.1)


def request_lines(server: Server, request_id: str) -> list[dict[str, Any]]:
    return [r for r in log_records(server) if r["logger"] == "armada.request" and r["request_id"] == request_id]


def handshake(url: str, **headers: str) -> requests.Response:
    """Engine.IO's opening polling request (no token: Socket.IO authenticates after it)."""
    return requests.get(f"{url}/socket.io/", params={"EIO": "4", "transport": "polling"}, headers=headers, timeout=10)


def engineio_sid(response: requests.Response) -> str:
    assert response.status_code == 200 and response.text.startswith("0"), response.text
    sid: str = json.loads(response.text[1:])["sid"]
    return sid


def uploaded_media_url(alice: HttpUser) -> str:
    response = alice.call("POST", "/api/chat/upload", files={"file": ("note.txt", b"a small note", "text/plain")})
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


def assert_security_headers(response: requests.Response) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in headers  # plain HTTP
    assert GENERATED_ID.fullmatch(headers["X-Request-ID"]), headers


# ---- security headers ----------------------------------------------------------------------------------------

Probe = Callable[[Server, HttpUser], requests.Response]


def raw_send(server: Server, user: HttpUser, body: bytes) -> requests.Response:
    """POST a raw body to /api/chat/messages as `user`."""
    headers = {"Authorization": f"Bearer {user.token}", "Content-Type": "application/json"}
    return requests.post(f"{server.url}/api/chat/messages", data=body, headers=headers, timeout=10)


API_RESPONSES: dict[str, tuple[Probe, int]] = {
    "health": (lambda s, a: requests.get(f"{s.url}/api/health", timeout=10), 200),
    "authenticated": (lambda s, a: a.call("GET", "/api/chat/rooms"), 200),
    "no token": (lambda s, a: requests.get(f"{s.url}/api/chat/rooms", timeout=10), 401),
    "bad token": (
        lambda s, a: requests.get(f"{s.url}/api/users/me", headers={"Authorization": "Bearer x.y.z"}, timeout=10),
        401,
    ),
    "unknown api path": (lambda s, a: requests.get(f"{s.url}/api/nope", timeout=10), 404),
    "unknown path": (lambda s, a: requests.get(f"{s.url}/nope/é", timeout=10), 404),
    "wrong method": (lambda s, a: requests.delete(f"{s.url}/api/health", timeout=10), 405),
    "body too large": (lambda s, a: raw_send(s, a, json.dumps({"content": "x" * MESSAGE_LIMIT}).encode()), 413),
    "malformed json": (lambda s, a: raw_send(s, a, b"{\x00"), 400),
    "validation": (lambda s, a: raw_send(s, a, b'{"room_id": 7}'), 422),
    "openapi": (lambda s, a: requests.get(f"{s.url}/api/openapi.json", timeout=10), 200),
    "socket.io handshake": (lambda s, a: handshake(s.url), 200),
    "socket.io unknown session": (
        lambda s, a: requests.get(f"{s.url}/socket.io/?EIO=4&transport=polling&sid=nope", timeout=10),
        400,
    ),
    "socket.io old protocol": (lambda s, a: requests.get(f"{s.url}/socket.io/?EIO=3", timeout=10), 400),
    "media bad link": (lambda s, a: requests.get(f"{s.url}/api/media/forged", timeout=10), 403),
}


@pytest.mark.parametrize("name", list(API_RESPONSES))
def test_api_and_socketio_responses_carry_the_strict_headers(server: Server, alice: HttpUser, name: str) -> None:
    probe, status = API_RESPONSES[name]
    response = probe(server, alice)
    assert response.status_code == status, response.text
    assert_security_headers(response)
    assert response.headers["Content-Security-Policy"] == API_CSP
    assert response.headers["Cache-Control"] == "no-store"


def test_media_files_keep_their_own_caching_and_get_the_strict_headers(server: Server, alice: HttpUser) -> None:
    response = requests.get(uploaded_media_url(alice), timeout=10)
    assert response.status_code == 200 and response.content == b"a small note"
    assert_security_headers(response)
    assert response.headers["Content-Security-Policy"] == API_CSP
    assert "private" in response.headers["Cache-Control"] and "public" not in response.headers["Cache-Control"]


def test_the_web_client_keeps_its_own_policy(server: Server) -> None:
    page = requests.get(f"{server.url}/", timeout=10)
    assert page.status_code == 200
    assert_security_headers(page)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and policy != API_CSP
    assert page.headers["Cache-Control"] == "no-cache"
    for asset in ("/static/app.js", "/static/styles.css", "/api/docs/assets/swagger-ui.css"):
        response = requests.get(f"{server.url}{asset}", timeout=10)
        assert response.status_code == 200, asset
        assert_security_headers(response)


def test_the_docs_page_allows_exactly_its_own_inline_script(server: Server) -> None:
    response = requests.get(f"{server.url}/api/docs", timeout=10)
    assert response.status_code == 200
    assert_security_headers(response)
    policy = response.headers["Content-Security-Policy"]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'(;|$)", policy), policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_hsts_goes_out_over_https_only(server: Server, configured: Server) -> None:
    https = {"X-Forwarded-Proto": "https"}  # gunicorn trusts it from 127.0.0.1, like nginx on the same host
    for response in (
        requests.get(f"{server.url}/api/health", headers=https, timeout=10),
        requests.get(f"{server.url}/api/nope", headers=https, timeout=10),
        handshake(server.url, **https),
    ):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000", response.url
    assert "Strict-Transport-Security" not in requests.get(f"{server.url}/api/health", timeout=10).headers
    # HSTS_SECONDS=0 turns it off even over HTTPS.
    off = requests.get(f"{configured.url}/api/health", headers=https, timeout=10)
    assert off.status_code == 200 and "Strict-Transport-Security" not in off.headers


# ---- CORS ------------------------------------------------------------------------------------------------------


def preflight(url: str, origin: str) -> requests.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    return requests.options(f"{url}/api/chat/messages", headers=headers, timeout=10)


@pytest.mark.parametrize("origin", ["https://evil.example", APP_ORIGIN, "null"])
def test_without_allowed_origins_only_the_same_origin_gets_in(server: Server, origin: str) -> None:
    api = requests.get(f"{server.url}/api/health", headers={"Origin": origin}, timeout=10)
    assert api.status_code == 200 and "Access-Control-Allow-Origin" not in api.headers
    assert "Access-Control-Allow-Origin" not in preflight(server.url, origin).headers
    refused = handshake(server.url, Origin=origin)
    assert refused.status_code == 400 and "Access-Control-Allow-Origin" not in refused.headers
    assert_security_headers(refused)
    assert handshake(server.url, Origin=server.url).status_code == 200  # the web client's own origin


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (APP_ORIGIN, True),
        (ADMIN_ORIGIN, True),
        ("https://evil.example", False),
        ("http://app.example.com", False),  # another scheme is another origin
        ("https://app.example.com.evil.example", False),
        ("https://app.example.com:8443", False),
        ("null", False),
    ],
)
def test_allowed_origins_let_in_exactly_those_origins(configured: Server, origin: str, allowed: bool) -> None:
    api = requests.get(f"{configured.url}/api/health", headers={"Origin": origin}, timeout=10)
    options = preflight(configured.url, origin)
    sock = handshake(configured.url, Origin=origin)
    if allowed:
        assert api.headers["Access-Control-Allow-Origin"] == origin
        assert options.status_code == 200 and options.headers["Access-Control-Allow-Origin"] == origin
        assert "authorization" in options.headers["Access-Control-Allow-Headers"].lower()
        assert sock.status_code == 200 and sock.headers["Access-Control-Allow-Origin"] == origin
        # Tokens, not cookies: no allowed origin may send the browser's cookies along, over REST or Socket.IO.
        for response in (api, options, sock):
            assert "Access-Control-Allow-Credentials" not in response.headers, response.headers
    else:
        assert "Access-Control-Allow-Origin" not in api.headers
        assert "Access-Control-Allow-Origin" not in options.headers
        assert sock.status_code == 400 and "Access-Control-Allow-Origin" not in sock.headers
    for response in (api, options, sock):
        assert response.headers["X-Frame-Options"] == "DENY"


# ---- request ids -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "incoming",
    ["a", str(uuid.uuid4()), "x" * 200, "Root=1-67891233-abcdef012345678912345678", "req:1.2_3+4/5=="],
)
def test_a_sane_incoming_request_id_is_kept_and_logged(server: Server, incoming: str) -> None:
    api = requests.get(f"{server.url}/api/health", headers={"X-Request-ID": incoming}, timeout=10)
    sock = handshake(server.url, **{"X-Request-ID": incoming})
    assert api.headers["X-Request-ID"] == incoming and sock.headers["X-Request-ID"] == incoming
    paths = sorted(record["path"] for record in request_lines(server, incoming))
    assert paths == ["/api/health", "/socket.io/"], paths


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 201, "has space", "<script>alert(1)</script>", 'quo"te', "tab\tid", "é", "semi;colon", "a,b", "\x00"],
)
def test_any_other_incoming_request_id_is_replaced(server: Server, incoming: str) -> None:
    response = requests.get(f"{server.url}/api/health", headers={"X-Request-ID": incoming}, timeout=10)
    if response.status_code == 400 and "X-Request-ID" not in response.headers:
        return  # gunicorn itself refused the header (NUL): the app never saw it
    assert response.status_code == 200
    assert GENERATED_ID.fullmatch(response.headers["X-Request-ID"]) and response.headers["X-Request-ID"] != incoming


def test_each_request_gets_its_own_id(server: Server) -> None:
    ids = {requests.get(f"{server.url}/api/health", timeout=10).headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def test_records_made_while_a_request_runs_carry_its_id(server: Server) -> None:
    request_id = f"probe-{uuid.uuid4().hex}"
    # python-engineio logs a bad JSONP index as an error (the first time), while handling the request.
    response = requests.get(
        f"{server.url}/socket.io/?EIO=4&transport=polling&j=abc", headers={"X-Request-ID": request_id}, timeout=10
    )
    assert response.status_code == 400
    mine = [record for record in log_records(server) if record["request_id"] == request_id]
    assert [record["logger"] for record in mine] == ["engineio.server", "armada.request"], mine
    assert "JSONP" in mine[0]["message"] and mine[0]["level"] == "ERROR"
    line = mine[1]
    assert (line["method"], line["path"], line["status"], line["level"]) == ("GET", "/socket.io/", 400, "INFO")
    assert isinstance(line["duration_ms"], float) and line["remote_addr"] == "127.0.0.1"
    assert line["message"] == "GET /socket.io/ 400"


# ---- no secrets in logs ------------------------------------------------------------------------------------------


def test_the_log_holds_no_password_or_token_and_every_record_is_json_with_a_request_id(
    server: Server, http: requests.Session
) -> None:
    carol = HttpUser(http, server.url, "Carol")
    email = carol.email()
    wrong_password = f"wrong {uuid.uuid4().hex}"
    failed = http.post(f"{server.url}/api/auth/login", json={"email": email, "password": wrong_password}, timeout=10)
    assert failed.status_code == 401
    login = http.post(f"{server.url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    token, refresh_token = login.json()["access_token"], login.json()["refresh_token"]
    refreshed = http.post(
        f"{server.url}/api/auth/refresh", headers={"Authorization": f"Bearer {refresh_token}"}, timeout=10
    )
    assert refreshed.status_code == 200, refreshed.text
    room = carol.call("POST", "/api/chat/rooms", json={"room_type": "group", "name": "Ops"}).json()["id"]

    # The token in the query string, over polling and then the upgraded websocket.
    client = socketio.Client(reconnection=False, handle_sigint=False)
    socket_request_id = f"socket-{uuid.uuid4().hex}"
    try:
        client.connect(f"{server.url}?token={token}", headers={"X-Request-ID": socket_request_id}, wait_timeout=10)
        deadline = time.monotonic() + LOG_SECONDS
        while client.transport() != "websocket":
            assert time.monotonic() < deadline, "the socket never upgraded to websocket"
            time.sleep(0.05)
        assert client.call("join_room", {"room_id": room}, timeout=10) == {"ok": True, "room_id": room}
        ack = client.call("send_message", {"room_id": room, "content": "hello", "client_id": "c-1"}, timeout=10)
        assert ack["ok"] is True, ack
    finally:
        client.disconnect()
    refused = socketio.Client(reconnection=False, handle_sigint=False)
    with pytest.raises(SocketConnectionError):
        refused.connect(f"{server.url}?token={token}x", transports=["websocket"], wait_timeout=10)

    media_url = uploaded_media_url(carol)
    media_token = urlsplit(media_url).path.rsplit("/", 1)[-1]
    assert requests.get(media_url, timeout=10).status_code == 200
    # Requests that match no route name the link's path too: a wrong method, a trailing slash.
    assert requests.post(media_url, timeout=10).status_code == 405
    assert requests.get(f"{media_url}/", timeout=10).status_code == 404
    assert carol.call("POST", "/api/auth/logout").status_code == 204

    # The websocket's own line is written when the connection has closed.
    wait_for_record(server, lambda r: r["request_id"] == socket_request_id and r.get("status") == 101)
    text = server.log.read_text(errors="replace")
    secrets_used = {
        "password": PASSWORD,
        "wrong password": wrong_password,
        "media token": media_token,
        **{
            f"{name}{part}": value
            for name, jwt in [
                ("registration token", carol.token),
                ("registration refresh token", carol.refresh_token),
                ("access token", token),
                ("refresh token", refresh_token),
                ("refreshed token", refreshed.json()["access_token"]),
            ]
            for part, value in [("", jwt), (" signature", jwt.rsplit(".", 1)[-1])]
        },
    }
    for name, value in secrets_used.items():
        assert value not in text, f"the {name} is in the log"

    records = log_records(server)  # every line is JSON with a request_id, or one of gunicorn's own
    lines = [r for r in records if r["logger"] == "armada.request"]
    assert lines and all(isinstance(r["request_id"], str) and r["request_id"] for r in lines)
    login_lines = [(r["path"], r["status"]) for r in lines if r["path"] == "/api/auth/login"]
    assert ("/api/auth/login", 401) in login_lines and ("/api/auth/login", 200) in login_lines
    assert any(r["path"] == "/api/chat/rooms" and r.get("user_id") == carol.id for r in lines)
    assert any(r["path"] == "/api/media/[redacted]" and r["status"] == 200 for r in lines)
    socket_lines = [r for r in lines if r["request_id"] == socket_request_id]
    assert socket_lines and all(r["path"] == "/socket.io/" for r in socket_lines), socket_lines


def test_text_logs_carry_request_ids_and_no_query_strings(configured: Server) -> None:
    request_id = f"text-{uuid.uuid4().hex}"
    response = requests.get(
        f"{configured.url}/api/health?token=not-to-be-logged", headers={"X-Request-ID": request_id}, timeout=10
    )
    assert response.status_code == 200
    lines = [line for line in configured.log.read_text(errors="replace").splitlines() if request_id in line]
    assert len(lines) == 1 and f"INFO armada.request [{request_id}] GET /api/health 200" in lines[0], lines
    assert "not-to-be-logged" not in configured.log.read_text(errors="replace")


# ---- bounded Socket.IO messages --------------------------------------------------------------------------------


def test_an_oversized_websocket_message_is_cut_off_while_it_arrives(server: Server) -> None:
    """Not buffered whole first: the server closes the connection once the message passes the limit."""
    parts = urlsplit(server.url)
    declared = 64 * 1024 * 1024
    chunk = 256 * 1024
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(4096)
            assert data, head
            head += data
        assert head.startswith(b"HTTP/1.1 101"), head
        # One text frame declaring 64 MiB, masked with a zero key (so the payload goes as is).
        sock.sendall(bytes([0x81, 0x80 | 127]) + declared.to_bytes(8, "big") + b"\0\0\0\0" + b"4")
        sent = 1
        try:
            while sent < declared:
                piece = min(chunk, declared - sent)
                sock.sendall(b"a" * piece)
                sent += piece
        except (ConnectionResetError, BrokenPipeError):
            pass
    assert sent < declared // 4, f"the server read {sent} bytes of a message over {MESSAGE_LIMIT}"
    assert requests.get(f"{server.url}/api/health", timeout=10).status_code == 200


def test_a_websocket_message_within_the_limit_is_handled(server: Server, alice: HttpUser) -> None:
    room = alice.call("POST", "/api/chat/rooms", json={"room_type": "group", "name": "Big"}).json()["id"]
    client = socketio.Client(reconnection=False, handle_sigint=False)
    try:
        client.connect(server.url, auth={"token": alice.token}, transports=["websocket"], wait_timeout=10)
        content = "é" * 4000  # well under the limit, even as UTF-8 inside the packet
        ack = client.call("send_message", {"room_id": room, "content": content}, timeout=10)
        assert ack["ok"] is True and ack["message"]["content"] == content, ack
    finally:
        client.disconnect()


def test_an_oversized_polling_post_is_refused_at_once_and_the_session_lives_on(server: Server) -> None:
    sid = engineio_sid(handshake(server.url))
    url = f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    response = requests.post(url, data=b"4" + b"a" * MESSAGE_LIMIT, timeout=10)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert_security_headers(response)
    # The session was not torn down (nor this request left hanging): a small packet still goes through.
    assert requests.post(url, data=b"3", timeout=10).text == "OK"
    assert requests.get(f"{server.url}/api/health", timeout=10).status_code == 200


# ---- secrets and settings ------------------------------------------------------------------------------------------


def test_a_refused_secret_is_named_but_never_printed(tmp_path: Path) -> None:
    weak = "a-private-but-short-value-29c"
    database = f"sqlite:///{tmp_path / 'x.db'}"
    env = base_env(PORT=str(free_port()), DATABASE_URL=database, **{**SECRETS, "SECRET_KEY": weak})
    process = subprocess.Popen(
        ["sh", "-c", procfile_line("web")], cwd=ROOT, env=env, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        kill_group(process)
    output = stderr.decode(errors="replace")
    assert process.returncode != 0
    assert "SECRET_KEY must be set" in output and weak not in output, output[-2000:]


# ---- Redis with a password and TLS ---------------------------------------------------------------------------------


class SecuredRedis:
    """A redis-server of this test's own that speaks TLS only (a self-signed certificate) and wants a password."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir, self.port = tmp_path, free_port()
        # Characters a URL must escape, so the test also covers quoting in REDIS_URL.
        self.password = f"p@ss:w/rd-{secrets.token_hex(8)}"
        self.cert = tmp_path / "redis-cert.pem"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, verify: bool = True, password: str | None = None) -> str:
        url = f"rediss://:{quote(password or self.password, safe='')}@127.0.0.1:{self.port}/0"
        return f"{url}?ssl_ca_certs={self.cert}" if verify else url

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        key = self.dir / "redis-key.pem"
        made = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(self.cert), "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", self.password,
                "--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.cert),
                "--tls-key-file", str(key), "--tls-ca-cert-file", str(self.cert),
                "--tls-auth-clients", "no"]  # fmt: skip
        with (self.dir / "redis.log").open("wb") as log:
            self.process = subprocess.Popen([binary, *args], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + LOG_SECONDS
        with redis.Redis.from_url(self.url(), socket_connect_timeout=1) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    assert self.process.poll() is None, (self.dir / "redis.log").read_text(errors="replace")
                    assert time.monotonic() < deadline, "redis-server did not answer"
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=LOG_SECONDS)


@pytest.fixture
def secured_redis(tmp_path: Path) -> Iterator[SecuredRedis]:
    server = SecuredRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.needs_postgres
@pytest.mark.needs_redis
def test_events_cross_processes_through_a_redis_with_a_password_over_tls(
    secured_redis: SecuredRedis, tmp_path: Path
) -> None:
    # The Redis really wants what the URL gives: a wrong password, plain TCP or an unchecked certificate fail.
    with pytest.raises(redis.AuthenticationError), redis.Redis.from_url(secured_redis.url(password="wrong")) as wrong:
        wrong.ping()
    with (
        pytest.raises((redis.ConnectionError, redis.TimeoutError)),
        redis.Redis(port=secured_redis.port, socket_timeout=2) as plain,
    ):
        plain.ping()
    with pytest.raises(redis.ConnectionError), redis.Redis.from_url(secured_redis.url(verify=False)) as unchecked:
        unchecked.ping()  # the self-signed certificate is in no system store

    with cluster_on(secured_redis.url(), tmp_path) as cluster:
        alice, _, room_id, _, bob_on_a = joined_across(cluster)
        message = make_message(alice, room_id, "across a Redis with a password, over TLS", url=cluster.b.url)
        bob_on_a.exactly_one("new_message", about(message["id"]))
        for server in (cluster.a, cluster.b):
            text = server.log.read_text(errors="replace")
            password = secured_redis.password
            assert password not in text and quote(password, safe="") not in text, f"Redis password in {server.log}"
