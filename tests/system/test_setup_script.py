""".ci/setup (run by `make test`, `make run` and .ci/run) when it cannot install: as a user other than root, with a
PATH that lacks a tool, it stops at once with one line naming the package and the command that installs it. It
never reaches apt-get here: a stub in its place records any call."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.servers import ROOT

PRESENT = ["node", "npm", "curl"]  # stubs on the PATH; jq, redis-server, openssl, sudo are left out


@pytest.fixture
def checkout() -> Iterator[Path]:
    """A copy of the script with stub tools, readable by `nobody` (pytest's tmp_path is private to its user)."""
    copy = Path(tempfile.mkdtemp(prefix="armada-setup-"))
    try:
        (copy / ".ci").mkdir()
        shutil.copy2(ROOT / ".ci" / "setup", copy / ".ci" / "setup")
        (copy / "bin").mkdir()
        for tool in PRESENT:
            write_executable(copy / "bin" / tool, "#!/bin/sh\nexit 0\n")
        write_executable(copy / "bin" / "apt-get", f'#!/bin/sh\necho "$@" >> {copy}/apt-get-called\nexit 1\n')
        # An existing .venv: python3-venv is only needed to create one.
        write_executable(copy / ".venv" / "bin" / "python", "")
        for path in [copy, *copy.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
        yield copy
    finally:
        shutil.rmtree(copy)


def write_executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def run_setup(checkout: Path, profile: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """The script as a user who may not install (nobody, when the suite runs as root), on the stub PATH only."""
    as_user = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    command = [*as_user, "/usr/bin/env", "-i", f"PATH={checkout / 'bin'}"]
    command += [f"{name}={value}" for name, value in env.items()]
    command += ["/bin/bash", str(checkout / ".ci" / "setup"), profile]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    return done, time.monotonic() - started


def test_a_missing_tool_stops_make_test_at_once_with_one_line_naming_it_and_the_install_command(
    checkout: Path,
) -> None:
    done, seconds = run_setup(checkout, "test")
    assert done.returncode == 1, done
    assert seconds < 5
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("setup: missing "), line
    assert "jq (README examples)" in line
    command = line.split("install them as root with: ", 1)[1].split()
    assert command[:3] == ["apt-get", "install", "-y"]
    assert "jq" in command[3:]
    assert not {"nodejs", "npm", "curl", "python3-venv"} & set(command), "present tools are not named"
    # On SQLite the PostgreSQL and Redis tests are deselected, so what only they run is not asked for.
    assert not {"redis-server", "openssl", "postgresql"} & set(command)
    assert not (checkout / "apt-get-called").exists()


def test_the_redis_tests_add_what_they_run(checkout: Path) -> None:
    done, _ = run_setup(checkout, "test", ARMADA_TEST_REDIS_URL="redis://127.0.0.1:6379/0")
    assert done.returncode == 1, done
    [line] = done.stderr.splitlines()
    command = line.split("apt-get install -y ", 1)[1].split()
    assert {"jq", "redis-server", "openssl"} <= set(command)
    assert not (checkout / "apt-get-called").exists()


def test_with_everything_present_it_is_silent(checkout: Path) -> None:
    done, seconds = run_setup(checkout, "run")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert seconds < 5


def test_without_a_python_venv_make_run_is_told_to_install_python3_venv(checkout: Path) -> None:
    shutil.rmtree(checkout / ".venv")
    done, _ = run_setup(checkout, "run", PYTHON="/nonexistent/python3")
    assert done.returncode == 1, done
    [line] = done.stderr.splitlines()
    assert line.endswith("apt-get install -y python3-venv"), line
