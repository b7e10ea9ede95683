"""python-socketio's client managers, with the internals Armada builds on behind named hooks.

A pub/sub manager is meant to be extended through `_publish` and `_listen`, which python-socketio documents for
subclasses: those stay with Armada's managers (armada.realtime.managers). What these base classes override or
call instead is internal to python-socketio 5.18: RedisManager's connection (`_redis_connect`,
`_get_redis_module`, its `redis`, `pubsub`, `redis_url` and `redis_options` attributes) and listening loop
(`_redis_listen_with_retries`), PubSubManager's handling of an emit (`_handle_emit`) and the shape of the
messages it publishes (`host_id` included) and unpacks (`_handle_emit`'s, kept for the direct broadcast of
armada.thirdparty.lean_transport), the manager's logger (`_get_logger`), and the map of which sockets are
in which room (`rooms`, read by `has_sockets`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import socketio
from socketio.redis_manager import parse_redis_sentinel_url

from armada.thirdparty import require
from armada.thirdparty.lean_transport import emit_here

SUPPORTED = ">=5.18,<5.19"
require("python-socketio", SUPPORTED)

SENTINEL_SCHEMES = frozenset({"redis+sentinel", "valkey+sentinel"})  # as RedisManager._redis_connect tells them


class _HereOnly:
    """Delivery to this process's sockets alone, and who is here: python-socketio's `rooms` map is internal."""

    rooms: dict[str, dict[Any, Any]]

    def deliver_here(self, event: str, data: Any, room: str, namespace: str = "/") -> None:
        """Send an event to this process's sockets in `room`, and nowhere else (no hook, no queue)."""
        emit_here(self, event, data, namespace, room)

    def has_sockets(self, room: str, namespace: str = "/") -> bool:
        """Whether any socket of this process is in `room`."""
        return bool(self.rooms.get(namespace, {}).get(room))


class LocalManagerBase(_HereOnly, socketio.Manager):
    """The in-process manager, with a hook on every emit."""

    def intercept_emit(self, event: str, data: Any, namespace: str, room: Any) -> bool:
        """Hook: called with each emit before it is delivered; True consumes it (it reaches no client)."""
        return False

    def emit(self, event: str, data: Any, namespace: str | None = None, room: Any = None, **kwargs: Any) -> Any:
        """Manager.emit, after `intercept_emit` (`to` names the room as well as `room` does)."""
        if self.intercept_emit(event, data, namespace or "/", kwargs.get("to") or room):
            return None
        emit_here(self, event, data, namespace, room, **kwargs)
        return None


class RedisManagerBase(_HereOnly, socketio.RedisManager):
    """RedisManager with hooks on each (re)subscription, on the listener's retry delays and on each emit.

    Subclasses implement `_publish` and `_listen` as python-socketio intends; `_listen` reads `channel_payloads()`.
    """

    # Hooks

    def after_subscribe(self) -> None:
        """Hook: called on each (re)subscription to the channel, before any message that follows it."""

    def listen_retry_delays(self) -> Iterator[float]:
        """Hook: seconds to wait after each consecutive failure to listen (never ending); restarted after each
        subscription. RedisManager's own: 1, 2, 4... up to 60."""
        delay = 1
        while True:
            yield delay
            delay = min(delay * 2, 60)

    def intercept_emit(self, event: str, data: Any, namespace: str, room: Any) -> bool:
        """Hook: called with each emit, this process's own and every other's from the channel, before it is
        delivered to this process's clients; True consumes it. `data` is the emit's first argument."""
        return False

    # What subclasses use instead of RedisManager's internals

    @property
    def manager_logger(self) -> Any:
        """The logger python-socketio's manager logs to: the one it was given, else the server's."""
        return self._get_logger()

    @property
    def redis_module(self) -> ModuleType:
        """The client library the URL names: redis, or valkey for valkey:// URLs."""
        return self._get_redis_module()  # type: ignore[no-any-return]

    def new_redis_client(self, **options: Any) -> Any:
        """A new client of the manager's Redis, made as RedisManager makes its own, `options` over redis_options."""
        module = self.redis_module
        merged = {**self.redis_options, **options}
        if urlparse(self.redis_url).scheme in SENTINEL_SCHEMES:
            sentinels, service_name, credentials = parse_redis_sentinel_url(self.redis_url)
            # RedisManager._redis_connect puts the URL's credentials into redis_options themselves: the URL's win.
            sentinel = module.sentinel.Sentinel(sentinels, **{**merged, **credentials})
            return sentinel.master_for(service_name or self.channel)
        return module.Redis.from_url(self.redis_url, **merged)

    def emit_message(self, event: str, data: Any, namespace: str = "/", room: Any = None) -> dict[str, Any]:
        """An emit to publish on the channel, as PubSubManager.emit publishes one from this process (which then
        skips it when it comes back)."""
        return {
            "method": "emit",
            "event": event,
            "data": [data],
            "binary": False,
            "namespace": namespace,
            "room": room,
            "skip_sid": None,
            "callback": None,
            "host_id": self.host_id,
        }

    def channel_payloads(self) -> Iterator[bytes]:
        """The raw messages published on the channel, listening (and resubscribing) forever; `after_subscribe` runs
        at each subscription, before the messages that follow it."""
        channel = self.channel.encode("utf-8")
        for message in self._redis_listen_with_retries():
            if message.get("channel") != channel:
                continue
            if message["type"] == "subscribe":
                self.after_subscribe()
            elif message["type"] == "message" and "data" in message:
                yield message["data"]

    # RedisManager's and PubSubManager's internals

    def _redis_connect(self) -> None:
        super()._redis_connect()
        # Keep Redis's subscribe confirmations: each marks a (re)subscription, redis-py's silent reconnects too.
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=False)

    def _redis_listen_with_retries(self) -> Iterator[dict[str, Any]]:
        """RedisManager's, with the delays of `listen_retry_delays`."""
        delays = self.listen_retry_delays()
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                delays = self.listen_retry_delays()
                yield from self.pubsub.listen()
            except Exception as exc:  # whatever Redis or the network raised: keep trying, never end the listener
                delay = next(delays)
                self._get_logger().error(
                    f"Cannot receive from redis... retrying in {delay} secs", extra={"redis_exception": str(exc)}
                )
                time.sleep(delay)

    def _handle_emit(self, message: dict[str, Any]) -> None:
        data = message["data"]
        first = data[0] if isinstance(data, list) and data else data
        if self.intercept_emit(message["event"], first, message.get("namespace") or "/", message.get("room")):
            return
        if message.get("callback") is not None or message.get("binary"):
            super()._handle_emit(message)
            return
        # PubSubManager._handle_emit's unpacking of the arguments, then the direct broadcast.
        data = data[0] if isinstance(data, list) and len(data) == 1 else tuple(data) if isinstance(data, list) else data
        emit_here(self, message["event"], data, message.get("namespace"), message.get("room"), message.get("skip_sid"))
