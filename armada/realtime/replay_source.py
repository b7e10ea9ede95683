"""Where the delivery ledger (armada.realtime.delivery) reads the changes its sockets missed: the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import NamedTuple, Protocol

from flask import Flask

from armada.chat.history import changes_after
from armada.chat.sequencing import last_change_numbers
from armada.extensions import db
from armada.realtime import events


class Batch(NamedTuple):
    """What a replay read of one room: its last change number then, and the changes after a number."""

    last_seq: int
    changes: list[events.Replayed]
    complete: bool  # False: more changes follow the last one read


class Changes(Protocol):
    """Where replays read committed changes from."""

    def last_numbers(self, room_ids: list[str]) -> dict[str, int]: ...

    def read(self, after: dict[str, int], limit: int) -> dict[str, Batch]: ...


class DatabaseChanges:
    """The database as `Changes`: each call in an app context and a transaction of its own."""

    def __init__(self, app: Flask, before_delivery: Callable[[], None] | None = None) -> None:
        self.app, self.before_delivery = app, before_delivery

    def last_numbers(self, room_ids: list[str]) -> dict[str, int]:
        """Each room's last change number."""
        with self.app.app_context():
            try:
                numbers = last_change_numbers([uuid.UUID(room_id) for room_id in room_ids])
            finally:
                db.session.remove()
        return {str(room_id): number for room_id, number in numbers.items()}

    def read(self, after: dict[str, int], limit: int) -> dict[str, Batch]:
        """Per room, its changes after a change number (at most `limit`), read after its last change number."""
        batches: dict[str, Batch] = {}
        with self.app.app_context():
            try:
                # The numbers first: every change up to them has committed, so the changes read next include them.
                last = last_change_numbers([uuid.UUID(room_id) for room_id in after])
                for room_id, number in last.items():
                    found = changes_after(room_id, after[str(room_id)], limit)
                    batches[str(room_id)] = Batch(number, [events.replayable(m) for m in found], len(found) < limit)
            finally:
                db.session.remove()
        # Memberships are checked after the changes are read: a member removed before any of them committed no
        # longer has sockets in the room (armada.realtime.reconcile) when they are delivered.
        if self.before_delivery is not None:
            self.before_delivery()
        return batches
