"""The web client served at `/`, driven in Debian's Chromium by Playwright: Alice and Bob in two windows.

One real server (the Procfile's web line) and one headless browser serve the whole module; Alice and Bob each
have their own browser context. The tests run in file order and build on each other, like a conversation:
the group Alice creates is where the later messages go. Every locator is a role and accessible name (the labels
and buttons a person sees, room-list buttons named by the room), never the client's own classes, ids or markup.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image, ImageChops, ImageDraw
from playwright.sync_api import Browser, Page, expect

from tests.helpers.browser import VIEWPORT, WAIT_MS, Window, open_window
from tests.helpers.servers import ROOT, Server, serve_fresh

PASSWORD = "correct horse battery"
GROUP = "Armada crew"
TYPING = re.compile(r"Alice is typing(…|\.\.\.)")
SCREENSHOT = ROOT / "test-artifacts" / "web-client.png"

expect.set_options(timeout=WAIT_MS)


def dawn_png(width: int = 320, height: int = 240) -> bytes:
    """A sunrise over the sea, grainy so that it hardly compresses (~170 kB) and its upload can be watched."""
    picture = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(picture)
    horizon = height * 3 // 5
    for y in range(height):
        if y < horizon:
            t = y / horizon
            colour = (int(90 + 150 * t), int(150 + 70 * t), int(200 - 90 * t))
        else:
            t = (y - horizon) / (height - horizon)
            colour = (int(30 + 20 * t), int(70 + 30 * t), int(120 + 20 * t))
        draw.line([(0, y), (width, y)], fill=colour)
    draw.ellipse((width * 5 // 8, horizon - 40, width * 5 // 8 + 60, horizon + 20), fill=(255, 220, 120))
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 10) for _ in range(3)])
    buffer = io.BytesIO()
    ImageChops.add(picture, grain, offset=-128).save(buffer, "PNG")
    return buffer.getvalue()


def throttle_uploads(page: Page, bytes_per_second: int) -> None:
    """Slow this page's uploads the way DevTools does (-1 lifts the limit)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second},
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("web_client")
    with serve_fresh(tmp, prefix="armada_web", STORAGE_BACKEND="local", MEDIA_ROOT=str(tmp / "media")) as running:
        yield running


@pytest.fixture(scope="module")
def alice(browser: Browser, server: Server) -> Iterator[Window]:
    """Alice registers through the page's form."""
    window = open_window(browser, server, "Alice")
    window.assert_accessible("the login and registration form (open registration)")
    page = window.page
    page.get_by_label("Email").fill(f"alice-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Display name").fill("Alice")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("button", name="New group")).to_be_visible()
    expect(page.get_by_text("No rooms yet")).to_be_visible()
    window.assert_accessible("an empty room list, no room open")
    yield window
    page.context.close()


@pytest.fixture(scope="module")
def bob(browser: Browser, server: Server) -> Iterator[Window]:
    """Bob registered over the API and logs in through the page."""
    email = f"bob-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": "Bob"}
    registered = requests.post(f"{server.url}/api/auth/register", json=body, timeout=10)
    assert registered.status_code == 201, registered.text
    window = open_window(browser, server, "Bob")
    page = window.page
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="New group")).to_be_visible()
    yield window
    page.context.close()


@pytest.fixture(scope="module")
def group(alice: Window, bob: Window) -> str:
    """Alice makes a group with Bob; Bob's page is marked first, so that a reload would show."""
    bob.page.evaluate("window.__sameDocument = true")
    page = alice.page
    page.get_by_role("button", name="New group").click()
    dialog = page.get_by_role("dialog", name="New group")
    dialog.get_by_label("Group name").fill(GROUP)
    dialog.get_by_label("Search users").fill("Bob")
    dialog.get_by_role("checkbox", name="Bob").check()
    alice.assert_accessible("the new group dialog, a person ticked")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_have_count(0)
    expect(alice.composer()).to_be_visible()  # the new group opens for its creator
    return GROUP


@pytest.fixture(scope="module")
def conversation(alice: Window, bob: Window, group: str) -> str:
    """The group, open in both windows."""
    for window in (alice, bob):
        if not window.composer().is_visible():
            window.open_room(group)
    return group


def test_group_alice_creates_appears_for_bob_without_reload(alice: Window, bob: Window, group: str) -> None:
    expect(bob.room_entry(group)).to_be_visible()
    expect(bob.room_entry(group)).to_have_accessible_description(re.compile("^No messages yet"))  # the preview
    assert bob.page.evaluate("window.__sameDocument") is True


def test_message_shows_sent_until_bob_opens_the_room_then_read(alice: Window, bob: Window, group: str) -> None:
    alice.send("Hello Bob, welcome aboard")
    mine = alice.message("Hello Bob, welcome aboard")
    expect(mine).to_contain_text("✓")
    expect(mine).not_to_contain_text("✓✓")

    bob.open_room(group)
    expect(bob.message("Hello Bob, welcome aboard")).to_be_visible()
    expect(mine).to_contain_text("✓✓")
    expect(mine.get_by_title(re.compile("Bob"))).to_have_count(1)  # who read it shows on hover


def test_a_message_arriving_in_an_open_room_is_read_at_once(alice: Window, bob: Window, conversation: str) -> None:
    alice.send("Are you reading this live?")
    expect(bob.message("Are you reading this live?")).to_be_visible()
    expect(alice.message("Are you reading this live?")).to_contain_text("✓✓")


def test_bob_answers_with_enter_and_alice_sees_it(alice: Window, bob: Window, conversation: str) -> None:
    bob.send("Hi Alice! Glad to be here 🚢", press_enter=True)
    expect(alice.message("Hi Alice! Glad to be here 🚢")).to_be_visible()
    expect(bob.composer()).to_have_value("")


def test_typing_indicator_shows_while_alice_types_and_clears_after(
    alice: Window, bob: Window, conversation: str
) -> None:
    expect(bob.page.get_by_text(TYPING)).to_have_count(0)
    alice.composer().press_sequentially("Are you ready", delay=50)
    expect(bob.page.get_by_text(TYPING)).to_be_visible()
    bob.assert_accessible("a room open, someone typing")
    # axe's WCAG rules do not ask for one, but a page's outline starts with its one h1 (the room title is an h2).
    expect(bob.page.get_by_role("heading", level=1)).to_have_count(1)
    alice.page.get_by_role("button", name="Send").click()
    expect(bob.message("Are you ready")).to_be_visible()
    expect(bob.page.get_by_text(TYPING)).to_have_count(0)


def test_alice_edits_her_message_and_bob_sees_the_new_text(alice: Window, bob: Window, conversation: str) -> None:
    alice.send("Meet at 5")
    expect(bob.message("Meet at 5")).to_be_visible()
    alice.message_action("Meet at 5", "Edit")
    expect(alice.composer()).to_have_value("Meet at 5")
    alice.assert_accessible("editing a message, its actions shown on hover")
    alice.composer().fill("Meet at 6 instead")
    alice.composer().press("Enter")
    expect(bob.message("Meet at 6 instead")).to_be_visible()
    expect(bob.message("Meet at 5")).to_have_count(0)
    expect(alice.message("Meet at 6 instead")).to_have_count(1)  # edited in place, not sent anew
    bob.assert_accessible("an edited message")


def test_alice_deletes_her_message_and_bob_sees_a_tombstone(alice: Window, bob: Window, conversation: str) -> None:
    alice.send("This was a mistake")
    expect(bob.message("This was a mistake")).to_be_visible()
    articles = bob.log().get_by_role("article")
    count = articles.count()
    tombstones = articles.filter(has_text=re.compile("deleted", re.IGNORECASE))
    expect(tombstones).to_have_count(0)
    alice.message_action("This was a mistake", "Delete")
    alice.confirm("Delete message")
    expect(bob.message("This was a mistake")).to_have_count(0)
    expect(tombstones).to_have_count(1)
    expect(articles).to_have_count(count)  # the message stays in place, as a tombstone
    expect(alice.message("This was a mistake")).to_have_count(0)
    bob.assert_accessible("a deleted message's tombstone")


def test_alice_attaches_a_png_with_progress_and_bob_sees_the_thumbnail(
    alice: Window, bob: Window, conversation: str, tmp_path: Path
) -> None:
    picture = tmp_path / "dawn.png"
    picture.write_bytes(dawn_png())
    throttle_uploads(alice.page, 64 * 1024)  # about two and a half seconds for this picture
    try:
        with alice.page.expect_file_chooser() as chooser:
            alice.page.get_by_role("button", name="Attach").click()
        chooser.value.set_files(picture)
        progress = alice.page.get_by_role("progressbar")
        expect(progress).to_be_visible()
        alice.assert_accessible("an attachment uploading")
        # A real progress bar: it passes through values between empty and full while the bytes go out.
        alice.page.wait_for_function(
            "bar => { const now = Number(bar.getAttribute('aria-valuenow')); return now > 0 && now < 100; }",
            arg=progress.element_handle(),
            timeout=WAIT_MS,
        )
    finally:
        throttle_uploads(alice.page, -1)
    send = alice.page.get_by_role("button", name="Send")
    expect(send).to_be_enabled()
    alice.composer().fill("Sunrise from the harbour")
    send.click()

    image = bob.message("Sunrise from the harbour").locator("img")
    expect(image).to_have_count(1)
    bob.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=WAIT_MS
    )
    expect(alice.message("Sunrise from the harbour").locator("img")).to_have_count(1)
    expect(alice.message("Sunrise from the harbour")).to_contain_text("✓✓")
    expect(alice.page.get_by_role("progressbar")).to_have_count(0)  # sent: the attachment left the composer
    bob.assert_accessible("an image message")


def test_bob_replies_with_a_file_and_alice_sees_the_quote_and_the_file(
    alice: Window, bob: Window, conversation: str, tmp_path: Path
) -> None:
    notes = tmp_path / "tide-table.txt"
    notes.write_text("High water 06:12, low water 12:31\n")
    bob.message_action("Sunrise from the harbour", "Reply")
    expect(bob.page.get_by_role("button", name="Cancel reply")).to_be_visible()
    with bob.page.expect_file_chooser() as chooser:
        bob.page.get_by_role("button", name="Attach").click()
    chooser.value.set_files(notes)
    expect(bob.page.get_by_text("Uploaded, ready to send")).to_be_visible()
    bob.assert_accessible("replying, with a file uploaded")
    bob.send("Lovely! Here are the tides")

    reply = alice.message("Lovely! Here are the tides")
    expect(reply.get_by_role("blockquote")).to_contain_text("Sunrise from the harbour")
    expect(reply.get_by_role("link", name=re.compile("tide-table.txt"))).to_be_visible()
    alice.assert_accessible("a reply with a file")


def test_an_empty_edit_is_refused_in_the_composer(alice: Window, conversation: str) -> None:
    alice.message_action("Meet at 6 instead", "Edit")
    alice.composer().fill("   ")
    alice.composer().press("Enter")
    expect(alice.page.get_by_role("alert")).to_contain_text("cannot be empty")
    alice.assert_accessible("an error in the composer")
    alice.page.get_by_role("button", name="Cancel edit").click()
    expect(alice.message("Meet at 6 instead")).to_have_count(1)


def test_markup_in_a_message_is_shown_as_text(alice: Window, bob: Window, conversation: str) -> None:
    markup = "<img src=x onerror=alert(1)> <b>not bold</b>"
    alice.send(markup)
    for window in (alice, bob):
        article = window.message(markup)
        expect(article).to_be_visible()
        expect(article.locator("img, b")).to_have_count(0)
    assert alice.dialogs == [] and bob.dialogs == []


def test_screenshot_of_both_windows(alice: Window, bob: Window, conversation: str) -> None:
    alice.send("Here is the view from both windows")
    expect(bob.message("Here is the view from both windows")).to_be_visible()
    expect(alice.message("Here is the view from both windows")).to_contain_text("✓✓")  # settled: nothing pending
    shots = [Image.open(io.BytesIO(window.page.screenshot())) for window in (alice, bob)]
    gap = 16
    width = sum(shot.width for shot in shots) + gap
    height = max(shot.height for shot in shots)
    combined = Image.new("RGB", (width, height), "#d0d4da")
    combined.paste(shots[0], (0, 0))
    combined.paste(shots[1], (shots[0].width + gap, 0))
    SCREENSHOT.parent.mkdir(exist_ok=True)
    combined.save(SCREENSHOT)  # README's docs/web-client.png is docs/screenshot.py's, of a natural conversation
    assert Image.open(SCREENSHOT).size == (VIEWPORT["width"] * 2 + gap, VIEWPORT["height"])


def test_bob_starts_a_direct_chat_and_alice_gets_it_live(alice: Window, bob: Window) -> None:
    alice.page.evaluate("window.__sameDocument = true")
    page = bob.page
    page.get_by_role("button", name="New direct message").click()
    dialog = page.get_by_role("dialog", name="New direct message")
    dialog.get_by_label("Search users").fill("Ali")
    dialog.get_by_role("button", name="Alice").click()
    expect(dialog.get_by_role("button", name="Alice")).to_have_attribute("aria-pressed", "true")
    bob.assert_accessible("the new direct message dialog, a person chosen")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_have_count(0)
    bob.send("Just between us: the boat is ready")

    alice.open_room("Bob")
    expect(alice.message("Just between us: the boat is ready")).to_be_visible()
    expect(alice.message("Hello Bob, welcome aboard")).to_have_count(0)  # the direct room, not the group
    assert alice.page.evaluate("window.__sameDocument") is True
    alice.assert_accessible("a direct room open, several rooms listed")


def test_alice_forwards_a_message_to_the_group(alice: Window, conversation: str) -> None:
    alice.open_room("Bob")
    alice.message_action("Just between us: the boat is ready", "Forward")
    dialog = alice.page.get_by_role("dialog", name="Forward message")
    expect(dialog.get_by_role("button", name=GROUP)).to_be_visible()
    alice.assert_accessible("the forward dialog")
    dialog.get_by_role("button", name=GROUP).click()
    expect(dialog).to_have_count(0)
    alice.open_room(GROUP)
    forwarded = alice.message("Just between us: the boat is ready")
    expect(forwarded).to_contain_text("Forwarded")
    alice.assert_accessible("a forwarded message")


def test_the_room_settings_dialog_for_the_groups_admin(alice: Window, conversation: str) -> None:
    alice.page.get_by_role("button", name="Room settings").click()
    dialog = alice.page.get_by_role("dialog", name="Room settings")
    expect(dialog.get_by_role("list", name="Members")).to_contain_text("Bob")
    alice.assert_accessible("the room settings dialog")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)


def test_no_token_ever_travels_in_a_url(alice: Window, bob: Window) -> None:
    for window in (alice, bob):
        tokens = window.tokens()
        assert tokens, f"{window.name}'s page never received a token"
        assert any("/socket.io/" in url for url in window.request_urls), "the page never opened Socket.IO"
        for url in window.request_urls:
            assert "token=" not in url.lower(), url
            assert not any(token in url for token in tokens), url


def test_pages_load_nothing_from_other_origins(alice: Window, bob: Window, server: Server) -> None:
    own = urlsplit(server.url)
    for window in (alice, bob):
        for url in window.request_urls:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            assert (parts.hostname, parts.port) == (own.hostname, own.port), url


def test_pages_raised_no_script_errors(alice: Window, bob: Window) -> None:
    assert alice.errors == [] and bob.errors == []
    assert alice.dialogs == [] and bob.dialogs == []
