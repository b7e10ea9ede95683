"""Real server processes for tests: the Procfile's release and web lines, over real sockets."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from tests.helpers.support import postgres_database

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PG_ENV = "ARMADA_TEST_DATABASE_URL"
REDIS_ENV = "ARMADA_TEST_REDIS_URL"
STARTUP_SECONDS = 30


def procfile_line(kind: str) -> str:
    """The command of one Procfile process type (`web`, `release`)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == kind:
            return command.strip()
    raise AssertionError(f"Procfile has no {kind}: line")


def free_port() -> int:
    """A port free to listen on, below the kernel's ephemeral range (32768 and up): outgoing connections (to
    PostgreSQL, Redis, other servers) take their local ports there, and could take a port picked there before
    the server binds it."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port between 20000 and 32000")


def base_env(**overrides: str) -> dict[str, str]:
    """A production environment: nothing inherited but PATH, HOME and locale."""
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "LC_ALL", "TMPDIR")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env["ARMADA_ENV"] = "production"
    env["RATE_LIMIT_ENABLED"] = "false"  # tests of the limits turn them on (tests/system/test_rate_limits.py)
    env.update(overrides)
    return env


# Production refuses to start without these; every server of one test shares them, so tokens work on all.
SECRETS = {"SECRET_KEY": secrets.token_urlsafe(48), "JWT_SECRET_KEY": secrets.token_urlsafe(48)}


def fresh_database(tmp_path: Path, prefix: str = "armada_server") -> AbstractContextManager[str]:
    """A new empty database: a SQLite file, or a PostgreSQL database when the suite runs on PostgreSQL."""
    server_url = os.environ.get(PG_ENV)
    if server_url:
        return postgres_database(server_url, f"{prefix}_{uuid.uuid4().hex[:12]}")
    return nullcontext(f"sqlite:///{tmp_path / f'{prefix}.db'}")


@dataclass
class Server:
    """A server process, where it listens, and the file its output goes to."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        """The end of its output, for a failure's message."""
        return self.log.read_text(errors="replace")[-3000:]

    def records(self) -> list[dict[str, Any]]:
        """The JSON records it has logged so far (a production server's; gunicorn's own lines are text)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything it started (its own session), whatever state they are in."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def assert_exits_cleanly(server: Server, within: float) -> None:
    """The master exits with 0 within `within` seconds, its worker with it, no request cut off."""
    try:
        assert server.process.wait(timeout=within) == 0, server.output()
    except subprocess.TimeoutExpired:
        raise AssertionError(f"server still running {within}s after SIGTERM:\n{server.output()}") from None
    deadline = time.monotonic() + 5
    while group_alive(server.process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(server.process.pid), "a worker outlived the master"
    assert "Worker graceful timeout" not in server.output(), "requests were cut off at the graceful timeout"


def wait_until_healthy(server: Server) -> None:
    """Wait until /api/health answers 200; fail if the server exits or takes too long."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"server exited early:\n{server.output()}"
        try:
            if requests.get(f"{server.url}/api/health", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting up
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not healthy after {STARTUP_SECONDS}s:\n{server.output()}")


def migrate(database_url: str, **env: str) -> None:
    """The Procfile's release line against this database."""
    release = subprocess.run(
        ["sh", "-c", procfile_line("release")],
        cwd=ROOT,
        env=base_env(DATABASE_URL=database_url, **{**SECRETS, **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert release.returncode == 0, release.stderr[-3000:]


def flask_command(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`flask --app armada <args>` against this database, as an operator runs it; must succeed."""
    done = subprocess.run(
        ["flask", "--app", "armada", *args],
        cwd=ROOT,
        env=base_env(DATABASE_URL=database_url, **{**SECRETS, **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@contextmanager
def run_server(database_url: str, log_dir: Path, name: str = "server", **env: str) -> Iterator[Server]:
    """The Procfile's web line on a free port until /api/health answers; always killed afterwards.

    The database must already be migrated (see `migrate`). Extra keyword arguments become environment
    variables (REDIS_URL, JWT_ACCESS_TOKEN_EXPIRES, ...).
    """
    port = free_port()
    env = base_env(PORT=str(port), DATABASE_URL=database_url, **{**SECRETS, **env})
    with serve_process(["sh", "-c", procfile_line("web")], env, port, log_dir / f"{name}.log") as running:
        yield running


@contextmanager
def serve_process(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[Server]:
    """Start a server command in its own process group, logging to `log`, until /api/health answers on `port`;
    the whole group is killed afterwards."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(running)
        yield running
    finally:
        kill_group(process)


@contextmanager
def serve_fresh(tmp_path: Path, prefix: str = "armada_server", **env: str) -> Iterator[Server]:
    """A fresh database, migrated by the release line, served by the web line (see run_server)."""
    with fresh_database(tmp_path, prefix) as database_url:
        migrate(database_url, **env)
        with run_server(database_url, tmp_path, **env) as server:
            yield server


PASSWORD = "pass word 123"  # every HttpUser's


class HttpUser:
    """A registered user talking to a server over real HTTP."""

    def __init__(self, http: requests.Session, url: str, name: str) -> None:
        self.http, self.url, self.name = http, url, name
        email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": PASSWORD, "display_name": name}
        response = http.post(f"{url}/api/auth/register", json=body, timeout=10)
        assert response.status_code == 201, response.text
        data = response.json()
        self.id: str = data["user"]["id"]
        self.token: str = data["access_token"]
        self.refresh_token: str = data["refresh_token"]

    def call(self, method: str, path: str, url: str | None = None, **kwargs: Any) -> requests.Response:
        """Call the API as this user (on `url`, another process, if given)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, f"{url or self.url}{path}", headers=headers, timeout=10, **kwargs)

    def rooms(self) -> dict[str, dict[str, Any]]:
        """The rooms this user is in, by id."""
        response = self.call("GET", "/api/chat/rooms")
        assert response.status_code == 200, response.text
        return {room["id"]: room for room in response.json()["items"]}

    def email(self) -> str:
        """This user's email, as the server has it."""
        response = self.call("GET", "/api/users/me")
        assert response.status_code == 200, response.text
        return str(response.json()["email"])

    def login_again(self, url: str | None = None) -> str:
        """The access token of a new login session (logging out one session leaves the others)."""
        body = {"email": self.email(), "password": PASSWORD}
        response = self.http.post(f"{url or self.url}/api/auth/login", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def history(self, room_id: str, url: str | None = None, **params: str) -> list[dict[str, Any]]:
        """One page of the room's messages, oldest first."""
        response = self.call("GET", f"/api/chat/rooms/{room_id}/messages", url, params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


class SourceAddress(HTTPAdapter):
    """Opens every connection from one local address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Bind every new connection to the address."""
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


@contextmanager
def client_at(address: str) -> Iterator[requests.Session]:
    """An HTTP client whose connections come from `address` (any of 127.0.0.0/8 is this machine's loopback)."""
    with requests.Session() as session:
        session.mount("http://", SourceAddress(address))
        yield session
