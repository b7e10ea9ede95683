"""Configuration classes: each reads the environment when it is built, never at import time."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dotenv import load_dotenv

from config_values import (
    Setting,
    boolean,
    choice,
    database_url,
    email_domains,
    http_url,
    identifier,
    integer,
    origins,
    password_hash_method,
    rate_limit,
    redis_url,
    seconds,
    text,
    word,
)
from config_values import normalize_database_url as normalize_database_url  # re-exported

# Values from .env.example and other well-known placeholders: a deployment that copied them is not secret.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "development"})
# Keys this repository publishes (the test suite's, tests/helpers/testing_config.py): anyone could sign tokens with
# them, so production refuses them.
TESTING_SECRETS = {
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-0123456789",
}
# A random value of 32 characters has far more distinct ones (hex: ~14 of 16); "a" * 32 or "change-me" * 4 has few.
MIN_DISTINCT_SECRET_CHARACTERS = 10
MAKE_A_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a usable configuration."""


def load_dotenv_files() -> None:
    """Load `.env` from the working directory into os.environ, never overriding what is already set."""
    load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)


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


LOG_FORMATS = ("json", "text")
MAX_TRUSTED_PROXIES = 10  # more hops than any real chain of proxies: a typo
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DAY = 24 * 3600
MIB = 1024 * 1024
STORAGE_BACKENDS = ("local", "supabase")
REGISTRATION_MODES = ("open", "invite", "closed")
# The environments a served app can run as. The test suite's own profile lives in tests/helpers, out of reach.
ENVIRONMENTS = ("development", "production")


def _rate(name: str, default: str) -> Setting:
    return Setting(name, rate_limit, default, example=default, bad="10/fortnight")


# Every environment variable config.py reads, read only through this table: each is checked at start-up, and an
# error names it with a good value (README "Configuration" describes them; .env.example shows them).
SETTINGS: tuple[Setting, ...] = (
    Setting("ARMADA_ENV", choice(*ENVIRONMENTS), "development", "production", bad="testing", empty_is_default=False),
    # Missing secrets are generated per install in development (see armada.secrets); production refuses.
    Setting("SECRET_KEY", text, None, MAKE_A_SECRET, bad="change-me", secret=True, strip=False),
    Setting("JWT_SECRET_KEY", text, None, MAKE_A_SECRET, bad="change-me", secret=True, strip=False),
    # A relative SQLite path lives in the instance folder (Flask-SQLAlchemy 3 behaviour).
    Setting(
        "DATABASE_URL",
        database_url,
        "sqlite:///armada.db",
        "postgresql://user:password@localhost:5432/armada",
        bad="not-a-url",
        secret=True,
    ),
    Setting("DB_POOL_SIZE", integer(1, 1000), 10, "10", bad="0"),
    Setting("DB_MAX_OVERFLOW", integer(0, 1000), 20, "20", bad="-1"),
    Setting("DB_CONNECT_TIMEOUT", integer(1, 600), 5, "5", bad="five"),
    Setting("DB_POOL_TIMEOUT", integer(1, 600), 10, "10", bad="1.5"),
    # How long PostgreSQL may go silent on an open connection before either end counts it as gone (a network
    # partition, a host that died): TCP keepalives and TCP_USER_TIMEOUT on both ends (armada.database). 0 leaves
    # the operating system's defaults, under which a request waits out a partition for ~15 minutes and a
    # transaction cut off from its client keeps its locks for ~2 hours.
    Setting("DB_NETWORK_TIMEOUT", integer(0, 3600), 10, "10", bad="-1"),
    # Set: Socket.IO events cross processes through Redis. Unset: one process, in-memory.
    Setting("REDIS_URL", redis_url, None, "redis://localhost:6379/0", bad="localhost:6379", secret=True),
    # Deployments sharing one Redis keep apart by channel.
    Setting("REDIS_CHANNEL", word, "armada-socketio", "armada-socketio", bad="armada socketio"),
    # Browser origins allowed to call the API and open sockets; empty means same-origin only, "*" any.
    Setting("ALLOWED_ORIGINS", origins, [], "https://chat.example.com,http://localhost:5173", bad="localhost:3000"),
    Setting("SOCKETIO_MAX_MESSAGE_BYTES", integer(1024, 100 * MIB), MIB, str(MIB), bad="1MB"),
    # Engine.IO's heartbeat, in seconds: the server pings each socket this often, and drops one whose pong is this
    # late. Clients learn both at the handshake. Keep interval + timeout under any proxy's idle timeout.
    Setting("SOCKETIO_PING_INTERVAL", integer(1, 3600), 25, "25", bad="25s"),
    Setting("SOCKETIO_PING_TIMEOUT", integer(1, 3600), 20, "20", bad="20s"),
    # A socket's typing events are forwarded at most this often per room, unless is_typing flips.
    Setting("TYPING_MIN_INTERVAL_MS", integer(0, 60_000), 1000, "1000", bad="1s"),
    # With REDIS_URL, how often each process checks that its sockets missed no committed message change (one
    # indexed statement over the rooms they joined); a missed change reaches them within about this + 0.5 s.
    Setting("REALTIME_SWEEP_SECONDS", seconds(3600), 2.0, "2", bad="0"),
    # permessage-deflate on websockets: off, as in Node's socket.io; it costs CPU per recipient per frame and a
    # zlib context per connection (see BENCHMARKS.md).
    Setting("WEBSOCKET_COMPRESSION", boolean, False, "false", bad="maybe"),
    # Bytes a websocket's client may leave unread beyond what the kernel buffers before it is dropped (it then
    # reconnects and catches up): a client that stops reading must not hold memory or stall a broadcast.
    Setting("WEBSOCKET_BACKLOG_BYTES", integer(64 * 1024, 1024 * MIB), MIB, str(MIB), bad="1MB"),
    # Logs go to stderr: "json" (one object per line, for log collectors; production's default) or "text".
    Setting("LOG_FORMAT", choice(*LOG_FORMATS), None, "json", bad="xml"),
    Setting("LOG_LEVEL", choice(*LOG_LEVELS, upper=True), "INFO", "INFO", bad="loud"),
    # Strict-Transport-Security max-age, sent on HTTPS responses only; 0 never sends it.
    Setting("HSTS_SECONDS", integer(0, 10 * 365 * DAY), 365 * DAY, str(365 * DAY), bad="a year"),
    # How many reverse proxies in front add X-Forwarded-For and X-Forwarded-Proto (1 behind nginx or Heroku's
    # router): the client's address (rate limits, logs) and scheme come from their hops. 0 believes neither
    # header, because any client can write them.
    Setting("TRUSTED_PROXIES", integer(0, MAX_TRUSTED_PROXIES), 0, "1", bad="11"),
    Setting("JWT_ACCESS_TOKEN_EXPIRES", integer(1, 365 * DAY), 15 * 60, "900", bad="15m"),
    Setting("JWT_REFRESH_TOKEN_EXPIRES", integer(1, 10 * 365 * DAY), 30 * DAY, str(30 * DAY), bad="0"),
    # werkzeug's scrypt defaults (n=2**15): deliberately slow; tests lower the cost.
    Setting("PASSWORD_HASH_METHOD", password_hash_method, "scrypt", "scrypt", bad="md5"),
    # Rate limits (flask-limiter strings; README "Rate limits" says why these defaults): per client address for
    # login and register; per user for sends, message edits and deletions, room creation and uploads; per socket
    # for socket events (join_room/leave_room also per socket and room).
    Setting("RATE_LIMIT_ENABLED", boolean, True, "true", bad="disabled"),
    _rate("RATE_LIMIT_LOGIN", "10/minute;100/hour"),
    _rate("RATE_LIMIT_REGISTER", "5/minute;30/hour"),
    _rate("RATE_LIMIT_SEND_MESSAGE", "30/10 seconds;600/hour"),
    _rate("RATE_LIMIT_CHANGE_MESSAGE", "30/10 seconds;600/hour"),
    _rate("RATE_LIMIT_CREATE_ROOM", "10/minute;200/day"),
    _rate("RATE_LIMIT_UPLOAD", "20/minute;300/day"),
    _rate("RATE_LIMIT_SEARCH", "10/second;2000/hour"),
    _rate("RATE_LIMIT_SOCKET_SEND_MESSAGE", "30/10 seconds"),
    _rate("RATE_LIMIT_SOCKET_TYPING", "10/second"),
    _rate("RATE_LIMIT_SOCKET_JOIN_ROOM", "10/minute"),
    _rate("RATE_LIMIT_SOCKET_JOIN_ROOM_TOTAL", "600/minute"),
    # Who may register through the API (README "Registration"): "open", "invite" (an invite code from
    # `flask armada invite`) or "closed" (`flask armada create-user` only); and, when set, only emails of these
    # domains.
    Setting("REGISTRATION", choice(*REGISTRATION_MODES), "open", "invite", bad="sometimes"),
    Setting("REGISTRATION_EMAIL_DOMAINS", email_domains, frozenset(), "example.com,example.org", bad="example"),
    # JSON request bodies; uploads get their own cap in the media blueprint.
    Setting("MAX_REQUEST_BYTES", integer(1024, 100 * MIB), MIB, str(MIB), bad="1 MiB"),
    # Media: "local" files under MEDIA_ROOT (default instance/media) or "supabase" Storage (private bucket).
    Setting("STORAGE_BACKEND", choice(*STORAGE_BACKENDS), "local", "local", bad="typo"),
    Setting("MEDIA_ROOT", text, None, "/var/lib/armada/media", bad="/var/lib/\tarmada"),
    Setting("SUPABASE_URL", http_url, None, "https://your-project.supabase.co", bad="your-project.supabase.co"),
    Setting(
        "SUPABASE_KEY", text, None, "eyJhbGciOi... (the service-role key)", bad="key\x00", secret=True, strip=False
    ),
    Setting("SUPABASE_BUCKET", word, "chat-media", "chat-media", bad="chat media/"),
    Setting("MAX_UPLOAD_BYTES", integer(1, 10 * 1024 * MIB), 25 * MIB, str(25 * MIB), bad="25MB"),
    # Lifetime of the signed media links in responses, and of direct-upload URLs.
    Setting("MEDIA_URL_EXPIRES", integer(1, 7 * DAY), 3600, "3600", bad="0"),
    Setting("MAX_IMAGE_PIXELS", integer(1, 1_000_000_000), 50_000_000, "50000000", bad="5e7"),
    # PostgreSQL's text search configuration for message search (stemming and stop words of that language);
    # "simple" keeps every word as written. Read when the search index is made (`flask armada db upgrade`) or
    # rebuilt (`flask armada search-language`). SQLite's index is the same for every language.
    Setting("SEARCH_LANGUAGE", identifier, "simple", "english", bad="English!"),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def read_setting(env: Mapping[str, str], name: str) -> Any:
    """The value of one setting of SETTINGS: its default when unset, else its parsed text (ConfigError if bad)."""
    setting = SETTINGS_BY_NAME[name]
    raw = env.get(name)
    if raw is None or (setting.empty_is_default and not raw.strip()):
        return setting.default
    try:
        return setting.parse(raw.strip() if setting.strip else raw)
    except ValueError as exc:
        got = "" if setting.secret else f"; got {raw!r}"
        raise ConfigError(f"{name} must be {exc}, e.g. {setting.example}{got}") from None


def read_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Every setting's value, each checked (the first bad one raises ConfigError naming it)."""
    values = {setting.name: read_setting(env, setting.name) for setting in SETTINGS}
    if values["STORAGE_BACKEND"] == "supabase":
        for name in ("SUPABASE_URL", "SUPABASE_KEY"):
            if values[name] is None:
                example = SETTINGS_BY_NAME[name].example
                raise ConfigError(f"{name} must be set when STORAGE_BACKEND=supabase, e.g. {example}")
    return values


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "development"
    TESTING = False

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        values = read_settings(os.environ if environ is None else environ)
        self.ARMADA_ENV = self.ENV_NAME
        self.SECRET_KEY: str | None = values["SECRET_KEY"]
        self.JWT_SECRET_KEY: str | None = values["JWT_SECRET_KEY"]

        self.SQLALCHEMY_DATABASE_URI: str = values["DATABASE_URL"]
        self.DB_NETWORK_TIMEOUT: int = values["DB_NETWORK_TIMEOUT"]
        self.SQLALCHEMY_ENGINE_OPTIONS = self._engine_options(values)
        self.REDIS_URL: str | None = values["REDIS_URL"]
        self.REDIS_CHANNEL: str = values["REDIS_CHANNEL"]
        self.ALLOWED_ORIGINS: list[str] = values["ALLOWED_ORIGINS"]
        self.SOCKETIO_MAX_MESSAGE_BYTES: int = values["SOCKETIO_MAX_MESSAGE_BYTES"]
        self.SOCKETIO_PING_INTERVAL: int = values["SOCKETIO_PING_INTERVAL"]
        self.SOCKETIO_PING_TIMEOUT: int = values["SOCKETIO_PING_TIMEOUT"]
        self.TYPING_MIN_INTERVAL_MS: int = values["TYPING_MIN_INTERVAL_MS"]
        self.REALTIME_SWEEP_SECONDS: float = values["REALTIME_SWEEP_SECONDS"]
        self.WEBSOCKET_COMPRESSION: bool = values["WEBSOCKET_COMPRESSION"]
        self.WEBSOCKET_BACKLOG_BYTES: int = values["WEBSOCKET_BACKLOG_BYTES"]

        self.LOG_FORMAT: str = values["LOG_FORMAT"] or ("json" if self.ENV_NAME == "production" else "text")
        self.LOG_LEVEL: str = values["LOG_LEVEL"]
        self.HSTS_SECONDS: int = values["HSTS_SECONDS"]
        self.TRUSTED_PROXIES: int = values["TRUSTED_PROXIES"]

        self.JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=values["JWT_ACCESS_TOKEN_EXPIRES"])
        self.JWT_REFRESH_TOKEN_EXPIRES = timedelta(seconds=values["JWT_REFRESH_TOKEN_EXPIRES"])
        self.JWT_ALGORITHM = "HS256"
        self.JWT_TOKEN_LOCATION = ["headers"]
        self.PASSWORD_HASH_METHOD: str = values["PASSWORD_HASH_METHOD"]

        self.RATE_LIMIT_ENABLED: bool = values["RATE_LIMIT_ENABLED"]
        for name, value in values.items():
            if name.startswith("RATE_LIMIT_") and name != "RATE_LIMIT_ENABLED":
                setattr(self, name, value)

        self.REGISTRATION: str = values["REGISTRATION"]
        self.REGISTRATION_EMAIL_DOMAINS: frozenset[str] = values["REGISTRATION_EMAIL_DOMAINS"]

        self.MAX_CONTENT_LENGTH: int = values["MAX_REQUEST_BYTES"]

        self.STORAGE_BACKEND: str = values["STORAGE_BACKEND"]
        self.MEDIA_ROOT: str | None = values["MEDIA_ROOT"]
        self.SUPABASE_URL: str | None = values["SUPABASE_URL"]
        self.SUPABASE_KEY: str | None = values["SUPABASE_KEY"]
        self.SUPABASE_BUCKET: str = values["SUPABASE_BUCKET"]
        self.MAX_UPLOAD_BYTES: int = values["MAX_UPLOAD_BYTES"]
        self.MEDIA_URL_EXPIRES: int = values["MEDIA_URL_EXPIRES"]
        self.MAX_IMAGE_PIXELS: int = values["MAX_IMAGE_PIXELS"]
        self.SEARCH_LANGUAGE: str = values["SEARCH_LANGUAGE"]

        self.API_TITLE = "Armada chat API"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        # Served from the swagger-ui-bundle package so the docs work offline (no CDN).
        self.OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"

    @staticmethod
    def _engine_options(values: Mapping[str, Any]) -> dict[str, object]:
        # A database error's text leaves out its statement's values: they are message texts, password hashes and
        # session ids, and the text reaches logs (and a 500's traceback).
        if values["DATABASE_URL"].startswith("sqlite"):
            return {"connect_args": {"timeout": 15}, "hide_parameters": True}
        return {
            "hide_parameters": True,
            "pool_pre_ping": True,
            "pool_size": values["DB_POOL_SIZE"],
            "max_overflow": values["DB_MAX_OVERFLOW"],
            "pool_recycle": 300,
            # A connection attempt that gets no answer (host unreachable, packets dropped) ends in a 503 after
            # this long instead of hanging the request (libpq waits forever by default).
            "connect_args": {
                "connect_timeout": values["DB_CONNECT_TIMEOUT"],
                **postgres_keepalives(values["DB_NETWORK_TIMEOUT"]),
            },
            # A request waits at most this long for a pooled connection before its 503 (default 30 s).
            "pool_timeout": values["DB_POOL_TIMEOUT"],
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
                    f"{name} must be set to a random value of at least 32 characters in production, "
                    f"e.g. the output of {MAKE_A_SECRET}"
                )
        # One key for both would let a leak of either forge the other's tokens and session cookies.
        if self.SECRET_KEY == self.JWT_SECRET_KEY:
            raise ConfigError("SECRET_KEY and JWT_SECRET_KEY must be two different random values in production.")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
}


def config_from_env(environ: Mapping[str, str] | None = None) -> Config:
    """Build the config named by ARMADA_ENV (default: development)."""
    env = os.environ if environ is None else environ
    return CONFIGS[read_setting(env, "ARMADA_ENV")](env)


def config_or_exit() -> Config:
    """The config of a served app or a `flask` command: `.env` and the environment, or exit with one line on
    stderr naming the bad setting (not a traceback: the operator's mistake is not a bug)."""
    load_dotenv_files()
    try:
        return config_from_env()
    except ConfigError as exc:
        print(f"armada: configuration error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
