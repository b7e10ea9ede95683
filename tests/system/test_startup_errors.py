"""A bad setting stops the Procfile's processes at once, with one line naming it (not a traceback)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.servers import ROOT, SECRETS, base_env, free_port, procfile_line

# What a newcomer gets wrong, and the setting each message must name.
BAD_SETTINGS = [
    ({"ARMADA_ENV": "testing"}, "ARMADA_ENV"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
    ({"DATABASE_URL": "not-a-url"}, "DATABASE_URL"),
    ({"ALLOWED_ORIGINS": "localhost:3000"}, "ALLOWED_ORIGINS"),
    ({"WEBSOCKET_COMPRESSION": "maybe"}, "WEBSOCKET_COMPRESSION"),
    ({"STORAGE_BACKEND": "typo"}, "STORAGE_BACKEND"),
    ({"SECRET_KEY": "change-me"}, "SECRET_KEY"),
]


def run_line(kind: str, tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a Procfile line to its end; its result and how long it took."""
    start = time.monotonic()
    done = subprocess.run(
        ["sh", "-c", procfile_line(kind)],
        cwd=ROOT,
        env=base_env(**{"PORT": str(free_port()), "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", **SECRETS, **env}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - start


@pytest.mark.parametrize("kind", ["web", "release"])
@pytest.mark.parametrize(("env", "name"), BAD_SETTINGS, ids=[name for _, name in BAD_SETTINGS])
def test_a_bad_setting_ends_the_process_with_one_line_naming_it(
    kind: str, env: dict[str, str], name: str, tmp_path: Path
) -> None:
    done, seconds = run_line(kind, tmp_path, env)
    assert done.returncode != 0
    assert seconds < 10
    output = (done.stdout + done.stderr).strip()
    assert output.startswith(f"armada: configuration error: {name} must"), output
    assert len(output.splitlines()) == 1, output
    # The value of a secret never reaches the logs.
    if name == "SECRET_KEY":
        assert "change-me" not in output
    if name == "ARMADA_ENV":
        assert "development, production" in output and "testing" not in output.split(";")[0]


def test_a_good_configuration_still_starts(tmp_path: Path) -> None:
    done, _ = run_line("release", tmp_path, {})
    assert done.returncode == 0, done.stderr[-3000:]
