"""Who may register: REGISTRATION=open|invite|closed, REGISTRATION_EMAIL_DOMAINS, invites and their atomic use,
and GET /api/auth/registration, which tells clients the mode."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from armada import create_app
from armada.extensions import db
from armada.models import Invite, User, utcnow
from tests.helpers.support import assert_error
from tests.helpers.testing_config import TestingConfig

REGISTER = "/api/auth/register"


@pytest.fixture
def mode(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the session app's registration settings for one test (what REGISTRATION... would have made)."""

    def set_mode(registration: str = "open", domains: frozenset[str] = frozenset()) -> None:
        monkeypatch.setitem(app.config, "REGISTRATION", registration)
        monkeypatch.setitem(app.config, "REGISTRATION_EMAIL_DOMAINS", domains)

    return set_mode


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def make_invite(runner: FlaskCliRunner, *options: str) -> str:
    """A code from `flask armada invite`, read from its last line."""
    result = runner.invoke(args=["armada", "invite", *options])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def register(client: FlaskClient, email: str | None = None, **extra: Any) -> TestResponse:
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    return client.post(REGISTER, json={"email": email, "password": "long password 1", "display_name": "New", **extra})


def user_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User)) or 0


def uses_left(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Invite.uses_left)))


# --- GET /api/auth/registration ---------------------------------------------------------------------------


@pytest.mark.parametrize("registration", ["open", "invite", "closed"])
def test_the_mode_is_public(client: FlaskClient, mode: Callable[..., None], registration: str) -> None:
    mode(registration)
    response = client.get("/api/auth/registration")
    assert response.status_code == 200
    assert response.get_json() == {"mode": registration}


def test_the_mode_comes_from_the_environment(database_url: str) -> None:
    for registration in ("invite", "closed"):
        app = create_app(TestingConfig({"DATABASE_URL": database_url, "REGISTRATION": registration}))
        assert app.test_client().get("/api/auth/registration").get_json() == {"mode": registration}
        with app.app_context():
            db.engine.dispose()
    app = create_app(TestingConfig({"DATABASE_URL": database_url}))
    assert app.test_client().get("/api/auth/registration").get_json() == {"mode": "open"}


# --- open and closed ------------------------------------------------------------------------------------------


def test_open_registration_needs_no_code_and_ignores_one(client: FlaskClient, mode: Callable[..., None]) -> None:
    mode("open")
    assert register(client).status_code == 201
    assert register(client, invite_code="whatever").status_code == 201


def test_closed_registration_refuses_everyone(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None]
) -> None:
    mode("closed")
    code = make_invite(runner)
    for extra in ({}, {"invite_code": code}):
        assert_error(register(client, **extra), 403, "registration_closed")
    assert user_count(app) == 0
    assert uses_left(app) == [1]


def test_closed_registration_leaves_create_user_working(
    client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None]
) -> None:
    mode("closed")
    args = [
        "armada",
        "create-user",
        "--email",
        "made@example.com",
        "--display-name",
        "Made",
        "--password",
        "pw long 12",
    ]
    assert runner.invoke(args=args).exit_code == 0
    login = client.post("/api/auth/login", json={"email": "made@example.com", "password": "pw long 12"})
    assert login.status_code == 200


def test_closed_registration_still_validates_the_body_first(client: FlaskClient, mode: Callable[..., None]) -> None:
    mode("closed")
    assert_error(client.post(REGISTER, json={"email": "x"}), 422, "validation_failed")


# --- invite -----------------------------------------------------------------------------------------------


def test_an_invite_code_registers_one_account(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None]
) -> None:
    mode("invite")
    code = make_invite(runner)
    response = register(client, invite_code=code)
    assert response.status_code == 201, response.get_json()
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {response.get_json()['access_token']}"})
    assert me.status_code == 200
    assert uses_left(app) == [0]
    assert_error(register(client, invite_code=code), 403, "invalid_invite")
    assert user_count(app) == 1


def test_an_invite_with_uses_registers_that_many(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None]
) -> None:
    mode("invite")
    code = make_invite(runner, "--uses", "3")
    assert [register(client, invite_code=code).status_code for _ in range(4)] == [201, 201, 201, 403]
    assert user_count(app) == 3


@pytest.mark.parametrize(
    "code", [None, "", "   ", "not-a-code", "x" * 100, "\u00e9\u00e8\U0001f680", "SELECT 1; --", "%", "_"]
)
def test_a_missing_or_unknown_code_is_an_invalid_invite(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None], code: str | None
) -> None:
    mode("invite")
    make_invite(runner)
    response = register(client) if code is None else register(client, invite_code=code)
    assert_error(response, 403, "invalid_invite")
    assert user_count(app) == 0 and uses_left(app) == [1]


def test_a_code_differing_in_case_or_by_a_character_is_refused(
    client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None]
) -> None:
    mode("invite")
    code = make_invite(runner)
    changed = code[:-1] + ("A" if code[-1] != "A" else "B")
    for wrong in (code.swapcase(), changed, code + "x", code[:-1]):
        if wrong != code:
            assert_error(register(client, invite_code=wrong), 403, "invalid_invite")
    assert register(client, invite_code=f"  {code}  ").status_code == 201  # pasted with spaces around


@pytest.mark.parametrize("code", [123, ["a"], {"a": 1}, True, "a\u0000b", "x" * 101])
def test_a_malformed_code_is_a_validation_error(client: FlaskClient, mode: Callable[..., None], code: object) -> None:
    mode("invite")
    error = assert_error(register(client, invite_code=code), 422, "validation_failed")
    assert "invite_code" in error["details"]


def test_an_expired_invite_is_refused(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None]
) -> None:
    mode("invite")
    code = make_invite(runner, "--uses", "5", "--expires-in", "1")
    with app.app_context():
        [expires_at] = db.session.scalars(select(Invite.expires_at))
        assert timedelta(hours=23) < expires_at - utcnow() <= timedelta(days=1)
        db.session.execute(update(Invite).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert_error(register(client, invite_code=code), 403, "invalid_invite")
    assert user_count(app) == 0


def test_a_refused_registration_does_not_spend_the_invite(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None]
) -> None:
    mode("invite", frozenset({"example.com"}))
    code = make_invite(runner)
    assert register(client, "taken@example.com", invite_code=make_invite(runner)).status_code == 201
    assert_error(register(client, "taken@example.com", invite_code=code), 409, "email_taken")
    assert_error(register(client, "someone@elsewhere.org", invite_code=code), 403, "email_domain_not_allowed")
    assert sorted(uses_left(app)) == [0, 1]
    assert register(client, invite_code=code).status_code == 201


def test_only_a_hash_of_the_code_is_stored(app: Flask, runner: FlaskCliRunner) -> None:
    code = make_invite(runner)
    with app.app_context():
        [invite] = db.session.scalars(select(Invite))
        stored = " ".join(str(value) for value in vars(invite).values())
    assert code not in stored
    assert len(invite.code_hash) == 64


# --- REGISTRATION_EMAIL_DOMAINS ---------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["ann@example.com", "Ann@EXAMPLE.com", "bob@Example.Org"])
def test_an_email_of_an_allowed_domain_registers(client: FlaskClient, mode: Callable[..., None], email: str) -> None:
    mode("open", frozenset({"example.com", "example.org"}))
    assert register(client, email).status_code == 201


@pytest.mark.parametrize(
    "email",
    [
        "eve@evil-example.com",
        "eve@example.com.evil.org",
        "eve@sub.example.com",
        "eve@notexample.com",
        "eve@example.co",
        "eve@example.comm",
        "example.com@evil.org",
        "eve@xn--exmple-cua.com",
    ],
)
def test_an_email_outside_the_allowed_domains_is_refused(
    app: Flask, client: FlaskClient, mode: Callable[..., None], email: str
) -> None:
    mode("open", frozenset({"example.com", "example.org"}))
    assert_error(register(client, email), 403, "email_domain_not_allowed")
    assert user_count(app) == 0


def test_a_quoted_local_part_cannot_smuggle_an_allowed_domain(
    app: Flask, client: FlaskClient, mode: Callable[..., None]
) -> None:
    mode("open", frozenset({"example.com"}))
    response = register(client, '"eve@example.com"@evil.org')
    assert response.status_code in (403, 422), response.get_json()
    assert user_count(app) == 0


def test_the_domain_rule_applies_in_invite_mode_too(
    client: FlaskClient, runner: FlaskCliRunner, mode: Callable[..., None]
) -> None:
    mode("invite", frozenset({"example.com"}))
    code = make_invite(runner)
    assert_error(register(client, "eve@evil.org", invite_code=code), 403, "email_domain_not_allowed")
    assert register(client, "ann@example.com", invite_code=code).status_code == 201


def test_no_domains_set_allows_every_domain(client: FlaskClient, mode: Callable[..., None]) -> None:
    mode("open")
    assert register(client, "someone@anywhere.example").status_code == 201


# --- one invite, many registrations at once ---------------------------------------------------------------

PARALLEL = 8


def at_once(app: Flask, requests: list[Callable[[FlaskClient], TestResponse]]) -> list[int]:
    """Run the requests in parallel threads, each with its own test client, released together; their statuses."""
    start = threading.Barrier(len(requests))

    def run(request: Callable[[FlaskClient], TestResponse]) -> int:
        client = app.test_client()
        start.wait()
        return request(client).status_code

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(run, requests))


@pytest.fixture
def invite_app(database_url: str) -> Iterator[Flask]:
    """An app of its own with REGISTRATION=invite from its environment, on the session's database."""
    app = create_app(TestingConfig({"DATABASE_URL": database_url, "REGISTRATION": "invite"}))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("uses", [1, 3])
def test_parallel_registrations_spend_an_invite_exactly_as_often_as_it_allows(
    app: Flask, invite_app: Flask, uses: int
) -> None:
    for _ in range(3):  # each round is one more chance for the requests to interleave
        code = make_invite(invite_app.test_cli_runner(), "--uses", str(uses))
        before = user_count(app)
        statuses = at_once(
            invite_app,
            [
                lambda c, n=n, code=code: register(c, f"racer-{n}-{uuid.uuid4().hex}@example.com", invite_code=code)
                for n in range(PARALLEL)
            ],
        )
        assert sorted(statuses) == [201] * uses + [403] * (PARALLEL - uses), statuses
        assert user_count(app) == before + uses
    assert uses_left(app) == [0, 0, 0]


def test_the_api_document_describes_registration(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    mode = document["paths"]["/api/auth/registration"]["get"]
    assert mode["security"] == []
    answer = mode["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schemas[answer]["properties"]["mode"]["enum"] == ["open", "invite", "closed"]
    register_doc = document["paths"][REGISTER]["post"]
    refusals = register_doc["responses"]["403"]["description"]
    for code in ("registration_closed", "invalid_invite", "email_domain_not_allowed"):
        assert code in refusals
    assert "invite_code" in schemas["Register"]["properties"]
    assert "invite_code" not in schemas["Register"].get("required", [])
