"""Messages posted through faults, and what each listening socket made of them: the delivery guarantee's checks."""

from __future__ import annotations

import itertools
import threading
import time

import requests

from tests.helpers.realtime import Listener
from tests.helpers.servers import HttpUser

REQUEST_SECONDS = 10


class Poster:
    """Posts to a room from a thread of its own, alternating between servers, `per_second` messages a second.

    A post that gets no answer or a 5xx is retried with the same client_id on the next server until one stores
    it (200 or 201), as a client retries; each message's id is kept in the order the answers came.
    """

    def __init__(self, user: HttpUser, room_id: str, urls: list[str], name: str, per_second: float = 8) -> None:
        self.user, self.room_id, self.urls, self.name = user, room_id, urls, name
        self.interval = 1 / per_second
        self.stored: dict[str, str] = {}  # client_id -> message id
        self.failures = 0  # attempts that stored nothing (and were retried)
        self.refusal: str | None = None  # a 4xx: the poster stops, and leaving the block fails
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poster-{name}", daemon=True)

    def _run(self) -> None:
        targets = itertools.cycle(self.urls)
        with requests.Session() as http:
            for n in itertools.count():
                if self._stop.is_set():
                    return
                client_id = f"{self.name}-{n}"
                body = {"room_id": self.room_id, "content": f"{self.name} #{n} ✉️", "client_id": client_id}
                while client_id not in self.stored:
                    url = next(targets)
                    try:
                        response = http.post(
                            f"{url}/api/chat/messages",
                            json=body,
                            headers={"Authorization": f"Bearer {self.user.token}"},
                            timeout=REQUEST_SECONDS,
                        )
                    except requests.RequestException:
                        response = None
                    if response is not None and response.status_code in (200, 201):
                        self.stored[client_id] = response.json()["id"]
                    elif response is not None and response.status_code < 500:
                        self.refusal = f"{response.status_code} {response.text}"
                        return
                    else:
                        self.failures += 1
                        time.sleep(0.2)
                time.sleep(self.interval)

    def __enter__(self) -> Poster:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=REQUEST_SECONDS * 3)
        assert not self._thread.is_alive(), f"poster {self.name} is stuck"
        # Raised here, in the test's thread: an assertion in the poster's own thread would only end that thread.
        assert self.refusal is None, f"poster {self.name} was refused: {self.refusal}"


def room_history(user: HttpUser, room_id: str) -> list[str]:
    """The ids of every message stored in the room, in room order (REST, `after=` pages from the first)."""
    ids: list[str] = []
    page = user.call("GET", f"/api/chat/rooms/{room_id}/messages", params={"limit": "100"}).json()
    # The newest page first, then older ones (`before`), each oldest first.
    pages = [page["items"]]
    while page["next_cursor"]:
        params = {"limit": "100", "before": page["next_cursor"]}
        page = user.call("GET", f"/api/chat/rooms/{room_id}/messages", params=params).json()
        pages.append(page["items"])
    for items in reversed(pages):
        ids += [message["id"] for message in items]
    return ids


def heard_messages(listener: Listener, room_id: str) -> list[str]:
    """The ids of the `new_message` events the listener got for the room, in arrival order."""
    return [data["message"]["id"] for data in listener.matching("new_message", lambda d: d["room_id"] == room_id)]


def assert_heard_exactly(listener: Listener, room_id: str, stored: list[str], within: float) -> None:
    """Within `within` seconds the listener heard every stored message; each once, in room order."""
    wanted = set(stored)
    with listener.changed:
        listener.changed.wait_for(lambda: wanted <= set(heard_messages(listener, room_id)), within)
    heard = heard_messages(listener, room_id)
    missing = [message_id for message_id in stored if message_id not in heard]
    assert not missing, f"{listener.name} never heard {len(missing)} of {len(stored)} messages: {missing[:5]}"
    assert len(heard) == len(set(heard)), f"{listener.name} heard a message twice"
    assert heard == stored, f"{listener.name} heard the messages out of room order"
