"""CORS for the REST API, from the same ALLOWED_ORIGINS list as Socket.IO."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS


def init_app(app: Flask) -> None:
    """Allow the configured browser origins to call /api (none configured: same-origin only)."""
    origins = app.config["ALLOWED_ORIGINS"]
    if origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": "*" if "*" in origins else origins}},
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "X-Request-ID"],
            max_age=600,
        )
