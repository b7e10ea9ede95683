"""A person's window on the web client in Chromium, for the Playwright tests of tests/browser."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import Browser, Dialog, Locator, Page, Response, expect

from tests.helpers.servers import Server

WAIT_MS = 10_000
VIEWPORT = {"width": 960, "height": 720}


@dataclass
class Window:
    """One person's browser window, and everything it did on the network."""

    name: str
    page: Page
    request_urls: list[str] = field(default_factory=list)
    auth_responses: list[Response] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def tokens(self) -> set[str]:
        """Every access and refresh token the server handed this window."""
        found: set[str] = set()
        for response in self.auth_responses:
            if response.ok:
                body = response.json()
                found.update(body[key] for key in ("access_token", "refresh_token") if body.get(key))
        return found

    def log(self) -> Locator:
        return self.page.get_by_role("log")

    def message(self, text: str) -> Locator:
        """The one message in the open room whose text contains `text`."""
        return self.log().get_by_role("article").filter(has_text=text)

    def composer(self) -> Locator:
        return self.page.get_by_role("textbox", name="Message")

    def send(self, text: str, press_enter: bool = False) -> None:
        """Type a message and send it with the Send button, or with Enter."""
        self.composer().fill(text)
        if press_enter:
            self.composer().press("Enter")
        else:
            self.page.get_by_role("button", name="Send").click()
        expect(self.message(text)).to_have_count(1)

    def open_room(self, name: str) -> None:
        """Open a room from the room list by its name (a direct room is listed under the other person's)."""
        self.room_entry(name).click()
        expect(self.composer()).to_be_visible()

    def room_entry(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def message_action(self, text: str, action: str) -> None:
        """Click a per-message button ("Edit", "Delete", ...), which may show only on hover or focus."""
        article = self.message(text)
        article.hover()
        article.get_by_role("button", name=action).click()


def open_window(browser: Browser, server: Server, name: str, init_script: str | None = None) -> Window:
    """A new browser context on the client's page, with the network and dialogs recorded (and `init_script` run
    before any of the page's own scripts, if given)."""
    context = browser.new_context(viewport=VIEWPORT)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    window = Window(name, page)
    page.on("request", lambda request: window.request_urls.append(request.url))
    page.on("websocket", lambda socket: window.request_urls.append(socket.url))
    page.on("response", lambda response: "/api/auth/" in response.url and window.auth_responses.append(response))
    page.on("pageerror", lambda error: window.errors.append(str(error)))

    def dismiss(dialog: Dialog) -> None:
        window.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(f"{server.url}/")
    expect(page.get_by_label("Email")).to_be_visible()
    return window
