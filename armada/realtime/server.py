"""Binds Socket.IO: JWT-authenticated sockets, the API's events, and a Redis queue across processes."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from armada import outbox
from armada.errors import error_body
from armada.extensions import socketio
from armada.realtime import delivery, events, handlers  # noqa: F401 - handlers registers the event handlers on import
from armada.realtime.managers import LocalManager, RedisQueueManager
from armada.realtime.reconcile import reconcile
from armada.thirdparty.engineio import bound_websocket_messages
from armada.thirdparty.lean_transport import use_lean_websockets

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


class RefuseOversizedPolls:
    """WSGI middleware: a Socket.IO polling POST declaring more than the message cap gets a 413 at once.

    python-engineio refuses one too, but by closing the session from inside that request, which then waits for
    a long-poll GET to drain the session's queue: with none pending, the request (its greenlet and connection)
    hangs for good, and a client could pile such requests up.
    """

    def __init__(self, app: Any, prefix: str, limit: int) -> None:
        self.app, self.prefix, self.limit = app, prefix, limit
        self.body = json.dumps(
            error_body("payload_too_large", f"A Socket.IO message may be at most {limit} bytes.")
        ).encode()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").startswith(self.prefix):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > self.limit:
                headers = [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(self.body))),
                    ("Connection", "close"),  # the body stays unread
                ]
                start_response("413 Request Entity Too Large", headers)
                return [self.body]
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
        # Clients authenticate with tokens, never cookies: like REST (armada.cors), let no other site send the
        # browser's cookies along (engine.io would allow them to every allowed origin, "*" included).
        cors_credentials=False,
        max_http_buffer_size=app.config["SOCKETIO_MAX_MESSAGE_BYTES"],
        ping_interval=app.config["SOCKETIO_PING_INTERVAL"],
        ping_timeout=app.config["SOCKETIO_PING_TIMEOUT"],
        # One socket's events are handled in the order they arrive (join_room before the typing sent right
        # after it, send before edit); different sockets still run concurrently.
        async_handlers=False,
    )
    outbox.connect(app, events.prepare)
    reconcile_here = (lambda: reconcile(app, manager)) if isinstance(manager, RedisQueueManager) else None
    delivery.install(app, manager, reconcile_here, app.config["REALTIME_SWEEP_SECONDS"])
    bound_websocket_messages(socketio.server, app.config["SOCKETIO_MAX_MESSAGE_BYTES"])
    # Under gunicorn's gevent worker: no greenlet per idle websocket, and broadcasts written directly.
    use_lean_websockets(
        socketio.server, app.config["SOCKETIO_MAX_MESSAGE_BYTES"], app.config["WEBSOCKET_BACKLOG_BYTES"]
    )
    app.wsgi_app = RefuseOversizedPolls(  # type: ignore[method-assign]
        app.wsgi_app, "/socket.io/", app.config["SOCKETIO_MAX_MESSAGE_BYTES"]
    )
    if not app.config["WEBSOCKET_COMPRESSION"]:
        app.wsgi_app = WithoutWebSocketCompression(app.wsgi_app)  # type: ignore[method-assign]
