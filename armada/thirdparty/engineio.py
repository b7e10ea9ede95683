"""python-engineio's and simple-websocket's internals: a server's websocket driver and its table of open sockets.

Touched here: engineio's private `_websocket_wsgi.SimpleWebSocketWSGI` (its `server_args`, which it passes to
simple_websocket.Server), an engine.io server's driver table (`_async`) and its `sockets` dict, and a socket's
`close(wait=..., reason=...)`. Each function takes the python-socketio server and reaches its engine.io server
(`eio`) here, so no other module does.
"""

from __future__ import annotations

from typing import Any

import socketio
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

from armada.thirdparty import require

ENGINEIO_SUPPORTED = ">=4.15,<4.16"
SIMPLE_WEBSOCKET_SUPPORTED = ">=1.1,<1.2"
require("python-engineio", ENGINEIO_SUPPORTED)
require("simple-websocket", SIMPLE_WEBSOCKET_SUPPORTED)


def bound_websocket_messages(sio: socketio.Server, limit: int) -> None:
    """Make `sio`'s websockets refuse a message as soon as it passes `limit` bytes, not once it is all in memory.

    python-engineio checks max_http_buffer_size only after simple-websocket has buffered the whole message, with
    no limit of its own: a client (before any authentication) could make the process hold gigabytes. Given
    max_message_size, simple-websocket closes the connection (1009, message too big) while the message arrives.
    Nothing changes under another websocket driver (gevent-websocket, say).
    """
    eio = sio.eio
    base = eio._async.get("websocket")
    if base is None or not issubclass(base, SimpleWebSocketWSGI):
        return

    class BoundedWebSocket(base):  # type: ignore[misc, valid-type]
        def __init__(self, handler: Any, server: Any) -> None:
            super().__init__(handler, server)
            self.server_args["max_message_size"] = limit

    # The drivers table is the async module's own dict: give this server a copy rather than change it for all.
    eio._async = {**eio._async, "websocket": BoundedWebSocket}


def open_connection_count(sio: socketio.Server) -> int:
    """How many Engine.IO connections (each under at most one Socket.IO socket per namespace) `sio` has open."""
    return len(sio.eio.sockets)


def close_connections_now(sio: socketio.Server) -> None:
    """Close every Engine.IO connection of `sio` without waiting for any client, and forget them all."""
    eio = sio.eio
    for sock in list(eio.sockets.values()):
        # Not eio.disconnect(): it waits for each socket's CLOSE to be sent, which for long-polling means the
        # client's next poll, so one client that never polls again would hold up every socket after it.
        sock.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
    eio.sockets = {}
