"""Message search in the web client: Alice searches from the sidebar and opens what she finds, in Chromium.

One real server and one headless browser serve the module. Bob made the groups "Harbour" (with Alice and a long
history: 120 log entries) and "Galley" (with Alice), and "Crow's nest" with Carol only, so Alice must never find
what is said there. Messages are sent over the API; Alice's window finds them through the "Search messages" field,
whose results are a list named "Search results" (the contract's "Web client additions").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Locator, Route, expect

from tests.helpers.browser import WAIT_MS, Window, open_window
from tests.helpers.servers import PASSWORD, HttpUser, Server, serve_fresh

HARBOUR, GALLEY, NEST = "Harbour", "Galley", "Crow's nest"
LOG_ENTRIES = 120  # more than one page of history (the client loads 50 at a time)
KRAKEN_ENTRY = 5  # the entry far back that a search finds
WATCHES = 110  # replies in one thread: more than the thread pane's first page (the newest 100)
# Before the match: two emoji (surrogate pairs in JS), a family emoji (a ZWJ sequence), an accent written as a
# combining character and a precomposed one, so code-point offsets and JS string indices differ by several.
MIXED = "🚀🎉 Cafe\u0301 crew, naïve 👩\u200d👩\u200d👧 question: deployment at dawn"

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_fresh(tmp_path_factory.mktemp("search"), prefix="armada_search") as running:
        yield running


def api(user: HttpUser, method: str, path: str, **kwargs: Any) -> Any:
    response = user.call(method, path, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def say(user: HttpUser, room_id: str, content: str, thread_root_id: str | None = None) -> dict[str, Any]:
    body = {"room_id": room_id, "content": content}
    if thread_root_id:
        body["thread_root_id"] = thread_root_id
    message: dict[str, Any] = api(user, "POST", "/api/chat/messages", json=body)
    return message


@pytest.fixture(scope="module")
def people(server: Server) -> dict[str, HttpUser]:
    """Alice, Bob and Carol; Bob's rooms and what was said in them, all before Alice logs in."""
    http = requests.Session()
    alice, bob, carol = (HttpUser(http, server.url, name) for name in ("Alice", "Bob", "Carol"))
    rooms = {}
    for name, members in ((HARBOUR, [alice.id]), (GALLEY, [alice.id]), (NEST, [carol.id])):
        body = {"room_type": "group", "name": name, "member_ids": members}
        rooms[name] = api(bob, "POST", "/api/chat/rooms", json=body)["id"]
    for number in range(1, LOG_ENTRIES + 1):
        extra = " kraken sighted off the bow" if number == KRAKEN_ENTRY else ""
        say(bob, rooms[HARBOUR], f"Log entry {number}{extra}")
    say(bob, rooms[GALLEY], "The anchor chain needs grease")
    say(bob, rooms[GALLEY], MIXED)
    say(bob, rooms[NEST], "The anchor is hidden under the nets")
    root = say(bob, rooms[GALLEY], "Who checks the hull?")
    say(bob, rooms[GALLEY], "The barnacle report is ready", thread_root_id=root["id"])
    rota = say(bob, rooms[GALLEY], "Night watch rota")
    for number in range(1, WATCHES + 1):
        extra = ", lighthouse in sight" if number == 3 else ""
        say(bob, rooms[GALLEY], f"Watch {number} all quiet{extra}", thread_root_id=rota["id"])
    return {"Alice": alice, "Bob": bob, "Carol": carol}


@pytest.fixture(scope="module")
def alice(browser: Browser, server: Server, people: dict[str, HttpUser]) -> Iterator[Window]:
    """Alice's window, logged in through the page, no room open."""
    window = open_window(browser, server, "Alice")
    page = window.page
    page.get_by_label("Email").fill(people["Alice"].email())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(window.room_entry(GALLEY)).to_be_visible()
    yield window
    window.page.context.close()


def field(window: Window) -> Locator:
    return window.page.get_by_role("searchbox", name="Search messages")


def results(window: Window) -> Locator:
    """The results shown: each a button in the list named "Search results"."""
    return window.page.get_by_role("list", name="Search results").get_by_role("button")


def status(window: Window) -> Locator:
    return window.page.get_by_role("status").filter(has_text="found")


def search(window: Window, text: str, count: int) -> Locator:
    """Type `text` into the search field and wait for its `count` results."""
    field(window).fill(text)
    said = "No messages found" if count == 0 else re.compile(rf"^{count} messages? found")
    expect(status(window)).to_have_text(said)  # "Searching…" from the first keystroke until the answer shows
    expect(results(window)).to_have_count(count)
    return results(window)


def timeline(window: Window) -> Locator:
    return window.page.get_by_role("log", name="Messages", exact=True)


# ---- finding ----------------------------------------------------------------------------------------------


def test_alice_finds_what_was_said_in_her_rooms_only(alice: Window) -> None:
    found = search(alice, "anchor", 1)
    expect(found).to_contain_text("The anchor chain needs grease")
    expect(found).to_contain_text("Bob in Galley")
    expect(found.locator("mark")).to_have_text("anchor")
    expect(alice.page.get_by_text("hidden under the nets")).to_have_count(0)  # Crow's nest is not hers
    expect(alice.room_entry(GALLEY)).to_be_hidden()  # the results take the room list's place
    alice.assert_accessible("message search with results")


def test_a_search_without_results_says_so(alice: Window) -> None:
    search(alice, "zeppelin", 0)
    alice.assert_accessible("message search without results")


def test_marks_land_on_the_match_after_emoji_and_accents(alice: Window) -> None:
    found = search(alice, "deployment", 1)
    expect(found).to_contain_text(MIXED)
    expect(found.locator("mark")).to_have_text("deployment")
    found = search(alice, "naive", 1)  # accents do not matter to the search; the mark shows the text as written
    expect(found.locator("mark")).to_have_text("naïve")


def test_only_punctuation_finds_nothing_and_is_no_error(alice: Window) -> None:
    field(alice).fill("?!")
    expect(alice.page.get_by_role("status").filter(has_text="Type a word")).to_be_visible()
    expect(results(alice)).to_have_count(0)
    assert alice.errors == []


def test_escape_clears_the_results_and_the_rooms_come_back(alice: Window) -> None:
    search(alice, "anchor", 1)
    field(alice).press("Escape")
    expect(field(alice)).to_have_value("")
    expect(results(alice)).to_have_count(0)
    expect(alice.room_entry(GALLEY)).to_be_visible()


def test_load_more_brings_the_next_page(alice: Window) -> None:
    search(alice, "entry", 20)
    expect(results(alice).first).to_contain_text(f"Log entry {LOG_ENTRIES}")  # newest first
    alice.page.get_by_role("button", name="Load more").click()
    expect(results(alice)).to_have_count(40)
    expect(results(alice).nth(20)).to_be_focused()
    expect(results(alice).nth(39)).to_contain_text(f"Log entry {LOG_ENTRIES - 39}")


# ---- typing fast ------------------------------------------------------------------------------------------


def test_typing_fast_ends_with_the_last_texts_results(alice: Window) -> None:
    field(alice).fill("")
    before = len(alice.request_urls)
    field(alice).press_sequentially("grease", delay=40)  # each keystroke well within the 250 ms pause
    expect(results(alice)).to_have_count(1)
    expect(results(alice).locator("mark")).to_have_text("grease")
    searches = [url for url in alice.request_urls[before:] if "/api/chat/search" in url]
    assert 1 <= len(searches) <= 2, searches  # debounced: not one search per keystroke


def test_a_slow_answer_to_an_earlier_text_never_replaces_the_latest(alice: Window) -> None:
    held: list[Route] = []

    def hold_anchor(route: Route) -> None:
        if "q=anchor" in route.request.url and not held:
            held.append(route)  # answered later, after the newer search has shown
        else:
            route.fallback()

    page = alice.page
    page.route("**/api/chat/search?*", hold_anchor)
    try:
        field(alice).fill("anchor")
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(50)
        assert held, "the search for 'anchor' was never sent"
        search(alice, "dawn", 1)
        with page.expect_response(lambda response: "q=anchor" in response.url):
            held[0].fallback()
        page.wait_for_timeout(300)  # the late answer has been handled by now
        expect(results(alice)).to_have_count(1)
        expect(results(alice).locator("mark")).to_have_text("dawn")
    finally:
        page.unroute("**/api/chat/search?*", hold_anchor)


# ---- opening a result -------------------------------------------------------------------------------------


def test_choosing_a_result_far_back_opens_the_room_there(alice: Window, people: dict[str, HttpUser]) -> None:
    found = search(alice, "kraken", 1)
    expect(found).to_contain_text("Bob in Harbour")
    found.press("Enter")
    target = timeline(alice).get_by_role("article").filter(has_text="kraken sighted")
    expect(target).to_be_in_viewport()
    expect(target).to_be_focused()
    expect(target).to_have_class(re.compile(r"\btarget\b"))  # marked for a moment
    expect(timeline(alice).get_by_role("article").filter(has_text=f"Log entry {LOG_ENTRIES}")).to_have_count(0)
    alice.assert_accessible("a room opened at a search result")

    # Scrolling down loads the newer pages until the newest; then live messages append as usual.
    newest = timeline(alice).get_by_role("article").filter(has_text=f"Log entry {LOG_ENTRIES}")
    scroller = timeline(alice).locator("..")
    for _ in range(20):
        if newest.count():
            break
        scroller.evaluate("(node) => { node.scrollTop = node.scrollHeight; }")
        alice.page.wait_for_timeout(200)
    expect(newest).to_have_count(1)
    held = entry_numbers(alice)
    assert set(range(KRAKEN_ENTRY, LOG_ENTRIES + 1)) <= set(held), "a gap between the stretch and the newest"
    assert held == sorted(held) and len(held) == len(set(held))
    harbour = next(r for r in people["Bob"].rooms().values() if r.get("name") == HARBOUR)
    say(people["Bob"], harbour["id"], "Live after the jump")
    expect(timeline(alice).get_by_role("article").last).to_contain_text("Live after the jump")


def test_sending_while_far_back_goes_to_the_newest(alice: Window) -> None:
    field(alice).press("Escape")
    alice.open_room(GALLEY)
    search(alice, "kraken", 1).click()
    expect(timeline(alice).get_by_role("article").filter(has_text="kraken sighted")).to_be_focused()
    alice.send("Back to the present")
    expect(timeline(alice).get_by_role("article").last).to_contain_text("Back to the present")
    expect(timeline(alice).get_by_role("article").filter(has_text=f"Log entry {LOG_ENTRIES}")).to_be_in_viewport()
    expect(timeline(alice).get_by_role("article").filter(has_text="kraken sighted")).to_have_count(0)


def entry_numbers(window: Window) -> list[int]:
    """The numbers of the log entries the timeline shows, in its order."""
    texts = timeline(window).get_by_role("article").filter(has_text="Log entry").all_inner_texts()
    return [int(re.search(r"Log entry (\d+)", text)[1]) for text in texts]  # type: ignore[index]


def test_choosing_a_thread_reply_opens_its_root_and_thread(alice: Window) -> None:
    found = search(alice, "barnacle", 1)
    expect(found).to_contain_text("in a thread")
    found.click()
    expect(timeline(alice).get_by_role("article").filter(has_text="Who checks the hull?")).to_be_visible()
    pane = alice.page.get_by_role("complementary", name="Thread")
    reply = pane.get_by_role("article").filter(has_text="The barnacle report is ready")
    expect(reply).to_be_focused()
    alice.assert_accessible("a thread opened at a search result")


def test_choosing_an_old_reply_of_a_long_thread_loads_the_replies_around_it(alice: Window) -> None:
    search(alice, "lighthouse", 1).click()
    pane = alice.page.get_by_role("complementary", name="Thread")
    expect(pane.get_by_role("article").filter(has_text="Watch 3 all quiet, lighthouse in sight")).to_be_focused()
    expect(pane.get_by_role("article").filter(has_text="Watch 1 all quiet")).to_have_count(1)
    expect(pane.get_by_role("article").filter(has_text=f"Watch {WATCHES} all quiet")).to_have_count(1)


def test_no_script_errors(alice: Window) -> None:
    assert alice.errors == []
