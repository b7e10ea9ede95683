"""A newcomer's first hour with the web client, in Debian's Chromium: confirmations before what cannot be undone,
links in messages, messages without an empty strip under them, two screens on a phone, and the server's objections
beside the form fields they concern.

One real server for the module; Alice, Bob and Carol are registered over the API, and each test makes its own room
over the API, so the tests stand alone. Locators are roles and accessible names; state is checked over the API."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.helpers.browser import WAIT_MS, Window, open_window
from tests.helpers.servers import PASSWORD, HttpUser, Server, serve_fresh

expect.set_options(timeout=WAIT_MS)

# Layout facts measured in the page, without the client's classes: in-flow elements of a message that take room
# while showing nothing (empty, or transparent until hover), and the space under its last visible content.
MEASURE_STRIPS = """(article) => {
  const style = getComputedStyle(article);
  const box = article.getBoundingClientRect();
  const contentBottom = box.bottom - parseFloat(style.paddingBottom) - parseFloat(style.borderBottomWidth);
  const strips = [];
  let lowest = box.top + parseFloat(style.paddingTop) + parseFloat(style.borderTopWidth);
  for (const node of article.querySelectorAll('*')) {
    const rect = node.getBoundingClientRect();
    let outOfFlow = false;
    let unseen = false;
    for (let n = node; n !== article; n = n.parentElement) {
      const s = getComputedStyle(n);
      if (s.position === 'absolute' || s.position === 'fixed') outOfFlow = true;
      if (s.opacity === '0' || s.visibility === 'hidden') unseen = true;
    }
    if (outOfFlow || rect.height === 0) continue;
    const media = /^(IMG|VIDEO|AUDIO)$/.test(node.tagName) || node.querySelector('img, video, audio');
    const empty = !node.textContent.trim() && !media;
    if (unseen || empty) strips.push(`${node.tagName} ${Math.round(rect.height)}px`);
    else lowest = Math.max(lowest, rect.bottom);
  }
  return { strips, gapBelow: contentBottom - lowest };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_fresh(tmp_path_factory.mktemp("newcomer"), prefix="armada_newcomer") as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def alice(server: Server, http: requests.Session) -> HttpUser:
    return HttpUser(http, server.url, "Alice")


@pytest.fixture(scope="module")
def bob(server: Server, http: requests.Session) -> HttpUser:
    return HttpUser(http, server.url, "Bob")


@pytest.fixture(scope="module")
def carol(server: Server, http: requests.Session) -> HttpUser:
    return HttpUser(http, server.url, "Carol")


def log_in(browser: Browser, server: Server, user: HttpUser) -> Window:
    """A window in which `user` logged in through the form."""
    window = open_window(browser, server, user.name)
    window.page.get_by_label("Email").fill(user.email())
    window.page.get_by_label("Password").fill(PASSWORD)
    window.page.get_by_role("button", name="Log in").click()
    expect(window.page.get_by_role("button", name="New group")).to_be_visible()
    return window


@pytest.fixture(scope="module")
def alice_window(browser: Browser, server: Server, alice: HttpUser) -> Iterator[Window]:
    window = log_in(browser, server, alice)
    yield window
    assert window.errors == [] and window.dialogs == []
    window.page.context.close()


@pytest.fixture(scope="module")
def bob_window(browser: Browser, server: Server, bob: HttpUser) -> Iterator[Window]:
    window = log_in(browser, server, bob)
    yield window
    assert window.errors == [] and window.dialogs == []
    window.page.context.close()


def new_group(owner: HttpUser, *members: HttpUser) -> tuple[str, str]:
    """A group made over the API by `owner` with `members`: its id and (unique) name."""
    name = f"Crew {uuid.uuid4().hex[:6]}"
    body = {"room_type": "group", "name": name, "member_ids": [m.id for m in members]}
    response = owner.call("POST", "/api/chat/rooms", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"], name


def post(user: HttpUser, room_id: str, content: str) -> dict[str, Any]:
    response = user.call("POST", "/api/chat/messages", json={"room_id": room_id, "content": content})
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


def member_ids(admin: HttpUser, room_id: str) -> set[str]:
    response = admin.call("GET", f"/api/chat/rooms/{room_id}")
    assert response.status_code == 200, response.text
    return {member["user_id"] for member in response.json()["members"]}


# ---- confirmations ------------------------------------------------------------------------------------------


def test_deleting_a_message_asks_first_and_only_confirming_deletes(
    alice_window: Window, alice: HttpUser, bob: HttpUser
) -> None:
    room_id, name = new_group(alice, bob)
    alice_window.open_room(name)
    alice_window.send("Maybe I should delete this")
    [message] = alice.history(room_id)
    dialog = alice_window.confirm_dialog()

    alice_window.message_action("Maybe I should delete this", "Delete")
    expect(dialog).to_have_accessible_name("Delete this message?")
    expect(dialog).to_have_accessible_description(re.compile("cannot be undone"))
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # a stray Enter deletes nothing
    expect(dialog.get_by_role("button", name="Delete message")).to_be_visible()
    alice_window.assert_accessible("asked to confirm deleting a message")
    alice_window.page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    alice_window.message_action("Maybe I should delete this", "Delete")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(alice_window.message("Maybe I should delete this")).to_be_visible()
    assert not alice.history(room_id)[0]["is_deleted"]
    assert not any(message["id"] in url for url in alice_window.request_urls)  # no request about it at all

    alice_window.message_action("Maybe I should delete this", "Delete")
    alice_window.confirm("Delete message")
    expect(alice_window.message("Maybe I should delete this")).to_have_count(0)
    expect(alice_window.message("This message was deleted")).to_have_count(1)
    assert alice.history(room_id)[0]["is_deleted"]


def test_leaving_a_room_asks_first_and_only_confirming_leaves(
    bob_window: Window, alice: HttpUser, bob: HttpUser
) -> None:
    room_id, name = new_group(alice, bob)
    bob_window.open_room(name)
    dialog = bob_window.confirm_dialog()

    bob_window.page.get_by_role("button", name="Leave room").click()
    expect(dialog).to_have_accessible_name(f"Leave {name}?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    expect(dialog.get_by_role("button", name="Leave room")).to_be_visible()
    bob_window.assert_accessible("asked to confirm leaving a room")
    bob_window.page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    bob_window.page.get_by_role("button", name="Leave room").click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(bob_window.composer()).to_be_visible()  # still in the room
    assert bob.id in member_ids(alice, room_id)

    bob_window.page.get_by_role("button", name="Leave room").click()
    bob_window.confirm("Leave room")
    expect(bob_window.room_entry(name)).to_have_count(0)
    expect(bob_window.page.get_by_text(f"You left {name}.")).to_be_visible()
    assert bob.id not in member_ids(alice, room_id)


def test_removing_a_member_asks_first_and_only_confirming_removes(
    alice_window: Window, alice: HttpUser, bob: HttpUser, carol: HttpUser
) -> None:
    room_id, name = new_group(alice, bob, carol)
    alice_window.open_room(name)
    alice_window.page.get_by_role("button", name="Room settings").click()
    settings = alice_window.page.get_by_role("dialog", name="Room settings")
    members = settings.get_by_role("list", name="Members")
    dialog = alice_window.confirm_dialog()

    settings.get_by_role("button", name="Remove Carol").click()
    expect(dialog).to_have_accessible_name(f"Remove Carol from {name}?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    alice_window.assert_accessible("asked to confirm removing a member, over the room settings")
    alice_window.page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(settings).to_be_visible()  # Escape closed the question only
    settings.get_by_role("button", name="Remove Carol").click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(members).to_contain_text("Carol")
    assert carol.id in member_ids(alice, room_id)

    settings.get_by_role("button", name="Remove Carol").click()
    alice_window.confirm("Remove Carol")
    expect(members).not_to_contain_text("Carol")
    assert carol.id not in member_ids(alice, room_id)
    assert bob.id in member_ids(alice, room_id)
    settings.get_by_role("button", name="Close").click()
    expect(settings).to_have_count(0)


# ---- links in messages --------------------------------------------------------------------------------------


def test_http_and_https_urls_become_links_and_other_schemes_stay_text(
    alice_window: Window, bob_window: Window, alice: HttpUser, bob: HttpUser
) -> None:
    room_id, name = new_group(alice, bob)
    text = (
        "Docs at https://example.com/docs. Wiki (see http://example.org/wiki/Sail_(boat)) and "
        "javascript:alert(document.domain) data:text/html,<script>alert(1)</script> ftp://example.net/file "
        "http:// vbscript:msgbox(1) mailto:crew@example.com xhttps://example.com/not-a-link"
    )
    alice_window.open_room(name)
    alice_window.send(text)
    bob_window.open_room(name)
    for window in (alice_window, bob_window):
        article = window.message("Docs at")
        expect(article).to_contain_text(text)  # every character still shown, nothing swallowed
        links = article.get_by_role("link")
        expect(links).to_have_text(["https://example.com/docs", "http://example.org/wiki/Sail_(boat)"])
        expect(links.nth(0)).to_have_attribute("href", "https://example.com/docs")
        expect(links.nth(1)).to_have_attribute("href", "http://example.org/wiki/Sail_(boat)")
        for i in range(2):
            expect(links.nth(i)).to_have_attribute("target", "_blank")
            expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer")
        expect(article.locator("a")).to_have_count(2)  # no anchor without an href either
        expect(article.locator("script")).to_have_count(0)
    bob_window.assert_accessible("a message with links")
    assert bob.history(room_id)[0]["content"] == text


# ---- no empty strip under a message -------------------------------------------------------------------------


def test_a_message_takes_no_room_for_buttons_it_does_not_show(
    alice_window: Window, bob_window: Window, alice: HttpUser, bob: HttpUser
) -> None:
    room_id, name = new_group(alice, bob)
    post(alice, room_id, "A message Bob can neither edit nor delete")
    doomed = post(alice, room_id, "Soon a tombstone")
    assert alice.call("DELETE", f"/api/chat/messages/{doomed['id']}").status_code == 200
    bob_window.open_room(name)
    page = bob_window.page
    article = bob_window.message("A message Bob can neither edit nor delete")
    expect(article).to_be_visible()
    page.get_by_role("heading", name=name).hover()  # the pointer away from every message
    measured = article.evaluate(MEASURE_STRIPS)
    assert measured["strips"] == [], measured
    assert measured["gapBelow"] < 1, measured
    height = article.bounding_box()["height"]  # type: ignore[index]

    article.hover()  # the buttons show, over the message, and it keeps its size
    expect(article.get_by_role("button", name="Reply", exact=True)).to_be_visible()
    expect(article.get_by_role("button", name="Delete")).to_have_count(0)
    assert article.bounding_box()["height"] == height  # type: ignore[index]
    bob_window.assert_accessible("another's message hovered, its buttons shown")

    tombstone = bob_window.message("This message was deleted")
    expect(tombstone.get_by_role("group")).to_have_count(0)  # no empty button group
    measured = tombstone.evaluate(MEASURE_STRIPS)
    assert measured["strips"] == [] and measured["gapBelow"] < 1, measured


# ---- narrow screens -----------------------------------------------------------------------------------------


def test_a_narrow_screen_shows_the_room_list_then_the_conversation_alone(
    browser: Browser, server: Server, alice: HttpUser, carol: HttpUser
) -> None:
    _, name = new_group(alice, carol)
    window = log_in(browser, server, carol)
    page = window.page
    try:
        page.set_viewport_size({"width": 400, "height": 800})
        entry = window.room_entry(name)
        back = page.get_by_role("button", name="Back to rooms")
        expect(entry).to_be_visible()
        expect(window.composer()).to_have_count(0)
        expect(page.get_by_text("Choose a room")).to_be_hidden()
        window.assert_accessible("a narrow screen: the room list")

        entry.click()
        expect(window.composer()).to_be_visible()
        expect(entry).to_be_hidden()
        expect(page.get_by_role("button", name="New group")).to_be_hidden()
        expect(back).to_be_visible()
        assert back.evaluate("node => node.tagName") == "BUTTON"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
        window.send("Typed on a phone")
        window.assert_accessible("a narrow screen: the conversation alone")

        back.click()
        expect(entry).to_be_visible()
        expect(entry).to_be_focused()
        expect(window.composer()).to_have_count(0)
        expect(back).to_have_count(0)

        page.set_viewport_size({"width": 1200, "height": 800})
        entry.click()
        expect(window.composer()).to_be_visible()
        expect(entry).to_be_visible()  # side by side
        expect(back).to_have_count(0)
        list_box, composer_box = entry.bounding_box(), window.composer().bounding_box()
        assert list_box and composer_box and list_box["x"] + list_box["width"] <= composer_box["x"]
        window.assert_accessible("a wide screen: the room list beside the conversation")

        page.set_viewport_size({"width": 400, "height": 800})  # narrowing the window keeps the open room
        expect(window.composer()).to_be_visible()
        expect(entry).to_be_hidden()
        expect(back).to_be_visible()
        assert window.errors == [] and window.dialogs == []
    finally:
        page.context.close()


# ---- errors beside their fields -----------------------------------------------------------------------------


@pytest.fixture
def visitor(browser: Browser, server: Server) -> Iterator[Window]:
    window = open_window(browser, server, "Visitor")
    yield window
    assert window.errors == [] and window.dialogs == []
    window.page.context.close()


def test_registration_errors_show_beside_their_fields_until_edited(visitor: Window, alice: HttpUser) -> None:
    page = visitor.page
    email, password, display_name = (page.get_by_label(label) for label in ("Email", "Password", "Display name"))
    alert = page.get_by_role("alert")
    email.fill("not-an-email")
    password.fill("short")
    display_name.fill("Newcomer")
    page.get_by_role("button", name="Register").click()

    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description("Not a valid email address.")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(re.compile(r"between 8 and 128\..*At least 8 characters"))
    expect(display_name).not_to_have_attribute("aria-invalid", "true")
    expect(alert).to_have_text("Please correct the 2 fields above.")
    expect(email).to_be_focused()
    visitor.assert_accessible("registration refused: a bad email and a short password beside their fields")

    password.fill(PASSWORD)  # editing a field clears its error, and only its own
    expect(password).not_to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description("At least 8 characters to register.")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(alert).to_have_text("Please correct the 2 fields above.")

    email.fill(alice.email())  # taken
    expect(email).not_to_have_attribute("aria-invalid", "true")
    expect(alert).to_be_hidden()  # nothing left to correct: the empty alert line takes no room
    page.get_by_role("button", name="Register").click()
    expect(email).to_have_accessible_description("An account with this email already exists.")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(alert).to_have_text("Please correct the field above.")
    visitor.assert_accessible("registration refused: the email is taken")
    expect(page.get_by_role("button", name="New group")).to_have_count(0)


def test_a_wrong_password_is_a_form_level_error_and_an_empty_email_a_field_error(
    visitor: Window, bob: HttpUser
) -> None:
    page = visitor.page
    email, password = page.get_by_label("Email"), page.get_by_label("Password")
    email.fill(bob.email())
    password.fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or password is incorrect.")
    for field in (email, password):  # which of the two is wrong is not for the server to say
        expect(field).not_to_have_attribute("aria-invalid", "true")
    visitor.assert_accessible("login refused: a form-level error")

    email.fill("")
    page.get_by_role("button", name="Log in").click()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(re.compile("."))
    expect(password).not_to_have_attribute("aria-invalid", "true")
    visitor.assert_accessible("login refused: an empty email beside its field")
