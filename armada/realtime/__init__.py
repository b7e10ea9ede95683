"""Real-time delivery: Socket.IO handlers (handlers.py), the one events emitter (events.py), the managers that
reach sockets on every process (managers.py), the server binding (server.py) and its AsyncAPI document
(asyncapi.py)."""

from flask import Flask

from armada.realtime import asyncapi, server


def init_app(app: Flask) -> None:
    """Bind Socket.IO, and serve its AsyncAPI document at /api/asyncapi.json."""
    server.init_app(app)
    asyncapi.init_app(app)


__all__ = ["init_app"]
