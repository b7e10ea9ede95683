"""Smoke test of the real server: the Procfile's release and web lines, over real HTTP, then SIGTERM; and what the
production entry point (wsgi.py) does at import."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers.servers import (
    ROOT,
    SECRETS,
    VENV_BIN,
    HttpUser,
    Server,
    base_env,
    free_port,
    group_alive,
    kill_group,
    procfile_line,
    serve_fresh,
)

SHUTDOWN_SECONDS = 5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A migrated fresh database and the Procfile's web process serving it."""
    with serve_fresh(tmp_path) as running:
        yield running


def test_procfile_server_serves_a_conversation_and_stops_on_sigterm(server: Server) -> None:
    with requests.Session() as http:
        health = http.get(f"{server.url}/api/health", timeout=5)
        assert health.json() == {"status": "ok", "database": "ok"}
        alice, bob = HttpUser(http, server.url, "Alice"), HttpUser(http, server.url, "Bob")

        crew = {"room_type": "group", "name": "Crew", "member_ids": [bob.id]}
        group = alice.call("POST", "/api/chat/rooms", json=crew)
        assert group.status_code == 201, group.text
        group_id = group.json()["id"]
        direct = alice.call("POST", "/api/chat/rooms", json={"room_type": "direct", "member_ids": [bob.id]})
        assert direct.status_code == 201, direct.text
        direct_id = direct.json()["id"]
        again = bob.call("POST", "/api/chat/rooms", json={"room_type": "direct", "member_ids": [alice.id]})
        assert (again.status_code, again.json()["id"]) == (200, direct_id)

        sent = []
        for text in ["one", "two", "three 🚀"]:
            response = alice.call("POST", "/api/chat/messages", json={"room_id": group_id, "content": text})
            assert response.status_code == 201, response.text
            sent.append(response.json()["id"])
        reply = bob.call("POST", "/api/chat/messages", json={"room_id": direct_id, "content": "hi"})
        assert reply.status_code == 201, reply.text

        # History: the newest two, then the one before them; oldest first within each page.
        newest = bob.call("GET", f"/api/chat/rooms/{group_id}/messages", params={"limit": 2}).json()
        assert [m["id"] for m in newest["items"]] == sent[1:]
        assert newest["items"][1]["content"] == "three 🚀"
        before = {"limit": 2, "before": newest["next_cursor"]}
        older = bob.call("GET", f"/api/chat/rooms/{group_id}/messages", params=before)
        assert [m["id"] for m in older.json()["items"]] == sent[:1]
        assert older.json()["next_cursor"] is None

        # Unread counts: each sees only what the other sent.
        assert bob.rooms()[group_id]["unread_count"] == 3
        assert bob.rooms()[direct_id]["unread_count"] == 0
        assert alice.rooms()[direct_id]["unread_count"] == 1
        read = bob.call("POST", f"/api/chat/rooms/{group_id}/read", json={"up_to": sent[1]})
        assert read.status_code == 200, read.text
        assert read.json()["unread_count"] == 1
        assert bob.rooms()[group_id]["unread_count"] == 1
        assert list(bob.rooms()) == [direct_id, group_id]  # most recent activity first

        assert alice.call("POST", "/api/auth/logout").status_code == 204
        refused = alice.call("GET", "/api/users/me")
        assert refused.status_code == 401, refused.text
        assert set(refused.json()) == {"error"}
        assert bob.call("GET", "/api/users/me").status_code == 200

    # A process manager signals the process it started; that must be gunicorn itself, not a shell around it.
    server.process.send_signal(signal.SIGTERM)
    try:
        assert server.process.wait(timeout=SHUTDOWN_SECONDS) == 0, server.output()
    except subprocess.TimeoutExpired:
        raise AssertionError(f"server still running {SHUTDOWN_SECONDS}s after SIGTERM:\n{server.output()}") from None
    deadline = time.monotonic() + SHUTDOWN_SECONDS
    while group_alive(server.process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(server.process.pid), "a worker outlived the master"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/api/health", timeout=2)


def test_server_answers_errors_in_contract_format_over_http(server: Server) -> None:
    as_json = {"Content-Type": "application/json"}
    responses = [
        requests.get(f"{server.url}/api/nope", timeout=5),
        requests.post(f"{server.url}/api/auth/login", data="{", headers=as_json, timeout=5),
        requests.get(f"{server.url}/api/chat/rooms", timeout=5),
        requests.post(f"{server.url}/api/auth/register", data=b" " * (2**20 + 1), headers=as_json, timeout=10),
    ]
    assert [r.status_code for r in responses] == [404, 400, 401, 413]
    for response in responses:
        assert set(response.json()) == {"error"}, response.text
        assert {"code", "message"} <= set(response.json()["error"])


def run_to_exit(command: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run a command in its own process group; (exit code, stderr). The group is killed if it overstays."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
        return process.returncode, stderr.decode(errors="replace")
    finally:
        kill_group(process)


@pytest.mark.parametrize(
    "secrets, named",
    [
        ({"JWT_SECRET_KEY": SECRETS["JWT_SECRET_KEY"]}, "SECRET_KEY"),
        ({"SECRET_KEY": "", "JWT_SECRET_KEY": SECRETS["JWT_SECRET_KEY"]}, "SECRET_KEY"),
        ({"SECRET_KEY": "change-me", "JWT_SECRET_KEY": SECRETS["JWT_SECRET_KEY"]}, "SECRET_KEY"),
        ({"SECRET_KEY": SECRETS["SECRET_KEY"]}, "JWT_SECRET_KEY"),
        ({"SECRET_KEY": SECRETS["SECRET_KEY"], "JWT_SECRET_KEY": SECRETS["SECRET_KEY"][:31]}, "JWT_SECRET_KEY"),
    ],
)
def test_production_import_without_a_secret_fails_naming_it(
    tmp_path: Path, secrets: dict[str, str], named: str
) -> None:
    env = base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", **secrets)
    code, stderr = run_to_exit([str(VENV_BIN / "python"), "-c", "import wsgi"], env)
    assert code != 0
    assert f"{named} must be set" in stderr, stderr[-2000:]


def test_procfile_web_without_secret_key_exits_fast_naming_it(tmp_path: Path) -> None:
    env = base_env(PORT=str(free_port()), DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    started = time.monotonic()
    code, stderr = run_to_exit(["sh", "-c", procfile_line("web")], env, timeout=30)
    assert code != 0
    assert "SECRET_KEY must be set" in stderr, stderr[-2000:]
    assert time.monotonic() - started < 30


def test_the_production_entry_point_freezes_its_startup_heap_and_keeps_collecting(tmp_path: Path) -> None:
    # wsgi.py's gc.freeze(): without it, every full collection walked the whole startup heap again (BENCHMARKS.md).
    code = "import gc, wsgi; print(gc.get_freeze_count(), gc.isenabled(), len(gc.get_objects(2)))"
    env = base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'armada.db'}", **SECRETS)
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    frozen, enabled, oldest = run.stdout.split()
    # Flask, SQLAlchemy, marshmallow, gevent and the app: well over 100,000 objects, and hardly any left in the
    # oldest generation that full collections walk (only what the print itself made).
    assert int(frozen) > 100_000 and enabled == "True" and int(oldest) < 1_000, run.stdout
