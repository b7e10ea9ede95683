"""Registration, login, refresh, logout and the checks every bearer token goes through."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, insert, select
from werkzeug.test import TestResponse

from armada import create_app
from armada.extensions import db
from armada.models import RevokedSession, User, utcnow
from tests.helpers.support import ApiClient, assert_error, committed_just_before
from tests.helpers.testing_config import TestingConfig
from tests.helpers.tokens import OMIT, access_claims, claims_of, forge

USER_FIELDS = {"id", "email", "display_name", "avatar_url", "created_at"}
PASSWORD = "correct horse 1"


def register(client: FlaskClient, **fields: Any) -> TestResponse:
    """POST /api/auth/register with sensible defaults for the fields not given."""
    body = {"email": "alice@example.com", "password": PASSWORD, "display_name": "Alice", **fields}
    return client.post("/api/auth/register", json={k: v for k, v in body.items() if v is not OMIT})


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> TestResponse:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(client: FlaskClient, token: str) -> TestResponse:
    return client.get("/api/users/me", headers=bearer(token))


def stored_user(app: Flask, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return user


# --- register -------------------------------------------------------------------------------------------


def test_register_returns_user_and_both_tokens(client: FlaskClient) -> None:
    response = register(client, email="alice@example.com", display_name="Alice")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"user", "access_token", "refresh_token"}
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["display_name"] == "Alice"
    assert body["user"]["avatar_url"] is None
    uuid.UUID(body["user"]["id"])
    assert body["access_token"] != body["refresh_token"]
    assert me(client, body["access_token"]).get_json()["id"] == body["user"]["id"]


def test_register_created_at_is_a_timezone_aware_timestamp(client: FlaskClient) -> None:
    created_at = datetime.fromisoformat(register(client).get_json()["user"]["created_at"])
    assert created_at.utcoffset() is not None


def test_register_lowercases_the_email(client: FlaskClient) -> None:
    response = register(client, email="Alice.Smith@Example.COM")
    assert response.status_code == 201
    assert response.get_json()["user"]["email"] == "alice.smith@example.com"


@pytest.mark.parametrize("again", ["alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com"])
def test_register_refuses_an_email_already_taken_in_any_case(client: FlaskClient, again: str) -> None:
    assert register(client, email="alice@example.com").status_code == 201
    assert_error(register(client, email=again, display_name="Other"), 409, "email_taken")


def test_register_stores_an_scrypt_hash_not_the_password(app: Flask, client: FlaskClient) -> None:
    assert register(client, email="alice@example.com", password=PASSWORD).status_code == 201
    user = stored_user(app, "alice@example.com")
    assert user is not None
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith("scrypt:")


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "alice@", "@example.com", "alice example@example.com", "", "a" * 250 + "@example.com"],
)
def test_register_refuses_a_bad_email(client: FlaskClient, email: str) -> None:
    error = assert_error(register(client, email=email), 422, "validation_failed")
    assert "email" in error["details"]


@pytest.mark.parametrize("password", ["", "short", "1234567"])
def test_register_refuses_a_password_under_eight_characters(client: FlaskClient, password: str) -> None:
    error = assert_error(register(client, password=password), 422, "validation_failed")
    assert "password" in error["details"]


def test_register_accepts_a_password_of_exactly_eight_characters(client: FlaskClient) -> None:
    assert register(client, password="12345678").status_code == 201
    assert login(client, "alice@example.com", "12345678").status_code == 200


@pytest.mark.parametrize("missing", ["email", "password", "display_name"])
def test_register_refuses_a_missing_field(client: FlaskClient, missing: str) -> None:
    error = assert_error(register(client, **{missing: OMIT}), 422, "validation_failed")
    assert missing in error["details"]


@pytest.mark.parametrize("field", ["email", "password", "display_name"])
@pytest.mark.parametrize("value", [None, 12345678, ["alice@example.com"], {"x": 1}, True])
def test_register_refuses_a_field_of_the_wrong_type(client: FlaskClient, field: str, value: Any) -> None:
    error = assert_error(register(client, **{field: value}), 422, "validation_failed")
    assert field in error["details"]


@pytest.mark.parametrize("field", ["display_name", "password", "email"])
def test_register_refuses_a_nul_byte(client: FlaskClient, field: str) -> None:
    value = {"display_name": "Al\u0000ice", "password": "correct\u0000horse", "email": "al\u0000ice@example.com"}
    error = assert_error(register(client, **{field: value[field]}), 422, "validation_failed")
    assert field in error["details"]


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("display_name", "Al\\ud800ice"),
        ("password", "correct\\ud800horse"),
        ("email", "al\\ud800ice@example.com"),
        ("email", "alice@exam\\ud800ple.com"),
    ],
)
def test_register_refuses_a_lone_surrogate(client: FlaskClient, field: str, raw: str) -> None:
    values = {"email": '"alice@example.com"', "password": f'"{PASSWORD}"', "display_name": '"Alice"'}
    values[field] = f'"{raw}"'
    body = "{" + ", ".join(f'"{name}": {value}' for name, value in values.items()) + "}"
    response = client.post("/api/auth/register", data=body, content_type="application/json")
    error = assert_error(response, 422, "validation_failed")
    assert field in error["details"]


@pytest.mark.parametrize("name", ["x" * 1000, "x" * 101, "", "   "])
def test_register_refuses_an_empty_or_overlong_display_name(client: FlaskClient, name: str) -> None:
    error = assert_error(register(client, display_name=name), 422, "validation_failed")
    assert "display_name" in error["details"]


def test_register_accepts_a_display_name_of_100_characters(client: FlaskClient) -> None:
    response = register(client, display_name="x" * 100)
    assert response.status_code == 201
    assert response.get_json()["user"]["display_name"] == "x" * 100


@pytest.mark.parametrize("name", ["Zoë Ñúñez", "李小龍", "🚀 Rocket 👩‍👩‍👧", "Ω≈ç√"])
def test_register_round_trips_a_unicode_display_name(client: FlaskClient, name: str) -> None:
    body = register(client, display_name=name).get_json()
    assert body["user"]["display_name"] == name
    assert me(client, body["access_token"]).get_json()["display_name"] == name


def test_register_trims_surrounding_whitespace_of_the_display_name(client: FlaskClient) -> None:
    assert register(client, display_name="  Alice \t").get_json()["user"]["display_name"] == "Alice"


def test_register_ignores_unknown_fields(app: Flask, client: FlaskClient) -> None:
    other_id = str(uuid.uuid4())
    response = register(client, id=other_id, avatar_url="https://evil.example/x.png", password_hash="x")
    assert response.status_code == 201
    assert response.get_json()["user"]["id"] != other_id
    assert response.get_json()["user"]["avatar_url"] is None


def test_register_refuses_a_body_that_is_not_json(client: FlaskClient) -> None:
    response = client.post("/api/auth/register", data="email=a@example.com", content_type="text/plain")
    assert_error(response, 400)


def test_register_refuses_a_json_array_body(client: FlaskClient) -> None:
    response = client.post("/api/auth/register", json=["alice@example.com", PASSWORD, "Alice"])
    assert_error(response, 400, "malformed_json")


# --- login ----------------------------------------------------------------------------------------------


def test_login_returns_the_user_and_a_working_token_pair(client: FlaskClient) -> None:
    user = register(client).get_json()["user"]
    response = login(client, "alice@example.com")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"user", "access_token", "refresh_token"}
    assert body["user"] == user
    assert me(client, body["access_token"]).get_json()["id"] == user["id"]


@pytest.mark.parametrize("email", ["ALICE@EXAMPLE.COM", "Alice@Example.com", "  alice@example.com "])
def test_login_email_is_case_insensitive(client: FlaskClient, email: str) -> None:
    register(client, email="alice@example.com")
    response = login(client, email)
    assert response.status_code == 200
    assert response.get_json()["user"]["email"] == "alice@example.com"


def test_login_wrong_password_and_unknown_email_look_identical(client: FlaskClient) -> None:
    register(client, email="alice@example.com")
    wrong_password = login(client, "alice@example.com", "not the password")
    unknown_email = login(client, "nobody@example.com", "not the password")
    assert_error(wrong_password, 401, "invalid_credentials")
    assert_error(unknown_email, 401, "invalid_credentials")
    assert wrong_password.get_json() == unknown_email.get_json()


def test_login_password_is_case_sensitive(client: FlaskClient) -> None:
    register(client, password="Correct Horse 1")
    assert_error(login(client, "alice@example.com", "correct horse 1"), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "body",
    [
        {"password": PASSWORD},
        {"email": "alice@example.com"},
        {"email": 1, "password": PASSWORD},
        {"email": "alice@example.com", "password": None},
        {"email": "alice@example.com", "password": "correct\u0000horse"},
        {"email": "alice\u0000@example.com", "password": PASSWORD},
    ],
)
def test_login_refuses_missing_wrong_typed_or_unsafe_fields(client: FlaskClient, body: dict[str, Any]) -> None:
    register(client)
    error = assert_error(client.post("/api/auth/login", json=body), 422, "validation_failed")
    assert set(error["details"]) <= {"email", "password"} and error["details"]


def test_login_refuses_a_lone_surrogate_in_the_password(client: FlaskClient) -> None:
    register(client)
    body = '{"email": "alice@example.com", "password": "correct\\ud800horse"}'
    response = client.post("/api/auth/login", data=body, content_type="application/json")
    assert "password" in assert_error(response, 422, "validation_failed")["details"]


# --- refresh --------------------------------------------------------------------------------------------


def test_refresh_token_gives_a_working_access_token(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    response = client.post("/api/auth/refresh", headers=bearer(alice.refresh_token))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token"}
    assert me(client, body["access_token"]).get_json()["id"] == alice.id


def test_access_token_is_refused_by_refresh(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    assert_error(client.post("/api/auth/refresh", headers=bearer(alice.access_token)), 401)


def test_refresh_token_is_refused_as_an_access_token(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    assert_error(me(client, alice.refresh_token), 401)


def test_refresh_requires_a_token(client: FlaskClient) -> None:
    assert_error(client.post("/api/auth/refresh"), 401, "authorization_required")


# --- logout ---------------------------------------------------------------------------------------------


def test_logout_revokes_the_access_and_refresh_token_of_the_session(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    response = alice.post("/api/auth/logout")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(me(client, alice.access_token), 401, "token_revoked")
    assert_error(client.post("/api/auth/refresh", headers=bearer(alice.refresh_token)), 401, "token_revoked")


def test_logout_leaves_other_sessions_of_the_same_user_working(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    other = login(client, alice.user["email"]).get_json()
    assert alice.post("/api/auth/logout").status_code == 204
    assert me(client, other["access_token"]).get_json()["id"] == alice.id
    assert client.post("/api/auth/refresh", headers=bearer(other["refresh_token"])).status_code == 200


def test_logout_with_a_refreshed_access_token_revokes_the_original_refresh_token(
    client: FlaskClient, api: ApiClient
) -> None:
    alice = api.register("Alice")
    fresh = client.post("/api/auth/refresh", headers=bearer(alice.refresh_token)).get_json()["access_token"]
    assert client.post("/api/auth/logout", headers=bearer(fresh)).status_code == 204
    assert_error(client.post("/api/auth/refresh", headers=bearer(alice.refresh_token)), 401, "token_revoked")
    assert_error(me(client, alice.access_token), 401, "token_revoked")


def test_logout_twice_with_the_same_token_is_refused(api: ApiClient) -> None:
    alice = api.register("Alice")
    assert alice.post("/api/auth/logout").status_code == 204
    assert_error(alice.post("/api/auth/logout"), 401, "token_revoked")


def test_a_logout_racing_another_with_the_same_token_succeeds_too(
    app: Flask, client: FlaskClient, api: ApiClient
) -> None:
    alice = api.register("Alice")
    sid = claims_of(alice.access_token)["sid"]

    def the_other_logout(connection: Connection) -> None:
        connection.execute(insert(RevokedSession).values(sid=sid, expires_at=utcnow() + timedelta(days=1)))

    # Both passed the token check; the other one revokes the session just before this one writes.
    with committed_just_before(app, "INSERT INTO revoked_sessions", the_other_logout) as interposed:
        response = alice.post("/api/auth/logout")
    assert interposed, "the logout never wrote the revocation"
    assert response.status_code == 204, response.get_data(as_text=True)[:2000]
    assert_error(me(client, alice.access_token), 401, "token_revoked")


def test_logout_requires_a_token(client: FlaskClient) -> None:
    assert_error(client.post("/api/auth/logout"), 401, "authorization_required")


def test_logout_with_a_refresh_token_is_refused(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    assert_error(client.post("/api/auth/logout", headers=bearer(alice.refresh_token)), 401)
    assert me(client, alice.access_token).status_code == 200


@pytest.fixture
def restarted_app(database_url: str) -> Iterator[Flask]:
    """A second app process on the same database, as after a restart."""
    second = create_app(TestingConfig({"DATABASE_URL": database_url}))
    yield second
    with second.app_context():
        db.session.remove()
        db.engine.dispose()


def test_logout_survives_an_app_restart(client: FlaskClient, api: ApiClient, restarted_app: Flask) -> None:
    alice, bob = api.register("Alice"), api.register("Bob")
    assert alice.post("/api/auth/logout").status_code == 204
    restarted = restarted_app.test_client()
    # Bob's untouched token works on the restarted app, so Alice's refusal is the revocation, not the restart.
    assert me(restarted, bob.access_token).get_json()["id"] == bob.id
    assert_error(me(restarted, alice.access_token), 401, "token_revoked")
    assert_error(restarted.post("/api/auth/refresh", headers=bearer(alice.refresh_token)), 401, "token_revoked")


# --- tokens ---------------------------------------------------------------------------------------------


def test_missing_authorization_header_is_refused(client: FlaskClient) -> None:
    assert_error(client.get("/api/users/me"), 401, "authorization_required")


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cGFzcw==", "Bearer", "Token abc", ""])
def test_authorization_header_without_a_bearer_token_is_refused(client: FlaskClient, header: str) -> None:
    assert_error(client.get("/api/users/me", headers={"Authorization": header}), 401)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "ä\u00ff.x.y", "x" * 5000])
def test_garbage_token_is_refused(client: FlaskClient, token: str) -> None:
    assert_error(client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_forged_token_with_the_app_key_is_accepted(jwt_key: str, client: FlaskClient, api: ApiClient) -> None:
    # Proves forge() builds what the app issues, so the refusals below test one defect each.
    alice = api.register("Alice")
    assert me(client, forge(access_claims(alice.id), jwt_key)).get_json()["id"] == alice.id


def test_token_signed_with_another_key_is_refused(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    token = forge(access_claims(alice.id), "another-key-that-is-long-enough-0123456789abcdef")
    assert_error(me(client, token), 401, "invalid_token")


def test_unsigned_alg_none_token_is_refused(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    assert_error(me(client, forge(access_claims(alice.id), None, algorithm="none")), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["exp", "sid", "sub"])
def test_token_without_a_required_claim_is_refused(
    jwt_key: str, client: FlaskClient, api: ApiClient, claim: str
) -> None:
    alice = api.register("Alice")
    assert_error(me(client, forge(access_claims(alice.id), jwt_key, **{claim: OMIT})), 401, "invalid_token")


@pytest.mark.parametrize("sid", [123, None, ["a"], {"a": 1}])
def test_token_whose_sid_is_not_a_string_is_refused(
    jwt_key: str, client: FlaskClient, api: ApiClient, sid: Any
) -> None:
    alice = api.register("Alice")
    assert_error(me(client, forge(access_claims(alice.id, sid=sid), jwt_key)), 401, "invalid_token")


@pytest.mark.parametrize("sub", ["not-a-uuid", "", "1", "00000000-0000-0000-0000-00000000000g"])
def test_token_whose_sub_is_not_a_uuid_is_refused(jwt_key: str, client: FlaskClient, sub: str) -> None:
    assert_error(me(client, forge(access_claims(sub), jwt_key)), 401, "invalid_token")


def test_token_whose_sub_is_not_a_string_is_refused(jwt_key: str, client: FlaskClient) -> None:
    assert_error(me(client, forge(access_claims(12345), jwt_key)), 401, "invalid_token")


def test_token_of_an_unknown_user_is_refused(jwt_key: str, client: FlaskClient, api: ApiClient) -> None:
    api.register("Alice")
    assert_error(me(client, forge(access_claims(str(uuid.uuid4())), jwt_key)), 401, "invalid_token")


def test_expired_token_is_refused_as_expired(jwt_key: str, client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    past = int(time.time()) - 3600
    token = forge(access_claims(alice.id, iat=past - 60, nbf=past - 60, exp=past), jwt_key)
    assert_error(me(client, token), 401, "token_expired")


def test_expired_refresh_token_is_refused_as_expired(jwt_key: str, client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    past = int(time.time()) - 3600
    token = forge(access_claims(alice.id, type="refresh", iat=past - 60, nbf=past - 60, exp=past), jwt_key)
    assert_error(client.post("/api/auth/refresh", headers=bearer(token)), 401, "token_expired")


def test_token_not_yet_valid_is_refused(jwt_key: str, client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    future = int(time.time()) + 3600
    assert_error(me(client, forge(access_claims(alice.id, iat=future, nbf=future, exp=future + 300), jwt_key)), 401)


def test_token_sub_is_the_user_id(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    for token, kind in ((alice.access_token, "access"), (alice.refresh_token, "refresh")):
        claims = claims_of(token)
        assert claims["sub"] == alice.id
        assert claims["type"] == kind
        assert isinstance(claims["exp"], int) and isinstance(claims["sid"], str)


def test_both_tokens_of_a_login_share_one_session_and_logins_do_not(client: FlaskClient, api: ApiClient) -> None:
    alice = api.register("Alice")
    second = login(client, alice.user["email"]).get_json()

    def sid(token: str) -> str:
        return claims_of(token)["sid"]

    assert sid(alice.access_token) == sid(alice.refresh_token)
    assert sid(second["access_token"]) == sid(second["refresh_token"]) != sid(alice.access_token)


def test_access_token_expires_after_the_configured_lifetime(app: Flask, database_url: str) -> None:
    born_expired = TestingConfig({"DATABASE_URL": database_url})
    # Below the 1 second JWT_ACCESS_TOKEN_EXPIRES allows: every token is expired when issued.
    born_expired.JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=-1)
    short = create_app(born_expired)
    try:
        client = short.test_client()
        alice = ApiClient(client).register("Alice")
        assert_error(me(client, alice.access_token), 401, "token_expired")
        # The refresh token keeps its own (long) lifetime, but what it issues is born expired too.
        access = client.post("/api/auth/refresh", headers=bearer(alice.refresh_token)).get_json()["access_token"]
        assert_error(me(client, access), 401, "token_expired")
    finally:
        with short.app_context():
            db.session.remove()
            db.engine.dispose()
