"""The multi-instance topology for real: deploy/nginx.conf under Debian's nginx, in front of two single-worker
gunicorn instances (the Procfile's web line) sharing one PostgreSQL database and one Redis channel, with the
official socket.io-client connecting through it with its default long-polling -> websocket upgrade.

How the test proves events cross instances: ip_hash picks an instance from the first three octets of a
client's IPv4 address, so every client on this machine (127.0.0.1, and 127.0.0.2 etc. alike) lands on the same
instance; binding clients to other loopback addresses cannot split them, and IPv6 ::1 against 127.0.0.1 would
split them only if the two hashes happened to differ. So client A connects through nginx, nginx's access log
(deploy/nginx.conf logs `upstream=` on every request) tells which instance holds its session, and client B
connects straight to the other instance. A message sent over REST straight to that other instance reaches A
only through Redis, and one sent through nginx (so to A's instance) reaches B only through Redis: both must
arrive at both clients exactly once. The same log shows that every request of A's session, long-polls and the
websocket upgrade alike, reached one instance and none was refused; the last test runs the same file without
ip_hash to show these checks fail when stickiness is missing.
"""

from __future__ import annotations

import getpass
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers.factories import make_message, make_room
from tests.helpers.node import NodeScript, node_process
from tests.helpers.realtime import about, wait_listening
from tests.helpers.servers import (
    PASSWORD,
    ROOT,
    HttpUser,
    Server,
    client_at,
    free_port,
    fresh_database,
    kill_group,
    migrate,
    run_server,
)

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]

DEPLOY_CONF = ROOT / "deploy" / "nginx.conf"
EVENT_SECONDS = 10  # how long an event (or a log line) may take to arrive
SETTLE_SECONDS = 2.0  # how long we wait for a duplicate before concluding there is none
STARTUP_SECONDS = 10
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # Armada's default cap (config.py)
MULTIPART_OVERHEAD = 64 * 1024  # what Armada allows around the file (armada/media/routes.py)


# ---- nginx, from deploy/nginx.conf ---------------------------------------------------------------------------


def substitute(text: str, pattern: str, replacement: str) -> str:
    """Replace the one match of `pattern` (a line of the deployers' file); fail if the file no longer has it."""
    result, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1, f"deploy/nginx.conf should have exactly one line matching {pattern!r}, found {count}"
    return result


def render_site(servers: list[Server], port: int, access_log: Path, sticky: bool = True) -> str:
    """deploy/nginx.conf with these instances, a listen address of ours and our log; the rest exactly as shipped."""
    text = DEPLOY_CONF.read_text()
    block = re.search(r"^upstream armada \{\n(.*?)^\}", text, flags=re.MULTILINE | re.DOTALL)
    assert block, "deploy/nginx.conf has no `upstream armada { ... }` block"
    body = block.group(1)
    placeholders = re.findall(r"^\s*server \S+;.*\n", body, flags=re.MULTILINE)
    assert placeholders, "the upstream block lists no instances"
    ours = "".join(f"    server {server.url.removeprefix('http://')};\n" for server in servers)
    body = body.replace(placeholders[0], ours, 1)
    for line in placeholders[1:]:
        body = body.replace(line, "", 1)
    if not sticky:
        body = substitute(body, r"^\s*ip_hash;\n", "")
    text = text[: block.start(1)] + body + text[block.end(1) :]
    text = substitute(text, r"^(\s*)listen 80;$", rf"\g<1>listen 127.0.0.1:{port};")
    text = substitute(text, r"^\s*listen \[::\]:80;\n", "")
    return substitute(text, r"^(\s*access_log )\S+( armada_upstream;)$", rf"\g<1>{access_log}\g<2>")


@dataclass
class Request:
    """One line of the access log: a request nginx finished and the instance that answered it."""

    method: str
    target: str
    status: int
    upstream: str
    request_id: str


LOG_LINE = re.compile(
    r'"(?P<method>\S+) (?P<target>\S+) [^"]*" (?P<status>\d{3}) \d+ '
    r"upstream=(?P<upstream>\S+) .* request_id=(?P<id>\S+)"
)


@dataclass
class Proxy:
    url: str
    access_log: Path
    error_log: Path

    def requests(self) -> list[Request]:
        """Every request nginx has finished so far (it logs one when it is done, websockets when they close)."""
        if not self.access_log.exists():
            return []
        found = [LOG_LINE.search(line) for line in self.access_log.read_text().splitlines()]
        return [Request(m["method"], m["target"], int(m["status"]), m["upstream"], m["id"]) for m in found if m]

    def wait_for(self, predicate: Callable[[Request], bool], since: int = 0) -> Request:
        """The first logged request (from the `since`-th on) matching `predicate`, waiting for nginx to finish it."""
        deadline = time.monotonic() + EVENT_SECONDS
        while not (matching := [r for r in self.requests()[since:] if predicate(r)]):
            assert time.monotonic() < deadline, f"nginx logged no such request; it logged {self.requests()}"
            time.sleep(0.05)
        return matching[0]


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"  # Debian puts it in sbin, not on a normal user's PATH
    assert os.access(found, os.X_OK), "nginx is not installed (.ci/run installs the Debian nginx package)"
    return found


def wait_listening_on(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        assert process.poll() is None, f"nginx exited:\n{log.read_text(errors='replace')}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:  # not listening yet
            assert time.monotonic() < deadline, f"nginx not listening:\n{log.read_text(errors='replace')}"
            time.sleep(0.05)


@contextmanager
def run_nginx(tmp_path: Path, servers: list[Server], sticky: bool = True) -> Iterator[Proxy]:
    """Debian's nginx as the current user, with deploy/nginx.conf included where Debian's nginx.conf includes it
    (inside http {}), every path it writes inside tmp_path, on a free port; always killed afterwards."""
    root = tmp_path / f"nginx-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    port = free_port()
    proxy = Proxy(f"http://127.0.0.1:{port}", root / "access.log", root / "error.log")
    (root / "armada.conf").write_text(render_site(servers, port, proxy.access_log, sticky))
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp_paths = "".join(f"    {kind}_temp_path {root / kind};\n" for kind in kinds)
    # As root, nginx would run its workers as `nobody`, who cannot enter pytest's private temporary directory.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    events = "events { worker_connections 256; }\n"
    http = f"http {{\n{temp_paths}    include {root / 'armada.conf'};\n}}\n"
    (root / "nginx.conf").write_text(f"{user}worker_processes 1;\n{events}{http}")
    command = [
        nginx_binary(),
        "-e", "stderr",  # not the compiled-in /var/log/nginx/error.log, even while starting
        "-p", str(root),
        "-c", str(root / "nginx.conf"),
        "-g", f"daemon off; pid {root / 'nginx.pid'}; error_log stderr;",
    ]  # fmt: skip
    with proxy.error_log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_listening_on(port, process, proxy.error_log)
        yield proxy
    finally:
        kill_group(process)


# ---- the official JS client ---------------------------------------------------------------------------------


class JsClient(NodeScript):
    """through_proxy.mjs in a node process; its JSON lines ({event, data, transport})."""

    def _take(self, timeout: float) -> bool:
        """Move the next printed line into `seen`; False if none came in time or the script ended."""
        line = self.next_line(timeout)
        if line is not None:
            self.seen.append(line)
        return line is not None

    def matching(self, event: str, predicate: Callable[[Any], bool] = lambda _: True) -> list[dict[str, Any]]:
        """Every line so far of `event` whose data satisfies `predicate` (also taking what is already printed)."""
        while self._take(0):
            pass
        return [line for line in self.seen if line["event"] == event and predicate(line["data"])]

    def wait_for(self, event: str, predicate: Callable[[Any], bool] = lambda _: True) -> dict[str, Any]:
        """The first line of `event` (data and transport) whose data satisfies `predicate`."""
        deadline = time.monotonic() + EVENT_SECONDS
        while not (found := self.matching(event, predicate)):
            if not self._take(deadline - time.monotonic()):
                raise AssertionError(f"no {event!r} from the JS client; it printed {self.seen}\n{self.stderr()}")
        return found[0]

    def events(self) -> list[str]:
        self.matching("")
        return [line["event"] for line in self.seen]

    def close(self) -> str:
        """Close its stdin, so it closes the socket and exits; the reason it gave."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        reason: str = self.wait_for("exit")["data"]["reason"]
        self.process.wait(timeout=EVENT_SECONDS)
        return reason


@contextmanager
def js_client(url: str, token: str, room_id: str | None = None) -> Iterator[JsClient]:
    """The official client connected to `url` with the default transports; always killed afterwards."""
    config = {"url": url, "token": token, "room_id": room_id}
    with node_process("through_proxy.mjs", config, stdin=True) as process:
        yield JsClient(process)


# ---- the topology -------------------------------------------------------------------------------------------


@dataclass
class Topology:
    a: Server
    b: Server
    proxy: Proxy
    redis_url: str
    channel: str
    http: requests.Session

    def instance(self, address: str) -> Server:
        """The instance nginx calls `address` (host:port) in its log."""
        by_address = {server.url.removeprefix("http://"): server for server in (self.a, self.b)}
        assert address in by_address, f"nginx sent a request to {address}, which is neither instance"
        return by_address[address]

    def other(self, server: Server) -> Server:
        return self.b if server is self.a else self.a


@pytest.fixture(scope="module")
def topology(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """Two instances on one fresh database and one Redis channel of their own, behind nginx."""
    tmp_path = tmp_path_factory.mktemp("nginx_topology")
    channel = f"armada-test-{uuid.uuid4().hex}"
    # As deploy/nginx.conf says to run them: limits on, counted per client as nginx saw it (TRUSTED_PROXIES=1).
    # Every client here is at 127.0.0.1 but those of the login test, so the register limit is raised.
    env = {
        "REDIS_URL": redis_url,
        "REDIS_CHANNEL": channel,
        "TRUSTED_PROXIES": "1",
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_REGISTER": "1000/minute",
        "RATE_LIMIT_LOGIN": "3/minute",
    }
    with fresh_database(tmp_path, "armada_nginx") as database_url:
        migrate(database_url)
        with (
            run_server(database_url, tmp_path, "a", **env) as a,
            run_server(database_url, tmp_path, "b", **env) as b,
            run_nginx(tmp_path, [a, b]) as proxy,
            requests.Session() as http,
        ):
            health = http.get(f"{proxy.url}/api/health", timeout=10)
            assert health.status_code == 200, health.text
            yield Topology(a, b, proxy, redis_url, channel, http)


def upgraded_and_joined(client: JsClient, room_id: str) -> str:
    """The client opened with long-polling, upgraded to websocket and joined over it; its engine.io session id."""
    opened = client.wait_for("open")
    assert opened["transport"] == "polling", opened
    upgrade = client.wait_for("upgrade")
    assert upgrade["transport"] == "websocket" and upgrade["data"]["sid"] == opened["data"]["sid"], upgrade
    joined = client.wait_for("ack:join_room")
    assert joined == {"event": "ack:join_room", "data": {"ok": True, "room_id": room_id}, "transport": "websocket"}
    assert not {"connect_error", "upgrade_error", "disconnect"} & set(client.events()), client.seen
    return str(opened["data"]["sid"])


# ---- the tests ----------------------------------------------------------------------------------------------


def test_js_client_upgrades_through_nginx_and_events_cross_instances_exactly_once(topology: Topology) -> None:
    proxy, http = topology.proxy, topology.http
    alice, bob = HttpUser(http, proxy.url, "Alice"), HttpUser(http, proxy.url, "Bob")
    room_id = make_room(alice, bob)["id"]

    with js_client(proxy.url, alice.token, room_id) as through_nginx:
        sid = upgraded_and_joined(through_nginx, room_id)
        assert through_nginx.wait_for("connected")["data"] == {"user_id": alice.id}
        sticky = topology.instance(proxy.wait_for(lambda r: f"sid={sid}" in r.target).upstream)
        elsewhere = topology.other(sticky)

        with js_client(elsewhere.url, bob.token, room_id) as direct:
            upgraded_and_joined(direct, room_id)
            wait_listening(topology.redis_url, topology.channel, 2)  # each instance listens from its first socket

            # Straight to the instance nginx does not use for Alice: reaches her only through Redis.
            across_to_nginx = make_message(bob, room_id, "from the other instance 🚀", url=elsewhere.url)["id"]
            # Through nginx, so to Alice's instance (checked in its log): reaches Bob only through Redis.
            logged = len(proxy.requests())
            across_to_direct = make_message(alice, room_id, "through nginx ✅", url=proxy.url)["id"]
            sent = proxy.wait_for(lambda r: (r.method, r.target) == ("POST", "/api/chat/messages"), since=logged)
            assert (sent.status, topology.instance(sent.upstream)) == (201, sticky)

            messages = {across_to_nginx: "from the other instance 🚀", across_to_direct: "through nginx ✅"}
            for client in (through_nginx, direct):
                for message_id, content in messages.items():
                    assert client.wait_for("new_message", about(message_id))["data"]["message"]["content"] == content
            time.sleep(SETTLE_SECONDS)  # any duplicate would arrive by now
            for client in (through_nginx, direct):
                for message_id in messages:
                    copies = client.matching("new_message", about(message_id))
                    assert len(copies) == 1, copies
                    assert copies[0]["transport"] == "websocket" and copies[0]["data"]["room_id"] == room_id
            assert direct.close() == "stdin closed"
        assert through_nginx.close() == "stdin closed"

    # nginx logs the websocket when it closes; by then every request of Alice's session is in the log.
    proxy.wait_for(lambda r: f"sid={sid}" in r.target and "transport=websocket" in r.target)
    session = [(r.method, r.status, r.upstream) for r in proxy.requests() if f"sid={sid}" in r.target]
    polls = [r for r in proxy.requests() if f"sid={sid}" in r.target and "transport=polling" in r.target]
    upgrades = [r for r in proxy.requests() if f"sid={sid}" in r.target and "transport=websocket" in r.target]
    assert {upstream for _, _, upstream in session} == {sticky.url.removeprefix("http://")}, session
    assert {r.method for r in polls} == {"GET", "POST"} and {r.status for r in polls} == {200}, session
    assert [r.status for r in upgrades] == [101], session


def test_rest_and_an_upload_of_exactly_the_cap_pass_through_nginx(topology: Topology) -> None:
    proxy, http = topology.proxy, topology.http
    carol = HttpUser(http, proxy.url, "Carol")
    logged = len(proxy.requests())
    bearer = {"Authorization": f"Bearer {carol.token}"}
    me = http.get(f"{proxy.url}/api/users/me", headers={**bearer, "X-Request-ID": "client-chosen"}, timeout=10)
    assert (me.status_code, me.json()["id"]) == (200, carol.id)
    # nginx replaces a client's request id with its own, which Armada keeps and echoes: one id in both logs.
    logged_me = proxy.wait_for(lambda r: r.target == "/api/users/me", since=logged)
    assert me.headers["X-Request-ID"] == logged_me.request_id != "client-chosen", me.headers

    data = os.urandom(MAX_UPLOAD_BYTES)
    headers = {
        **bearer,
        # nginx must overwrite these: gunicorn believes X-Forwarded-Proto from nginx's address.
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
    }
    files = {"file": ("cargo.bin", data, "application/octet-stream")}
    upload = http.post(f"{proxy.url}/api/chat/upload", headers=headers, files=files, timeout=60)
    assert upload.status_code == 201, upload.text[:500]
    body = upload.json()
    assert (body["size"], body["message_type"], body["filename"]) == (MAX_UPLOAD_BYTES, "file", "cargo.bin")
    # The link is built from the Host clients used (nginx's, with its port) and nginx's own scheme.
    assert body["url"].startswith(f"{proxy.url}/"), body["url"]
    download = http.get(body["url"], timeout=60)
    assert download.status_code == 200 and download.content == data

    # Over Armada's cap but within nginx's: Armada's own refusal, in the contract's shape.
    over = http.post(
        f"{proxy.url}/api/chat/upload",
        headers=headers,
        files={"file": ("cargo.bin", data + os.urandom(MULTIPART_OVERHEAD), "application/octet-stream")},
        timeout=60,
    )
    assert over.status_code == 413, over.text[:500]
    assert over.json()["error"]["code"] == "file_too_large"


def test_nginx_access_log_holds_no_token_or_media_credential(topology: Topology) -> None:
    proxy, http = topology.proxy, topology.http
    erin = HttpUser(http, proxy.url, "Erin")
    files = {"file": ("note.txt", b"for Erin only", "text/plain")}
    upload = http.post(
        f"{proxy.url}/api/chat/upload", headers={"Authorization": f"Bearer {erin.token}"}, files=files, timeout=30
    )
    assert upload.status_code == 201, upload.text
    link = upload.json()["url"]
    credential = link.rsplit("/", 1)[1]
    logged = len(proxy.requests())
    assert http.get(link, timeout=10).status_code == 200
    # The same link written with doubled slashes still reaches Armada (a redirect): still no credential logged.
    http.get(link.replace("/api/media/", "/api//media//"), timeout=10, allow_redirects=False)
    # A Socket.IO handshake with the token in the query, as clients that cannot send an auth payload do.
    handshake = http.get(f"{proxy.url}/socket.io/?EIO=4&transport=polling&token={erin.token}&t=x1", timeout=10)
    assert handshake.status_code == 200, handshake.text
    proxy.wait_for(lambda r: r.target.startswith("/socket.io/") and "t=x1" in r.target, since=logged)
    targets = [r.target for r in proxy.requests()[logged:]]
    assert "/api/media/[redacted]" in targets, targets
    assert "/socket.io/?EIO=4&transport=polling&token=[redacted]&t=x1" in targets, targets
    text = proxy.access_log.read_text()
    assert credential not in text and erin.token not in text


def test_each_client_behind_nginx_has_its_own_login_count_and_its_own_address_in_the_log(topology: Topology) -> None:
    proxy = topology.proxy
    email = HttpUser(topology.http, proxy.url, "Dana").email()

    def login(client: requests.Session, password: str, forged: str) -> requests.Response:
        body = {"email": email, "password": password}
        # A forged X-Forwarded-For: nginx appends the address it saw, and that is the one Armada reads.
        headers = {"X-Forwarded-For": forged}
        return client.post(f"{proxy.url}/api/auth/login", json=body, headers=headers, timeout=10)

    with client_at("127.0.0.2") as guesser, client_at("127.0.0.3") as neighbour:
        wrong = [login(guesser, "wrong password", f"203.0.113.{n}") for n in range(3)]
        assert [r.status_code for r in wrong] == [401, 401, 401], [r.text for r in wrong]
        refused = login(guesser, PASSWORD, "203.0.113.99")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited", refused.text
        assert login(neighbour, PASSWORD, "127.0.0.2").status_code == 200

    request_id = refused.headers["X-Request-ID"]
    deadline = time.monotonic() + EVENT_SECONDS
    both = (topology.a, topology.b)
    while not (records := [r for server in both for r in server.records() if r.get("request_id") == request_id]):
        assert time.monotonic() < deadline, "no log record of the refused login on either instance"
        time.sleep(0.05)
    assert [(r["status"], r["remote_addr"]) for r in records if r["logger"] == "armada.request"] == [
        (429, "127.0.0.2")
    ], records


@pytest.mark.parametrize("path", ["/api/chat/upload", "/api/chat/messages", "/socket.io/?EIO=4&transport=polling"])
def test_a_body_over_nginx_limit_is_refused_by_nginx_in_the_contracts_shape(topology: Topology, path: str) -> None:
    host, port = topology.proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        # Only the headers: nginx refuses on the declared length, before reading any of the body.
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(27 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()
        status, content_type, text = response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()
    assert (status, content_type) == (413, "application/json"), text
    assert json.loads(text) == {"error": {"code": "payload_too_large", "message": "The request body is too large."}}


def test_socketio_through_nginx_accepts_the_pages_own_origin_and_no_other(topology: Topology) -> None:
    """A browser on the web client served through nginx sends nginx's origin; Armada must recognise it as its own."""
    handshake = f"{topology.proxy.url}/socket.io/?EIO=4&transport=polling"
    own = topology.http.get(handshake, headers={"Origin": topology.proxy.url}, timeout=10)
    assert own.status_code == 200 and own.text.startswith("0{") and '"sid"' in own.text, own.text
    for foreign in ("http://evil.example", topology.proxy.url.replace("127.0.0.1", "localhost"), "null"):
        refused = topology.http.get(handshake, headers={"Origin": foreign}, timeout=10)
        assert refused.status_code == 400, (foreign, refused.text)


def test_without_ip_hash_the_same_file_loses_the_polling_session(topology: Topology, tmp_path: Path) -> None:
    """The control for the stickiness checks above: round robin sends the session's second request to the
    instance that does not hold it, which refuses it, so the client never connects."""
    dave = HttpUser(topology.http, topology.proxy.url, "Dave")
    with run_nginx(tmp_path, [topology.a, topology.b], sticky=False) as round_robin:
        with js_client(round_robin.url, dave.token) as client:
            opened = client.wait_for("open")
            sid = opened["data"]["sid"]
            client.wait_for("connect_error")
            assert "connected" not in client.events(), client.seen
        refused = round_robin.wait_for(lambda r: f"sid={sid}" in r.target and r.status == 400)
        assert len({r.upstream for r in round_robin.requests()}) == 2, round_robin.requests()
        assert refused.method in ("GET", "POST")
