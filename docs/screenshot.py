"""Make the README's picture, docs/web-client.png: Alice and Bob chatting in two windows of the web client.

Run it by hand from the repository's root (it is not part of the test suite): `.venv/bin/python docs/screenshot.py`.
It needs what the browser tests need (Debian's chromium at /usr/bin/chromium, the dev requirements). It serves a
fresh database with the Procfile's web line, as the tests do, seeds three people and two rooms over the API, then
logs Alice and Bob in through the page in headless Chromium, has them talk a little, and saves both windows side by
side. Every run's picture differs a little (times, ids), so commit it only when the client's looks change.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from docs/: the repository's packages, tests.helpers included

import requests  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from playwright.sync_api import Browser, expect, sync_playwright  # noqa: E402

from tests.helpers.browser import Window, open_window  # noqa: E402
from tests.helpers.servers import Server, serve_fresh  # noqa: E402

OUTPUT = ROOT / "docs" / "web-client.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
PASSWORD = "a long password"
GROUP = "Launch crew"
GAP = 16


class Person:
    """Someone registered over the API, who can send messages as themselves."""

    def __init__(self, url: str, email: str, name: str) -> None:
        self.url, self.email = url, email
        body = {"email": email, "password": PASSWORD, "display_name": name}
        answer = requests.post(f"{url}/api/auth/register", json=body, timeout=10)
        answer.raise_for_status()
        self.token, self.id = answer.json()["access_token"], answer.json()["user"]["id"]

    def post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = requests.post(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def say(self, room_id: str, text: str, **extra: Any) -> str:
        message_id: str = self.post("/api/chat/messages", json={"room_id": room_id, "content": text, **extra})["id"]
        return message_id


def harbour_jpeg() -> bytes:
    """A harbour at dusk: sky, sea, a sun and a few masts, drawn for the picture."""
    width, height = 480, 320
    picture = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(picture)
    horizon = height * 3 // 5
    for y in range(height):
        t = y / horizon if y < horizon else (y - horizon) / (height - horizon)
        sky = (int(250 - 60 * t), int(170 + 40 * t), int(120 + 90 * t))
        sea = (int(40 + 30 * t), int(80 + 20 * t), int(130 + 10 * t))
        draw.line([(0, y), (width, y)], fill=sky if y < horizon else sea)
    draw.ellipse((300, horizon - 50, 370, horizon + 20), fill=(255, 214, 120))
    for x in (70, 190):  # two sailing boats
        draw.line([(x, horizon - 110), (x, horizon + 10)], fill=(35, 40, 55), width=4)
        hull = [(x - 45, horizon + 10), (x + 50, horizon + 10), (x + 35, horizon + 35), (x - 32, horizon + 35)]
        draw.polygon(hull, fill=(35, 40, 55))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def seed(server: Server) -> None:
    """Three colleagues, a group with some history and a direct chat, all over the API."""
    alice = Person(server.url, "alice@example.com", "Alice")
    bob = Person(server.url, "bob@example.com", "Bob")
    carol = Person(server.url, "carol@example.com", "Carol")
    direct = alice.post("/api/chat/rooms", json={"room_type": "direct", "member_ids": [carol.id]})["id"]
    slides = carol.say(direct, "Can you review my slides before Friday?")
    alice.post(f"/api/chat/rooms/{direct}/read", json={"up_to": slides})
    alice.say(direct, "Sure, send them over")
    body = {"room_type": "group", "name": GROUP, "description": "Shipping v1", "member_ids": [bob.id, carol.id]}
    group = alice.post("/api/chat/rooms", json=body)["id"]
    release = alice.say(group, "Morning all! The release candidate is up on staging.")
    question = carol.say(group, "Nice. Did the login fix make it in?")
    bob.say(group, "It did, merged last night", reply_to_id=question)
    # The second wave: reactions, a thread with a mention, and a pin.
    for person, emoji in ((carol, "🎉"), (bob, "🎉"), (bob, "👍")):
        answer = requests.put(
            f"{server.url}/api/chat/messages/{release}/reactions/{emoji}",
            headers={"Authorization": f"Bearer {person.token}"},
            timeout=10,
        )
        answer.raise_for_status()
    bob.say(group, "@Carol can you check the iOS build?", thread_root_id=release, mentions=[carol.id])
    carol.say(group, "On it, results by noon", thread_root_id=release)
    requests.put(
        f"{server.url}/api/chat/rooms/{group}/pins/{release}",
        headers={"Authorization": f"Bearer {alice.token}"},
        timeout=10,
    ).raise_for_status()
    upload = alice.post("/api/chat/upload", files={"file": ("harbour.jpg", harbour_jpeg(), "image/jpeg")})
    alice.say(group, "The view from the office today", message_type="image", media_url=upload["path"])


def log_in(browser: Browser, server: Server, email: str) -> Window:
    window = open_window(browser, server, email)
    window.page.get_by_label("Email").fill(email)
    window.page.get_by_label("Password").fill(PASSWORD)
    window.page.get_by_role("button", name="Log in").click()
    expect(window.page.get_by_role("button", name="New group")).to_be_visible()
    window.open_room(GROUP)
    return window


def main() -> None:
    expect.set_options(timeout=15_000)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        media = str(Path(tmp) / "media")
        with serve_fresh(Path(tmp), prefix="armada_screenshot", STORAGE_BACKEND="local", MEDIA_ROOT=media) as server:
            seed(server)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            alice, bob = log_in(browser, server, "alice@example.com"), log_in(browser, server, "bob@example.com")
            bob.send("Great, I'll run the smoke tests after lunch 🚀")
            expect(alice.message("smoke tests after lunch")).to_be_visible()
            alice.send("Perfect, thanks Bob!")
            expect(bob.message("Perfect, thanks Bob!")).to_be_visible()
            expect(alice.message("Perfect, thanks Bob!")).to_contain_text("✓✓")  # settled: nothing pending
            for window in (alice, bob):
                image = window.message("The view from the office").locator("img")
                window.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            bob.composer().press_sequentially("Sounds good", delay=60)  # Alice sees "Bob is typing…"
            expect(alice.page.get_by_text("Bob is typing")).to_be_visible()
            bob.message("release candidate").get_by_role("button", name="2 replies").click()  # Bob's thread pane
            expect(bob.page.get_by_role("complementary", name="Thread")).to_contain_text("results by noon")
            shots = [Image.open(io.BytesIO(window.page.screenshot())) for window in (alice, bob)]
            browser.close()
    combined = Image.new(
        "RGB", (sum(shot.width for shot in shots) + GAP, max(shot.height for shot in shots)), "#d0d4da"
    )
    combined.paste(shots[0], (0, 0))
    combined.paste(shots[1], (shots[0].width + GAP, 0))
    combined.save(OUTPUT, optimize=True)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
