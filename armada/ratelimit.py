"""Rate limits: flask-limiter on the REST routes worth protecting, and the same counters for socket events.

Each limit is a flask-limiter string from the config (RATE_LIMIT_*), counted in fixed windows that start at a
client's first request: per client address for login and register; per user for message sends, for message edits
and deletions (REST and socket together), room creation and uploads; per socket for socket events (joining and
leaving also per socket and room, as every member of the room hears them). A refused attempt counts in every window.
REST and per-user counts live in Redis when REDIS_URL is set, so every process shares them, under keys prefixed by
REDIS_CHANNEL (deployments sharing one Redis already need different channels); in this process's memory otherwise,
and while Redis is unreachable.
Per-socket counts always stay in memory: a socket lives on one process, and typing must not cost a Redis call.
A breach is TooManyRequests: a 429 with Retry-After over REST, an error acknowledgement over Socket.IO.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, request
from flask_jwt_extended import get_jwt_identity
from flask_limiter import Limiter, RateLimitExceeded, RouteLimit
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from armada.errors import TooManyRequests, error_response
from armada.thirdparty.flask_limiter import fall_back_to_memory, in_memory_fallback_enabled

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LimitKind:
    """One configurable limit: its setting, and what the refusal calls the things counted."""

    setting: str
    what: str


LIMITS = {
    "login": LimitKind("RATE_LIMIT_LOGIN", "login attempts"),
    "register": LimitKind("RATE_LIMIT_REGISTER", "registrations"),
    "send_message": LimitKind("RATE_LIMIT_SEND_MESSAGE", "messages"),
    "change_message": LimitKind("RATE_LIMIT_CHANGE_MESSAGE", "message edits and deletions"),
    "create_room": LimitKind("RATE_LIMIT_CREATE_ROOM", "new rooms"),
    "upload": LimitKind("RATE_LIMIT_UPLOAD", "uploads"),
    "search": LimitKind("RATE_LIMIT_SEARCH", "searches"),
    "socket_send_message": LimitKind("RATE_LIMIT_SOCKET_SEND_MESSAGE", "send_message events"),
    "socket_typing": LimitKind("RATE_LIMIT_SOCKET_TYPING", "typing events"),
    "socket_join_room": LimitKind("RATE_LIMIT_SOCKET_JOIN_ROOM", "join_room and leave_room events for this room"),
    "socket_join_room_total": LimitKind("RATE_LIMIT_SOCKET_JOIN_ROOM_TOTAL", "join_room and leave_room events"),
}

# Options for the Redis connection: give up quickly while Redis is down (limits then count in memory, see
# init_app) and ping a connection idle for a while, as the Socket.IO queue does.
REDIS_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
    "health_check_interval": 10,
    "socket_keepalive": True,
}

_SOCKET_COUNTERS = "armada.socket_rate_limits"


def client_address() -> str:
    """The key of a per-address limit: the direct peer's address, or the one TRUSTED_PROXIES forwarded (proxies);
    for IPv6, its /64."""
    address = request.remote_addr or "unknown"
    try:
        ip = _ip_of(address)
    except ValueError:  # a unix socket's peer, say
        return f"ip:{address}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        # A subscriber is given a whole /64 and may use any address in it: counted one by one, a client could
        # rotate through 2**64 fresh counts.
        return f"ip:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"ip:{ip}"


def _ip_of(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IP of an address as a proxy may forward it: bare, `1.2.3.4:port` or `[v6]:port` (the port dropped, or
    each of a client's connections would be counted apart)."""
    if address.startswith("[") and "]" in address:
        return ipaddress.ip_address(address[1 : address.index("]")])
    if address.count(":") == 1:
        return ipaddress.IPv4Address(address.split(":", 1)[0])
    return ipaddress.ip_address(address)


def user_key(user_id: uuid.UUID | str) -> str:
    """The key of a per-user limit."""
    return f"user:{user_id}"


def _current_user_key() -> str:
    # The route checked the token first (the limit decorator sits below jwt_required).
    return user_key(get_jwt_identity())


def _limit_string(name: str) -> str:
    return str(current_app.config[LIMITS[name].setting])


# One Limiter for the process, because its decorators sit on module-level routes. flask-limiter keeps its
# storage on this object, so it counts for the app built last with limits on: in production there is one app
# per process; the tests build more, and those with limits off never count (see _limits_off).
limiter = Limiter(
    key_func=client_address,
    strategy="fixed-window",
    headers_enabled=False,  # the 429 carries Retry-After; X-RateLimit-* on every response would cost a lookup
    swallow_errors=True,  # a storage failure never turns a request into a 500
)


@limiter.request_filter
def _limits_off() -> bool:
    return not current_app.config.get("RATE_LIMIT_ENABLED", False)


def per_address(name: str) -> RouteLimit:
    """Decorator: limit a public route per client address by the LIMITS entry `name`."""
    return limiter.shared_limit(functools.partial(_limit_string, name), scope=name, key_func=client_address)


def per_user(name: str) -> RouteLimit:
    """Decorator: limit an authenticated route per user; place it below jwt_required."""
    return limiter.shared_limit(functools.partial(_limit_string, name), scope=name, key_func=_current_user_key)


def documented(name: str) -> dict[str, Any]:
    """Keyword arguments of `alt_response(429, ...)` for a route limited by `name`."""
    return {
        "description": f"Rate limited ({LIMITS[name].setting}); `details.retry_after` repeats Retry-After.",
        "headers": {"Retry-After": {"description": "Seconds until the limit resets.", "schema": {"type": "integer"}}},
    }


@functools.lru_cache(maxsize=64)
def _parsed(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(sorted(parse_many(limit)))  # shortest window first, as flask-limiter checks them


def _seconds_until(reset_time: float) -> int:
    return math.ceil(reset_time - time.time())


def _count(strategy: RateLimiter, name: str, key: str) -> None:
    """Count one hit in every window of the limit `name` (as flask-limiter keys it); refuse when any is over."""
    breached: list[tuple[float, RateLimitItem]] = []
    for item in _parsed(_limit_string(name)):
        if not strategy.hit(item, key, name):
            breached.append((strategy.get_window_stats(item, key, name)[0], item))
    if breached:
        # The window that frees last: a client told to come back sooner would only be refused again.
        reset_time, item = max(breached, key=lambda pair: pair[0])
        raise TooManyRequests(_seconds_until(reset_time), str(item), LIMITS[name].what)


def check_socket_event(name: str, socket_id: str, subject: object = None) -> None:
    """Count one event of a socket (about `subject`, when given) against the LIMITS entry `name`; TooManyRequests
    when over."""
    counters: RateLimiter | None = current_app.extensions.get(_SOCKET_COUNTERS)
    if counters is not None and current_app.config["RATE_LIMIT_ENABLED"]:
        _count(counters, name, f"socket:{socket_id}" if subject is None else f"socket:{socket_id}:{subject}")


def check_user(name: str, user_id: uuid.UUID) -> None:
    """Count one action of a user against the limit its REST route counts (a socket send_message, say)."""
    if not (current_app.config["RATE_LIMIT_ENABLED"] and limiter.initialized):
        return
    try:
        _count(limiter.limiter, name, user_key(user_id))
    except TooManyRequests:
        raise
    except Exception as exc:
        if not in_memory_fallback_enabled(limiter):  # memory storage does not fail
            log.warning("rate limit storage failed; %s of user %s not counted", name, user_id, exc_info=True)
            return
        # Redis is unreachable: count in memory from now on, exactly as flask-limiter does when a REST request
        # finds it so (its requests check Redis again now and then and switch back). Left uncounted, a client
        # sending over sockets alone would have no per-user limit while Redis is down.
        log.warning("rate limit storage unreachable (%s); counting in memory", exc)
        fall_back_to_memory(limiter)
        _count(limiter.limiter, name, user_key(user_id))


def _rate_limited(exc: RateLimitExceeded) -> tuple[Response, int]:
    """flask-limiter's breach as the API's 429, with the seconds until the breached window resets."""
    item = exc.limit.limit
    scope = exc.limit.scope if isinstance(exc.limit.scope, str) else ""
    what = LIMITS[scope].what if scope in LIMITS else "requests"
    try:
        # Every window was counted (RATELIMIT_FAIL_ON_FIRST_BREACH off): answer with the one that frees last.
        breached = [limit for limit in limiter.current_limits if limit.breached]
        if breached:
            latest = max(breached, key=lambda limit: limit.window.reset_time)
            item, retry_after = latest.limit, _seconds_until(latest.window.reset_time)
        else:
            retry_after = item.get_expiry()
    except Exception:  # the storage failed since the breach: the breached window's full length is a safe answer
        retry_after = item.get_expiry()
    return error_response(TooManyRequests(retry_after, str(item), what))


def init_app(app: Flask) -> None:
    """Count in Redis (REDIS_URL) or memory, and answer breaches in the API's error format; nothing when off."""
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    if not app.config["RATE_LIMIT_ENABLED"]:
        return
    redis_url = app.config["REDIS_URL"]
    app.config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=redis_url or "memory://",
        RATELIMIT_STORAGE_OPTIONS=(
            {"key_prefix": f"{app.config['REDIS_CHANNEL']}:ratelimit", **REDIS_OPTIONS} if redis_url else {}
        ),
        # While Redis is unreachable, count in this process's memory (rechecking Redis now and then) rather
        # than wait on it for every request or stop limiting.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=bool(redis_url),
        # Count a refused request in every window, as socket events are (_count): a client hammering through a
        # short window's refusals still uses up the long one, and its Retry-After names the window that frees last.
        RATELIMIT_FAIL_ON_FIRST_BREACH=False,
    )
    limiter.init_app(app)
    app.extensions[_SOCKET_COUNTERS] = FixedWindowRateLimiter(MemoryStorage())
