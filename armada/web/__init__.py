"""The web client: a static single-page app served at `/`, talking to the same REST API and Socket.IO."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, send_from_directory

STATIC_DIR = Path(__file__).resolve().parent / "static"

# A plain Flask blueprint, not a flask-smorest one: these pages are not part of the API or its OpenAPI document.
blp = Blueprint("web", __name__)


def content_security_policy() -> str:
    """The page's CSP: our own scripts and styles only, so injected markup could not run even if it got in."""
    media = ["'self'", "blob:"]
    supabase = current_app.config.get("SUPABASE_URL")
    if current_app.config.get("STORAGE_BACKEND") == "supabase" and supabase:
        # Media links redirect to Supabase signed URLs; images and players follow that redirect.
        parts = urlsplit(supabase)
        media.append(f"{parts.scheme}://{parts.netloc}")
    sources = " ".join(media)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {sources}",
            f"media-src {sources}",
            "connect-src 'self'",  # 'self' also covers ws:/wss: to this host (Socket.IO)
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@blp.route("/")
def index() -> Response:
    """The single page; everything else it needs comes from /static and /api."""
    response = send_from_directory(STATIC_DIR, "index.html", max_age=0)
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Always revalidate, so a new release's index.html (and the module URLs it names) is picked up at once.
    response.headers["Cache-Control"] = "no-cache"
    return response


def init_app(app: Flask) -> None:
    """Serve the web client at `/` and its assets under `/static/`."""
    # Flask already routes /static/<path> to the app's own static folder (a blueprint's static route there
    # would be shadowed by it), so that folder becomes the web client's.
    app.static_folder = str(STATIC_DIR)
    app.register_blueprint(blp)
