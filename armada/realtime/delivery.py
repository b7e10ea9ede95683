"""Every committed message change reaches this process's joined sockets once, in room order, whatever was lost.

Events are the fast path and the database the truth. Each change to a room's messages takes the room's next change
number under the room's lock, so changes commit in number order (armada.chat.sequencing), and its event reaches
every process as an internal CHANGE event carrying that number (through Redis with REDIS_URL). Per room that its
sockets joined, a process keeps the last change number it delivered to them (`delivered`):

- the next number in line is delivered at once: the cost when nothing fails is a dict lookup;
- a number already delivered is dropped (a repeat, or a change a replay delivered first): nothing twice;
- a number further on is held, as the ones before it are late (two commits published in the other order) or lost.
  If the gap is not filled within GAP_SECONDS, the changes after `delivered` are read from the database and
  delivered in change order, each message as it is now; held events they cover are dropped.

A lost event with no later one in its room leaves no gap to see (a publish dropped while Redis was down, a process
killed between its commit and its publish), so every REALTIME_SWEEP_SECONDS, and at once when the Redis listener
resubscribes or another process says it dropped events (RESYNC), one statement reads the last change numbers of
the rooms this process's sockets joined; a room behind is repaired in the same way, GAP_SECONDS later so that
events on their way are not read twice. So a change reaches every connected, joined socket within
REALTIME_SWEEP_SECONDS + GAP_SECONDS of its commit (plus the queries) while the database answers, even while Redis
is down. A socket's starting point is the room's last change number read after it joined (`joined`): what
committed before that is the client's catch-up (GET .../messages?changed_after=), as the README describes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask

from armada.extensions import socketio
from armada.realtime import events
from armada.realtime.replay_source import Batch, Changes, DatabaseChanges

log = logging.getLogger(__name__)

GAP_SECONDS = 0.5  # how long a gap may wait for late events before the database fills it
REPLAY_PAGE = 200  # changes read per room and query; a longer backlog takes several
MAX_HELD = 1_000  # events held behind one gap before the database is read at once
RETRY_MAX_SECONDS = 5.0  # the longest wait between attempts to read a database that fails


class Sockets(Protocol):
    """What the ledger needs of the Socket.IO manager (armada.thirdparty.socketio)."""

    def deliver_here(self, event: str, data: Any, room: str, namespace: str = "/") -> None: ...

    def has_sockets(self, room: str, namespace: str = "/") -> bool: ...


@dataclass
class _Room:
    delivered: int  # the last change number this process's sockets in the room were given
    known: int  # the highest change number known to have committed
    held: dict[int, tuple[str, Any]] = field(default_factory=dict)  # events that came before their turn
    behind_since: float | None = None  # since when `known` is ahead of `delivered`
    joining: bool = False  # a socket is joining and will say where it starts: hold everything till then


def current_ledger() -> Ledger:
    """The ledger of the Socket.IO manager in use (the last app bound: armada.extensions are module singletons)."""
    found: Ledger = socketio.server.manager.ledger
    return found


def install(app: Flask, manager: Any, before_delivery: Callable[[], None] | None, sweep_seconds: float) -> Ledger:
    """Give the app's Socket.IO manager a ledger reading from the app's database; it sweeps every `sweep_seconds`
    (the Redis manager: the in-process one cannot lose an event, only see them out of order)."""
    ledger = Ledger(manager, DatabaseChanges(app, before_delivery), manager_spawn(manager), manager_sleep(manager))
    manager.ledger, manager.sweep_seconds = ledger, sweep_seconds
    return ledger


def manager_spawn(manager: Any) -> Callable[..., Any]:
    """Start a background task the way the manager's server does (greenlet or thread); it is bound later."""
    return lambda task, *args: manager.server.start_background_task(task, *args)


def manager_sleep(manager: Any) -> Callable[[float], None]:
    """Wait the way the manager's server does: a greenlet yields (time.sleep would block every greenlet where the
    standard library is not monkey-patched, as under `flask run` and in tests)."""
    return lambda seconds: manager.server.sleep(seconds)


class Ledger:
    """Per room this process's sockets joined, the last change delivered to them; delivers in order, repairs gaps."""

    def __init__(
        self,
        sockets: Sockets,
        changes: Changes,
        spawn: Callable[..., Any],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sockets, self.changes, self.spawn, self.sleep = sockets, changes, spawn, sleep
        self._rooms: dict[str, _Room] = {}
        self._lock = threading.Lock()  # deliveries happen under it too, so they keep the order they were decided in
        self._repairing = False  # a background task repairs rooms that fell behind (one at most)

    def joined(self, room_id: str, last_seq: int) -> None:
        """A socket of this process joined a room whose last change number, read since, was `last_seq`."""
        with self._lock:
            room = self._rooms.get(room_id)
            if room is None:
                self._rooms[room_id] = _Room(last_seq, last_seq)
            elif room.joining:  # events came while it joined: those after its starting point are its first
                room.delivered, room.joining = last_seq, False
                room.known = max([last_seq, *room.held])
                self._drain(events.room_channel(room_id), room)
                if room.held:
                    self._fell_behind(room)
            # else the room's other sockets here were given everything up to `delivered`, and so will this one

    def receive(self, room_id: str, seq: int, event: str, data: Any) -> None:
        """A room's change number `seq` arrived as `event`: deliver it in its turn, once."""
        channel = events.room_channel(room_id)
        with self._lock:
            if not self.sockets.has_sockets(channel):
                self._rooms.pop(room_id, None)  # its last socket left
                return
            room = self._rooms.get(room_id)
            if room is None:  # a socket is joining (see `joined`)
                room = self._rooms[room_id] = _Room(0, 0, joining=True)
            if room.joining:
                room.held[seq] = (event, data)
                return
            if seq <= room.delivered:
                return  # delivered already: a replay read it first
            room.known = max(room.known, seq)
            if seq == room.delivered + 1:
                self._deliver(channel, room, seq, event, data)
                self._drain(channel, room)
                return
            room.held[seq] = (event, data)
            self._fell_behind(room, at_once=len(room.held) > MAX_HELD)

    def sweep(self) -> None:
        """Read the last change numbers of the rooms with sockets here; repair those this process is behind in."""
        with self._lock:
            for room_id in [r for r in self._rooms if not self.sockets.has_sockets(events.room_channel(r))]:
                del self._rooms[room_id]  # its last socket left
            watched = list(self._rooms)
        if not watched:
            return
        numbers = self.changes.last_numbers(watched)
        with self._lock:
            for room_id, last_seq in numbers.items():
                room = self._rooms.get(room_id)
                if room is not None and not room.joining and last_seq > room.delivered:
                    room.known = max(room.known, last_seq)
                    self._fell_behind(room)

    def sweep_every(self, seconds: float) -> None:
        """Sweep forever, every `seconds` (a background task)."""
        while True:
            self.sleep(seconds)
            try:
                self.sweep()
            except Exception as exc:  # the database is unreachable: the next sweep tries again
                log.warning("Could not check the rooms' last changes: %s", exc)

    def behind(self) -> dict[str, tuple[int, int]]:
        """Rooms whose sockets here miss committed changes: (delivered, known) for each."""
        with self._lock:
            return {r: (room.delivered, room.known) for r, room in self._rooms.items() if room.behind_since is not None}

    # ---- under the lock -----------------------------------------------------------------------------------------

    def _deliver(self, channel: str, room: _Room, seq: int, event: str, data: Any) -> None:
        room.delivered = seq
        try:
            self.sockets.deliver_here(event, data, channel)
        except Exception:  # a socket's failure must not stop the room's next events
            log.exception("could not deliver %s to %s", event, channel)

    def _drain(self, channel: str, room: _Room) -> None:
        for seq in [seq for seq in room.held if seq <= room.delivered]:
            del room.held[seq]  # a replay delivered that change, as it is now
        while (waiting := room.held.pop(room.delivered + 1, None)) is not None:
            self._deliver(channel, room, room.delivered + 1, *waiting)
        if room.delivered >= room.known:
            room.behind_since = None

    def _fell_behind(self, room: _Room, at_once: bool = False) -> None:
        if room.behind_since is None or at_once:
            room.behind_since = time.monotonic() - (GAP_SECONDS if at_once else 0)
        if not self._repairing:
            self._repairing = True
            self.spawn(self._repair)

    def _apply(self, room_id: str, batch: Batch) -> None:
        room = self._rooms.get(room_id)
        if room is None or room.joining:  # left meanwhile, and is joining again
            return
        channel = events.room_channel(room_id)
        for change in batch.changes:
            if change.change_seq > room.delivered:
                # The sockets had the message if it was made by a change they were given, or before they joined.
                for event, data in events.replayed(change, known=change.seq <= room.delivered):
                    self._deliver(channel, room, change.change_seq, event, data)
        if batch.complete:
            room.delivered = max(room.delivered, batch.last_seq)
        room.known = max(room.known, batch.last_seq)
        self._drain(channel, room)

    def _wait_again(self, due: dict[str, int]) -> None:
        """A room a read brought nothing new to (the database has not got what an event said committed, or no longer
        has the room) waits another GAP_SECONDS before the next read: the repair never spins on the database."""
        for room_id, delivered in due.items():
            room = self._rooms.get(room_id)
            if room is not None and room.behind_since is not None and room.delivered == delivered:
                room.behind_since = time.monotonic()

    # ---- the repair task ------------------------------------------------------------------------------------------

    def _due(self) -> tuple[dict[str, int], float | None]:
        """Rooms behind for GAP_SECONDS (with their `delivered`), and how long until the next one is; None: none is."""
        with self._lock:
            now = time.monotonic()
            behind = {rid: room for rid, room in self._rooms.items() if room.behind_since is not None}
            if not behind:
                self._repairing = False
                return {}, None
            due = {rid: room.delivered for rid, room in behind.items() if now - room.behind_since >= GAP_SECONDS}  # type: ignore[operator]
            soonest = min(GAP_SECONDS - (now - room.behind_since) for room in behind.values())  # type: ignore[operator]
            return due, max(soonest, 0.0)

    def _repair(self) -> None:
        """Fill the gaps of rooms behind from the database, until none is; retried while the database fails."""
        failures = 0
        try:
            while True:
                due, wait = self._due()
                if wait is None:
                    return
                if not due:
                    self.sleep(wait)
                    continue
                try:
                    batches = self.changes.read(due, REPLAY_PAGE)
                except Exception as exc:  # the database is down: keep the gaps, try again
                    failures += 1
                    log.warning("Could not read missed changes (attempt %d): %s", failures, exc)
                    self.sleep(min(GAP_SECONDS * 2**failures, RETRY_MAX_SECONDS))
                    continue
                if failures:
                    log.warning("Read missed changes after %d failed attempts", failures)
                failures = 0
                with self._lock:
                    for room_id, batch in batches.items():
                        self._apply(room_id, batch)
                    self._wait_again(due)
                log.info("Replayed missed changes to the sockets of %d rooms", len(batches))
        except BaseException:
            with self._lock:
                self._repairing = False
            raise
