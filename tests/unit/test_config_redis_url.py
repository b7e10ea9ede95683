"""REDIS_URL for Sentinel is checked as python-socketio reads it, by config.py alone: gunicorn's master reads the
config before gevent patches the workers, so config.py must not import python-socketio's Redis support (redis and
urllib3 import ssl, which gevent then cannot patch safely: MonkeyPatchWarning in every worker's log)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from socketio.redis_manager import parse_redis_sentinel_url

import config
from tests.helpers.testing_config import TestingConfig

ROOT = Path(__file__).resolve().parents[2]


def socketio_reads(url: str) -> bool:
    try:
        parse_redis_sentinel_url(url)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://:pw@sentinel-1:26379,sentinel-2:26379/0/mymaster",
        "redis+sentinel://user:pw@sentinel:26379/2/service",
        "redis+sentinel://sentinel:26379",
        "redis+sentinel://sentinel:26379/0",
        "redis+sentinel://sentinel:26379/mymaster/0",  # the service before the database
        "redis+sentinel://sentinel:port/0/mymaster",
        "redis+sentinel:///0/mymaster",
        "redis+sentinel://sentinel",
    ],
)
def test_a_sentinel_url_is_accepted_exactly_when_python_socketio_can_read_it(url: str) -> None:
    try:
        TestingConfig({"REDIS_URL": url})
        accepted = True
    except config.ConfigError as exc:
        assert str(exc).startswith("REDIS_URL must be a redis+sentinel://")
        accepted = False
    assert accepted == socketio_reads(url)


def test_reading_the_config_imports_no_redis_client() -> None:
    script = "import sys, config; print(sorted(m for m in ('redis', 'urllib3', 'socketio') if m in sys.modules))"
    found = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stdout
