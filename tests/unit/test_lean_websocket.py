"""armada.thirdparty's lean websocket against real engine.io sockets, real socket pairs and wsproto as the client.

The connection runs on the gevent loop of this thread: gevent.sleep lets it read and flush. The client end is a
plain non-blocking socket read through a wsproto client connection, so every frame the server writes is parsed
as a browser would parse it.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import time
from collections.abc import Iterator
from typing import Any

import engineio
import engineio.socket
import gevent
import pytest
import socketio
from engineio import packet as eio_packet
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType
from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, Pong, TextMessage

from armada.thirdparty.lean_transport import emit_here
from armada.thirdparty.lean_websocket import LeanConnection, Outbox
from armada.thirdparty.websocket_writes import frame

BACKLOG = 256 * 1024


class Peer:
    """The client's end: its socket, its wsproto connection and the messages and events it has read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.conn = Connection(ConnectionType.CLIENT)
        self.messages: list[Any] = []
        self.events: list[Any] = []
        self.partial: list[Any] = []
        self.eof = False

    def read(self, budget: int = 1 << 30) -> int:
        """Read what has arrived, at most about `budget` bytes; how many were read."""
        got = 0
        while got < budget:
            try:
                data = self.sock.recv(min(65536, budget - got))
            except BlockingIOError:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                break
            got += len(data)
            self.conn.receive_data(data)
        for event in self.conn.events():
            if isinstance(event, Message):
                self.partial.append(event.data)
                if event.message_finished:
                    joined = "".join(self.partial) if isinstance(event, TextMessage) else b"".join(self.partial)
                    self.messages.append(joined)
                    self.partial = []
            else:
                self.events.append(event)
                if isinstance(event, CloseConnection) and self.conn.state == ConnectionState.REMOTE_CLOSING:
                    # As browsers and ws do: the server's close frame is answered.
                    with contextlib.suppress(OSError):
                        self.sock.sendall(self.conn.send(event.response()))
        return got

    def send(self, event: Any) -> None:
        self.sock.sendall(self.conn.send(event))


class Closed:
    """The disconnect reasons engine.io reported."""

    def __init__(self) -> None:
        self.reasons: list[str] = []


def lean_socket(eio: Any, sid: str) -> tuple[LeanConnection, Peer, Any]:
    """An engine.io socket of `eio` upgraded to a lean websocket over a socket pair, and the client's end."""
    server_end, client_end = socket.socketpair()
    # Small buffers, so that a few messages fill them and the backlog is exercised.
    for end, option in ((server_end, socket.SO_SNDBUF), (client_end, socket.SO_RCVBUF)):
        end.setsockopt(socket.SOL_SOCKET, option, 8192)
    client_end.setblocking(False)
    sock = engineio.socket.Socket(eio, sid)
    sock.connected = sock.upgraded = True
    eio.sockets[sock.sid] = sock
    lean = LeanConnection(
        sock, server_end, Connection(ConnectionType.SERVER), 4096, BACKLOG, contextvars.copy_context(), True
    )
    lean.start([eio_packet.Packet(eio_packet.OPEN, {"sid": sid})])
    return lean, Peer(client_end), sock


def release(lean: LeanConnection, peer: Peer) -> None:
    peer.sock.close()
    if lean.state != "closed":
        lean._lost()
    gevent.sleep(0.01)


@pytest.fixture
def pair() -> Iterator[tuple[LeanConnection, Peer, Any, Closed]]:
    eio = engineio.Server(async_mode="gevent")
    closed = Closed()
    eio.on("disconnect", lambda sid, reason: closed.reasons.append(reason))
    eio.on("message", lambda sid, data: eio.send(sid, f"echo:{data}"))
    lean, peer, sock = lean_socket(eio, "sid-1")
    yield lean, peer, sock, closed
    release(lean, peer)


def pump(peer: Peer, until: Any, budget: int = 1 << 30, seconds: float = 5.0) -> None:
    """Let the loop run and the peer read until `until()` holds."""
    for _ in range(int(seconds / 0.002)):
        gevent.sleep(0.002)
        peer.read(budget)
        if until():
            return
    raise AssertionError("timed out")


def body(n: int, size: int) -> str:
    return f"{n:06d}:" + "x" * size


@given(st.one_of(st.text(max_size=70_000), st.binary(max_size=70_000)))
@settings(max_examples=60, deadline=None)
def test_a_frame_is_what_wsproto_sends_for_the_message(data: str | bytes) -> None:
    server = Connection(ConnectionType.SERVER)
    expected = server.send(TextMessage(data) if isinstance(data, str) else BytesMessage(data))
    assert frame(data) == expected


def test_the_open_packet_queued_before_the_takeover_goes_first(pair: Any) -> None:
    _lean, peer, sock, _ = pair
    sock.send(eio_packet.Packet(eio_packet.MESSAGE, "after"))
    pump(peer, lambda: len(peer.messages) == 2)
    assert peer.messages[0].startswith("0") and '"sid-1"' in peer.messages[0]
    assert peer.messages[1] == "4after"
    assert isinstance(sock.queue, Outbox)


def test_messages_from_the_client_reach_engine_io_in_order_and_pings_get_pongs(pair: Any) -> None:
    _lean, peer, _sock, _ = pair
    for n in range(20):
        peer.send(TextMessage(f"4m{n}"))
    peer.send(Ping(b"hello"))
    pump(peer, lambda: len(peer.messages) == 21 and any(isinstance(e, Pong) for e in peer.events))
    assert peer.messages[1:] == [f"4echo:m{n}" for n in range(20)]
    assert [e.payload for e in peer.events if isinstance(e, Pong)] == [b"hello"]


def test_writes_that_do_not_fit_wait_in_order_and_all_arrive_intact(pair: Any) -> None:
    lean, peer, sock, _ = pair
    count, size = 60, 3000  # ~180 KB: far past both 8 KB buffers, within the backlog
    for n in range(count):
        sock.send(eio_packet.Packet(eio_packet.MESSAGE, body(n, size)))
    assert lean.corked is not None and len(lean.corked) == count + 1  # the OPEN packet too: one send for all
    gevent.sleep(0)  # the loop's iteration ends: the corked frames go out, as far as the kernel takes them
    assert lean.corked is None
    assert lean.backlog, "the kernel took it all: the test no longer exercises partial writes"
    assert lean.backlog_bytes == sum(len(chunk) for chunk in lean.backlog)
    # A slow reader: a little at a time, while direct writes keep coming behind the backlog.
    for n in range(count, count + 20):
        sock.send(eio_packet.Packet(eio_packet.MESSAGE, body(n, size)))
        gevent.sleep(0.001)
        peer.read(1500)
    pump(peer, lambda: len(peer.messages) == count + 21, budget=4096)
    assert peer.messages[1:] == [f"4{body(n, size)}" for n in range(count + 20)]
    assert not lean.backlog and lean.backlog_bytes == 0 and lean.state == "open"


def test_a_client_that_stops_reading_is_dropped_past_the_backlog_and_engine_io_hears_it(pair: Any) -> None:
    lean, peer, sock, closed = pair
    sent = 0
    while lean.state == "open" and sent < 10 * BACKLOG:
        sock.send(eio_packet.Packet(eio_packet.MESSAGE, body(sent, 2000)))
        sent += 2000
        gevent.sleep(0)
    assert lean.state == "closed"
    assert BACKLOG < sent < BACKLOG + 64 * 1024  # dropped soon after the limit, not at the first full buffer
    assert lean.backlog == [] and lean.backlog_bytes == 0
    gevent.sleep(0.05)
    assert sock.closed and closed.reasons == [sock.server.reason.TRANSPORT_CLOSE]
    assert "sid-1" not in sock.server.sockets
    lean.send_packet(eio_packet.Packet(eio_packet.MESSAGE, "late"))  # a broadcast racing the close: ignored
    pump(peer, lambda: peer.eof)


def test_a_message_over_the_limit_is_refused_with_1009_while_it_arrives(pair: Any) -> None:
    _lean, peer, sock, closed = pair
    peer.send(TextMessage("4" + "y" * 3000, message_finished=False))
    peer.send(TextMessage("y" * 3000, message_finished=False))  # 6001 > 4096: refused before the end
    pump(peer, lambda: any(isinstance(e, CloseConnection) for e in peer.events))
    (close,) = [e for e in peer.events if isinstance(e, CloseConnection)]
    assert close.code == 1009
    gevent.sleep(0.05)
    assert sock.closed and closed.reasons == [sock.server.reason.TRANSPORT_CLOSE]


def test_a_1009_close_waits_behind_the_unread_backlog_and_arrives_after_it(pair: Any) -> None:
    lean, peer, sock, closed = pair
    for n in range(40):
        sock.send(eio_packet.Packet(eio_packet.MESSAGE, body(n, 3000)))
    gevent.sleep(0.01)
    assert lean.backlog, "the kernel took it all: the close frame no longer has to wait"
    peer.send(TextMessage("4" + "y" * 5000))  # over the 4096 cap, from a client that has not read what it was sent
    pump(peer, lambda: peer.eof, budget=4096)
    assert peer.messages[1:] == [f"4{body(n, 3000)}" for n in range(40)]
    assert [e.code for e in peer.events if isinstance(e, CloseConnection)] == [1009]
    assert sock.closed and closed.reasons == [sock.server.reason.TRANSPORT_CLOSE]


def test_engine_io_closing_sends_its_close_packet_then_a_normal_close_frame(pair: Any) -> None:
    _lean, peer, sock, closed = pair
    sock.close(wait=False, reason=sock.server.reason.SERVER_DISCONNECT)
    pump(peer, lambda: peer.eof)
    assert peer.messages[-1] == "1"  # engine.io's CLOSE packet
    (close,) = [e for e in peer.events if isinstance(e, CloseConnection)]
    assert close.code == 1000
    assert closed.reasons == [sock.server.reason.SERVER_DISCONNECT]


def test_a_close_while_the_client_is_still_sending_loses_nothing_on_a_slow_link() -> None:
    # Over TCP: a socket closed with bytes of its peer unread is reset, and the kernel discards whatever it has
    # not delivered yet. The server reads until the client answers its close frame, as simple-websocket does.
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # most of what is sent waits in the server's kernel
    client.connect(listener.getsockname())
    server_end, _ = listener.accept()
    listener.close()
    client.setblocking(False)
    eio = engineio.Server(async_mode="gevent")
    sock = engineio.socket.Socket(eio, "sid-tcp")
    sock.connected = sock.upgraded = True
    eio.sockets[sock.sid] = sock
    lean = LeanConnection(
        sock, server_end, Connection(ConnectionType.SERVER), 4096, BACKLOG, contextvars.copy_context(), True
    )
    lean.start([eio_packet.Packet(eio_packet.OPEN, {"sid": "sid-tcp"})])
    peer = Peer(client)
    try:
        for n in range(100):
            sock.send(eio_packet.Packet(eio_packet.MESSAGE, body(n, 2000)))
        gevent.sleep(0.01)
        assert not lean.backlog, "the kernel did not take it all: the close no longer follows the last write"
        peer.send(TextMessage("4typing"))  # sent as the server closes: not yet read when its last bytes are out
        sock.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
        pump(peer, lambda: peer.eof, budget=8192)
        assert peer.messages[1:] == [f"4{body(n, 2000)}" for n in range(100)] + ["1"]
        assert [e.code for e in peer.events if isinstance(e, CloseConnection)] == [1000]
        assert lean.state == "closed"
    finally:
        release(lean, peer)


def test_a_client_close_frame_is_answered_and_closes_the_engine_io_socket(pair: Any) -> None:
    _lean, peer, sock, closed = pair
    peer.send(CloseConnection(code=1000))
    pump(peer, lambda: peer.eof)
    assert [e.code for e in peer.events if isinstance(e, CloseConnection)] == [1000]
    gevent.sleep(0.05)
    assert sock.closed and closed.reasons == [sock.server.reason.TRANSPORT_CLOSE]


def test_a_client_close_behind_a_backlog_is_answered_after_it_and_later_bytes_are_dropped(
    pair: Any, caplog: pytest.LogCaptureFixture
) -> None:
    lean, peer, sock, closed = pair
    for n in range(40):
        sock.send(eio_packet.Packet(eio_packet.MESSAGE, body(n, 3000)))
    gevent.sleep(0.01)
    assert lean.backlog, "the kernel took it all: the answer no longer waits"
    peer.send(CloseConnection(code=1000))
    gevent.sleep(0.01)
    peer.sock.sendall(b"\x81\x85late!")  # bytes after its close (a frame), while the answer still waits
    pump(peer, lambda: peer.eof, budget=4096)
    assert peer.messages[1:] == [f"4{body(n, 3000)}" for n in range(40)]
    assert [e.code for e in peer.events if isinstance(e, CloseConnection)] == [1000]
    assert sock.closed and closed.reasons == [sock.server.reason.TRANSPORT_CLOSE]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_protocol_error_is_answered_with_a_1002_close_frame(pair: Any) -> None:
    _lean, peer, sock, closed = pair
    peer.sock.sendall(frame("4unmasked"))  # a client's frames must be masked
    pump(peer, lambda: peer.eof)
    assert [e.code for e in peer.events if isinstance(e, CloseConnection)] == [1002]
    gevent.sleep(0.05)
    assert sock.closed and closed.reasons == [sock.server.reason.TRANSPORT_CLOSE]


def test_a_vanished_client_closes_the_engine_io_socket(pair: Any) -> None:
    lean, peer, sock, closed = pair
    peer.sock.close()
    for _ in range(100):
        gevent.sleep(0.01)
        if sock.closed:
            break
    assert lean.state == "closed" and closed.reasons == [sock.server.reason.TRANSPORT_CLOSE]


def test_a_broadcast_is_written_directly_to_websockets_and_queued_for_long_polling() -> None:
    sio = socketio.Server(async_mode="gevent")
    eio = sio.eio
    websockets = [lean_socket(eio, f"ws-{n}") for n in range(3)]
    polling = engineio.socket.Socket(eio, "poll-1")
    polling.connected = True
    eio.sockets[polling.sid] = polling
    sids = {}
    for eio_sid in ["ws-0", "ws-1", "ws-2", "poll-1"]:
        sids[eio_sid] = sio.manager.connect(eio_sid, "/")
        sio.manager.enter_room(sids[eio_sid], "/", "room-a")
    try:
        for n in range(30):  # more than the 8 KB buffers hold: some recipients' frames wait in their backlog
            emit_here(sio.manager, "new_message", {"n": n, "text": "z" * 600}, "/", "room-a", skip_sid=sids["ws-2"])
        emit_here(sio.manager, "typing", {"n": 99}, "/", "room-b")  # nobody is in room-b
        expected = [f'42["new_message",{{"n":{n},"text":"{"z" * 600}"}}]' for n in range(30)]
        for _lean, peer, _ in websockets[:2]:
            pump(peer, lambda peer=peer: len(peer.messages) == 31)
            assert [m.replace(" ", "") for m in peer.messages[1:]] == expected
        gevent.sleep(0.05)
        skipped = websockets[2][1]
        skipped.read()
        assert len(skipped.messages) == 1  # its OPEN packet alone
        queued = [polling.queue.get_nowait() for _ in range(polling.queue.qsize())]
        assert [p.encode().replace(" ", "") for p in queued] == expected
    finally:
        for lean, peer, _ in websockets:
            release(lean, peer)


def test_a_broadcast_skips_a_websocket_past_its_pong_and_closes_it() -> None:
    sio = socketio.Server(async_mode="gevent")
    lean, peer, sock = lean_socket(sio.eio, "ws-late")
    sio.manager.enter_room(sio.manager.connect("ws-late", "/"), "/", "room-a")
    sock.last_ping = time.time() - sio.eio.ping_timeout - 1  # its pong is overdue
    try:
        emit_here(sio.manager, "new_message", {"n": 1}, "/", "room-a")
        pump(peer, lambda: peer.eof)
        assert not any("new_message" in m for m in peer.messages)
        # As engine.io's own send: the socket is closed (its close frame sent) instead of written to.
        assert sock.closed and [e.code for e in peer.events if isinstance(e, CloseConnection)] == [1000]
    finally:
        release(lean, peer)
