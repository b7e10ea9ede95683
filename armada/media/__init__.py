"""Media: uploads, signed links and thumbnails, over a storage backend chosen by STORAGE_BACKEND."""

from __future__ import annotations

from flask import Flask

from armada.extensions import api
from armada.media import backends
from armada.media.routes import blp


def init_app(app: Flask) -> None:
    """Build the storage backend and register the media endpoints."""
    backends.init_app(app)
    api.register_blueprint(blp)
