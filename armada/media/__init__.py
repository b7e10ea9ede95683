"""Media: uploads, signed links and thumbnails, over a storage backend chosen by STORAGE_BACKEND."""

from __future__ import annotations

from flask import Flask

from armada.extensions import api
from armada.media import local_storage, storage, supabase_storage  # noqa: F401 - backends register themselves
from armada.media.routes import blp


def init_app(app: Flask) -> None:
    """Build the storage backend and register the media endpoints."""
    storage.init_app(app)
    api.register_blueprint(blp)
