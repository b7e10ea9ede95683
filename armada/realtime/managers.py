"""Socket.IO client managers that can also move or disconnect sockets on every process.

python-socketio can make one *known* socket leave a room on any process, but Armada needs "every socket of
this user leaves this room" and "every socket of this login disconnects", and no process knows the sockets
of the others. So these are sent as internal events addressed to a Socket.IO room (the user's, the
session's); each process applies them to its own members of that room and never passes them to a client.
With Redis they travel on the same channel as the events they must precede, so their order is kept.

Redis pub/sub keeps nothing for a process that is not subscribed (Redis down or restarting, the listener
backing off): the events published meanwhile are lost, internal ones included. So after every (re)subscription
the Redis manager calls `on_subscribed`, which re-derives from the database what they would have done. Events
can also be lost while every listener stays subscribed (Redis hung, a network partition): the publisher gives up
on them, and once Redis answers again it publishes RESYNC, on which every other process does the same. If the
database cannot be read then (it is down too: a host reboot brings Redis back first), this is retried until it can.
Both also make armada.realtime.delivery check at once that the sockets here missed no message change (it checks
every REALTIME_SWEEP_SECONDS anyway); message changes travel as CHANGE events, which it delivers in order, once.

The hooks these managers implement, and every touch of python-socketio's internals, are in armada.thirdparty.socketio.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from armada.thirdparty.socketio import LocalManagerBase, RedisManagerBase

if TYPE_CHECKING:
    from armada.realtime.delivery import Ledger

LEAVE = "armada:leave"  # data: {"room": <room to leave>}
DISCONNECT = "armada:disconnect"  # data: {}
RESYNC = "armada:resync"  # data: {}; the sender dropped events: re-derive from the database what they did
CHANGE = "armada:change"  # data: {"room_id", "seq": <change number>, "event", "data"}: see armada.realtime.delivery
INTERNAL_EVENTS = frozenset({LEAVE, DISCONNECT})

# python-socketio's own logger shows errors only (Flask-SocketIO's default); a recovery is worth a line too.
log = logging.getLogger(__name__)

# A publish runs inside the request or socket event that made a change, after its commit: it must never hold it
# for long. So publishing has a client of its own with a read timeout (python-socketio's one client also listens,
# idle for minutes: it cannot have one, and without one a hung Redis held every request forever). After a
# timeout it never retries, as the command may sit in Redis already; after a connection error it retries once at
# once (a connection dropped while idle). That error may also come after Redis ran the PUBLISH (the reply was
# lost), so every publish carries an id and listeners drop a second copy of one they have had.
PUBLISH_TIMEOUT_SECONDS = 1.0
# After a failed publish, events are dropped without trying for this long, so an outage costs a request nothing.
PUBLISH_PAUSE_SECONDS = 1.0
# How many publish ids a listener remembers: a retried PUBLISH follows the first within the publish timeout.
REMEMBERED_PUBLISH_IDS = 10_000
# The listener retries subscribing after 0.5, 1, 2, 4, 5, 5... s (python-socketio's own doubles up to 60 s): after a
# long outage, delivery across processes resumes within seconds of Redis coming back, not a minute. A failed
# `on_subscribed` is retried as often, so it applies within seconds of the database coming back.
LISTEN_RETRY_FIRST_SECONDS = 0.5
LISTEN_RETRY_MAX_SECONDS = 5.0


class _InternalEvents:
    """Applies internal events to this process's sockets."""

    server: Any
    ledger: Ledger | None = None  # set by armada.realtime.server

    def intercept_emit(self, event: str, data: Any, namespace: str, room: Any) -> bool:
        """Apply an internal event to this process's sockets instead of sending it to any client."""
        if event == CHANGE:
            if self.ledger is not None:
                self.ledger.receive(data["room_id"], data["seq"], data["event"], data["data"])
            else:
                self.deliver_here(data["event"], data["data"], room)  # type: ignore[attr-defined]
            return True
        if event not in INTERNAL_EVENTS:
            return False
        self._apply_internal(event, data, namespace, room)
        return True

    def _apply_internal(self, event: str, data: dict[str, Any], namespace: str, room: str) -> None:
        sids = [sid for sid, _eio_sid in self.get_participants(namespace, room)]  # type: ignore[attr-defined]
        for sid in sids:
            if event == LEAVE:
                self.basic_leave_room(sid, namespace, data["room"])  # type: ignore[attr-defined]
            else:
                self.server.disconnect(sid, namespace=namespace, ignore_queue=True)


class LocalManager(_InternalEvents, LocalManagerBase):
    """The in-process manager (no message queue)."""


class RedisQueueManager(_InternalEvents, RedisManagerBase):
    """The Redis message-queue manager; internal events reach every process through the channel."""

    def __init__(
        self,
        url: str,
        channel: str,
        redis_options: dict[str, Any] | None = None,
        on_subscribed: Callable[[RedisQueueManager], None] | None = None,
    ) -> None:
        super().__init__(url, channel=channel, redis_options=redis_options)
        self.on_subscribed = on_subscribed
        self.sweep_seconds = 2.0  # set by armada.realtime.server from REALTIME_SWEEP_SECONDS
        self._publisher: Any = None
        self._publish_paused_until = 0.0
        self._resyncing = False
        self._retrying_subscribed = False  # a background task retries `on_subscribed` (one at most)
        self._subscribed_due = False  # and owes it another call
        self._received_ids: OrderedDict[str, None] = OrderedDict()

    def _new_publisher(self) -> Any:
        """The publishing client, made as RedisManager makes its one client, with the timeout and retry above."""
        module = self.redis_module
        retry = module.retry.Retry(module.backoff.NoBackoff(), 1, supported_errors=(module.exceptions.ConnectionError,))
        return self.new_redis_client(socket_timeout=PUBLISH_TIMEOUT_SECONDS, retry=retry)

    def _publish(self, data: Any) -> Any:
        """Publish on the channel, or give up at once: see PUBLISH_TIMEOUT_SECONDS and PUBLISH_PAUSE_SECONDS."""
        if time.monotonic() < self._publish_paused_until:
            return None
        try:
            if self._publisher is None:
                self._publisher = self._new_publisher()
            message = self.json.dumps({**data, "publish_id": uuid.uuid4().hex})
            return self._publisher.publish(self.channel, message)
        except Exception as exc:  # Redis down, hung or unreachable: the change is committed; clients catch up
            self._publish_paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
            self.manager_logger.error(
                f"Cannot publish to redis... dropping events for {PUBLISH_PAUSE_SECONDS} secs",
                extra={"redis_exception": str(exc)},
            )
            if not self._resyncing:
                self._resyncing = True
                self.server.start_background_task(self._resync_when_back)
            return None

    def _resync_when_back(self) -> None:
        """Once Redis answers again, have every other process re-derive what the dropped events did."""
        message = self.emit_message(RESYNC, {})
        try:
            while True:
                time.sleep(PUBLISH_PAUSE_SECONDS)
                try:
                    self._publisher = self._publisher or self._new_publisher()
                    self._publisher.publish(self.channel, self.json.dumps(message))
                except Exception as exc:  # still unreachable
                    log.debug("Redis still unreachable: %s", exc)
                    continue
                log.warning("Publishing to Redis again after dropping events; the other processes resync")
                return
        finally:
            self._resyncing = False

    def listen_retry_delays(self) -> Iterator[float]:
        """0.5, 1, 2, 4, 5, 5... seconds between the listener's attempts: see LISTEN_RETRY_FIRST_SECONDS."""
        delay = LISTEN_RETRY_FIRST_SECONDS
        while True:
            yield delay
            delay = min(delay * 2, LISTEN_RETRY_MAX_SECONDS)

    def _listen(self) -> Iterator[dict[str, Any]]:
        """Each published message decoded once, its repeats dropped (`on_subscribed` runs on each subscription,
        before any message that follows it: see after_subscribe)."""
        for raw in self.channel_payloads():
            data = self._first_copy(raw)
            if data is not None:
                yield data

    def _first_copy(self, raw: bytes) -> dict[str, Any] | None:
        """The decoded message, or None for one that is not JSON or whose publish id was received already."""
        try:
            data = self.json.loads(raw)
        except ValueError:
            return None
        publish_id = data.get("publish_id") if isinstance(data, dict) else None
        if isinstance(publish_id, str):
            if publish_id in self._received_ids:
                log.warning("Dropped a repeated Redis message (a publish retried after its reply was lost)")
                return None
            self._received_ids[publish_id] = None
            if len(self._received_ids) > REMEMBERED_PUBLISH_IDS:
                self._received_ids.popitem(last=False)
        return data if isinstance(data, dict) else None

    def initialize(self) -> None:
        """Start listening, and checking every `sweep_seconds` that the sockets here missed no change."""
        super().initialize()
        if self.ledger is not None:
            self.server.start_background_task(self.ledger.sweep_every, self.sweep_seconds)

    def after_subscribe(self) -> None:
        """Re-derive what events missed while unsubscribed did (`on_subscribed`), and replay missed changes."""
        self._reconcile()
        self._sweep_soon()

    def _sweep_soon(self) -> None:
        if self.ledger is not None:
            self.server.start_background_task(self._sweep_once, self.ledger)

    def _sweep_once(self, ledger: Ledger) -> None:
        try:
            ledger.sweep()
        except Exception as exc:  # the database is down too: the periodic sweep tries again
            log.warning("Could not check the rooms' last changes after a Redis fault: %s", exc)

    def _reconcile(self) -> None:
        if self.on_subscribed is None:
            return
        if self._retrying_subscribed:  # leave the call to the retry task: never two reconciles at once
            self._subscribed_due = True
            return
        try:
            self.on_subscribed(self)
        except Exception:  # e.g. the database is down too: keep listening rather than lose every later event
            self.manager_logger.exception("Could not reconcile sockets with the database; retrying in the background")
            self._retrying_subscribed = self._subscribed_due = True
            self.server.start_background_task(self._retry_subscribed, self.on_subscribed)

    def _retry_subscribed(self, on_subscribed: Callable[[RedisQueueManager], None]) -> None:
        """Call `on_subscribed` with a backoff until a call succeeds and none was asked for meanwhile."""
        delay = LISTEN_RETRY_FIRST_SECONDS
        try:
            while self._subscribed_due:
                time.sleep(delay)
                # A call asked for from here on may need what this one reads too early: it sets the flag again.
                self._subscribed_due = False
                try:
                    on_subscribed(self)
                except Exception as exc:  # still failing
                    self._subscribed_due = True
                    log.debug("Still cannot reconcile sockets with the database: %s", exc)
                    delay = min(delay * 2, LISTEN_RETRY_MAX_SECONDS)
        finally:
            self._retrying_subscribed = False
        log.warning("Reconciled sockets with the database after an earlier attempt failed")

    def socket_rooms(self, namespace: str = "/") -> dict[str, list[str]]:
        """This process's connected sockets and the Socket.IO rooms each is in."""
        return {sid: self.get_rooms(sid, namespace) for sid, _eio_sid in list(self.get_participants(namespace, None))}

    def intercept_emit(self, event: str, data: Any, namespace: str, room: Any) -> bool:
        """RESYNC from another process re-derives from the database, as after a subscription; internal events
        apply to this process's sockets."""
        if event == RESYNC:
            self._reconcile()
            self._sweep_soon()
            return True
        return super().intercept_emit(event, data, namespace, room)
