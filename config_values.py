"""Parsers of configuration values: each takes a setting's text and returns its value, or raises ValueError saying
what a good value is (config.py adds the setting's name, an example and what it got)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Parser = Callable[[str], Any]


@dataclass(frozen=True)
class Setting:
    """One environment variable config.py reads: how to parse it, its default, a good value and a bad one."""

    name: str
    parse: Parser
    default: Any
    # Shown in the error of a bad value.
    example: str
    # A value it refuses: tests/unit/test_config.py checks that every setting refuses its own.
    bad: str
    # Set but empty counts as unset (the default), as .env files write "NAME=" to leave a setting out.
    empty_is_default: bool = True
    # Its value may carry a password or key: an error never repeats it.
    secret: bool = False
    # Surrounding spaces are dropped, except from a key (they would change it).
    strip: bool = True


def _no_control_characters(raw: str) -> str:
    if any(unicodedata.category(c) == "Cc" for c in raw):
        raise ValueError("text without control characters (tabs, newlines, NUL)")
    return raw


def text(raw: str) -> str:
    """Any text without control characters."""
    return _no_control_characters(raw)


def word(raw: str) -> str:
    """Text without spaces, slashes or control characters (a channel or bucket name)."""
    _no_control_characters(raw)
    if re.search(r"[\s/]", raw):
        raise ValueError("a name without spaces or slashes")
    return raw


def identifier(raw: str) -> str:
    """A lower-case SQL name: letters, digits and underscores, not starting with a digit."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", raw):
        raise ValueError("a lower-case name of letters, digits and underscores")
    return raw


def integer(low: int, high: int) -> Parser:
    """A whole number, in ASCII digits, from low to high."""

    def parse(raw: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", raw) or not low <= int(raw) <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return int(raw)

    return parse


def seconds(high: float) -> Parser:
    """A number of seconds above 0, at most high."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not 0 < value <= high:  # also refuses nan and inf
            raise ValueError(f"a number of seconds above 0 and at most {high:g}")
        return value

    return parse


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def boolean(raw: str) -> bool:
    """true/false, 1/0, yes/no, on/off (any case)."""
    value = raw.lower()
    if value not in _TRUE + _FALSE:
        raise ValueError("true or false")
    return value in _TRUE


def choice(*allowed: str, upper: bool = False) -> Parser:
    """One of `allowed`, in any case."""

    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in allowed:
            raise ValueError(f"one of {', '.join(allowed)}")
        return value

    return parse


def rate_limit(raw: str) -> str:
    """A flask-limiter limit string ("10/minute", "10/minute;100/hour"), checked now rather than at the first
    request (flask-limiter would only log a bad one and then not limit at all)."""
    try:
        items = parse_many(raw)
    except ValueError:
        raise ValueError('a rate limit like "10/minute" or "10/minute;100/hour"') from None
    if any(item.amount < 1 for item in items):
        # 0 would refuse every request, not lift the limit: that is RATE_LIMIT_ENABLED=false.
        raise ValueError("a rate limit allowing at least 1 request per window")
    return raw


def normalize_database_url(url: str) -> str:
    """Point postgres URLs at the psycopg 3 driver (Heroku-style hosts hand out `postgres://`)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# The drivers installed (requirements.txt): SQLite's built-in one, and psycopg 3 for PostgreSQL.
DATABASE_DRIVERS = {"sqlite": ("pysqlite",), "postgresql": ("psycopg",)}


def database_url(raw: str) -> str:
    """A SQLite or PostgreSQL URL, as SQLAlchemy's make_url reads it; postgres ones pointed at psycopg 3."""
    expected = "a sqlite:/// or postgresql:// URL"
    url = normalize_database_url(raw)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError(expected) from None
    drivers = DATABASE_DRIVERS.get(parsed.get_backend_name())
    if drivers is None or parsed.get_driver_name() not in drivers:
        raise ValueError(expected)
    return url


# Schemes both users of REDIS_URL understand: python-socketio's RedisManager (armada.thirdparty.socketio) and
# flask-limiter's storage (limits).
REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel")
# The form python-socketio's parse_redis_sentinel_url reads (the database before the service), checked here without
# importing it: gunicorn's master reads the config before gevent patches the workers, and python-socketio's Redis
# support imports ssl.
_SENTINEL_URL = re.compile(
    r"redis\+sentinel://(?:[^@/]*@)?"  # credentials
    r"[^:,/@]+:\d+(?:,[^:,/@]+:\d+)*"  # host:port of each Sentinel
    r"(?:/(?:\d+(?:/[^/]*)?)?)?",  # /db/service
    re.I,
)


def redis_url(raw: str) -> str:
    """A redis://, rediss:// or redis+sentinel:// URL with a host (a Sentinel URL may list several)."""
    if urlsplit(raw).scheme.lower() == "redis+sentinel":
        if not _SENTINEL_URL.fullmatch(raw):
            raise ValueError("a redis+sentinel://[:password@]host:port[,host:port]/db/service URL")
        return raw
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = urlsplit("")
    if parts.scheme.lower() not in REDIS_SCHEMES or not parts.hostname:
        raise ValueError("a redis://, rediss:// or redis+sentinel:// URL")
    return raw


def http_url(raw: str) -> str:
    """An http:// or https:// URL with a host."""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = urlsplit("")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL")
    return raw


def origins(raw: str) -> list[str]:
    """`*`, or comma-separated browser origins: scheme://host[:port], nothing after (as browsers send Origin)."""
    values = [item.strip() for item in raw.split(",") if item.strip()]
    for value in values:
        if value == "*":
            continue
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parts = urlsplit("")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.path
            or parts.query
            or parts.fragment
            or value.endswith(("?", "#"))
        ):
            raise ValueError("* or comma-separated origins like http://host[:port] (a scheme, no path)")
    return values


_NUMBER = re.compile(r"[1-9][0-9]*")


def password_hash_method(raw: str) -> str:
    """A werkzeug generate_password_hash method: scrypt[:n:r:p] or pbkdf2[:hash[:iterations]]."""
    expected = "scrypt, scrypt:n:r:p, pbkdf2 or pbkdf2:sha256:iterations"
    method, *params = raw.split(":")
    numbers = all(_NUMBER.fullmatch(p) for p in params)
    # scrypt's cost n must be a power of 2 (hashlib refuses others, at the first login).
    if method == "scrypt" and (not params or (len(params) == 3 and numbers and _power_of_two(int(params[0])))):
        return raw
    if method == "pbkdf2" and (
        not params
        or (len(params) <= 2 and params[0] in ("sha256", "sha512") and all(_NUMBER.fullmatch(p) for p in params[1:]))
    ):
        return raw
    raise ValueError(expected)


def _power_of_two(n: int) -> bool:
    return n > 1 and n & (n - 1) == 0


# One DNS label: 1 to 63 letters (any script), digits and inner hyphens.
_DOMAIN_LABEL = re.compile(r"^[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?$")


def email_domains(raw: str) -> frozenset[str]:
    """Comma-separated whole email domains, lower-cased; empty allows every domain."""
    domains = [d.strip().lower() for d in raw.split(",") if d.strip()]
    for domain in domains:
        labels = domain.split(".")
        if len(labels) < 2 or len(domain) > 253 or not all(_DOMAIN_LABEL.match(label) for label in labels):
            raise ValueError(f"email domains separated by commas ({domain!r} is not one)")
    return frozenset(domains)
