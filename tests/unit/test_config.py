"""Configuration from the environment, and the per-install signing keys of development."""

from __future__ import annotations

import re
import secrets
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

import armada.secrets
import config
from config import ConfigError, config_from_env, normalize_database_url
from tests.helpers.testing_config import TestingConfig

SECRET_NAMES = ("SECRET_KEY", "JWT_SECRET_KEY")


def strong_secrets() -> dict[str, str]:
    return {name: secrets.token_urlsafe(48) for name in SECRET_NAMES}


def bare_app(instance: Path) -> Flask:
    """A Flask app with no keys configured, its instance folder at `instance`."""
    return Flask("armada_config_test", instance_path=str(instance))


# --- database URLs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db.example:5432/armada", "postgresql+psycopg://u:p@db.example:5432/armada"),
        ("postgresql://u:p@db.example/a?sslmode=require", "postgresql+psycopg://u:p@db.example/a?sslmode=require"),
        ("postgresql+psycopg://u@localhost/armada", "postgresql+psycopg://u@localhost/armada"),
        ("sqlite:///armada.db", "sqlite:///armada.db"),
        ("sqlite:////var/lib/armada/armada.db", "sqlite:////var/lib/armada/armada.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_normalize_database_url_points_postgres_at_psycopg3(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


def test_config_uses_the_normalized_database_url() -> None:
    cfg = config.DevelopmentConfig({"DATABASE_URL": "postgres://u@db.example/armada"})
    assert cfg.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@db.example/armada"
    assert cfg.SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is True


def test_db_network_timeout_of_0_leaves_the_os_defaults_and_a_bad_one_is_refused() -> None:
    # What a positive value does is shown on a real partition (tests/system/test_faults.py).
    url = {"DATABASE_URL": "postgres://u@db.example/armada"}
    off = config.DevelopmentConfig({**url, "DB_NETWORK_TIMEOUT": "0"})
    assert off.SQLALCHEMY_ENGINE_OPTIONS["connect_args"] == {"connect_timeout": 5}
    for bad in ("-1", "ten", "1.5"):
        with pytest.raises(ConfigError, match="DB_NETWORK_TIMEOUT"):
            config.DevelopmentConfig({**url, "DB_NETWORK_TIMEOUT": bad})


def test_config_defaults_to_an_sqlite_file() -> None:
    cfg = config.DevelopmentConfig({})
    assert cfg.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert "pool_size" not in cfg.SQLALCHEMY_ENGINE_OPTIONS


# --- production secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SECRET_NAMES)
@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "change-me",
        "CHANGE-ME",
        "  change-me  ",
        "changeme",
        "secret",
        "x" * 31,
        "a" * 32,
        "change-me" * 4,
        "abab-1212" * 4,
        "test-secret-key-that-is-long-enough-0123456789",
        "test-jwt-secret-key-that-is-long-enough-0123456789",
    ],
)
def test_production_refuses_a_missing_placeholder_or_short_secret(name: str, value: str | None) -> None:
    env = strong_secrets()
    if value is None:
        del env[name]
    else:
        env[name] = value
    with pytest.raises(ConfigError) as excinfo:
        config.ProductionConfig(env)
    assert name in str(excinfo.value)
    # The message must not echo a secret back into logs.
    if value and len(value.strip()) > 8:
        assert value.strip() not in str(excinfo.value)


def test_production_accepts_long_random_secrets() -> None:
    env = strong_secrets()
    cfg = config.ProductionConfig(env)
    assert env["SECRET_KEY"] == cfg.SECRET_KEY
    assert env["JWT_SECRET_KEY"] == cfg.JWT_SECRET_KEY
    assert cfg.ARMADA_ENV == "production"
    assert cfg.TESTING is False


def test_production_accepts_a_secret_of_exactly_32_characters() -> None:
    env = {"SECRET_KEY": secrets.token_hex(16), "JWT_SECRET_KEY": secrets.token_hex(16)}
    assert env["SECRET_KEY"] == config.ProductionConfig(env).SECRET_KEY


def test_production_refuses_one_key_for_both() -> None:
    shared = secrets.token_urlsafe(48)
    with pytest.raises(ConfigError, match="SECRET_KEY and JWT_SECRET_KEY") as excinfo:
        config.ProductionConfig({"SECRET_KEY": shared, "JWT_SECRET_KEY": shared})
    assert shared not in str(excinfo.value)


def test_development_leaves_missing_secrets_unset_for_generation() -> None:
    cfg = config.DevelopmentConfig({})
    assert cfg.SECRET_KEY is None and cfg.JWT_SECRET_KEY is None


# --- picking a config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("development", config.DevelopmentConfig),
        ("production", config.ProductionConfig),
        (" Production ", config.ProductionConfig),
        ("DEVELOPMENT", config.DevelopmentConfig),
    ],
)
def test_config_from_env_picks_the_class_named_by_armada_env(name: str, cls: type[config.Config]) -> None:
    cfg = config_from_env({"ARMADA_ENV": name, **strong_secrets()})
    assert type(cfg) is cls
    assert cfg.ARMADA_ENV == cls.ENV_NAME


def test_config_from_env_defaults_to_development() -> None:
    assert type(config_from_env({})) is config.DevelopmentConfig


@pytest.mark.parametrize("name", ["staging", "prod", "", "development-ish", "testing", "TESTING", " testing "])
def test_config_from_env_refuses_an_unknown_environment(name: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        config_from_env({"ARMADA_ENV": name, **strong_secrets()})
    assert "ARMADA_ENV" in str(excinfo.value)
    # The test suite's profile (published keys, no rate limits) is not offered to a served app.
    assert "development, production" in str(excinfo.value)
    assert "testing" not in str(excinfo.value).split(";")[0]


def test_config_from_env_in_production_still_checks_secrets() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        config_from_env({"ARMADA_ENV": "production"})


# --- integers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["JWT_ACCESS_TOKEN_EXPIRES", "JWT_REFRESH_TOKEN_EXPIRES", "MAX_REQUEST_BYTES", "DB_POOL_SIZE"]
)
@pytest.mark.parametrize("value", ["fifteen", "1.5", "15m", "0x10"])
def test_a_non_integer_setting_is_a_config_error_naming_it(name: str, value: str) -> None:
    env = {name: value, "DATABASE_URL": "postgresql://u@db.example/armada"}
    with pytest.raises(ConfigError) as excinfo:
        config.DevelopmentConfig(env)
    assert name in str(excinfo.value)


def test_token_lifetimes_come_from_the_environment_in_seconds() -> None:
    cfg = config.DevelopmentConfig({"JWT_ACCESS_TOKEN_EXPIRES": "60", "JWT_REFRESH_TOKEN_EXPIRES": " 3600 "})
    assert timedelta(seconds=60) == cfg.JWT_ACCESS_TOKEN_EXPIRES
    assert timedelta(hours=1) == cfg.JWT_REFRESH_TOKEN_EXPIRES


def test_an_empty_integer_setting_falls_back_to_its_default() -> None:
    cfg = config.DevelopmentConfig({"JWT_ACCESS_TOKEN_EXPIRES": ""})
    assert timedelta(minutes=15) == cfg.JWT_ACCESS_TOKEN_EXPIRES


# --- development keys in the instance folder ------------------------------------------------------------


def test_missing_keys_are_generated_into_the_instance_folder(tmp_path: Path) -> None:
    instance = tmp_path / "instance" / "nested"
    app = bare_app(instance)
    armada.secrets.init_app(app)
    for name in SECRET_NAMES:
        key = app.config[name]
        assert isinstance(key, str) and len(key) >= 32
        assert key not in config.PLACEHOLDER_SECRETS
        assert (instance / f"{name.lower()}.txt").read_text().strip() == key
    assert app.config["SECRET_KEY"] != app.config["JWT_SECRET_KEY"]


def test_generated_key_files_are_private(tmp_path: Path) -> None:
    armada.secrets.init_app(bare_app(tmp_path))
    for name in SECRET_NAMES:
        mode = stat.S_IMODE((tmp_path / f"{name.lower()}.txt").stat().st_mode)
        assert mode & 0o077 == 0, oct(mode)


def test_generation_leaves_no_draft_files_behind(tmp_path: Path) -> None:
    armada.secrets.init_app(bare_app(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jwt_secret_key.txt", "secret_key.txt"]


def test_a_second_app_on_the_same_instance_folder_reuses_the_keys(tmp_path: Path) -> None:
    first, second = bare_app(tmp_path), bare_app(tmp_path)
    armada.secrets.init_app(first)
    armada.secrets.init_app(second)
    for name in SECRET_NAMES:
        assert second.config[name] == first.config[name]


def test_two_instance_folders_get_different_keys(tmp_path: Path) -> None:
    first, second = bare_app(tmp_path / "one"), bare_app(tmp_path / "two")
    armada.secrets.init_app(first)
    armada.secrets.init_app(second)
    for name in SECRET_NAMES:
        assert first.config[name] != second.config[name]


def test_configured_keys_are_kept_and_nothing_is_written(tmp_path: Path) -> None:
    app = bare_app(tmp_path)
    app.config.from_object(config.DevelopmentConfig(strong_secrets()))
    configured = {name: app.config[name] for name in SECRET_NAMES}
    armada.secrets.init_app(app)
    assert {name: app.config[name] for name in SECRET_NAMES} == configured
    assert list(tmp_path.iterdir()) == []


def test_development_config_with_no_secrets_gets_generated_keys(tmp_path: Path) -> None:
    app = bare_app(tmp_path)
    app.config.from_object(config.DevelopmentConfig({}))
    armada.secrets.init_app(app)
    assert app.config["JWT_SECRET_KEY"] == (tmp_path / "jwt_secret_key.txt").read_text().strip()
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key.txt").read_text().strip()


# --- logs, HSTS and proxies -----------------------------------------------------------------------------


def test_log_format_defaults_to_json_in_production_only() -> None:
    assert config.ProductionConfig(strong_secrets()).LOG_FORMAT == "json"
    assert config.DevelopmentConfig({}).LOG_FORMAT == "text"
    assert TestingConfig({}).LOG_FORMAT == "text"
    assert config.ProductionConfig({**strong_secrets(), "LOG_FORMAT": "Text"}).LOG_FORMAT == "text"
    assert config.DevelopmentConfig({"LOG_LEVEL": "warning"}).LOG_LEVEL == "WARNING"
    assert config.DevelopmentConfig({}).HSTS_SECONDS == 31536000
    # No forwarding header is believed unless a deployment says so.
    assert config.DevelopmentConfig({}).TRUSTED_PROXIES == 0
    assert config.ProductionConfig({**strong_secrets(), "TRUSTED_PROXIES": "2"}).TRUSTED_PROXIES == 2


@pytest.mark.parametrize(
    "env",
    [
        {"LOG_FORMAT": "xml"},
        {"LOG_FORMAT": "json\x00"},
        {"LOG_LEVEL": "loud"},
        {"LOG_LEVEL": "10"},
        {"HSTS_SECONDS": "a year"},
        {"TRUSTED_PROXIES": "-1"},
        {"TRUSTED_PROXIES": "11"},
        {"TRUSTED_PROXIES": "one"},
        {"TRUSTED_PROXIES": "1\x00"},
    ],
)
def test_bad_operational_settings_are_config_errors_naming_them(env: dict[str, str]) -> None:
    (name,) = env
    with pytest.raises(ConfigError, match=name):
        config.DevelopmentConfig(env)


# --- rate limits ----------------------------------------------------------------------------------------


def test_the_defaults_are_on_with_the_documented_limits() -> None:
    cfg = config.DevelopmentConfig({})
    assert cfg.RATE_LIMIT_ENABLED is True
    assert (cfg.RATE_LIMIT_LOGIN, cfg.RATE_LIMIT_REGISTER) == ("10/minute;100/hour", "5/minute;30/hour")
    assert (cfg.RATE_LIMIT_SEND_MESSAGE, cfg.RATE_LIMIT_CREATE_ROOM) == ("30/10 seconds;600/hour", "10/minute;200/day")
    assert cfg.RATE_LIMIT_UPLOAD == "20/minute;300/day"
    assert (cfg.RATE_LIMIT_SOCKET_SEND_MESSAGE, cfg.RATE_LIMIT_SOCKET_TYPING) == ("30/10 seconds", "10/second")
    assert TestingConfig({}).RATE_LIMIT_ENABLED is False
    assert TestingConfig({"RATE_LIMIT_ENABLED": "true"}).RATE_LIMIT_ENABLED is True


@pytest.mark.parametrize(
    "raw, enabled",
    [
        ("false", False),
        ("0", False),
        ("no", False),
        (" OFF ", False),
        ("true", True),
        ("1", True),
        ("Yes", True),
        ("", True),
    ],
)
def test_rate_limit_enabled_reads_the_usual_words(raw: str, enabled: bool) -> None:
    assert config.DevelopmentConfig({"RATE_LIMIT_ENABLED": raw}).RATE_LIMIT_ENABLED is enabled


@pytest.mark.parametrize("raw", ["maybe", "disabled", "tru", "\x00", "ｔｒｕｅ"])
def test_rate_limit_enabled_refuses_anything_else(raw: str) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT_ENABLED"):
        config.DevelopmentConfig({"RATE_LIMIT_ENABLED": raw})


def test_a_limit_from_the_environment_is_used_as_given() -> None:
    env = {"RATE_LIMIT_LOGIN": " 5 per minute ", "RATE_LIMIT_SOCKET_TYPING": "2/second,50/hour"}
    cfg = config.DevelopmentConfig(env)
    assert (cfg.RATE_LIMIT_LOGIN, cfg.RATE_LIMIT_SOCKET_TYPING) == ("5 per minute", "2/second,50/hour")
    assert config.DevelopmentConfig({"RATE_LIMIT_LOGIN": ""}).RATE_LIMIT_LOGIN == "10/minute;100/hour"


@pytest.mark.parametrize("setting", ["RATE_LIMIT_LOGIN", "RATE_LIMIT_UPLOAD", "RATE_LIMIT_SOCKET_TYPING"])
@pytest.mark.parametrize(
    "raw",
    [
        "banana",
        "10/fortnight",
        "ten/minute",
        "10/minute;",
        "-1/minute",
        "0/minute",
        "10/minute\x00",
        "１０/minute",
        "10/minute;0/hour",
        "10",
    ],
)
def test_a_malformed_limit_is_refused_at_startup(setting: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        config.DevelopmentConfig({setting: raw})


# --- every setting is checked ---------------------------------------------------------------------------------


class RecordingEnv(dict[str, str]):
    """An environment that notes every name read from it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


@pytest.mark.parametrize(
    "env",
    [
        {"ARMADA_ENV": "production", **strong_secrets()},
        {"ARMADA_ENV": "development", "DATABASE_URL": "postgresql://u@db.example/armada"},
        {"STORAGE_BACKEND": "supabase", "SUPABASE_URL": "https://x.supabase.co", "SUPABASE_KEY": "k"},
    ],
)
def test_config_reads_the_environment_only_through_the_table_of_settings(env: dict[str, str]) -> None:
    # A setting read around the table would go unchecked: this fails until it is added there (with its bad value).
    recording = RecordingEnv(env)
    config_from_env(recording)
    assert recording.read == {setting.name for setting in config.SETTINGS}


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda setting: setting.name)
def test_every_setting_refuses_its_bad_value_naming_itself_with_a_good_example(setting: config.Setting) -> None:
    with pytest.raises(ConfigError) as excinfo:
        config_from_env({"ARMADA_ENV": "production", **strong_secrets(), setting.name: setting.bad})
    message = str(excinfo.value)
    assert message.startswith(setting.name)
    assert setting.example in message
    if setting.secret:
        assert repr(setting.bad) not in message and "got" not in message


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda setting: setting.name)
def test_every_settings_example_is_accepted(setting: config.Setting) -> None:
    if setting.name in SECRET_NAMES:  # an example of how to make one
        return
    env = {"ARMADA_ENV": "production", **strong_secrets(), setting.name: setting.example}
    env.update(
        {"SUPABASE_URL": "https://x.supabase.co", "SUPABASE_KEY": "k"} if setting.name == "STORAGE_BACKEND" else {}
    )
    config_from_env(env)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"WEBSOCKET_COMPRESSION": "maybe"}, "WEBSOCKET_COMPRESSION"),
        ({"ALLOWED_ORIGINS": "localhost:3000"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": "https://chat.example.com/"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": "https://chat.example.com,ftp://x.example"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": "http://localhost:port"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": "https://user@chat.example.com"}, "ALLOWED_ORIGINS"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"REDIS_URL": "redis+sentinel://sentinel.example:26379/mymaster/0"}, "REDIS_URL"),  # service before db
        ({"REDIS_URL": "redis+sentinel://sentinel.example:port/0/mymaster"}, "REDIS_URL"),
        ({"REDIS_URL": "redis+sentinel:///0/mymaster"}, "REDIS_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://"}, "REDIS_URL"),
        ({"REDIS_URL": "valkey://localhost:6379"}, "REDIS_URL"),
        ({"DATABASE_URL": "not-a-url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://u@localhost/armada"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql+psycopg2://u@localhost/armada"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u@localhost:port/armada"}, "DATABASE_URL"),
        ({"STORAGE_BACKEND": "typo"}, "STORAGE_BACKEND"),
        ({"STORAGE_BACKEND": "supabase"}, "SUPABASE_URL"),
        ({"STORAGE_BACKEND": "supabase", "SUPABASE_URL": "https://x.supabase.co"}, "SUPABASE_KEY"),
        ({"PASSWORD_HASH_METHOD": "scrypt:1000:8:1"}, "PASSWORD_HASH_METHOD"),
        ({"PASSWORD_HASH_METHOD": "pbkdf2:md5"}, "PASSWORD_HASH_METHOD"),
        ({"DB_POOL_SIZE": "１０"}, "DB_POOL_SIZE"),
        ({"REALTIME_SWEEP_SECONDS": "nan"}, "REALTIME_SWEEP_SECONDS"),
        ({"REALTIME_SWEEP_SECONDS": "inf"}, "REALTIME_SWEEP_SECONDS"),
        ({"JWT_ACCESS_TOKEN_EXPIRES": "-1"}, "JWT_ACCESS_TOKEN_EXPIRES"),
        ({"MAX_REQUEST_BYTES": "10" * 30}, "MAX_REQUEST_BYTES"),
        ({"LOG_LEVEL": "\x00"}, "LOG_LEVEL"),
    ],
)
def test_settings_that_went_unchecked_are_refused_naming_them(env: dict[str, str], name: str) -> None:
    # Even on SQLite (DB_POOL_SIZE used to be read only for PostgreSQL) and in development.
    with pytest.raises(ConfigError) as excinfo:
        config.DevelopmentConfig(env)
    assert str(excinfo.value).startswith(name)


def test_a_url_setting_error_never_repeats_the_url() -> None:
    # It may carry a password.
    for name, bad in [("DATABASE_URL", "mysql://u:hunter2@db/a"), ("REDIS_URL", "redis:/:hunter2@cache")]:
        with pytest.raises(ConfigError) as excinfo:
            config.DevelopmentConfig({name: bad})
        assert "hunter2" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("name", "good", "value"),
    [
        ("ALLOWED_ORIGINS", "*", ["*"]),
        (
            "ALLOWED_ORIGINS",
            " http://localhost:5173 , https://chat.example.com ",
            ["http://localhost:5173", "https://chat.example.com"],
        ),
        ("ALLOWED_ORIGINS", "http://[::1]:8080", ["http://[::1]:8080"]),
        ("REDIS_URL", "rediss://:pw@redis.example.com:6380/0?ssl_cert_reqs=none", None),
        ("REDIS_URL", "redis+sentinel://:pw@sentinel-1:26379,sentinel-2:26379/0/mymaster", None),
        ("WEBSOCKET_COMPRESSION", " On ", True),
        ("WEBSOCKET_COMPRESSION", "", False),
        ("STORAGE_BACKEND", "LOCAL", "local"),
        ("PASSWORD_HASH_METHOD", "pbkdf2:sha256:600000", "pbkdf2:sha256:600000"),
        ("PASSWORD_HASH_METHOD", "scrypt:1024:8:1", "scrypt:1024:8:1"),
        ("DATABASE_URL", "sqlite://", "sqlite://"),
        ("DB_CONNECT_TIMEOUT", " +7 ", 7),
    ],
)
def test_good_values_are_read_as_before(name: str, good: str, value: object) -> None:
    read = config.read_setting({name: good}, name)
    assert read == (good if value is None else value)


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda setting: setting.name)
def test_every_setting_is_documented(setting: config.Setting) -> None:
    assert f"`{setting.name}`" in (ROOT / "README.md").read_text()
    assert f"{setting.name}=" in (ROOT / ".env.example").read_text()


def test_every_value_shown_in_env_example_is_accepted() -> None:
    shown = re.findall(r"^#? ?([A-Z][A-Z_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE)
    checked = [(name, value) for name, value in shown if name in config.SETTINGS_BY_NAME]
    assert len(checked) > len(config.SETTINGS) / 2
    for name, value in checked:
        config.read_setting({name: value}, name)


def test_keys_are_kept_as_given_spaces_included() -> None:
    # Stripping would change a deployed signing key, and with it every token and session.
    key = " " + secrets.token_urlsafe(48) + " "
    cfg = config.DevelopmentConfig({"SECRET_KEY": key, "SUPABASE_KEY": key})
    assert (key, key) == (cfg.SECRET_KEY, cfg.SUPABASE_KEY)
