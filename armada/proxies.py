"""Trusted reverse proxies: take the client's address and scheme from the hops they add, and from nobody else."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """With TRUSTED_PROXIES = N > 0, read the address and scheme the N proxies in front forwarded; bind it last."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # ProxyFix counts from the right of X-Forwarded-For, so a client writing the header itself only adds hops
        # on the left that are never read. Outermost, so the request log and the rate limits see the same address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
