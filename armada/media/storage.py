"""The storage interface media services use, and the registry that picks a backend from config.

A backend stores opaque keys Armada generates; it never sees a user's filename except as a download name.
Adding a backend touches one module and the BACKENDS table (CTFd's uploaders work the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import Flask, Response, current_app


class ObjectMissing(LookupError):
    """The key names no stored object."""


@dataclass(frozen=True)
class SignedUpload:
    """Where and how a client uploads one object directly, bypassing Armada."""

    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


class Storage(Protocol):
    """Where media bytes live."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store an object (never overwriting one)."""

    def get(self, key: str) -> bytes:
        """An object's bytes; ObjectMissing if absent."""

    def size(self, key: str) -> int | None:
        """An object's size in bytes, or None if absent."""

    def delete(self, keys: list[str]) -> None:
        """Remove objects; absent keys are ignored."""

    def sign_upload(self, key: str, content_type: str, expires_in: int) -> SignedUpload:
        """A URL the client can upload this one key to, once."""

    def serve(self, key: str, content_type: str, download_name: str, as_attachment: bool, expires_in: int) -> Response:
        """The HTTP response for a verified download link: the bytes, or a redirect to the backend's own."""


BACKENDS: dict[str, Callable[[Flask], Storage]] = {}


def register_backend(name: str) -> Callable[[Callable[[Flask], Storage]], Callable[[Flask], Storage]]:
    """Class decorator: make a backend selectable as STORAGE_BACKEND=name."""

    def decorator(factory: Callable[[Flask], Storage]) -> Callable[[Flask], Storage]:
        BACKENDS[name] = factory
        return factory

    return decorator


def init_app(app: Flask) -> None:
    """Build the configured backend for this app."""
    name = app.config["STORAGE_BACKEND"]
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise RuntimeError(f"STORAGE_BACKEND must be one of {', '.join(sorted(BACKENDS))}, got {name!r}") from None
    app.extensions["armada_storage"] = factory(app)


def storage() -> Storage:
    """The current app's storage backend."""
    return current_app.extensions["armada_storage"]
