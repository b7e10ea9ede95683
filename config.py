"""Configuration classes: each reads the environment when it is built, never at import time."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta

from dotenv import load_dotenv
from limits import parse_many

# Values from .env.example and other well-known placeholders: a deployment that copied them is not secret.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "development"})
# TestingConfig's keys. Published with this repository, so anyone could sign tokens with them: production refuses
# them.
TESTING_SECRETS = {
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-0123456789",
}
# A random value of 32 characters has far more distinct ones (hex: ~14 of 16); "a" * 32 or "change-me" * 4 has few.
MIN_DISTINCT_SECRET_CHARACTERS = 10


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a usable configuration."""


def load_dotenv_files() -> None:
    """Load `.env` from the working directory into os.environ, never overriding what is already set."""
    load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)


def normalize_database_url(url: str) -> str:
    """Point postgres URLs at the psycopg 3 driver (Heroku-style hosts hand out `postgres://`)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def postgres_keepalives(seconds: int) -> dict[str, int]:
    """libpq's connection parameters for DB_NETWORK_TIMEOUT: a connection waiting on an answer sends a probe after
    half of it, and one whose data or probes go unacknowledged for all of it is dropped (nothing for 0)."""
    if seconds <= 0:
        return {}
    return {
        "keepalives": 1,
        "keepalives_idle": max(1, seconds // 2),
        "keepalives_interval": max(1, seconds // 4),
        "keepalives_count": 3,
        "tcp_user_timeout": seconds * 1000,
    }


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


LOG_FORMATS = ("json", "text")
MAX_TRUSTED_PROXIES = 10  # more hops than any real chain of proxies: a typo
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...], upper: bool = False) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    value = raw.upper() if upper else raw.lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A flask-limiter limit string ("10/minute", "10/minute;100/hour"), checked now rather than at the first
    request (flask-limiter would only log a bad one and then not limit at all)."""
    raw = (env.get(name) or "").strip() or default
    try:
        items = parse_many(raw)
    except ValueError:
        example = '"10/minute" or "10/minute;100/hour"'
        raise ConfigError(f"{name} must be a rate limit like {example}, got {raw!r}") from None
    if any(item.amount < 1 for item in items):
        # 0 would refuse every request, not lift the limit: that is RATE_LIMIT_ENABLED=false.
        raise ConfigError(f"{name} must allow at least 1 request per window, got {raw!r}")
    return raw


REGISTRATION_MODES = ("open", "invite", "closed")
# One DNS label: 1 to 63 letters (any script), digits and inner hyphens.
_DOMAIN_LABEL = re.compile(r"^[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?$")


def _email_domains(env: Mapping[str, str], name: str) -> frozenset[str]:
    """A comma-separated list of whole email domains, lower-cased; empty allows every domain."""
    domains = [d.strip().lower() for d in (env.get(name) or "").split(",") if d.strip()]
    for domain in domains:
        labels = domain.split(".")
        if len(labels) < 2 or len(domain) > 253 or not all(_DOMAIN_LABEL.match(label) for label in labels):
            raise ConfigError(f"{name} must be email domains like example.com,example.org, got {domain!r}")
    return frozenset(domains)


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "development"
    TESTING = False

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.ARMADA_ENV = self.ENV_NAME
        # Missing secrets are generated per install in development (see armada.secrets); production refuses.
        self.SECRET_KEY = env.get("SECRET_KEY") or None
        self.JWT_SECRET_KEY = env.get("JWT_SECRET_KEY") or None

        # A relative SQLite path lives in the instance folder (Flask-SQLAlchemy 3 behaviour).
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(env.get("DATABASE_URL") or "sqlite:///armada.db")
        # How long PostgreSQL may go silent on an open connection before either end counts it as gone (a network
        # partition, a host that died): TCP keepalives and TCP_USER_TIMEOUT on both ends (armada.database). 0
        # leaves the operating system's defaults, under which a request waits out a partition for ~15 minutes and
        # a transaction cut off from its client keeps its locks for ~2 hours.
        self.DB_NETWORK_TIMEOUT = _int(env, "DB_NETWORK_TIMEOUT", 10)
        if self.DB_NETWORK_TIMEOUT < 0:
            raise ConfigError(f"DB_NETWORK_TIMEOUT must be 0 or more seconds, got {self.DB_NETWORK_TIMEOUT}")
        self.SQLALCHEMY_ENGINE_OPTIONS = self._engine_options(env, self.DB_NETWORK_TIMEOUT)
        # Set: Socket.IO events cross processes through Redis. Unset: one process, in-memory.
        self.REDIS_URL = env.get("REDIS_URL") or None
        # Deployments sharing one Redis keep apart by channel.
        self.REDIS_CHANNEL = env.get("REDIS_CHANNEL") or "armada-socketio"
        # Browser origins allowed to call the API and open sockets; empty means same-origin only, "*" any.
        self.ALLOWED_ORIGINS = [o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip()]
        self.SOCKETIO_MAX_MESSAGE_BYTES = _int(env, "SOCKETIO_MAX_MESSAGE_BYTES", 1024 * 1024)
        # A socket's typing events are forwarded at most this often per room, unless is_typing flips.
        self.TYPING_MIN_INTERVAL_MS = _int(env, "TYPING_MIN_INTERVAL_MS", 1000)
        # With REDIS_URL, how often each process checks that its sockets missed no committed message change (one
        # indexed statement over the rooms they joined); a missed change reaches them within about this + 0.5 s.
        self.REALTIME_SWEEP_SECONDS = _positive_float(env, "REALTIME_SWEEP_SECONDS", 2.0)
        # permessage-deflate on websockets: off, as in Node's socket.io; it costs CPU per recipient per frame
        # and a zlib context per connection (see BENCHMARKS.md).
        self.WEBSOCKET_COMPRESSION = env.get("WEBSOCKET_COMPRESSION", "").strip().lower() in ("1", "true", "yes", "on")

        # Logs go to stderr: "json" (one object per line, for log collectors; production's default) or "text".
        self.LOG_FORMAT = _choice(env, "LOG_FORMAT", "json" if self.ENV_NAME == "production" else "text", LOG_FORMATS)
        self.LOG_LEVEL = _choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS, upper=True)
        # Strict-Transport-Security max-age, sent on HTTPS responses only; 0 never sends it.
        self.HSTS_SECONDS = _int(env, "HSTS_SECONDS", 365 * 24 * 3600)
        # How many reverse proxies in front add X-Forwarded-For and X-Forwarded-Proto (1 behind nginx or Heroku's
        # router): the client's address (rate limits, logs) and scheme come from their hops. 0 believes neither
        # header, because any client can write them.
        self.TRUSTED_PROXIES = _int(env, "TRUSTED_PROXIES", 0)
        if not 0 <= self.TRUSTED_PROXIES <= MAX_TRUSTED_PROXIES:
            raise ConfigError(f"TRUSTED_PROXIES must be 0 to {MAX_TRUSTED_PROXIES}, got {self.TRUSTED_PROXIES}")

        self.JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=_int(env, "JWT_ACCESS_TOKEN_EXPIRES", 15 * 60))
        self.JWT_REFRESH_TOKEN_EXPIRES = timedelta(seconds=_int(env, "JWT_REFRESH_TOKEN_EXPIRES", 30 * 24 * 3600))
        self.JWT_ALGORITHM = "HS256"
        self.JWT_TOKEN_LOCATION = ["headers"]
        # werkzeug's scrypt defaults (n=2**15): deliberately slow; tests lower the cost.
        self.PASSWORD_HASH_METHOD = env.get("PASSWORD_HASH_METHOD") or "scrypt"

        # Rate limits (flask-limiter strings; README "Rate limits" says why these defaults): per client address
        # for login and register; per user for sends, message edits and deletions, room creation and uploads; per
        # socket for socket events (join_room/leave_room also per socket and room).
        self.RATE_LIMIT_ENABLED = _bool(env, "RATE_LIMIT_ENABLED", True)
        self.RATE_LIMIT_LOGIN = _rate_limit(env, "RATE_LIMIT_LOGIN", "10/minute;100/hour")
        self.RATE_LIMIT_REGISTER = _rate_limit(env, "RATE_LIMIT_REGISTER", "5/minute;30/hour")
        self.RATE_LIMIT_SEND_MESSAGE = _rate_limit(env, "RATE_LIMIT_SEND_MESSAGE", "30/10 seconds;600/hour")
        self.RATE_LIMIT_CHANGE_MESSAGE = _rate_limit(env, "RATE_LIMIT_CHANGE_MESSAGE", "30/10 seconds;600/hour")
        self.RATE_LIMIT_CREATE_ROOM = _rate_limit(env, "RATE_LIMIT_CREATE_ROOM", "10/minute;200/day")
        self.RATE_LIMIT_UPLOAD = _rate_limit(env, "RATE_LIMIT_UPLOAD", "20/minute;300/day")
        self.RATE_LIMIT_SOCKET_SEND_MESSAGE = _rate_limit(env, "RATE_LIMIT_SOCKET_SEND_MESSAGE", "30/10 seconds")
        self.RATE_LIMIT_SOCKET_TYPING = _rate_limit(env, "RATE_LIMIT_SOCKET_TYPING", "10/second")
        self.RATE_LIMIT_SOCKET_JOIN_ROOM = _rate_limit(env, "RATE_LIMIT_SOCKET_JOIN_ROOM", "10/minute")
        self.RATE_LIMIT_SOCKET_JOIN_ROOM_TOTAL = _rate_limit(env, "RATE_LIMIT_SOCKET_JOIN_ROOM_TOTAL", "600/minute")

        # Who may register through the API (README "Registration"): "open", "invite" (an invite code from
        # `flask armada invite`) or "closed" (`flask armada create-user` only); and, when set, only emails of
        # these domains.
        self.REGISTRATION = _choice(env, "REGISTRATION", "open", REGISTRATION_MODES)
        self.REGISTRATION_EMAIL_DOMAINS = _email_domains(env, "REGISTRATION_EMAIL_DOMAINS")

        # JSON request bodies; uploads get their own cap in the media blueprint.
        self.MAX_CONTENT_LENGTH = _int(env, "MAX_REQUEST_BYTES", 1024 * 1024)

        # Media: "local" files under MEDIA_ROOT (default instance/media) or "supabase" Storage (private bucket).
        self.STORAGE_BACKEND = (env.get("STORAGE_BACKEND") or "local").strip().lower()
        self.MEDIA_ROOT = env.get("MEDIA_ROOT") or None
        self.SUPABASE_URL = env.get("SUPABASE_URL") or None
        self.SUPABASE_KEY = env.get("SUPABASE_KEY") or None
        self.SUPABASE_BUCKET = env.get("SUPABASE_BUCKET") or "chat-media"
        self.MAX_UPLOAD_BYTES = _int(env, "MAX_UPLOAD_BYTES", 25 * 1024 * 1024)
        # Lifetime of the signed media links in responses, and of direct-upload URLs.
        self.MEDIA_URL_EXPIRES = _int(env, "MEDIA_URL_EXPIRES", 3600)
        self.MAX_IMAGE_PIXELS = _int(env, "MAX_IMAGE_PIXELS", 50_000_000)

        self.API_TITLE = "Armada chat API"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        # Served from the swagger-ui-bundle package so the docs work offline (no CDN).
        self.OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"

    @staticmethod
    def _engine_options(env: Mapping[str, str], network_timeout: int) -> dict[str, object]:
        url = normalize_database_url(env.get("DATABASE_URL") or "sqlite:///armada.db")
        # A database error's text leaves out its statement's values: they are message texts, password hashes and
        # session ids, and the text reaches logs (and a 500's traceback).
        if url.startswith("sqlite"):
            return {"connect_args": {"timeout": 15}, "hide_parameters": True}
        return {
            "hide_parameters": True,
            "pool_pre_ping": True,
            "pool_size": _int(env, "DB_POOL_SIZE", 10),
            "max_overflow": _int(env, "DB_MAX_OVERFLOW", 20),
            "pool_recycle": 300,
            # A connection attempt that gets no answer (host unreachable, packets dropped) ends in a 503 after
            # this long instead of hanging the request (libpq waits forever by default).
            "connect_args": {
                "connect_timeout": _int(env, "DB_CONNECT_TIMEOUT", 5),
                **postgres_keepalives(network_timeout),
            },
            # A request waits at most this long for a pooled connection before its 503 (default 30 s).
            "pool_timeout": _int(env, "DB_POOL_TIMEOUT", 10),
        }


class DevelopmentConfig(Config):
    """The embedded default: SQLite file, in-process Socket.IO, local media."""


class ProductionConfig(Config):
    """Deployed: every secret must come from the environment."""

    ENV_NAME = "production"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(environ)
        for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
            value = getattr(self, name)
            if (
                value is None
                or value.strip().lower() in PLACEHOLDER_SECRETS
                or value in TESTING_SECRETS.values()
                or len(value) < 32
                or len(set(value)) < MIN_DISTINCT_SECRET_CHARACTERS
            ):
                raise ConfigError(
                    f"{name} must be set to a random value of at least 32 characters in production "
                    f'(e.g. python -c "import secrets; print(secrets.token_urlsafe(48))").'
                )
        # One key for both would let a leak of either forge the other's tokens and session cookies.
        if self.SECRET_KEY == self.JWT_SECRET_KEY:
            raise ConfigError("SECRET_KEY and JWT_SECRET_KEY must be two different random values in production.")


class TestingConfig(Config):
    """Used by the test suite: cheap password hashing, explicit database."""

    ENV_NAME = "testing"
    TESTING = True

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = dict(environ or {})
        for name, value in TESTING_SECRETS.items():
            env.setdefault(name, value)
        env.setdefault("PASSWORD_HASH_METHOD", "scrypt:1024:8:1")
        # Unit tests make many logins from one address; tests of the limits turn them on explicitly.
        env.setdefault("RATE_LIMIT_ENABLED", "false")
        super().__init__(env)


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_from_env(environ: Mapping[str, str] | None = None) -> Config:
    """Build the config named by ARMADA_ENV (default: development)."""
    env = os.environ if environ is None else environ
    name = env.get("ARMADA_ENV", "development").strip().lower()
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise ConfigError(f"ARMADA_ENV must be one of {', '.join(CONFIGS)}, got {name!r}") from None
    return cls(env)
