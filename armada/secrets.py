"""Signing keys for development installs that did not set any."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask


def _instance_secret(app: Flask, name: str) -> str:
    # A random key per install, kept in the instance folder so tokens survive restarts, and never the
    # same on two machines (a hard-coded default would be a forgeable key on every careless deploy).
    path = Path(app.instance_path) / f"{name.lower()}.txt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        # link() refuses to overwrite: when two processes start at once, the first key wins for both.
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def init_app(app: Flask) -> None:
    """Fill SECRET_KEY / JWT_SECRET_KEY from the instance folder where the config left them unset."""
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        if not app.config.get(name):
            app.config[name] = _instance_secret(app, name)
