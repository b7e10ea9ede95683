"""Rooms, members, messages and read receipts."""

from __future__ import annotations

from flask import Flask

from armada.chat.routes import messages_blp, rooms_blp
from armada.extensions import api


def init_app(app: Flask) -> None:
    """Register the chat endpoints."""
    api.register_blueprint(rooms_blp)
    api.register_blueprint(messages_blp)
