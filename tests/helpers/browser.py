"""A person's window on the web client in Chromium, for the Playwright tests of tests/browser."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, Dialog, Locator, Page, Response, expect

from tests.helpers.servers import ROOT, Server

WAIT_MS = 10_000
VIEWPORT = {"width": 960, "height": 720}
AXE_JS = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Each violation, with each offending element's selector and axe's own account of what is wrong with it.
RUN_AXE = """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then((result) =>
  result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((node) => ({target: node.target.join(' '), summary: node.failureSummary})),
  })))"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page as it is now."""
    assert AXE_JS.exists(), f"{AXE_JS} is missing: cd tests/js && npm ci (make test does)"
    # A colour transition caught halfway (buttons fading in or out as the mouse leaves) is no state of the page.
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')", timeout=WAIT_MS)
    if page.evaluate("typeof window.axe") == "undefined":
        # Evaluated over the DevTools protocol rather than added as a <script> (page.add_script_tag): the client's
        # Content-Security-Policy (script-src 'self') rightly refuses inline scripts, and it stays on under test.
        page.evaluate(AXE_JS.read_text())
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE, WCAG_AA)
    return violations


def assert_accessible(page: Page, where: str) -> None:
    """The page, in the state `where` names, passes axe-core's WCAG 2 AA rules."""
    violations = axe_violations(page)
    lines = [f"{where}: {len(violations)} axe-core WCAG 2 AA violation(s)"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary}")
    assert not violations, "\n".join(lines)


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

    def assert_accessible(self, where: str) -> None:
        """This window's page, in the state `where` names, passes axe-core's WCAG 2 AA rules."""
        assert_accessible(self.page, f"{self.name}'s window, {where}")

    def message_action(self, text: str, action: str) -> None:
        """Click a per-message button ("Edit", "Delete", ...), which may show only on hover or focus."""
        article = self.message(text)
        article.hover()
        # Exact: "Reply" must not also find "Reply in thread", nor "Edit" "Edit history".
        article.get_by_role("button", name=action, exact=True).click()

    def confirm_dialog(self) -> Locator:
        """The confirmation asked before an action that cannot be undone (role alertdialog)."""
        return self.page.get_by_role("alertdialog")

    def confirm(self, action: str) -> None:
        """Confirm the open confirmation with its button `action` ("Delete message", "Leave room", ...)."""
        dialog = self.confirm_dialog()
        dialog.get_by_role("button", name=action, exact=True).click()
        expect(dialog).to_have_count(0)


def choose_mention(window: Window, name: str, composer: Locator | None = None) -> None:
    """Choose `name` in the `@` picker of `composer` (the room's, by default) with Enter, as a person would: once
    the list shows that member highlighted, never before (an Enter with no list open sends the message)."""
    box = composer if composer is not None else window.composer()
    listbox = window.page.get_by_role("listbox", name="Mention")
    expect(listbox.get_by_role("option", name=name, exact=True)).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value(re.compile(f"@{re.escape(name)} "))


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
