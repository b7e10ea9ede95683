"""The test suite's configuration profile: kept here, out of a served app's reach (ARMADA_ENV cannot name it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from armada import create_app
from armada.extensions import db
from config import TESTING_SECRETS, Config


class TestingConfig(Config):
    """Cheap password hashing, keys published with the repository (production refuses them), limits off."""

    __test__ = False  # not a test class, whatever its name
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = dict(environ or {})
        for name, value in TESTING_SECRETS.items():
            env.setdefault(name, value)
        env.setdefault("PASSWORD_HASH_METHOD", "scrypt:1024:8:1")
        # Unit tests make many logins from one address; tests of the limits turn them on explicitly.
        env.setdefault("RATE_LIMIT_ENABLED", "false")
        super().__init__(env)


@contextmanager
def app_on(database_url: str, instance: Path) -> Iterator[Flask]:
    """An app of the testing profile on a database of its own, its connections closed afterwards."""
    application = create_app(TestingConfig({"DATABASE_URL": database_url}))
    application.instance_path = str(instance)
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()
