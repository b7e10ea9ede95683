"""What changed in accounts: the events auth services record (armada.outbox)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionRevoked:
    """A login session logged out: its sockets must be disconnected."""

    sid: str
