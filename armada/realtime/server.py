"""Binds Socket.IO: JWT-authenticated sockets, the contract's events, and a Redis queue across processes."""

from __future__ import annotations

from typing import Any

from flask import Flask

from armada.extensions import socketio
from armada.realtime import handlers  # noqa: F401 - registers the event handlers on import
from armada.realtime.managers import LocalManager, RedisQueueManager
from armada.realtime.reconcile import reconcile

# Options for the Redis connections that survive idle drops by proxies and managed Redis: ping before using a
# connection idle for 10 s, TCP keepalive, and give up connecting quickly while Redis is down (REST keeps working).
REDIS_OPTIONS = {"health_check_interval": 10, "socket_keepalive": True, "socket_connect_timeout": 2}


class WithoutWebSocketCompression:
    """WSGI middleware that hides a client's permessage-deflate offer from the websocket handshake.

    simple-websocket accepts the offer whenever a client makes it (browsers always do), and then deflates every
    frame once per recipient and keeps a zlib context of a few hundred KB per connection: the largest cost of a
    broadcast and of an idle connection (see BENCHMARKS.md). Node's socket.io server also leaves it off by default.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    """Bind Socket.IO at /socket.io; the async mode is whatever the server provides (gevent, threading)."""
    url = app.config["REDIS_URL"]
    manager = (
        RedisQueueManager(
            url,
            channel=app.config["REDIS_CHANNEL"],
            redis_options=dict(REDIS_OPTIONS),
            on_subscribed=lambda queue: reconcile(app, queue),
        )
        if url
        else LocalManager()
    )
    origins: Any = app.config["ALLOWED_ORIGINS"]
    socketio.init_app(
        app,
        path="/socket.io",
        client_manager=manager,
        manage_session=False,  # no cookie sessions: identity lives in the Socket.IO session
        # None = same origin only; "*" = any; otherwise the listed origins.
        cors_allowed_origins="*" if "*" in origins else (origins or None),
        max_http_buffer_size=app.config["SOCKETIO_MAX_MESSAGE_BYTES"],
        # One socket's events are handled in the order they arrive (join_room before the typing sent right
        # after it, send before edit); different sockets still run concurrently.
        async_handlers=False,
    )
    if not app.config["WEBSOCKET_COMPRESSION"]:
        app.wsgi_app = WithoutWebSocketCompression(app.wsgi_app)  # type: ignore[method-assign]
