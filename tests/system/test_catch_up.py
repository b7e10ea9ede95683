"""Catch-up after a reconnect: a socket goes away and comes back, and `after=` (new messages) and
`changed_after=` (new, edited and deleted ones) fetch exactly what it missed, from a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.factories import make_message, make_room
from tests.helpers.realtime import Listener, about, ok
from tests.helpers.servers import HttpUser, Server, serve_fresh

MAX_PAGES = 20  # a walk that goes on longer than this is looping


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_fresh(tmp_path_factory.mktemp("catch_up")) as running:
        yield running


def walk_http(user: HttpUser, room_id: str, param: str, start: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a catch-up listing, following next_cursor in the same parameter."""
    items: list[dict[str, Any]] = []
    cursor: str | None = start
    for _ in range(MAX_PAGES):
        body = ok(user.call("GET", f"/api/chat/rooms/{room_id}/messages", params={param: cursor, "limit": limit}))
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{param} paging did not end")


def test_a_reconnecting_client_catches_up_on_exactly_what_it_missed(
    server: Server, user: Callable[[str], HttpUser], sockets: Callable[..., Listener]
) -> None:
    alice, bob = user("Alice"), user("Bob")
    room_id = make_room(alice, bob)["id"]
    early = [make_message(alice, room_id, f"early {i}") for i in range(3)]

    online = sockets("Bob online")
    online.connect(server.url, {"token": bob.token})
    online.join(room_id)
    seen = make_message(alice, room_id, "the last one bob saw")
    online.wait_for("new_message", about(seen["id"]))
    last_id = online.matching("new_message")[-1]["message"]["id"]
    online.close()
    online.wait_for("disconnect")

    missed = [make_message(alice, room_id, f"missed {i}") for i in range(20)]
    ok(alice.call("PATCH", f"/api/chat/messages/{missed[4]['id']}", json={"content": "missed 4, edited"}))
    ok(alice.call("DELETE", f"/api/chat/messages/{missed[9]['id']}"))
    ok(alice.call("PATCH", f"/api/chat/messages/{early[1]['id']}", json={"content": "early 1, edited"}))

    back = sockets("Bob back")
    back.connect(server.url, {"token": bob.token})
    back.join(room_id)

    new = walk_http(bob, room_id, "after", last_id, limit=6)
    assert [m["id"] for m in new] == [m["id"] for m in missed]
    assert new[4]["content"] == "missed 4, edited" and new[4]["is_edited"] is True
    assert new[9]["is_deleted"] is True and new[9]["content"] is None

    changed = walk_http(bob, room_id, "changed_after", last_id, limit=6)
    unchanged = [m["id"] for i, m in enumerate(missed) if i not in (4, 9)]
    assert [m["id"] for m in changed] == [*unchanged, missed[4]["id"], missed[9]["id"], early[1]["id"]]
    final = {m["id"]: m for m in changed}
    assert (final[missed[4]["id"]]["content"], final[missed[4]["id"]]["is_edited"]) == ("missed 4, edited", True)
    assert (final[missed[9]["id"]]["content"], final[missed[9]["id"]]["is_deleted"]) == (None, True)
    assert (final[early[1]["id"]]["content"], final[early[1]["id"]]["is_edited"]) == ("early 1, edited", True)
    assert seen["id"] not in final and early[0]["id"] not in final

    back.assert_no("new_message")  # catching up is the client's fetch, not a replay
