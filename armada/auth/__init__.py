"""Registration, login, tokens and users."""

from __future__ import annotations

from flask import Flask

from armada.auth import tokens
from armada.auth.routes import auth_blp, users_blp
from armada.extensions import api


def init_app(app: Flask) -> None:
    """Bind JWT handling and register the auth and users endpoints."""
    tokens.init_app(app)
    api.register_blueprint(auth_blp)
    api.register_blueprint(users_blp)
