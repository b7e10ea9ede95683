"""Armada: a self-hostable real-time chat backend."""

from __future__ import annotations

from flask import Flask

from armada import (
    auth,
    chat,
    cli,
    cors,
    database,
    errors,
    health,
    media,
    observability,
    proxies,
    ratelimit,
    realtime,
    secrets,
    security_headers,
    web,
)
from armada.extensions import api, db, migrate
from armada.schema_state import MIGRATIONS_DIR
from config import Config, config_or_exit


def create_app(config: Config | None = None) -> Flask:
    """Build the app: load config, then bind each part in turn."""
    app = Flask(__name__, instance_relative_config=True)
    if config is None:
        config = config_or_exit()
    app.config.from_object(config)
    secrets.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    api.init_app(app)
    errors.init_app(app)
    cors.init_app(app)
    ratelimit.init_app(app)
    auth.init_app(app)
    chat.init_app(app)
    media.init_app(app)
    health.init_app(app)
    realtime.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    # Last: these wrap the whole WSGI app, Socket.IO included (the client's real address outermost).
    security_headers.init_app(app)
    observability.init_app(app)
    proxies.init_app(app)
    return app
