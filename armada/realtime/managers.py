"""Socket.IO client managers that can also move or disconnect sockets on every process.

python-socketio can make one *known* socket leave a room on any process, but Armada needs "every socket of
this user leaves this room" and "every socket of this login disconnects", and no process knows the sockets
of the others. So these are sent as internal events addressed to a Socket.IO room (the user's, the
session's); each process applies them to its own members of that room and never passes them to a client.
With Redis they travel on the same channel as the events they must precede, so their order is kept.

Redis pub/sub keeps nothing for a process that is not subscribed (Redis down or restarting, the listener
backing off): the events published meanwhile are lost, internal ones included. So after every (re)subscription
the Redis manager calls `on_subscribed`, which re-derives from the database what they would have done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import socketio

LEAVE = "armada:leave"  # data: {"room": <room to leave>}
DISCONNECT = "armada:disconnect"  # data: {}
INTERNAL_EVENTS = frozenset({LEAVE, DISCONNECT})


class _InternalEvents:
    """Applies internal events to this process's sockets."""

    server: Any

    def _apply_internal(self, event: str, data: dict[str, Any], namespace: str, room: str) -> None:
        sids = [sid for sid, _eio_sid in self.get_participants(namespace, room)]  # type: ignore[attr-defined]
        for sid in sids:
            if event == LEAVE:
                self.basic_leave_room(sid, namespace, data["room"])  # type: ignore[attr-defined]
            else:
                self.server.disconnect(sid, namespace=namespace, ignore_queue=True)


class LocalManager(_InternalEvents, socketio.Manager):
    """The in-process manager (no message queue)."""

    def emit(self, event: str, data: Any, namespace: str | None = None, room: Any = None, **kwargs: Any) -> Any:
        target = kwargs.get("to") or room
        if event in INTERNAL_EVENTS:
            return self._apply_internal(event, data, namespace or "/", target)
        return super().emit(event, data, namespace=namespace, room=room, **kwargs)


class RedisQueueManager(_InternalEvents, socketio.RedisManager):
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

    def _redis_connect(self) -> None:
        super()._redis_connect()
        # Keep Redis's subscribe confirmations: each marks a (re)subscription, redis-py's silent reconnects too.
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=False)

    def _listen(self) -> Iterator[bytes]:
        """RedisManager._listen, plus `on_subscribed` on each subscription, before any message that follows it."""
        channel = self.channel.encode("utf-8")
        for message in self._redis_listen_with_retries():
            if message.get("channel") != channel:
                continue
            if message["type"] == "subscribe":
                self._subscribed()
            elif message["type"] == "message" and "data" in message:
                yield message["data"]

    def _subscribed(self) -> None:
        if self.on_subscribed is None:
            return
        try:
            self.on_subscribed(self)
        except Exception:  # e.g. the database is down too: keep listening rather than lose every later event
            self._get_logger().exception("Could not reconcile sockets after subscribing to Redis")

    def socket_rooms(self, namespace: str = "/") -> dict[str, list[str]]:
        """This process's connected sockets and the Socket.IO rooms each is in."""
        return {sid: self.get_rooms(sid, namespace) for sid, _eio_sid in list(self.get_participants(namespace, None))}

    def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("event") in INTERNAL_EVENTS:
            data = message["data"][0] if isinstance(message["data"], list) else message["data"]
            self._apply_internal(message["event"], data, message.get("namespace") or "/", message["room"])
            return
        super()._handle_emit(message)
