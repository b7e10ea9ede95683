"""One websocket driven by the gevent loop instead of greenlets: python-engineio's socket internals, wsproto framing.

python-engineio's gevent driver serves each websocket with four greenlets for its whole life (gunicorn's request,
simple-websocket's reader, engine.io's writer, a ping sleeper), ~50 KB of an idle connection's ~74 KB, and every
packet it sends takes a queue put, a switch to the writer and a framing in Python per recipient. A LeanConnection
instead reads from an io watcher, runs a greenlet only while it has messages to handle (one at a time, in arrival
order, as with async_handlers=False), and writes as armada.thirdparty.websocket_writes does: straight to its
non-blocking socket from whichever greenlet sends, corked per loop iteration, with a bounded backlog.

Touched here: an engine.io socket's `queue` (replaced by `Outbox` once upgraded), `receive`, `close`, `closed`,
`sid` and its server's `sockets` and `reason`.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import gevent
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from gevent.queue import Empty
from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from armada.thirdparty.websocket_writes import DirectWrites, FrameCache

logger = logging.getLogger(__name__)

RECEIVE_BYTES = 65536
# A socket closing with data its peer has not read yet is cut after this long.
CLOSE_GRACE_SECONDS = 5.0
_READ = 1  # libev's EV_READ
_LOST = object()  # inbox marker: the transport is gone, close the engine.io socket


class Outbox:
    """Stands in for an engine.io socket's packet queue once it is upgraded: a put is written at once."""

    __slots__ = ("connection",)

    def __init__(self, connection: LeanConnection) -> None:
        self.connection = connection

    def put(self, pkt: Any, *_: Any, **__: Any) -> None:
        """Write the packet now (None: close the websocket)."""
        self.connection.send_packet(pkt)

    put_nowait = put

    def get(self, *_: Any, **__: Any) -> Any:
        """Nothing is ever queued here."""
        raise Empty()

    get_nowait = get

    def task_done(self) -> None:
        """Nothing waits in this queue."""

    def join(self, *_: Any) -> None:
        """Nothing waits in this queue (written packets are in the kernel's buffer or the connection's backlog)."""

    def qsize(self) -> int:
        """Always empty."""
        return 0

    def empty(self) -> bool:
        """Always empty."""
        return True


class LeanConnection(DirectWrites):
    """One upgraded websocket on the gevent loop: wsproto reads, direct writes, engine.io packets."""

    def __init__(
        self,
        eio_socket: Any,
        raw: Any,
        conn: Connection,
        limit: int | None,
        backlog_limit: int,
        ctx: contextvars.Context,
        shares_frames: bool,
    ) -> None:
        self.eio = eio_socket
        self.conn = conn
        self.limit = limit
        self.backlog_limit = backlog_limit
        self.ctx = ctx
        self.raw = raw
        self.raw.setblocking(False)
        self.fd = self.raw.fileno()
        loop = gevent.get_hub().loop
        self.reader = loop.io(self.fd, _READ)
        self.writer: Any = None
        # Without compression, every recipient's frame of a packet is the same bytes.
        self.shares_frames = shares_frames
        # Lists, not deques: an empty list costs 56 bytes, a deque over 600, and both stay short.
        self.backlog: list[bytes] = []
        self.backlog_bytes = 0
        self.corked: list[bytes] | None = None  # written this loop iteration, sent at its end
        self.partial: Any = None
        self.partial_len = 0
        self.inbox: list[Any] = []
        self.worker: Any = None
        # Then "closing" (our close frame is out or on its way; the peer's answer is awaited), or "ending" (the
        # peer's stream is broken: no answer is awaited), then "closed".
        self.state = "open"
        self.timer: Any = None

    def start(self, queued: list[Any]) -> None:
        """Send what engine.io queued before the takeover (the OPEN packet at least), then listen."""
        self.eio.queue = Outbox(self)
        for pkt in queued:
            self.send_packet(pkt)
        if self.state == "open":
            self.reader.start(self._on_readable)
            # Frames that came in with the handshake's last read are already buffered by wsproto.
            self._take_events()

    # ---- writing ---------------------------------------------------------------------------------------------

    def send_packet(self, pkt: Any) -> None:
        """Engine.IO's queue.put: frame and write a packet; None means close the websocket."""
        if pkt is None:
            self._close_websocket()
        elif self.state == "open":
            if self.shares_frames:
                self.write_frame(FrameCache.of(pkt))
            else:
                data = pkt.encode()
                self.write_frame(self.conn.send(TextMessage(data) if isinstance(data, str) else Message(data)))

    def _close_websocket(self) -> None:
        """Engine.IO closed the socket: send a close frame, and drop the connection once it is out."""
        if self.state != "open":
            return
        try:
            closing = self.conn.send(CloseConnection(code=CloseReason.NORMAL_CLOSURE))
        except LocalProtocolError:  # the peer's close came first and was answered
            closing = b""
        self._write_last(closing)

    def _write_last(self, data: bytes, then: str = "closing") -> None:
        """Write `data` (a close frame) behind everything waiting; the connection ends once the peer has it all.

        Dropping at once would discard the backlog and the close frame with it (a 1009 the client never sees).
        """
        self.write_frame(data)
        if self.state == "closed":  # that frame took the backlog past its limit: already dropped
            return
        # Nothing more is written; what the peer sends is read only to see its close (or its end), unless no answer
        # is awaited ("ending"): then nothing more is read either.
        self.state = then
        if then == "ending":
            self.reader.stop()
        self.timer = gevent.get_hub().loop.timer(CLOSE_GRACE_SECONDS)
        self.timer.start(self._lost)

    def _sent_last(self) -> None:
        """Our close frame is out: end now if the close handshake is complete, else when the peer answers it.

        Closing the socket while the peer's bytes wait unread would reset the connection, and the kernel would
        discard all it has not delivered yet, the close frame included.
        """
        # Answering the peer's close completes the handshake; after a protocol error wsproto parses nothing more.
        if self.conn.state == ConnectionState.CLOSED or self.state == "ending":
            self._lost()

    # ---- reading ---------------------------------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            self._read()
        except Exception:  # a callback of the event loop: end this connection, never the loop
            logger.exception("websocket read failed")
            self._lost()

    def _read(self) -> None:
        try:
            data = self.raw.recv(RECEIVE_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._lost()
            return
        if self.state != "open":
            self._await_close(data)
            return
        self.conn.receive_data(data)
        self._take_events()

    def _await_close(self, data: bytes) -> None:
        """Closing: drop what the peer sends, until its close frame answers ours."""
        if self.conn.state == ConnectionState.CLOSED:  # the handshake is complete (wsproto would refuse the bytes)
            return
        try:
            self.conn.receive_data(data)
            if any(isinstance(event, CloseConnection) for event in self.conn.events()):
                self._lost()
        except (LocalProtocolError, RemoteProtocolError):
            self._lost()

    def _take_events(self) -> None:
        try:
            self._handle_events()
        except (LocalProtocolError, RemoteProtocolError):
            self._lost()
            return
        if self.inbox and self.worker is None and self.state != "closed":
            # Read no further until these are handled: the peer waits in TCP, as with a blocking reader.
            self.reader.stop()
            self.worker = gevent.spawn(self.ctx.run, self._work)

    def _handle_events(self) -> None:
        for event in self.conn.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self.partial_len += len(event.data)
                if self.limit and self.partial_len > self.limit:
                    # Refuse the message while it arrives rather than once it is all in memory.
                    # Nor read the rest of it: the close frame goes, then the connection (the peer may be mid-flood).
                    too_big = CloseConnection(CloseReason.MESSAGE_TOO_BIG, "Message is too big")
                    self._write_last(self.conn.send(too_big), then="ending")
                    return
                if self.partial is None and event.message_finished:
                    self.inbox.append(event.data)
                else:
                    chunk = event.data.encode() if isinstance(event, TextMessage) else event.data
                    self.partial = bytearray(chunk) if self.partial is None else self.partial + chunk
                    if event.message_finished:
                        whole = bytes(self.partial)
                        self.inbox.append(whole.decode() if isinstance(event, TextMessage) else whole)
                if event.message_finished:
                    self.partial, self.partial_len = None, 0
            elif isinstance(event, Ping):
                self.write_frame(self.conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                if self.conn.state == ConnectionState.REMOTE_CLOSING:  # the peer's close: answered
                    self._write_last(self.conn.send(event.response()))
                elif self.conn.state == ConnectionState.OPEN:  # wsproto's own, for a protocol error: sent
                    self._write_last(self.conn.send(event.response()), then="ending")
                else:
                    self._write_last(b"", then="ending")
                return

    # ---- handling messages and the end -----------------------------------------------------------------------

    def _work(self) -> None:
        try:
            while self.inbox:
                item = self.inbox.pop(0)
                if item is _LOST:
                    self._finish()
                    return
                if self.eio.closed:
                    continue
                try:
                    self.eio.receive(eio_packet.Packet(encoded_packet=item))
                except eio_exceptions.UnknownPacketError:
                    pass
                except eio_exceptions.SocketIsClosedError:
                    self._lost()
                except Exception:
                    # As engine.io's own websocket loop does: log it and end the connection properly.
                    self.eio.server.logger.exception("Unknown receive error")
                    self._lost()
        finally:
            self.worker = None
            if self.inbox:
                self.worker = gevent.spawn(self.ctx.run, self._work)
            elif self.state in ("open", "closing"):  # closing: the peer's answer to our close frame is awaited
                self.reader.start(self._on_readable)

    def _lost(self) -> None:
        """The websocket is over: release the socket, then (in a greenlet) close the engine.io side."""
        if self.state == "closed":
            return
        self.state = "closed"
        for watcher in (self.reader, self.writer, self.timer):
            if watcher is not None:
                watcher.stop()
                watcher.close()
        self.backlog.clear()
        self.backlog_bytes = 0
        self.corked = None
        self.raw.close()
        self.inbox.append(_LOST)
        if self.worker is None:
            self.worker = gevent.spawn(self.ctx.run, self._work)

    def _finish(self) -> None:
        eio = self.eio
        if not eio.closed:
            eio.close(wait=False, abort=True, reason=eio.server.reason.TRANSPORT_CLOSE)
        eio.server.sockets.pop(eio.sid, None)
