"""armada.thirdparty.flask_jwt_extended: each token verified once, with real Flask apps and flask-jwt-extended.

What must never change with the cache: an expired token is refused as expired, a token of another key is refused,
and the cache stays bounded.
"""

from __future__ import annotations

import inspect
import time
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask import Flask
from flask_jwt_extended import JWTManager, create_access_token, decode_token

from armada.thirdparty.flask_jwt_extended import DecodedTokens, decode_each_token_once


def make_app(secret: str) -> tuple[Flask, JWTManager]:
    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = secret
    manager = JWTManager(app)
    return app, manager


def test_the_private_decode_keeps_its_signature() -> None:
    assert list(inspect.signature(JWTManager._decode_jwt_from_config).parameters) == [
        "self",
        "encoded_token",
        "csrf_value",
        "allow_expired",
    ]


def test_a_token_is_verified_once_and_its_claims_answered_after() -> None:
    app, manager = make_app("k" * 32)
    cache = decode_each_token_once(manager)
    assert decode_each_token_once(manager) is cache  # one cache per manager, however often installed
    with app.app_context():
        token = create_access_token("alice", additional_claims={"sid": "s1"})
        first = decode_token(token)
        assert len(cache.claims) == 1
        first["sub"] = "mallory"  # a caller changing its copy changes nothing kept
        again = decode_token(token)
    assert again["sub"] == "alice" and again["sid"] == "s1" and again["jti"] == first["jti"]


def test_a_kept_token_is_refused_as_expired_once_its_time_is_up() -> None:
    app, manager = make_app("k" * 32)
    cache = decode_each_token_once(manager)
    with app.app_context():
        token = create_access_token("alice", expires_delta=timedelta(seconds=1))
        assert decode_token(token)["sub"] == "alice"
        time.sleep(1.2)
        with pytest.raises(pyjwt.ExpiredSignatureError) as expired:
            decode_token(token)
        assert expired.value.jwt_data["sub"] == "alice"  # as flask-jwt-extended raises it (its handlers read it)
        assert cache.claims == {}
        assert decode_token(token, allow_expired=True)["sub"] == "alice"  # the refresh path's, never kept
    assert cache.claims == {}


def test_a_token_kept_under_one_key_is_refused_under_another() -> None:
    one, manager = make_app("a" * 32)
    decode_each_token_once(manager)
    with one.app_context():
        token = create_access_token("alice")
        decode_token(token)
    other = Flask(__name__)
    other.config["JWT_SECRET_KEY"] = "b" * 32
    manager.init_app(other)  # the same module singleton bound to a second app, as tests and create_app do
    with other.app_context(), pytest.raises(pyjwt.InvalidSignatureError):
        decode_token(token)


def test_the_cache_forgets_its_oldest_beyond_its_size() -> None:
    cache = DecodedTokens(size=3)
    far = time.time() + 600
    for n in range(5):
        cache.put(("key", f"token-{n}", None), {"exp": far, "n": n})
    assert [k[1] for k in cache.claims] == ["token-2", "token-3", "token-4"]
    assert cache.get(("key", "token-0", None), 0) is None
    assert cache.get(("key", "token-4", None), 0) == {"exp": far, "n": 4}
    cache.put(("key", "early", None), {"exp": far, "nbf": time.time() + 60})
    assert cache.get(("key", "early", None), 0) is None  # not valid yet: decoded again, which refuses it
