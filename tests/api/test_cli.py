"""`flask armada ...`: create-user and demo, checked through the API they feed."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from armada.extensions import db
from armada.models import Invite, utcnow
from tests.helpers.support import empty_all_tables

DEMO_LOGIN = re.compile(r"^\s+(\S+@\S+)\s+password: (\S+)\s*$", re.MULTILINE)


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def create_user(runner: FlaskCliRunner, email: str, name: str = "Dana", password: str = "long password 1") -> Result:
    args = ["armada", "create-user", "--email", email, "--display-name", name, "--password", password]
    return runner.invoke(args=args)


def login(client: FlaskClient, email: str, password: str) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def assert_clean_failure(result: Result, *fragments: str) -> None:
    """A non-zero exit with a readable message: click's own exit, never an escaped exception."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_create_user_then_log_in_through_the_api(runner: FlaskCliRunner, client: FlaskClient) -> None:
    result = create_user(runner, "dana@example.com", "Dana Scully", "trust no one 1")
    assert result.exit_code == 0, result.output
    assert "dana@example.com" in result.output
    response = login(client, "dana@example.com", "trust no one 1")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["display_name"] == "Dana Scully"


def test_created_user_id_is_printed(runner: FlaskCliRunner, client: FlaskClient) -> None:
    result = create_user(runner, "id@example.com")
    user_id = login(client, "id@example.com", "long password 1").get_json()["user"]["id"]
    assert user_id in result.output


def test_create_user_with_wrong_password_cannot_log_in(runner: FlaskCliRunner, client: FlaskClient) -> None:
    assert create_user(runner, "eve@example.com", password="the right one 1").exit_code == 0
    assert login(client, "eve@example.com", "the wrong one 1").status_code == 401


def test_create_user_keeps_unicode_display_name(runner: FlaskCliRunner, client: FlaskClient) -> None:
    assert create_user(runner, "zoe@example.com", name="Zoë 🚀 李").exit_code == 0
    assert login(client, "zoe@example.com", "long password 1").get_json()["user"]["display_name"] == "Zoë 🚀 李"


@pytest.mark.parametrize("second_email", ["dup@example.com", "DUP@Example.com", "  dup@example.com "])
def test_create_user_with_taken_email_fails_cleanly(
    runner: FlaskCliRunner, client: FlaskClient, second_email: str
) -> None:
    assert create_user(runner, "dup@example.com", password="first password 1").exit_code == 0
    result = create_user(runner, second_email, name="Impostor", password="second password 1")
    assert_clean_failure(result, "already exists")
    assert login(client, "dup@example.com", "first password 1").get_json()["user"]["display_name"] == "Dana"


@pytest.mark.parametrize(
    "email, name, password, option",
    [
        ("not-an-email", "Dana", "long password 1", "--email"),
        ("a" * 250 + "@example.com", "Dana", "long password 1", "--email"),
        ("short@example.com", "Dana", "short", "--password"),
        ("long@example.com", "Dana", "p" * 129, "--password"),
        ("blank@example.com", "   ", "long password 1", "--display-name"),
        ("huge@example.com", "n" * 101, "long password 1", "--display-name"),
        ("nul@example.com", "Da\x00na", "long password 1", "--display-name"),
    ],
)
def test_create_user_refuses_what_register_refuses(
    runner: FlaskCliRunner, client: FlaskClient, email: str, name: str, password: str, option: str
) -> None:
    assert_clean_failure(create_user(runner, email, name, password), option)
    assert login(client, email, password).status_code in (401, 422)
    # ...and the API agrees: the same values are a 422 there.
    body = {"email": email, "password": password, "display_name": name}
    assert client.post("/api/auth/register", json=body).status_code == 422


def test_create_user_without_email_is_a_usage_error(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["armada", "create-user", "--display-name", "X", "--password", "long password 1"])
    assert result.exit_code == 2
    assert "--email" in result.output


# ---- demo -------------------------------------------------------------------------------------------------


def demo_logins(result: Result) -> list[tuple[str, str]]:
    assert result.exit_code == 0, result.output
    logins = DEMO_LOGIN.findall(result.output)
    assert logins, result.output
    return logins


def test_demo_prints_logins_that_work(runner: FlaskCliRunner, client: FlaskClient) -> None:
    logins = demo_logins(runner.invoke(args=["armada", "demo"]))
    assert len({email for email, _ in logins}) == len(logins) >= 2
    for email, password in logins:
        response = login(client, email, password)
        assert response.status_code == 200, (email, response.get_json())


def test_demo_user_sees_rooms_with_messages(runner: FlaskCliRunner, client: FlaskClient) -> None:
    email, password = demo_logins(runner.invoke(args=["armada", "demo"]))[0]
    token = login(client, email, password).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    rooms = client.get("/api/chat/rooms", headers=headers).get_json()["items"]
    assert {room["room_type"] for room in rooms} == {"direct", "group"}
    for room in rooms:
        assert room["last_message"] is not None
        page = client.get(f"/api/chat/rooms/{room['id']}/messages", headers=headers).get_json()
        assert len(page["items"]) >= 2
        assert page["items"][-1]["id"] == room["last_message"]["id"]


def test_demo_gives_other_users_unread_messages(runner: FlaskCliRunner, client: FlaskClient) -> None:
    logins = demo_logins(runner.invoke(args=["armada", "demo"]))
    unread = 0
    for email, password in logins:
        token = login(client, email, password).get_json()["access_token"]
        rooms = client.get("/api/chat/rooms", headers={"Authorization": f"Bearer {token}"}).get_json()["items"]
        unread += sum(room["unread_count"] for room in rooms)
    assert unread > 0


def test_demo_twice_fails_cleanly_and_keeps_the_first_logins(runner: FlaskCliRunner, client: FlaskClient) -> None:
    logins = demo_logins(runner.invoke(args=["armada", "demo"]))
    assert_clean_failure(runner.invoke(args=["armada", "demo"]), "already")
    for email, password in logins:
        assert login(client, email, password).status_code == 200
    token = login(client, *logins[0]).get_json()["access_token"]
    rooms = client.get("/api/chat/rooms", headers={"Authorization": f"Bearer {token}"}).get_json()["items"]
    assert len(rooms) == 2


def test_demo_passwords_differ_between_installs(runner: FlaskCliRunner, app: Flask) -> None:
    # A fixed demo password would be a known login on every server that ever ran the demo.
    first = demo_logins(runner.invoke(args=["armada", "demo"]))[0][1]
    with app.app_context():
        empty_all_tables()
    second = demo_logins(runner.invoke(args=["armada", "demo"]))[0][1]
    assert first != second


# --- invite -----------------------------------------------------------------------------------------------


def invite(runner: FlaskCliRunner, *options: str) -> Result:
    return runner.invoke(args=["armada", "invite", *options])


def register_with(client: FlaskClient, code: str) -> int:
    body = {"email": f"{uuid.uuid4().hex}@example.com", "password": "long password 1", "display_name": "Invited"}
    return client.post("/api/auth/register", json={**body, "invite_code": code}).status_code


@pytest.fixture
def invite_mode(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "REGISTRATION", "invite")


@pytest.mark.usefixtures("invite_mode")
def test_invite_prints_the_code_alone_on_its_last_line(runner: FlaskCliRunner, client: FlaskClient) -> None:
    result = invite(runner)
    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip("\n").split("\n")
    code = lines[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", code), lines
    assert len(lines) >= 2 and "1 registration" in result.stdout and "7 day" in result.stdout
    assert register_with(client, code) == 201
    assert register_with(client, code) == 403  # one use by default


@pytest.mark.usefixtures("invite_mode")
def test_every_invite_is_a_new_code(runner: FlaskCliRunner) -> None:
    codes = {invite(runner).stdout.split()[-1] for _ in range(5)}
    assert len(codes) == 5


@pytest.mark.usefixtures("invite_mode")
def test_invite_uses_sets_how_many_may_register(runner: FlaskCliRunner, client: FlaskClient) -> None:
    result = invite(runner, "--uses", "2")
    assert "2 registration" in result.stdout
    code = result.stdout.split()[-1]
    assert [register_with(client, code) for _ in range(3)] == [201, 201, 403]


@pytest.mark.usefixtures("invite_mode")
def test_invite_expires_in_sets_the_expiry(app: Flask, runner: FlaskCliRunner) -> None:
    result = invite(runner, "--expires-in", "30")
    assert result.exit_code == 0 and "30 day" in result.stdout
    with app.app_context():
        [expires_at] = db.session.scalars(select(Invite.expires_at))
    assert timedelta(days=29, hours=23) < expires_at - utcnow() <= timedelta(days=30)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--uses", "0"], "--uses"),
        (["--uses", "-1"], "--uses"),
        (["--uses", "abc"], "--uses"),
        (["--uses", "1.5"], "--uses"),
        (["--uses", "99999999999999999999"], "--uses"),
        (["--expires-in", "0"], "--expires-in"),
        (["--expires-in", "-3"], "--expires-in"),
        (["--expires-in", "soon"], "--expires-in"),
        (["--expires-in", "99999999"], "--expires-in"),
        (["--uses"], "--uses"),
    ],
)
def test_invite_refuses_bad_values_and_stores_nothing(
    app: Flask, runner: FlaskCliRunner, options: list[str], fragment: str
) -> None:
    result = invite(runner, *options)
    assert result.exit_code != 0
    assert "Traceback" not in result.output and fragment in result.output, result.output
    with app.app_context():
        assert db.session.scalars(select(Invite)).all() == []


def test_invite_outside_invite_mode_says_the_code_is_not_needed(runner: FlaskCliRunner) -> None:
    result = invite(runner)
    assert result.exit_code == 0
    assert "REGISTRATION is open" in result.stderr
    assert "REGISTRATION" not in result.stdout  # the code stays the last line of what scripts read
