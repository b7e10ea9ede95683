"""A Socket.IO client at the websocket frame level (websocket-client): sees every engine.io packet, ping and close
frame as the server wrote it, answers pings only if told, and can be made slow (a tiny receive buffer, no reads)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import websocket

from tests.helpers.servers import HttpUser, Server

WAIT = 10.0  # seconds a frame the server owes us may take
CLOSE = websocket.ABNF.OPCODE_CLOSE
TEXT = websocket.ABNF.OPCODE_TEXT


class Closed(Exception):
    """The connection ended without a close frame (reset, or EOF mid-stream)."""


class RawSocket:
    """One websocket to /socket.io/ (EIO=4, no polling first); `handshake` is the engine.io open packet's data."""

    def __init__(
        self, server: Server, receive_buffer: int | None = None, answer_pings: bool = True, sid: str | None = None
    ) -> None:
        # SO_RCVBUF is set before connect (websocket-client applies sockopt first), so the TCP window stays small.
        options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)] if receive_buffer else []
        url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(url + (f"&sid={sid}" if sid else ""), timeout=WAIT, sockopt=options)
        self.answer_pings = answer_pings
        self.pings = 0
        self.handshake: dict[str, Any] = {}
        if sid is None:  # a new session opens with the open packet; an upgrade (of `sid`) starts with the probe
            opening = self.packet()
            assert opening.startswith("0{"), opening
            self.handshake = json.loads(opening[1:])

    def frame(self, timeout: float = WAIT) -> tuple[int, bytes]:
        """The next data or close frame (opcode, payload); pings are answered first if this socket answers them."""
        self.ws.settimeout(timeout)
        while True:
            try:
                opcode, frame = self.ws.recv_data_frame(True)
            except (websocket.WebSocketConnectionClosedException, ConnectionError) as error:
                raise Closed(repr(error)) from error
            if opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
                continue  # websocket-level keepalives (websocket-client answers pings itself), not engine.io's
            data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
            if opcode == TEXT and data == b"2":  # an engine.io ping
                self.pings += 1
                if self.answer_pings:
                    self.ws.send("3")
                    continue
            return opcode, data

    def packet(self, timeout: float = WAIT) -> str:
        """The next engine.io packet (a text frame), failing on anything else."""
        opcode, data = self.frame(timeout)
        assert opcode == TEXT, (opcode, data)
        return data.decode()

    def close_frame(self, timeout: float = WAIT) -> tuple[int, bytes]:
        """Skip packets until the server's close frame; its status code and reason."""
        while True:
            opcode, data = self.frame(timeout)
            if opcode == CLOSE:
                return int.from_bytes(data[:2], "big"), data[2:]

    def connect(self, token: str) -> list[str]:
        """Open the Socket.IO namespace with this token; the packets up to and including the server's CONNECT."""
        self.ws.send("40" + json.dumps({"token": token}))
        seen: list[str] = []
        while not seen or not seen[-1].startswith("40"):
            seen.append(self.packet())
        return seen

    def emit(self, event: str, data: Any, ack_id: int) -> None:
        """Emit an event asking for acknowledgement `ack_id`."""
        self.ws.send(f"42{ack_id}" + json.dumps([event, data]))

    def ack(self, ack_id: int, timeout: float = WAIT) -> Any:
        """Wait for acknowledgement `ack_id` (other packets are dropped); its data."""
        prefix = f"43{ack_id}["
        while not (packet := self.packet(timeout)).startswith(prefix):
            pass
        return json.loads(packet[len(prefix) - 1 :])[0]

    def join(self, user: HttpUser, room_id: str) -> None:
        """Connect as `user` and join the room (acknowledged)."""
        self.connect(user.token)
        self.emit("join_room", {"room_id": room_id}, 1)
        assert self.ack(1) == {"ok": True, "room_id": room_id}

    def events(self, name: str, count: int, timeout: float = WAIT) -> list[Any]:
        """The data of the next `count` `name` events (other packets are dropped)."""
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            packet = self.packet(max(0.1, deadline - time.monotonic()))
            if packet.startswith("42["):
                event, *args = json.loads(packet[2:])
                if event == name:
                    found.append(args[0] if args else None)
        return found

    def close(self) -> None:
        """Drop the connection (no close handshake)."""
        self.ws.shutdown()
