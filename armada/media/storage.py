"""The storage interface media services use, and the current app's backend (see backends.py for the choice).

A backend stores opaque keys Armada generates; it never sees a user's filename except as a download name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import Response, current_app

# Where init_app in backends.py keeps the app's backend.
EXTENSION = "armada_storage"


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


def storage() -> Storage:
    """The current app's storage backend."""
    return current_app.extensions[EXTENSION]
