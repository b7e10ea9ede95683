"""Sockets in the test process: Flask-SocketIO's test client, able to hold Armada's per-socket session."""

from __future__ import annotations

from typing import Any

import engineio.socket
from flask_socketio.test_client import SocketIOTestClient
from socketio import packet


class InProcessSocket(SocketIOTestClient):
    """Flask-SocketIO's test client, keeping the reason of a refused connection, with an engine.io session.

    Armada keeps a socket's identity in python-socketio's session, which lives on the engine.io socket; the test
    client has no transport, so each client gets a real (never connected) engine.io Socket to hold it.
    """

    refusal: Any = None

    def connect(
        self, namespace: str | None = None, query_string: str | None = None, headers: Any = None, auth: Any = None
    ) -> None:
        server = self.socketio.server
        server.eio.sockets[self.eio_sid] = engineio.socket.Socket(server.eio, self.eio_sid)
        deliver = server._send_packet

        def keep_refusal(eio_sid: str, pkt: packet.Packet) -> None:
            if eio_sid == self.eio_sid and pkt.packet_type == packet.CONNECT_ERROR:
                self.refusal = pkt.data
            deliver(eio_sid, pkt)

        server._send_packet = keep_refusal
        super().connect(namespace, query_string, headers, auth)

    def call(self, event: str, data: Any) -> Any:
        """Emit with an acknowledgement; the acknowledgement."""
        return self.emit(event, data, callback=True)

    def received(self, event: str) -> list[Any]:
        """The payloads of every `event` received so far."""
        return [item["args"][0] for item in self.queue if item["name"] == event]

    def close(self) -> None:
        if self.is_connected():
            self.disconnect()
        self.socketio.server.eio.sockets.pop(self.eio_sid, None)
        self.clients.pop(self.eio_sid, None)
