"""flask-jwt-extended's internals: its decoding of a token, done once per token instead of on every request.

Every REST request and socket event decodes its access token: PyJWT checks the base64 of each segment character by
character in Python and verifies the HMAC, and flask-jwt-extended decodes the payload once more unverified to pick
the key. A client sends the same token for its whole life (15 minutes by default), so the claims are kept, keyed by
the token and the key that verified it. Only what changes with time is checked again on each use (exp, nbf); a
token that has expired meanwhile goes through flask-jwt-extended's own decoding, which raises as it always does.
Revocation is not decoding: the session check (armada.auth.tokens) still reads the database on every use, so a
logout is honoured at once, on every process.

Touched here: `JWTManager._decode_jwt_from_config` (every decode goes through it: `decode_token`, `jwt_required`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config

from armada.thirdparty import require

SUPPORTED = ">=4.7,<4.8"
require("Flask-JWT-Extended", SUPPORTED)

# Tokens kept: a process's active clients each hold one (and a new one per refresh). The oldest go first.
CACHE_SIZE = 8192


class DecodedTokens:
    """Verified claims by (key, token, csrf value), each good until its own exp."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.claims: dict[tuple[Any, str, Any], dict[str, Any]] = {}

    def get(self, key: tuple[Any, str, Any], leeway: float) -> dict[str, Any] | None:
        """The claims kept for `key` if they are still valid now, else None (and forgotten)."""
        claims = self.claims.get(key)
        if claims is None:
            return None
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if (exp is not None and now > exp + leeway) or (nbf is not None and now < nbf - leeway):
            del self.claims[key]
            return None
        return dict(claims)  # callers keep it on flask.g: none may change the kept one

    def put(self, key: tuple[Any, str, Any], claims: dict[str, Any]) -> None:
        """Keep verified claims, forgetting the oldest beyond the size."""
        if len(self.claims) >= self.size:
            del self.claims[next(iter(self.claims))]
        self.claims[key] = dict(claims)


def decode_each_token_once(manager: JWTManager) -> DecodedTokens:
    """Make `manager` verify each token once and answer its kept claims after; the cache it uses (the same one
    however often this is called: the manager is a module singleton that each app binds)."""
    existing: DecodedTokens | None = getattr(manager, "armada_decoded_tokens", None)
    if existing is not None:
        return existing
    cache = DecodedTokens()
    decode: Callable[..., dict[str, Any]] = manager._decode_jwt_from_config

    def decode_once(encoded_token: str, csrf_value: Any = None, allow_expired: bool = False) -> dict[str, Any]:
        if allow_expired:  # the refresh and logout paths that accept an expired token: rare, never kept
            return decode(encoded_token, csrf_value, allow_expired)
        # The key is part of the cache key: several apps in one process (tests) may use different secrets.
        key = (config.decode_key, encoded_token, csrf_value)
        claims = cache.get(key, config.leeway)
        if claims is None:
            claims = decode(encoded_token, csrf_value, allow_expired)
            cache.put(key, claims)
        return claims

    manager._decode_jwt_from_config = decode_once  # type: ignore[method-assign]
    manager.armada_decoded_tokens = cache  # type: ignore[attr-defined]
    return cache
