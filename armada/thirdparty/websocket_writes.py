"""Writing to a websocket straight from whichever greenlet sends: framed once, corked per loop iteration, bounded.

A broadcast frames its packet once (`frame`, `FrameCache`) and hands the same bytes to every recipient. Frames
written to a socket during one iteration of the gevent loop leave in one send at its end (`_Cork`, as uWebSockets
corks), straight to the non-blocking socket: no queue, no writer greenlet, no framing per recipient.

Order per socket always holds: frames join the cork only while nothing of the socket's waits; otherwise they join
its backlog, which a write watcher flushes in order. A peer that stops reading cannot make the process hold
unbounded memory nor stall anybody else: past `backlog_limit` bytes waiting, the connection is dropped (the client
reconnects and catches up, as after any network loss).
"""

from __future__ import annotations

import logging
import struct
from abc import ABC, abstractmethod
from typing import Any

import gevent

logger = logging.getLogger(__name__)

_WRITE = 2  # libev's EV_WRITE


def frame(data: str | bytes) -> bytes:
    """One unfragmented, unmasked (server-to-client) websocket frame holding a whole message, uncompressed."""
    if isinstance(data, str):
        payload, first = data.encode(), 0x81  # FIN + text
    else:
        payload, first = data, 0x82  # FIN + binary
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


class FrameCache:
    """The last packet framed: a broadcast hands one packet object to each recipient in turn, framed once."""

    packet: Any = None
    frame: bytes = b""

    @classmethod
    def of(cls, pkt: Any) -> bytes:
        # Identity, with the packet held: its id cannot be reused while it is cached.
        if pkt is not cls.packet:
            cls.frame, cls.packet = frame(pkt.encode()), pkt
        return cls.frame


class _Cork:
    """The connections with frames written during this loop iteration: each sends them at once at its end."""

    connections: list[DirectWrites] = []

    @classmethod
    def add(cls, connection: DirectWrites) -> None:
        if not cls.connections:
            gevent.get_hub().loop.run_callback(cls.flush)
        cls.connections.append(connection)

    @classmethod
    def flush(cls) -> None:
        connections, cls.connections = cls.connections, []
        for connection in connections:
            try:
                connection._uncork()
            except Exception:  # a callback of the event loop: end this connection, never the others or the loop
                logger.exception("websocket write failed")
                connection._lost()


class DirectWrites(ABC):
    """The write side of a lean websocket: `write_frame` from any greenlet or loop callback."""

    raw: Any  # the non-blocking socket
    fd: int
    backlog_limit: int
    state: str  # "open", "closing" (only what is corked or waiting still goes out) or "closed"
    writer: Any  # the write watcher, made on the first partial write
    backlog: list[bytes]
    backlog_bytes: int
    corked: list[bytes] | None  # written this loop iteration, sent at its end
    eio: Any

    @abstractmethod
    def _lost(self) -> None:
        """The connection is over: release the socket at once (nothing more is sent)."""

    @abstractmethod
    def _sent_last(self) -> None:
        """Called once everything, the close frame last, has been sent while the connection closes."""

    def write_frame(self, data: bytes) -> None:
        """Write framed bytes at the end of this loop iteration, after anything of this socket's already waiting.

        Frames written in one iteration (a burst of broadcasts, the Redis listener's batch) leave in one send.
        """
        if self.state != "open":  # nothing may follow a close frame
            return
        if self.backlog:
            self._defer(data)
        elif self.corked is None:
            self.corked = [data]
            _Cork.add(self)
        else:
            self.corked.append(data)

    def _uncork(self) -> None:
        corked, self.corked = self.corked, None
        if not corked or self.state == "closed":
            return
        data = corked[0] if len(corked) == 1 else b"".join(corked)
        if self.backlog:
            self._defer(data)
            return
        try:
            sent = self.raw.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._lost()
            return
        if sent < len(data):
            self._defer(data[sent:] if sent else data)
            if self.state != "closed":
                if self.writer is None:
                    self.writer = gevent.get_hub().loop.io(self.fd, _WRITE)
                self.writer.start(self._on_writable)
        elif self.state != "open":
            self._sent_last()

    def _defer(self, data: bytes) -> None:
        self.backlog.append(data)
        self.backlog_bytes += len(data)
        if self.backlog_bytes > self.backlog_limit:
            # A peer this far behind is not reading: drop it rather than hold its backlog or wait for it.
            logger.info("websocket %s dropped: %d bytes unread", self.eio.sid, self.backlog_bytes)
            self._lost()

    def _on_writable(self) -> None:
        try:
            self._flush()
        except Exception:  # a callback of the event loop: end this connection, never the loop
            logger.exception("websocket write failed")
            self._lost()

    def _flush(self) -> None:
        while self.backlog:
            data = self.backlog[0]
            try:
                sent = self.raw.send(data)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._lost()
                return
            self.backlog_bytes -= sent
            if sent < len(data):
                self.backlog[0] = data[sent:]
                return
            self.backlog.pop(0)
        self.writer.stop()
        if self.state != "open":
            self._sent_last()
