"""`make run` honours `.env` as the app does: the Procfile's web line reads PORT and WORKER_CONNECTIONS itself, and
the environment wins over the file. Run in a copy of the checkout, so the real one's .env is never touched."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.helpers.servers import ROOT, SECRETS, base_env, free_port, serve_process

# What `make run` reads; .venv is linked, never re-installed (`make -o` treats its stamp as up to date).
COPIED = [
    "Makefile",
    "Procfile",
    "requirements.txt",
    "armada",
    "migrations",
    *sorted(path.name for path in ROOT.glob("*.py")),  # wsgi.py, config.py, gunicorn.conf.py, ...
]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what `make run` needs, with the real .venv linked in."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def make_run(checkout: Path) -> list[str]:
    return ["make", "--no-print-directory", "-C", str(checkout), "-o", ".venv/.installed", "run"]


def gunicorn_arguments(session: int) -> list[str]:
    """The command line of the gunicorn master that `make run` started in this session (its process group)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            arguments = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # exited meanwhile
        if int(fields[3]) == session and b"gunicorn" in b" ".join(arguments) and b"-c" not in arguments[:2]:
            return [argument.decode() for argument in arguments if argument]
    raise AssertionError("no gunicorn process in make run's session")


def test_make_run_serves_on_the_port_and_connections_that_dot_env_sets(checkout: Path, tmp_path: Path) -> None:
    port = free_port()
    (checkout / ".env").write_text(f"PORT={port}\nWORKER_CONNECTIONS=77\n")
    env = base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}", **SECRETS)
    with serve_process(make_run(checkout), env, port, tmp_path / "make-run.log") as server:
        arguments = gunicorn_arguments(os.getpgid(server.process.pid))
        assert arguments[arguments.index("--worker-connections") + 1] == "77", arguments
        assert f"0.0.0.0:{port}" in arguments, arguments


def test_the_environment_wins_over_dot_env(checkout: Path, tmp_path: Path) -> None:
    file_port, env_port = free_port(), free_port()
    (checkout / ".env").write_text(f"PORT={file_port}\n")
    env = base_env(PORT=str(env_port), DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}", **SECRETS)
    with serve_process(make_run(checkout), env, env_port, tmp_path / "make-run.log"), socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", file_port)) != 0, "something listens on .env's PORT"


def test_without_dot_env_make_run_serves_on_the_environments_port(checkout: Path, tmp_path: Path) -> None:
    port = free_port()
    env = base_env(PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}", **SECRETS)
    with serve_process(make_run(checkout), env, port, tmp_path / "make-run.log") as server:
        assert "--worker-connections" in gunicorn_arguments(os.getpgid(server.process.pid))
