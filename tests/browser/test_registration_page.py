"""The registration form follows the server's REGISTRATION mode, in Debian's Chromium: an "Invite code" field
when the server asks for one (the code made by `flask armada invite` on the command line), and login only when
registration is closed. One real server per mode; locators are roles and accessible names."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.helpers.browser import WAIT_MS, Window, open_window
from tests.helpers.servers import Server, flask_command, fresh_database, migrate, run_server

PASSWORD = "correct horse battery"

expect.set_options(timeout=WAIT_MS)


@dataclass
class Site:
    """A running server and its database, for the operator's commands."""

    server: Server
    database_url: str

    def invite(self, *options: str) -> str:
        """A code from `flask armada invite`, as an operator makes one: its last line."""
        done = flask_command(self.database_url, "armada", "invite", *options, REGISTRATION="invite")
        return done.stdout.strip().splitlines()[-1]


@contextmanager
def site(tmp: Path, registration: str) -> Iterator[Site]:
    with fresh_database(tmp, f"armada_{registration}") as database_url:
        migrate(database_url)
        with run_server(database_url, tmp, REGISTRATION=registration) as server:
            yield Site(server, database_url)


@pytest.fixture(scope="module")
def invite_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("invite"), "invite") as running:
        yield running


@pytest.fixture(scope="module")
def closed_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("closed"), "closed") as running:
        yield running


@pytest.fixture
def window(browser: Browser, invite_site: Site) -> Iterator[Window]:
    opened = open_window(browser, invite_site.server, "Newcomer")
    yield opened
    opened.page.context.close()


def fill_registration(page: Page, name: str) -> None:
    page.get_by_label("Email").fill(f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Display name").fill(name)


def test_an_invite_server_asks_for_the_code(window: Window) -> None:
    field = window.page.get_by_label("Invite code")
    expect(field).to_be_visible()
    expect(field).to_have_accessible_description("Registering on this server needs an invite code.")
    expect(window.page.get_by_role("button", name="Register")).to_be_visible()
    window.assert_accessible("the login and registration form (registration by invite)")


def test_registering_without_a_code_says_so(window: Window) -> None:
    page = window.page
    expect(page.get_by_label("Invite code")).to_be_visible()
    fill_registration(page, "Nocode")
    page.get_by_role("button", name="Register").click()
    field = page.get_by_label("Invite code")  # the refusal shows beside the field it is about
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile("^This invite code is unknown, expired or used up"))
    expect(field).to_be_focused()
    expect(page.get_by_role("alert")).to_have_text("Please correct the field above.")
    window.assert_accessible("the registration form showing an error")
    field.fill("typing a code")  # editing the field clears its error
    expect(field).not_to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description("Registering on this server needs an invite code.")
    expect(page.get_by_role("button", name="New group")).to_have_count(0)
    assert not window.errors, window.errors


def test_the_code_from_the_command_line_registers_once(browser: Browser, invite_site: Site, window: Window) -> None:
    code = invite_site.invite("--uses", "1")
    page = window.page
    fill_registration(page, "Invited")
    page.get_by_label("Invite code").fill(f" {code} ")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("button", name="New group")).to_be_visible()
    # The same code again, in another browser: used up.
    other = open_window(browser, invite_site.server, "Latecomer")
    try:
        fill_registration(other.page, "Latecomer")
        other.page.get_by_label("Invite code").fill(code)
        other.page.get_by_role("button", name="Register").click()
        expect(other.page.get_by_label("Invite code")).to_have_accessible_description(re.compile("used up"))
    finally:
        other.page.context.close()
    assert not window.errors, window.errors


def test_a_closed_server_offers_login_only(browser: Browser, closed_site: Site) -> None:
    window = open_window(browser, closed_site.server, "Visitor")
    page = window.page
    try:
        expect(page.get_by_text("Registration is closed on this server")).to_be_visible()
        expect(page.get_by_role("button", name="Register")).to_be_hidden()
        expect(page.get_by_label("Display name")).to_be_hidden()
        expect(page.get_by_label("Invite code")).to_be_hidden()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        window.assert_accessible("the login form (registration closed)")
        assert not window.errors, window.errors
    finally:
        page.context.close()


def test_the_people_picker_searches_by_name_and_shows_no_email(invite_site: Site, window: Window) -> None:
    peer_email = f"peer-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": peer_email, "password": PASSWORD, "display_name": "Peer Gynt", "invite_code": invite_site.invite()}
    assert requests.post(f"{invite_site.server.url}/api/auth/register", json=body, timeout=10).status_code == 201
    page = window.page
    fill_registration(page, "Picker")
    page.get_by_label("Invite code").fill(invite_site.invite())
    page.get_by_role("button", name="Register").click()
    page.get_by_role("button", name="New group").click()
    dialog = page.get_by_role("dialog", name="New group")
    search = dialog.get_by_label("Search users")
    expect(search).to_have_accessible_description(re.compile("at least 2 characters"))
    search.fill("g")  # too short: no request, no "No one found."
    expect(dialog.get_by_role("listitem")).to_have_count(0)
    search.fill("gy")  # a prefix of the second word
    expect(dialog.get_by_role("checkbox", name="Peer Gynt")).to_be_visible()
    search.fill("eer")  # inside a word: nobody
    expect(dialog.get_by_text("No one found.")).to_be_visible()
    window.assert_accessible("the new group dialog, a search that found no one")
    search.fill(peer_email.upper())  # the whole email finds them, and still shows no email
    expect(dialog.get_by_role("checkbox", name="Peer Gynt")).to_be_visible()
    assert "@" not in dialog.get_by_role("list", name="People").inner_text()
    assert not window.errors, window.errors
