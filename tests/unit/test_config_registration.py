"""REGISTRATION and REGISTRATION_EMAIL_DOMAINS: parsed at start-up, a bad value named in a ConfigError."""

from __future__ import annotations

import pytest

import config
from tests.helpers.testing_config import TestingConfig


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, "open"), ("", "open"), ("invite", "invite"), (" CLOSED ", "closed")]
)
def test_registration_mode(raw: str | None, expected: str) -> None:
    env = {} if raw is None else {"REGISTRATION": raw}
    assert expected == TestingConfig(env).REGISTRATION


@pytest.mark.parametrize("raw", ["maybe", "invites", "opened", "true", "open,invite"])
def test_a_bad_registration_mode_is_named(raw: str) -> None:
    with pytest.raises(config.ConfigError, match="REGISTRATION must be one of open, invite, closed"):
        TestingConfig({"REGISTRATION": raw})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, frozenset()),
        ("", frozenset()),
        ("example.com", {"example.com"}),
        (" Example.COM , example.org,", {"example.com", "example.org"}),
        ("mail.example.co.uk", {"mail.example.co.uk"}),
        ("xn--bcher-kva.example,bücher.example", {"xn--bcher-kva.example", "bücher.example"}),
    ],
)
def test_email_domains(raw: str | None, expected: set[str]) -> None:
    env = {} if raw is None else {"REGISTRATION_EMAIL_DOMAINS": raw}
    assert expected == TestingConfig(env).REGISTRATION_EMAIL_DOMAINS


@pytest.mark.parametrize(
    "raw",
    [
        "@example.com",
        "*.example.com",
        ".example.com",
        "example.com.",
        "localhost",
        "http://example.com",
        "example.com/path",
        "user@example.com",
        "exa mple.com",
        "-example.com",
        "example-.com",
        "ex_ample.com",
        "example..com",
        "example.com;evil.org",
        "a" * 64 + ".com",
    ],
)
def test_a_bad_email_domain_is_named(raw: str) -> None:
    with pytest.raises(
        config.ConfigError,
        match=r"REGISTRATION_EMAIL_DOMAINS must be email domains separated by commas .*, e\.g\. example\.com,",
    ):
        TestingConfig({"REGISTRATION_EMAIL_DOMAINS": f"example.org,{raw}"})
