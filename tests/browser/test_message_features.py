"""Reactions, threads, pins, mentions and edit history in the web client: Alice and Bob in two Chromium windows.

One real server and one headless browser serve the module. Alice made the group "Deck crew" with Bob (she is its
admin) and both have it open. In every test one of them acts and the other sees it live, without a reload. Locators
are roles and accessible names as the contract's "Web client additions" section gives them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Locator, expect

from tests.helpers.browser import WAIT_MS, Window, choose_mention, open_window
from tests.helpers.servers import PASSWORD, HttpUser, Server, serve_fresh

GROUP = "Deck crew"
SIDE = "Galley"

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("message_features")
    with serve_fresh(tmp, prefix="armada_features", STORAGE_BACKEND="local", MEDIA_ROOT=str(tmp / "media")) as running:
        yield running


@pytest.fixture(scope="module")
def people(server: Server) -> dict[str, HttpUser]:
    """Alice and Bob, registered over the API; Alice makes two groups with Bob (she is their admin)."""
    http = requests.Session()
    alice, bob = HttpUser(http, server.url, "Alice"), HttpUser(http, server.url, "Bob")
    for name in (GROUP, SIDE):
        body = {"room_type": "group", "name": name, "member_ids": [bob.id]}
        created = alice.call("POST", "/api/chat/rooms", json=body)
        assert created.status_code == 201, created.text
    return {"Alice": alice, "Bob": bob}


def logged_in(browser: Browser, server: Server, user: HttpUser) -> Window:
    """A window in which `user` logged in through the page, with the group open."""
    window = open_window(browser, server, user.name)
    page = window.page
    page.get_by_label("Email").fill(user.email())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="New group")).to_be_visible()
    window.open_room(GROUP)
    return window


@pytest.fixture(scope="module")
def alice(browser: Browser, server: Server, people: dict[str, HttpUser]) -> Iterator[Window]:
    window = logged_in(browser, server, people["Alice"])
    yield window
    window.page.context.close()


@pytest.fixture(scope="module")
def bob(browser: Browser, server: Server, people: dict[str, HttpUser]) -> Iterator[Window]:
    window = logged_in(browser, server, people["Bob"])
    yield window
    window.page.context.close()


def timeline(window: Window) -> Locator:
    """The room's own message log (the thread pane has a log of its own)."""
    return window.page.get_by_role("log", name="Messages", exact=True)


def posted(window: Window, text: str) -> Locator:
    """The one message of the main timeline containing `text`."""
    return timeline(window).get_by_role("article").filter(has_text=text)


def button_of(article: Locator, name: str) -> Locator:
    """A button of a message, shown (they may appear on hover only)."""
    article.hover()
    return article.get_by_role("button", name=name, exact=True)


def reaction(article: Locator, name: str) -> Locator:
    return article.get_by_role("group", name="Reactions").get_by_role("button", name=name, exact=True)


def thread_pane(window: Window) -> Locator:
    return window.page.get_by_role("complementary", name="Thread")


def api(user: HttpUser, method: str, path: str, **kwargs: Any) -> Any:
    response = user.call(method, path, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def group_id(user: HttpUser) -> str:
    """The id of the group "Deck crew", as `user` lists it."""
    [room] = [r for r in api(user, "GET", "/api/chat/rooms")["items"] if r.get("name") == GROUP]
    return str(room["id"])


def message_over_api(user: HttpUser, text: str, thread_root_id: str | None = None) -> dict[str, Any]:
    """The one message of the group (or of a thread of it) whose text contains `text`, as the API shows it."""
    query: dict[str, Any] = {"limit": 100}
    if thread_root_id:
        query["thread_root_id"] = thread_root_id
    page = api(user, "GET", f"/api/chat/rooms/{group_id(user)}/messages", params=query)
    [message] = [m for m in page["items"] if text in (m.get("content") or "")]
    return message


# ---- reactions --------------------------------------------------------------------------------------------


def test_alice_reacts_with_the_picker_and_bob_sees_the_count_live(alice: Window, bob: Window) -> None:
    alice.send("Reactions please")
    expect(posted(bob, "Reactions please")).to_be_visible()
    mine = posted(alice, "Reactions please")
    button_of(mine, "React").click()
    picker = alice.page.get_by_role("dialog", name="Pick a reaction")
    expect(picker).to_be_visible()
    expect(picker.get_by_role("button", name="React with 👍")).to_be_focused()
    alice.assert_accessible("the emoji picker open")
    alice.page.keyboard.press("ArrowRight")
    expect(picker.get_by_role("button", name="React with ❤️")).to_be_focused()
    alice.page.keyboard.press("Escape")  # closes without reacting; focus returns to "React"
    expect(picker).to_have_count(0)
    expect(mine.get_by_role("button", name="React", exact=True)).to_be_focused()
    expect(mine.get_by_role("group", name="Reactions")).to_have_count(0)

    alice.page.keyboard.press("Enter")  # the keyboard reopens it; the first emoji has focus
    expect(picker.get_by_role("button", name="React with 👍")).to_be_focused()
    alice.page.keyboard.press("Enter")
    expect(picker).to_have_count(0)
    expect(reaction(mine, "👍 1")).to_have_attribute("aria-pressed", "true")
    expect(mine.get_by_role("button", name="React", exact=True)).to_be_focused()

    theirs = posted(bob, "Reactions please")
    expect(reaction(theirs, "👍 1")).to_have_attribute("aria-pressed", "false")
    bob.assert_accessible("a message with a reaction")


def test_bob_toggles_a_reaction_and_both_counts_follow(alice: Window, bob: Window) -> None:
    mine, theirs = posted(alice, "Reactions please"), posted(bob, "Reactions please")
    reaction(theirs, "👍 1").click()
    expect(reaction(theirs, "👍 2")).to_have_attribute("aria-pressed", "true")
    expect(reaction(mine, "👍 2")).to_have_attribute("aria-pressed", "true")  # still Alice's too
    reaction(theirs, "👍 2").click()
    expect(reaction(theirs, "👍 1")).to_have_attribute("aria-pressed", "false")
    expect(reaction(mine, "👍 1")).to_have_attribute("aria-pressed", "true")
    reaction(mine, "👍 1").click()  # the last reactor leaves: the emoji leaves the message
    expect(mine.get_by_role("group", name="Reactions")).to_have_count(0)
    expect(theirs.get_by_role("group", name="Reactions")).to_have_count(0)


def test_a_second_emoji_comes_after_the_first(alice: Window, bob: Window) -> None:
    theirs = posted(bob, "Reactions please")
    for emoji in ("🎉", "👀"):
        button_of(theirs, "React").click()
        bob.page.get_by_role("dialog", name="Pick a reaction").get_by_role("button", name=f"React with {emoji}").click()
        expect(reaction(theirs, f"{emoji} 1")).to_be_visible()
    names = reaction_names(posted(alice, "Reactions please"), 2)
    assert names == ["🎉 1", "👀 1"]


def reaction_names(article: Locator, count: int) -> list[str]:
    buttons = article.get_by_role("group", name="Reactions").get_by_role("button")
    expect(buttons).to_have_count(count)
    return [name.strip() for name in buttons.all_inner_texts()]


# ---- threads ----------------------------------------------------------------------------------------------


def test_alice_replies_in_a_thread_and_bob_sees_the_count_then_the_replies_live(alice: Window, bob: Window) -> None:
    alice.send("Who takes the night watch?")
    root = posted(bob, "Who takes the night watch?")
    expect(root).to_be_visible()
    expect(root.get_by_role("button", name=re.compile(r"repl(y|ies)$"))).to_have_count(0)

    button_of(posted(alice, "Who takes the night watch?"), "Reply in thread").click()
    pane = thread_pane(alice)
    expect(pane).to_be_visible()
    expect(pane.get_by_role("article").first).to_contain_text("Who takes the night watch?")
    expect(pane.get_by_text("No replies yet.")).to_be_visible()
    alice.assert_accessible("the thread pane open, no replies")
    reply_box = pane.get_by_role("textbox", name="Thread reply")
    expect(reply_box).to_be_focused()
    reply_box.fill("I will, from midnight")
    reply_box.press("Enter")
    expect(pane.get_by_role("log", name="Thread replies").get_by_role("article")).to_have_count(1)

    expect(root.get_by_role("button", name="1 reply", exact=True)).to_be_visible()
    expect(posted(bob, "I will, from midnight")).to_have_count(0)  # replies stay out of the timeline
    root.get_by_role("button", name="1 reply", exact=True).click()
    bobs_pane = thread_pane(bob)
    replies = bobs_pane.get_by_role("log", name="Thread replies").get_by_role("article")
    expect(replies.filter(has_text="I will, from midnight")).to_have_count(1)
    bob.assert_accessible("the thread pane open, one reply")

    reply_box.fill("Then I take the morning")
    pane.get_by_role("button", name="Send", exact=True).click()
    expect(replies.filter(has_text="Then I take the morning")).to_have_count(1)
    expect(root.get_by_role("button", name="2 replies", exact=True)).to_be_visible()
    expect(posted(alice, "Then I take the morning")).to_have_count(0)


def test_bob_answers_in_the_thread_with_its_own_composer(
    alice: Window, bob: Window, people: dict[str, HttpUser]
) -> None:
    box = thread_pane(bob).get_by_role("textbox", name="Thread reply")
    box.fill("Deal")
    box.press("Enter")
    alices = thread_pane(alice).get_by_role("log", name="Thread replies").get_by_role("article")
    expect(alices.filter(has_text="Deal")).to_have_count(1)
    expect(bob.composer()).to_have_value("")  # the room's composer was not used
    root = posted(alice, "Who takes the night watch?")
    expect(root.get_by_role("button", name="3 replies", exact=True)).to_be_visible()
    # Replying made Bob follow the thread, and his open pane read every reply in it.
    [followed] = api(people["Bob"], "GET", "/api/chat/threads")["items"]
    assert followed["root"]["content"] == "Who takes the night watch?" and followed["thread"]["reply_count"] == 3
    deadline = time.monotonic() + 10
    while followed["unread_replies"] and time.monotonic() < deadline:
        time.sleep(0.1)
        [followed] = api(people["Bob"], "GET", "/api/chat/threads")["items"]
    assert followed["unread_replies"] == 0


def test_closing_the_thread_returns_focus_to_its_root(alice: Window, bob: Window) -> None:
    for window in (alice, bob):
        thread_pane(window).get_by_role("button", name="Close thread").click()
        expect(thread_pane(window)).to_have_count(0)
    root = posted(bob, "Who takes the night watch?")
    expect(root.get_by_role("button", name="3 replies", exact=True)).to_be_focused()


def test_a_deleted_roots_reply_count_follows_its_thread(
    alice: Window, bob: Window, people: dict[str, HttpUser]
) -> None:
    alice.send("Anchor drill at dawn")
    root_id = message_over_api(people["Alice"], "Anchor drill at dawn")["id"]
    body = {"room_id": group_id(people["Bob"]), "thread_root_id": root_id}
    first = api(people["Bob"], "POST", "/api/chat/messages", json={**body, "content": "Count me in"})
    tombs = [timeline(w).locator(f'article[data-message-id="{root_id}"]') for w in (alice, bob)]
    for tomb in tombs:
        expect(tomb.get_by_role("button", name="1 reply", exact=True)).to_be_visible()
    alice.message_action("Anchor drill at dawn", "Delete")
    alice.confirm("Delete message")
    for tomb in tombs:
        expect(tomb).to_contain_text("This message was deleted")
        expect(tomb.get_by_role("button", name="1 reply", exact=True)).to_be_visible()  # the thread lives on
    tombs[1].get_by_role("button", name="1 reply", exact=True).click()
    pane = thread_pane(bob)
    expect(pane.get_by_role("log", name="Thread replies").get_by_role("article")).to_have_count(1)

    second = api(people["Bob"], "POST", "/api/chat/messages", json={**body, "content": "Me too"})
    for tomb in tombs:
        expect(tomb.get_by_role("button", name="2 replies", exact=True)).to_be_visible()
        expect(tomb).to_contain_text("This message was deleted")  # still deleted: only its thread changed
        expect(tomb).not_to_contain_text("Anchor drill")
    expect(pane.locator(".thread-count")).to_have_text("2 replies")
    bob.assert_accessible("a deleted thread root with two replies, its thread open")

    for reply in (first, second):
        api(people["Bob"], "DELETE", f"/api/chat/messages/{reply['id']}")
    for tomb in tombs:
        expect(tomb.get_by_role("button", name=re.compile(r"repl(y|ies)$"))).to_have_count(0)
    expect(pane.locator(".thread-count")).to_have_text("0 replies")
    pane.get_by_role("button", name="Close thread").click()
    expect(pane).to_have_count(0)


def thread_reply(window: Window, text: str) -> Locator:
    """The one reply of the open thread pane containing `text`."""
    return thread_pane(window).get_by_role("log", name="Thread replies").get_by_role("article").filter(has_text=text)


def test_bob_edits_and_deletes_his_reply_in_the_thread_pane(
    alice: Window, bob: Window, people: dict[str, HttpUser]
) -> None:
    alice.send("Who checks the bilge?")
    for window in (alice, bob):
        button_of(posted(window, "Who checks the bilge?"), "Reply in thread").click()
        expect(thread_pane(window).get_by_text("No replies yet.")).to_be_visible()
    box = thread_pane(bob).get_by_role("textbox", name="Thread reply")
    box.fill("I will")
    box.press("Enter")
    alices_box = thread_pane(alice).get_by_role("textbox", name="Thread reply")
    alices_box.fill("Thanks")
    alices_box.press("Enter")
    expect(thread_reply(bob, "Thanks")).to_have_count(1)

    # Bob may edit and delete his own reply, not Alice's; Alice, the group's admin, may delete his.
    mine = thread_reply(bob, "I will")
    button_of(mine, "Edit").click()
    expect(box).to_have_value("I will")
    expect(box).to_be_focused()
    bob.assert_accessible("editing a reply in the thread pane")
    box.fill("I will, at noon")
    box.press("Enter")
    expect(box).to_have_value("")
    theirs = thread_reply(alice, "I will, at noon")
    expect(theirs).to_contain_text("(edited)")
    expect(bob.composer()).to_have_value("")  # the room's composer was not used
    alices = thread_reply(bob, "Thanks")
    alices.hover()
    expect(alices.get_by_role("button", name="React", exact=True)).to_be_visible()
    expect(alices.get_by_role("button", name="Edit", exact=True)).to_have_count(0)
    expect(alices.get_by_role("button", name="Delete", exact=True)).to_have_count(0)
    theirs.hover()
    expect(theirs.get_by_role("button", name="Edit", exact=True)).to_have_count(0)
    expect(theirs.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    alice.assert_accessible("another's edited reply in the thread pane, its buttons shown")
    theirs.get_by_role("button", name="Edit history", exact=True).click()
    dialog = alice.page.get_by_role("dialog", name="Edit history")
    versions = dialog.get_by_role("list", name="Earlier versions").get_by_role("listitem")
    expect(versions).to_have_count(1)
    expect(versions.get_by_text("I will", exact=True)).to_have_count(1)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    # A reaction that fails (the network refuses it) says why in the pane.
    api(people["Alice"], "PUT", f"/api/chat/messages/{message_id(theirs)}/reactions/👍")
    mine = thread_reply(bob, "I will, at noon")
    expect(reaction(mine, "👍 1")).to_have_attribute("aria-pressed", "false")
    bob.page.route("**/reactions/**", lambda route: route.abort())
    reaction(mine, "👍 1").click()
    expect(thread_pane(bob).get_by_role("alert")).to_have_text("Cannot reach the server. Check your connection.")
    bob.assert_accessible("a failed reaction in the thread pane")
    bob.page.unroute("**/reactions/**")
    expect(reaction(mine, "👍 1")).to_have_attribute("aria-pressed", "false")

    button_of(thread_reply(bob, "I will, at noon"), "Delete").click()
    expect(bob.confirm_dialog()).to_be_visible()
    bob.assert_accessible("deleting a reply in the thread pane, the confirmation open")
    bob.confirm("Delete message")
    for window in (alice, bob):
        expect(thread_reply(window, "I will")).to_have_count(0)
        expect(thread_reply(window, "This message was deleted")).to_have_count(1)
        expect(
            posted(window, "Who checks the bilge?").get_by_role("button", name="1 reply", exact=True)
        ).to_be_visible()
        thread_pane(window).get_by_role("button", name="Close thread").click()
        expect(thread_pane(window)).to_have_count(0)


def message_id(article: Locator) -> str:
    """The id of the message an <article> shows."""
    found = article.get_attribute("data-message-id")
    assert found
    return found


# ---- pins -------------------------------------------------------------------------------------------------


def test_alice_pins_and_bob_sees_it_in_the_pinned_messages_panel(alice: Window, bob: Window) -> None:
    alice.send("Harbour gate code is 4711")
    theirs = posted(bob, "Harbour gate code is 4711")
    expect(theirs).to_be_visible()
    theirs.hover()
    expect(theirs.get_by_role("button", name="Pin", exact=True)).to_have_count(0)  # Bob is no admin of the group

    bob.page.get_by_role("button", name="Pinned messages").click()
    panel = bob.page.get_by_role("region", name="Pinned messages")
    expect(panel.get_by_text("No pinned messages yet.")).to_be_visible()
    bob.assert_accessible("the pinned messages panel open, empty")

    button_of(posted(alice, "Harbour gate code is 4711"), "Pin").click()
    expect(panel.get_by_role("listitem").filter(has_text="Harbour gate code is 4711")).to_have_count(1)
    expect(theirs.get_by_text("Pinned", exact=True)).to_be_visible()
    expect(panel.get_by_role("button", name="Unpin")).to_have_count(0)  # nor may Bob unpin
    bob.assert_accessible("the pinned messages panel open, one pin")

    button_of(posted(alice, "Harbour gate code is 4711"), "Unpin").click()
    expect(panel.get_by_role("listitem")).to_have_count(0)
    expect(theirs.get_by_text("Pinned", exact=True)).to_have_count(0)


def test_deleting_a_pinned_message_drops_it_from_the_panel(alice: Window, bob: Window) -> None:
    alice.send("Temporary pin")
    button_of(posted(alice, "Temporary pin"), "Pin").click()
    panel = bob.page.get_by_role("region", name="Pinned messages")
    expect(panel.get_by_role("listitem").filter(has_text="Temporary pin")).to_have_count(1)
    # Alice's own panel unpins too (she is admin).
    alice.page.get_by_role("button", name="Pinned messages").click()
    alices = alice.page.get_by_role("region", name="Pinned messages")
    expect(alices.get_by_role("button", name="Unpin")).to_have_count(1)
    alice.assert_accessible("the pinned messages panel of an admin")
    alice.message_action("Temporary pin", "Delete")
    alice.confirm("Delete message")
    expect(panel.get_by_role("listitem")).to_have_count(0)
    expect(alices.get_by_role("listitem")).to_have_count(0)
    for window in (alice, bob):
        window.page.get_by_role("button", name="Pinned messages").click()  # closes it
        expect(window.page.get_by_role("region", name="Pinned messages")).to_have_count(0)


def test_either_member_of_a_direct_room_may_pin(alice: Window, bob: Window, people: dict[str, HttpUser]) -> None:
    body = {"room_type": "direct", "member_ids": [people["Bob"].id]}
    room = api(people["Alice"], "POST", "/api/chat/rooms", json=body)
    api(people["Alice"], "POST", "/api/chat/messages", json={"room_id": room["id"], "content": "Just us two"})
    bob.open_room("Alice")
    button_of(posted(bob, "Just us two"), "Pin").click()
    expect(posted(bob, "Just us two").get_by_text("Pinned", exact=True)).to_be_visible()
    pins = api(people["Alice"], "GET", f"/api/chat/rooms/{room['id']}/pins")
    assert [m["content"] for m in pins["items"]] == ["Just us two"]
    bob.open_room(GROUP)


# ---- mentions ---------------------------------------------------------------------------------------------


def test_alice_mentions_bob_who_sees_a_badge_then_the_highlight(alice: Window, bob: Window) -> None:
    bob.open_room(SIDE)  # away from the group, where the mention lands
    alice.composer().press_sequentially("Ready, @Bo", delay=20)
    listbox = alice.page.get_by_role("listbox", name="Mention")
    expect(listbox.get_by_role("option", name="Bob")).to_have_attribute("aria-selected", "true")
    expect(listbox.get_by_role("option", name="Alice")).to_have_count(0)  # never oneself
    alice.assert_accessible("the mention listbox open")
    choose_mention(alice, "Bob")  # Enter chooses, does not send
    expect(alice.composer()).to_have_value("Ready, @Bob ")
    alice.composer().press_sequentially("for the crossing?")
    alice.composer().press("Enter")
    mine = posted(alice, "Ready, @Bob for the crossing?")
    expect(mine.locator("mark")).to_have_text("@Bob")

    entry = bob.room_entry(GROUP)
    expect(entry).to_have_accessible_description(re.compile(r"1 mention\b"))
    bob.assert_accessible("a room listed with a mention badge")
    bob.open_room(GROUP)
    expect(posted(bob, "Ready, @Bob for the crossing?").locator("mark")).to_have_text("@Bob")
    expect(entry).not_to_have_accessible_description(re.compile("mention"))  # read: the badge clears


def test_tab_chooses_and_arrows_move_in_the_mention_list(alice: Window, bob: Window) -> None:
    bob.composer().press_sequentially("@", delay=20)
    listbox = bob.page.get_by_role("listbox", name="Mention")
    expect(listbox.get_by_role("option", name="Alice")).to_have_attribute("aria-selected", "true")
    bob.composer().press("ArrowDown")  # one option only: it wraps onto itself
    expect(listbox.get_by_role("option", name="Alice")).to_have_attribute("aria-selected", "true")
    bob.composer().press("Tab")
    expect(bob.composer()).to_have_value("@Alice ")
    expect(bob.composer()).to_be_focused()
    bob.composer().press_sequentially("aye")
    bob.composer().press("Enter")
    expect(posted(alice, "@Alice aye").locator("mark")).to_have_text("@Alice")


def test_escape_closes_the_mention_list_and_a_typed_name_is_no_mention(alice: Window, bob: Window) -> None:
    alice.composer().press_sequentially("Ask @B", delay=20)
    listbox = alice.page.get_by_role("listbox", name="Mention")
    expect(listbox).to_be_visible()
    alice.composer().press("Escape")
    expect(listbox).to_be_hidden()
    alice.composer().press_sequentially("ob later")
    alice.composer().press("Enter")  # Escape closed the list: Enter sends
    expect(posted(bob, "Ask @Bob later")).to_be_visible()
    expect(posted(bob, "Ask @Bob later").locator("mark")).to_have_count(0)  # not chosen: no id was sent
    alice.composer().press_sequentially("@zz", delay=20)
    expect(listbox).to_be_hidden()  # nobody matches
    alice.composer().fill("")


def test_the_mention_list_stays_open_when_focus_comes_back_at_once(alice: Window) -> None:
    # Clicking a message's "Edit" blurs the textarea and focuses it again at once: the list the next "@Bo" opens
    # must not be closed by that blur a moment later, or Enter saves "@Bo" instead of choosing Bob.
    alice.composer().evaluate("(box) => { box.focus(); box.blur(); box.focus(); }")
    alice.composer().press_sequentially("@Bo")
    option = alice.page.get_by_role("listbox", name="Mention").get_by_role("option", name="Bob")
    expect(option).to_be_visible()
    alice.page.wait_for_timeout(400)  # past the delayed close of a blur (150 ms)
    expect(option).to_be_visible()
    choose_mention(alice, "Bob")
    expect(alice.composer()).to_have_value("@Bob ")
    alice.composer().fill("")


def wait_until_read(user: HttpUser) -> None:
    """Wait until the server counts nothing of the group unread for `user` (their window marks it read)."""
    path = f"/api/chat/rooms/{group_id(user)}"
    deadline = time.monotonic() + 10
    while api(user, "GET", path)["unread_count"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api(user, "GET", path)["unread_count"] == 0


def test_the_mention_badge_is_the_servers_count(alice: Window, bob: Window, people: dict[str, HttpUser]) -> None:
    alice.send("Tide tables are up")
    expect(posted(bob, "Tide tables are up")).to_be_visible()
    wait_until_read(people["Bob"])  # Bob has the group open: read
    bob.open_room(SIDE)
    alice.composer().press_sequentially("@Bo", delay=20)
    choose_mention(alice, "Bob")
    alice.composer().press_sequentially("look first")
    alice.composer().press("Enter")
    entry = bob.room_entry(GROUP)
    expect(entry).to_have_accessible_description(re.compile(r"(^|\D)1 mention\b"))

    # An edit that mentions Bob in a message he has read mentions him again, but counts nothing.
    alice.message_action("Tide tables are up", "Edit")
    alice.composer().press("End")
    alice.composer().press_sequentially(", @Bo", delay=20)
    choose_mention(alice, "Bob")
    alice.composer().press("Enter")
    expect(posted(alice, "Tide tables are up, @Bob")).to_contain_text("(edited)")
    # Events reach a socket in order: once Bob sees this, he has had the edit's `mentioned` too.
    side = next(r for r in api(people["Alice"], "GET", "/api/chat/rooms")["items"] if r.get("name") == SIDE)
    api(people["Alice"], "POST", "/api/chat/messages", json={"room_id": side["id"], "content": "Galley opens at 6"})
    expect(posted(bob, "Galley opens at 6")).to_be_visible()
    expect(entry).to_have_accessible_description(re.compile(r"(^|\D)1 mention\b"))
    assert api(people["Bob"], "GET", f"/api/chat/rooms/{group_id(people['Bob'])}")["mention_count"] == 1
    bob.assert_accessible("a room listed with the server's mention count")

    # The unread mention deleted: the badge goes.
    unread = message_over_api(people["Alice"], "look first")
    api(people["Alice"], "DELETE", f"/api/chat/messages/{unread['id']}")
    expect(entry).not_to_have_accessible_description(re.compile("mention"))
    bob.open_room(GROUP)


def test_editing_keeps_the_mentions_still_written_and_adds_new_ones(
    alice: Window, bob: Window, people: dict[str, HttpUser]
) -> None:
    bob_id = people["Bob"].id
    alice.composer().press_sequentially("Fenders out, @Bo", delay=20)
    choose_mention(alice, "Bob")
    alice.composer().press_sequentially("please")
    alice.composer().press("Enter")
    expect(posted(bob, "Fenders out, @Bob please").locator("mark")).to_have_text("@Bob")
    assert message_over_api(people["Alice"], "Fenders out")["mentions"] == [bob_id]

    alice.message_action("Fenders out, @Bob please", "Edit")
    alice.composer().fill("Fenders out now, @Bob please")  # the text changes, "@Bob" stays
    alice.composer().press("Enter")
    theirs = posted(bob, "Fenders out now, @Bob please")
    expect(theirs).to_contain_text("(edited)")
    expect(theirs.locator("mark")).to_have_text("@Bob")
    assert message_over_api(people["Alice"], "Fenders out now")["mentions"] == [bob_id]

    # Bad case: an edit that no longer writes "@Bob" no longer mentions him.
    alice.message_action("Fenders out now, @Bob please", "Edit")
    alice.composer().fill("Fenders out now, anyone")
    alice.composer().press("Enter")
    expect(posted(bob, "Fenders out now, anyone")).to_be_visible()
    expect(posted(bob, "Fenders out now, anyone").locator("mark")).to_have_count(0)
    assert message_over_api(people["Alice"], "Fenders out now, anyone")["mentions"] == []

    alice.send("Lines ready")
    alice.message_action("Lines ready", "Edit")
    alice.composer().press("End")
    alice.composer().press_sequentially(", @Bo", delay=20)
    choose_mention(alice, "Bob")
    alice.composer().press_sequentially("check them")
    alice.assert_accessible("editing a message, a mention chosen")
    alice.composer().press("Enter")
    expect(posted(bob, "Lines ready, @Bob check them").locator("mark")).to_have_text("@Bob")
    assert message_over_api(people["Alice"], "Lines ready")["mentions"] == [bob_id]


# ---- edit history -----------------------------------------------------------------------------------------


def test_bob_reads_the_edit_history_of_alices_message(alice: Window, bob: Window) -> None:
    alice.send("Depart at 7")
    theirs = posted(bob, "Depart at 7")
    expect(theirs).to_be_visible()
    theirs.hover()
    expect(theirs.get_by_role("button", name="Edit history")).to_have_count(0)  # never edited
    alice.message_action("Depart at 7", "Edit")
    alice.composer().fill("Depart at 8")
    alice.composer().press("Enter")
    theirs = posted(bob, "Depart at 8")
    expect(theirs).to_contain_text("(edited)")
    alice.message_action("Depart at 8", "Edit")
    alice.composer().fill("Depart at 9")
    alice.composer().press("Enter")
    theirs = posted(bob, "Depart at 9")
    expect(theirs).to_contain_text("(edited)")

    button_of(theirs, "Edit history").click()
    dialog = bob.page.get_by_role("dialog", name="Edit history")
    versions = dialog.get_by_role("list", name="Earlier versions").get_by_role("listitem")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("Depart at 7")
    expect(versions.nth(1)).to_contain_text("Depart at 8")
    expect(versions.nth(0).locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    bob.assert_accessible("the edit history dialog open")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)


def test_pages_raised_no_script_errors(alice: Window, bob: Window) -> None:
    assert alice.errors == [] and bob.errors == []
    assert alice.dialogs == [] and bob.dialogs == []


def test_reading_a_thread_clears_the_mention_badge_of_its_reply(
    alice: Window, bob: Window, people: dict[str, HttpUser]
) -> None:
    bob.open_room(SIDE)
    group = group_id(people["Alice"])
    root = api(people["Alice"], "POST", "/api/chat/messages", json={"room_id": group, "content": "Mooring lines?"})
    body = {
        "room_id": group,
        "content": "@Bob can you check?",
        "thread_root_id": root["id"],
        "mentions": [people["Bob"].id],
    }
    api(people["Alice"], "POST", "/api/chat/messages", json=body)
    entry = bob.room_entry(GROUP)
    expect(entry).to_have_accessible_description(re.compile(r"(^|\D)1 mention\b"))
    bob.open_room(GROUP)  # reads the room's history, not the thread: the mention stays
    wait_until_read(people["Bob"])
    assert api(people["Bob"], "GET", f"/api/chat/rooms/{group}")["mention_count"] == 1
    posted(bob, "Mooring lines?").get_by_role("button", name="1 reply", exact=True).click()
    expect(thread_pane(bob)).to_contain_text("can you check?")
    expect(entry).not_to_have_accessible_description(re.compile("mention"))
    assert api(people["Bob"], "GET", f"/api/chat/rooms/{group}")["mention_count"] == 0
    bob.assert_accessible("a thread read: its mention no longer counted")
    thread_pane(bob).get_by_role("button", name="Close thread").click()
