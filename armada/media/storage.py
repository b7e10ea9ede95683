"""The storage interface media services use, and the current app's backend (see backends.py for the choice).

A backend stores opaque keys Armada generates; it never sees a user's filename except as a download name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeAlias

from flask import current_app

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


@dataclass(frozen=True)
class LocalFile:
    """A download Armada streams itself, from a file on this machine."""

    path: Path
    max_age: int  # seconds a browser may keep it


@dataclass(frozen=True)
class Redirect:
    """A download the backend serves at its own URL, where the client is sent."""

    url: str
    max_age: int  # seconds the redirect may be cached: less than the URL lives


# What the download route turns into its response (armada.media.routes.download_response).
Download: TypeAlias = LocalFile | Redirect


class Storage(Protocol):
    """Where media bytes live."""

    # Whether sign_upload's URLs lead to Armada's own upload route, which checks them with read_upload_token.
    receives_direct_uploads: bool

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

    def read_upload_token(self, token: str, max_age: int) -> tuple[str, str] | None:
        """The (key, content type) one of this backend's upload URLs allows; None if invalid or expired."""

    def locate(self, key: str, download_name: str, as_attachment: bool, expires_in: int) -> Download:
        """Where a verified link's bytes are, for expires_in seconds at most; ObjectMissing if absent."""


def storage() -> Storage:
    """The current app's storage backend."""
    backend: Storage = current_app.extensions[EXTENSION]
    return backend
