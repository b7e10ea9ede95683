"""Security headers on every response: REST, errors, the API docs, the web client, media and Socket.IO alike.

Applied as WSGI middleware around the whole app, because Socket.IO's polling responses never pass through Flask.
A header a response already set is kept: the web client's page sends its own Content-Security-Policy, media
files their own Cache-Control.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request

# JSON, errors and files: nothing in them may run, load anything, or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", API_CSP),
    # API answers are per user (and tokens are in some): no browser or proxy may keep them.
    ("Cache-Control", "no-store"),
)

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

StartResponse = Callable[..., Any]


class SecurityHeadersMiddleware:
    """Adds DEFAULT_HEADERS a response lacks, and Strict-Transport-Security to responses sent over HTTPS."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]], hsts_seconds: int) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_seconds}" if hsts_seconds > 0 else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # The scheme comes from X-Forwarded-Proto only when a proxy is trusted: TRUSTED_PROXIES (armada.proxies,
        # which wraps this), or gunicorn's FORWARDED_ALLOW_IPS (127.0.0.1 by default).
        https = environ.get("wsgi.url_scheme") == "https"

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            added = [(name, value) for name, value in DEFAULT_HEADERS if name.lower() not in present]
            if https and self.hsts and "strict-transport-security" not in present:
                added.append(("Strict-Transport-Security", self.hsts))
            return start_response(status, [*headers, *added], exc_info)

        return self.app(environ, start)


def docs_content_security_policy(html: str) -> str:
    """The Swagger UI page's CSP: its own assets, plus exactly the inline script it was rendered with."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self'",
            "img-src 'self' data:",  # Swagger UI's stylesheet draws its icons as data: SVGs
            "connect-src 'self'",  # the OpenAPI document, and "Try it out"
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def _docs_csp(response: Response) -> Response:
    if request.endpoint and request.endpoint.endswith(".openapi_swagger_ui") and response.status_code == 200:
        response.headers["Content-Security-Policy"] = docs_content_security_policy(response.get_data(as_text=True))
    return response


def init_app(app: Flask) -> None:
    """Wrap the whole WSGI app (Socket.IO included): bind it after realtime."""
    app.after_request(_docs_csp)
    app.wsgi_app = SecurityHeadersMiddleware(app.wsgi_app, app.config["HSTS_SECONDS"])  # type: ignore[method-assign]
