"""The storage backends STORAGE_BACKEND can name, and building the configured one.

Adding a backend touches its own module and the BACKENDS table (CTFd's uploaders are chosen the same way).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from armada.media.local_storage import LocalStorage
from armada.media.storage import EXTENSION, Storage
from armada.media.supabase_storage import SupabaseStorage

# Each backend's class, built with the app (its settings are read once, at start).
BACKENDS: dict[str, Callable[[Flask], Storage]] = {
    "local": LocalStorage,
    "supabase": SupabaseStorage,
}


def init_app(app: Flask) -> None:
    """Build the configured backend for this app."""
    name = app.config["STORAGE_BACKEND"]
    try:
        backend = BACKENDS[name]
    except KeyError:
        raise RuntimeError(f"STORAGE_BACKEND must be one of {', '.join(sorted(BACKENDS))}, got {name!r}") from None
    app.extensions[EXTENSION] = backend(app)
