"""The web client's catch-up after its Socket.IO connection drops, driven in Debian's Chromium by Playwright.

Alice has a group open in her window; Bob is a user of the REST API only. Alice's connection is cut as when the
network goes: the page's WebSocket is closed and every new Socket.IO request refused, so socket.io-client keeps
retrying until the test lets it through. Bob writes while she is away and again once she is back, and one REST
call of her client's reconnection is held back until his later messages have reached her live, so that she holds
messages newer than the gap before her catch-up runs. Her message log must then be the room's REST history: every
message once, in the room's order.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Request, Route, expect

from tests.helpers.browser import WAIT_MS, Window, open_window
from tests.helpers.factories import make_message, make_room
from tests.helpers.servers import PASSWORD, HttpUser, Server, serve_fresh

# socket.io-client backs off up to 5 s between attempts: a reconnection may take that long once let through.
RECONNECT_MS = 20_000
OFFLINE = "You are offline"

expect.set_options(timeout=WAIT_MS)

# Every WebSocket the page opens, kept where the test can close it. This wraps the browser's own WebSocket (which
# the vendored socket.io-client picks up when it loads), not anything of the client's.
KEEP_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
})();
"""
UPGRADED = "() => window.__sockets.some((socket) => socket.readyState === WebSocket.OPEN)"
CLOSE_SOCKETS = """() => {
  const open = window.__sockets.filter((socket) => socket.readyState === WebSocket.OPEN);
  for (const socket of open) socket.close();
  return open.length;
}"""

_rooms = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_fresh(tmp_path_factory.mktemp("reconnect"), prefix="armada_reconnect") as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def bob(http: requests.Session, server: Server) -> HttpUser:
    return HttpUser(http, server.url, "Bob")


@pytest.fixture(scope="module")
def alice_api(http: requests.Session, server: Server) -> HttpUser:
    """Alice's account, and the REST API as she sees it (the truth her window is compared with)."""
    return HttpUser(http, server.url, "Alice")


@pytest.fixture(scope="module")
def alice(browser: Browser, server: Server, alice_api: HttpUser) -> Iterator[Window]:
    """Alice logged in through the page, every WebSocket of her page within the test's reach."""
    window = open_window(browser, server, "Alice", init_script=KEEP_SOCKETS)
    page = window.page
    page.get_by_label("Email").fill(alice_api.email())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="New group")).to_be_visible()
    yield window
    page.context.close()


@pytest.fixture
def room(alice: Window, alice_api: HttpUser, bob: HttpUser) -> Iterator[dict[str, Any]]:
    """A new group of Bob's with Alice, open in her window (it reaches her list live); no script errors after."""
    made = make_room(bob, alice_api, name=f"Crossing {next(_rooms)}")
    alice.open_room(made["name"])
    yield made
    assert alice.errors == [] and alice.dialogs == []


# ---- the network -----------------------------------------------------------------------------------------------


def is_socket_io(url: str) -> bool:
    return urlsplit(url).path.startswith("/socket.io/")


def refuse(route: Route) -> None:
    route.abort("internetdisconnected")


@contextmanager
def connection_cut(window: Window) -> Iterator[None]:
    """While active, the window has no Socket.IO connection and cannot make one; after it, it reconnects by itself.

    The connection must be up first, upgraded to a WebSocket: closing that is the drop, and socket.io-client takes
    it for a lost transport ("transport close") and retries with backoff, each attempt refused here."""
    page = window.page
    expect(page.get_by_text(OFFLINE)).to_have_count(0, timeout=RECONNECT_MS)
    page.wait_for_function(UPGRADED, timeout=RECONNECT_MS)
    page.route(is_socket_io, refuse)
    try:
        assert page.evaluate(CLOSE_SOCKETS) >= 1
        expect(page.get_by_text(OFFLINE)).to_be_visible()
        yield
    finally:
        page.unroute(is_socket_io, refuse)


class Held:
    """The page's API requests that `picks` chooses, held unanswered until the test lets them go (or fails them)."""

    def __init__(self, window: Window, picks: Callable[[Request], bool]) -> None:
        self.page = window.page
        self.picks = picks
        self.seen: list[Request] = []  # every request held, in order
        self.waiting: list[Route] = []  # those not let go yet

    def handle(self, route: Route) -> None:
        if not self.picks(route.request):
            route.fallback()
            return
        self.seen.append(route.request)
        self.waiting.append(route)

    def wait(self, count: int = 1) -> Request:
        """The `count`th request held, once the page has made it (route handlers run while Playwright waits)."""
        deadline = time.monotonic() + RECONNECT_MS / 1000
        while len(self.seen) < count:
            assert time.monotonic() < deadline, f"{len(self.seen)} requests held, waited for {count}"
            self.page.wait_for_timeout(50)
        return self.seen[count - 1]

    def release(self) -> None:
        """Let the held requests reach the server now."""
        while self.waiting:
            self.waiting.pop(0).continue_()

    def fail(self) -> None:
        """The network fails under the held requests."""
        while self.waiting:
            self.waiting.pop(0).abort("internetdisconnected")


@contextmanager
def holding(window: Window, picks: Callable[[Request], bool]) -> Iterator[Held]:
    """Hold the requests that `picks` chooses while active; on exit, let go of any still held."""
    held = Held(window, picks)
    window.page.route(is_api, held.handle)
    try:
        yield held
    finally:
        held.release()
        window.page.unroute(is_api, held.handle)


def is_api(url: str) -> bool:
    return urlsplit(url).path.startswith("/api/")


def room_list_reload(request: Request) -> bool:
    """The room list the client reloads after every (re)connection, once it has re-joined its rooms."""
    return request.method == "GET" and urlsplit(request.url).path == "/api/chat/rooms"


def catch_up(request: Request) -> bool:
    """A page of the open room's catch-up (its history's `changed_after` feed)."""
    return request.method == "GET" and "changed_after" in parse_qs(urlsplit(request.url).query)


def anchor_of(request: Request) -> str:
    """The message a catch-up request starts after."""
    return parse_qs(urlsplit(request.url).query)["changed_after"][0]


# ---- the conversation ------------------------------------------------------------------------------------------


def bob_says(bob: HttpUser, room: dict[str, Any], label: str, count: int) -> list[dict[str, Any]]:
    """Bob sends `count` numbered messages over the REST API, one after another."""
    return [make_message(bob, room, f"{label} {number:02d}") for number in range(1, count + 1)]


def arrive_live(window: Window, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        expect(window.message(message["content"])).to_have_count(1)


def shown(window: Window, contents: list[str]) -> list[str]:
    """The open room's log, one entry per message article: which of `contents` it shows."""
    texts = window.log().get_by_role("article").all_inner_texts()
    return [next((content for content in contents if content in text), f"unexpected: {text!r}") for text in texts]


def assert_log_is_the_history(window: Window, alice_api: HttpUser, room: dict[str, Any], sent: list[str]) -> None:
    """Once the catch-up is over, the log shows the room's REST history exactly: each message once, in order."""
    history = [message["content"] for message in alice_api.history(room["id"], limit="100")]
    assert history == sent  # Bob sent them one after another: that is the room's order
    deadline = time.monotonic() + WAIT_MS / 1000
    while (on_screen := shown(window, history)) != history and time.monotonic() < deadline:
        window.page.wait_for_timeout(100)
    missing = [content for content in history if content not in on_screen]
    doubled = sorted({content for content in on_screen if on_screen.count(content) > 1})
    assert on_screen == history, f"missing {missing}, doubled {doubled}, shown in this order: {on_screen}"
    # Read up to the newest message, here and on the server: nothing of the room is counted unread.
    expect(window.page).to_have_title("Armada")
    deadline = time.monotonic() + WAIT_MS / 1000
    while (unread := alice_api.rooms()[room["id"]]["unread_count"]) and time.monotonic() < deadline:
        window.page.wait_for_timeout(100)
    assert unread == 0


def contents(*groups: list[dict[str, Any]]) -> list[str]:
    return [message["content"] for group in groups for message in group]


# ---- tests -----------------------------------------------------------------------------------------------------


def test_messages_sent_while_offline_show_although_live_ones_arrived_before_the_catch_up(
    alice: Window, alice_api: HttpUser, bob: HttpUser, room: dict[str, Any]
) -> None:
    before = bob_says(bob, room, "Before the drop", 3)
    arrive_live(alice, before)
    with holding(alice, room_list_reload) as reload:
        with connection_cut(alice):
            gap = bob_says(bob, room, "While Alice is away", 4)
            alice.assert_accessible("offline, the reconnecting banner shown")
        reload.wait()  # reconnected and re-joined; the catch-up comes after this reload
        after = bob_says(bob, room, "Once she is back", 3)
        arrive_live(alice, after)
    assert_log_is_the_history(alice, alice_api, room, contents(before, gap, after))


def test_a_catch_up_answered_after_live_messages_puts_the_gap_before_them(
    alice: Window, alice_api: HttpUser, bob: HttpUser, room: dict[str, Any]
) -> None:
    before = bob_says(bob, room, "Before the drop", 3)
    arrive_live(alice, before)
    with holding(alice, catch_up) as catching_up:
        with connection_cut(alice):
            gap = bob_says(bob, room, "While Alice is away", 4)
        assert anchor_of(catching_up.wait()) == before[-1]["id"]  # from what she held before the drop
        after = bob_says(bob, room, "Once she is back", 3)
        arrive_live(alice, after)
    assert_log_is_the_history(alice, alice_api, room, contents(before, gap, after))


def test_a_drop_during_the_catch_up_keeps_the_anchor_of_the_first_gap(
    alice: Window, alice_api: HttpUser, bob: HttpUser, room: dict[str, Any]
) -> None:
    before = bob_says(bob, room, "Before the drop", 3)
    arrive_live(alice, before)
    with holding(alice, catch_up) as catching_up:
        with connection_cut(alice):
            first_gap = bob_says(bob, room, "While Alice is away", 3)
        catching_up.wait()
        after = bob_says(bob, room, "Once she is back", 2)
        arrive_live(alice, after)  # held since the first gap, but not the gap itself: it was never caught up
        with connection_cut(alice):
            catching_up.fail()  # the network went with the connection: the catch-up's request failed
            second_gap = bob_says(bob, room, "Away again", 2)
        catching_up.wait(2)
    sent = contents(before, first_gap, after, second_gap)
    assert_log_is_the_history(alice, alice_api, room, sent)
    assert [anchor_of(request) for request in catching_up.seen] == [before[-1]["id"]] * 2
