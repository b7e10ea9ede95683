"""Bearer tokens made by hand, to show what the server refuses: real tokens' claims re-signed with one thing
changed, or claims built the way flask-jwt-extended builds them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

OMIT = object()  # a claim value meaning "leave this claim out"


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, read without checking its signature."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def access_claims(user_id: Any, **claims: Any) -> dict[str, Any]:
    """The claims of an access token of the user as the app issues it (valid for five minutes from now), with
    `claims` in place of the app's."""
    now = int(time.time())
    return {
        "sub": user_id,
        "type": "access",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "sid": "forged-session",
        "fresh": False,
        **claims,
    }


def forge(base: str | dict[str, Any], key: str | None, algorithm: str = "HS256", **changes: Any) -> str:
    """A token of `base`'s claims (a token, or the claims themselves) with `changes` made (OMIT drops a claim),
    signed with `key` by `algorithm` ("none": not signed at all)."""
    claims = claims_of(base) if isinstance(base, str) else dict(base)
    claims = {name: value for name, value in {**claims, **changes}.items() if value is not OMIT}
    signing_key: Any = None if algorithm == "none" else key  # PyJWT wants no key at all for "none"
    return jwt.encode(claims, signing_key, algorithm=algorithm)
