"""Real-time delivery: Socket.IO handlers (handlers.py), the one events emitter (events.py), the managers that
reach sockets on every process (managers.py), and the server binding (server.py)."""

from armada.realtime.server import init_app

__all__ = ["init_app"]
