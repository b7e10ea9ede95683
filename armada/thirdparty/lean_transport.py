"""python-engineio's websocket driver replaced under gunicorn's gevent worker, and broadcasts written directly.

After the handshake (and the polling -> websocket upgrade) in gunicorn's request greenlet, the connection is
taken from gunicorn and lives on as a `LeanConnection` on the event loop; pings become loop timers instead of a
sleeping greenlet per socket. `emit_here` is Manager.emit's broadcast with the packet encoded and framed once and
the same bytes written to each websocket recipient directly; recipients on long-polling (or mid-upgrade, or under
another server) keep python-engineio's own path.

Touched here: engine.io's driver table (`_async`), `_bad_request`, a socket's `connected`, `upgraded`,
`upgrading`, `queue`, `last_ping`, `schedule_ping`, `closing`, `closed` and `check_ping_timeout`, the engine.io
server's `sockets`, `handlers` and `logger`; python-socketio's `get_participants`, `rooms`, `packet_class` and
`_send_eio_packet`.
"""

from __future__ import annotations

import _socket
import contextvars
import io
import logging
import ssl
import time
import types
from typing import Any

import gevent
import socketio
from engineio import packet as eio_packet
from gevent.queue import Empty
from socketio import packet as sio_packet
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, Request, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import RemoteProtocolError

from armada.thirdparty import require
from armada.thirdparty.engineio import ENGINEIO_SUPPORTED
from armada.thirdparty.lean_websocket import LeanConnection, Outbox
from armada.thirdparty.websocket_writes import frame

# gunicorn's side of a takeover: the `gunicorn.socket` environ key, and StopIteration ending the request with no
# response written (as simple-websocket relies on too). python-socketio's range is armada.thirdparty.socketio's.
GUNICORN_SUPPORTED = ">=27,<28"
require("gunicorn", GUNICORN_SUPPORTED)
require("python-engineio", ENGINEIO_SUPPORTED)

RECEIVE_BYTES = 4096
_NO_BODY = io.BytesIO(b"")


def take_socket(sock: Any) -> Any:
    """A socket object of our own for gunicorn's connection: gunicorn closes its object when the request ends."""
    return _socket.socket(fileno=sock.detach())


def _queued(queue: Any) -> list[Any]:
    """What engine.io queued for the socket before the takeover, in order."""
    items = []
    while True:
        try:
            items.append(queue.get_nowait())
            queue.task_done()
        except Empty:
            return items


def _request_bytes(environ: dict[str, Any]) -> bytes:
    """The handshake request again, from the environ (as simple-websocket rebuilds it)."""
    lines = [b"GET / HTTP/1.1"]
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            lines.append(f"{'-'.join(p.capitalize() for p in key[5:].split('_'))}: {value}".encode("latin-1"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _read_message(sock: Any, conn: Connection, limit: int | None) -> Any:
    """Block (this greenlet) until a whole message arrives; None if the websocket ends first."""
    parts: list[Any] = []
    size = 0
    while True:
        for event in conn.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                parts.append(event.data)
                size += len(event.data)
                if limit and size > limit:
                    sock.sendall(conn.send(CloseConnection(CloseReason.MESSAGE_TOO_BIG, "Message is too big")))
                    return None
                if event.message_finished:
                    return "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
            elif isinstance(event, Ping):
                sock.sendall(conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                return None
        data = sock.recv(RECEIVE_BYTES)
        if not data:
            return None
        conn.receive_data(data)


def _upgrade(eio: Any, sock: Any, conn: Connection, limit: int | None) -> bool:
    """Engine.IO's polling -> websocket upgrade (probe, then the upgrade packet), as its own handler does it."""
    server = eio.server
    sock.settimeout(server.ping_interval + server.ping_timeout)
    eio.upgrading = True  # engine.io holds packet sends meanwhile; long-polls get NOOPs
    try:
        probe = _read_message(sock, conn, limit)
        pkt = eio_packet.Packet(encoded_packet=probe) if probe is not None else None
        if pkt is None or pkt.packet_type != eio_packet.PING or pkt.data != "probe":
            return False
        sock.sendall(frame(eio_packet.Packet(eio_packet.PONG, data="probe").encode()))
        eio.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the pending long-poll
        upgrade = _read_message(sock, conn, limit)
        pkt = eio_packet.Packet(encoded_packet=upgrade) if upgrade is not None else None
        if pkt is None or pkt.packet_type != eio_packet.UPGRADE:
            return False
    except OSError:
        return False
    finally:
        eio.upgrading = False
    eio.upgraded = True
    sock.settimeout(None)
    return True


def make_lean_websocket(fallback: type, limit: int | None, backlog_limit: int) -> type:
    """The engine.io `websocket` driver class: lean under gunicorn's gevent worker, `fallback` elsewhere."""

    class LeanWebSocket:
        """Engine.IO's websocket wrapper interface: built with the socket's handler, called as a WSGI app."""

        def __init__(self, handler: Any, server: Any) -> None:
            self.handler = handler
            self.server = server

        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            """Handshake, upgrade, hand the socket to the event loop, and end gunicorn's request."""
            sock = environ.get("gunicorn.socket")
            eio = getattr(self.handler, "__self__", None)
            # TLS terminated by gunicorn itself needs its SSL object for every read: keep the stock transport.
            if sock is None or eio is None or isinstance(sock, ssl.SSLSocket) or not hasattr(sock, "detach"):
                return fallback(self.handler, self.server)(environ, start_response)
            compressed = "permessage-deflate" in environ.get("HTTP_SEC_WEBSOCKET_EXTENSIONS", "")
            handshake = WSConnection(ConnectionType.SERVER)
            try:
                handshake.receive_data(_request_bytes(environ))
                request = next(handshake.events())
                if not isinstance(request, Request):
                    raise RemoteProtocolError("no websocket request", event_hint=None)
            except (RemoteProtocolError, StopIteration):
                return self.server._bad_request("Invalid websocket handshake")
            sock.sendall(handshake.send(AcceptConnection(extensions=[PerMessageDeflate()] if compressed else [])))
            conn = handshake.connection
            if conn is None:  # wsproto makes it on accepting, which just happened
                raise StopIteration()
            if eio.connected:
                if not _upgrade(eio, sock, conn, limit):
                    raise StopIteration()  # gunicorn closes the connection
            else:
                eio.connected = True
                eio.upgraded = True
            # The environ outlives the request (Socket.IO keeps it per session): drop what holds gunicorn's
            # request, response and socket objects.
            for key in ("gunicorn.socket", "wsgi.early_hints"):
                environ.pop(key, None)
            environ["wsgi.input"] = _NO_BODY
            queued = _queued(eio.queue)
            connection = LeanConnection(
                eio, take_socket(sock), conn, limit, backlog_limit, contextvars.copy_context(), not compressed
            )
            connection.start(queued)
            # How simple-websocket tells gunicorn that the connection was taken over: no response to write.
            raise StopIteration()

    return LeanWebSocket


def _ping_later(eio: Any) -> None:
    """Engine.IO's schedule_ping with a loop timer in place of a greenlet asleep for the ping interval."""
    if eio.last_ping:
        eio.last_ping = None
        timer = gevent.get_hub().loop.timer(eio.server.ping_interval)
        timer.start(_ping, eio, timer)


def _ping(eio: Any, timer: Any) -> None:
    timer.close()
    if eio.closing or eio.closed:
        return
    if eio.server.logger.isEnabledFor(logging.INFO):
        # Logging may block on a lock, which the event loop itself must not do.
        gevent.spawn(_send_ping, eio)
    else:
        _send_ping(eio)


def _send_ping(eio: Any) -> None:
    if not eio.closing and not eio.closed:
        eio.last_ping = time.time()
        eio.send(eio_packet.Packet(eio_packet.PING))


def use_lean_websockets(sio: socketio.Server, limit: int | None, backlog_limit: int) -> bool:
    """Serve `sio`'s websockets (and pings) as above when it runs on gevent; whether it does."""
    eio = sio.eio
    if eio.async_mode != "gevent" or eio._async.get("websocket") is None:
        return False
    fallback = eio._async["websocket"]
    # The drivers table is the async module's own dict: give this server a copy rather than change it for all.
    eio._async = {**eio._async, "websocket": make_lean_websocket(fallback, limit, backlog_limit)}
    on_connect = eio.handlers.get("connect")

    def connect(sid: str, environ: dict[str, Any]) -> Any:
        sock = eio.sockets.get(sid)
        if sock is not None:
            sock.schedule_ping = types.MethodType(_ping_later, sock)
        return on_connect(sid, environ) if on_connect else None

    eio.on("connect", connect)
    return True


def emit_here(
    manager: Any, event: str, data: Any, namespace: str | None, room: Any, skip_sid: Any = None, **kwargs: Any
) -> None:
    """socketio.Manager.emit, the packet encoded and framed once for every websocket recipient of this process."""
    namespace = namespace or "/"
    room = kwargs.pop("to", None) or room
    if kwargs.get("callback") or namespace not in manager.rooms:
        socketio.Manager.emit(manager, event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
        return
    server = manager.server
    eio = server.eio
    if eio.logger.isEnabledFor(logging.INFO):  # engine.io's own path logs each packet sent
        socketio.Manager.emit(manager, event, data, namespace, room=room, skip_sid=skip_sid)
        return
    args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
    encoded = server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
    eio_pkts = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in (encoded if isinstance(encoded, list) else [encoded])]
    frames: list[bytes] | None = None
    skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
    sockets = eio.sockets
    for sid, eio_sid in manager.get_participants(namespace, room):
        if sid in skip:
            continue
        sock = sockets.get(eio_sid)
        outbox = getattr(sock, "queue", None)
        if type(outbox) is Outbox and outbox.connection.shares_frames and not sock.closed:
            if not sock.check_ping_timeout():  # as engine.io's send: a socket past its pong is closed instead
                continue
            if frames is None:
                frames = [frame(p.encode()) for p in eio_pkts]
            for one in frames:
                outbox.connection.write_frame(one)
        else:
            for p in eio_pkts:
                server._send_eio_packet(eio_sid, p)
