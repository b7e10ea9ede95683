"""Rooms, members, messages, read receipts, reactions, threads, pins and edit history."""

from __future__ import annotations

from flask import Flask

from armada.chat.feature_routes import pins_blp, reactions_blp, search_blp, threads_blp
from armada.chat.routes import messages_blp, rooms_blp
from armada.extensions import api


def init_app(app: Flask) -> None:
    """Register the chat endpoints."""
    api.register_blueprint(rooms_blp)
    api.register_blueprint(messages_blp)
    api.register_blueprint(reactions_blp)
    api.register_blueprint(threads_blp)
    api.register_blueprint(pins_blp)
    api.register_blueprint(search_blp)
