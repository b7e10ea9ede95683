"""GET /api/chat/rooms/{room_id}/messages: keyset pages backwards (before) and forwards (after)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from armada.extensions import db
from tests.helpers.support import (
    Actor,
    ApiClient,
    QueryCounter,
    assert_error,
    cursor_of,
    details_of,
    history_page,
    history_url,
)

MAX_PAGES = 20  # a walk that goes on longer than this is looping


def fill(actor: Actor, room: dict[str, Any], count: int) -> list[str]:
    """Send `count` numbered messages; their ids, oldest first."""
    return [actor.say(room, f"m{i}")["id"] for i in range(count)]


def walk(
    actor: Actor, room_id: str, counter: QueryCounter, param: str, start: str | None, limit: int = 50
) -> tuple[list[list[str]], list[int], list[str]]:
    """Follow next_cursor in one direction: the ids of each page, statements per page, all statements."""
    pages: list[list[str]] = []
    counts: list[int] = []
    statements: list[str] = []
    cursor = start
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params[param] = cursor
        with counter:
            body = history_page(actor, room_id, **params)
        counts.append(counter.count)
        statements.extend(counter.statements)
        pages.append([m["id"] for m in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages, counts, statements
    raise AssertionError(f"next_cursor never became null after {MAX_PAGES} pages")


@pytest.fixture
def offset_log(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """Every statement mentioning OFFSET, with its parameters, for the whole test."""
    log: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "OFFSET" in statement.upper():
            log.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield log
    event.remove(engine, "before_cursor_execute", record)


def assert_no_offset_paging(statements: list[str], offset_log: list[tuple[str, Any]]) -> None:
    """No statement skips rows with OFFSET.

    SQLAlchemy's SQLite compiler appends a constant `OFFSET ?` bound to 0 to every LIMIT; that one skips
    nothing, so it is allowed, and only it (PostgreSQL statements must not mention OFFSET at all).
    """
    offending = [s for s in statements if "OFFSET" in s.upper()]
    logged = {s for s, _ in offset_log}
    for statement in offending:
        assert statement in logged
    for statement, parameters in offset_log:
        assert statement.rstrip().endswith("LIMIT ? OFFSET ?"), statement
        assert parameters[-1] == 0, (statement, parameters)


# ---- walking the history ---------------------------------------------------------------------------------


def test_walking_backwards_visits_every_message_once_in_chronological_pages(
    pair: tuple[Actor, Actor], count_queries: QueryCounter, offset_log: list[tuple[str, Any]]
) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    ids = fill(alice, room, 250)
    pages, counts, statements = walk(bob, room["id"], count_queries, "before", None)
    assert [len(p) for p in pages] == [50] * 5
    for ids_of_page in pages:
        positions = [ids.index(i) for i in ids_of_page]
        assert positions == sorted(positions), "a page is not oldest-first"
    assert [i for p in reversed(pages) for i in p] == ids
    assert statements
    assert_no_offset_paging(statements, offset_log)
    assert len(set(counts)) == 1, counts


def test_walking_forwards_with_after_visits_every_message_once(
    pair: tuple[Actor, Actor], count_queries: QueryCounter, offset_log: list[tuple[str, Any]]
) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    ids = fill(alice, room, 250)
    pages, counts, statements = walk(bob, room["id"], count_queries, "after", ids[0])
    for ids_of_page in pages:
        positions = [ids.index(i) for i in ids_of_page]
        assert positions == sorted(positions), "a page is not oldest-first"
    assert [ids[0]] + [i for p in pages for i in p] == ids
    assert all(len(p) == 50 for p in pages[:-1])
    assert statements
    assert_no_offset_paging(statements, offset_log)
    assert len(set(counts)) == 1, counts


def test_the_first_page_is_the_newest_messages_oldest_first(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    ids = fill(alice, room, 5)
    body = history_page(bob, room["id"], limit=3)
    assert [m["id"] for m in body["items"]] == ids[2:]
    assert [m["content"] for m in body["items"]] == ["m2", "m3", "m4"]
    older = history_page(bob, room["id"], limit=3, before=body["next_cursor"])
    assert [m["id"] for m in older["items"]] == ids[:2] and older["next_cursor"] is None


def test_an_empty_room_has_an_empty_page(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    assert history_page(bob, room["id"]) == {"items": [], "next_cursor": None}


def test_after_the_newest_message_there_is_nothing(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    ids = fill(alice, room, 3)
    assert history_page(bob, room["id"], after=ids[-1]) == {"items": [], "next_cursor": None}


def test_the_history_includes_tombstones(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    ids = fill(alice, room, 3)
    assert alice.delete(f"/api/chat/messages/{ids[1]}").status_code == 200
    items = history_page(bob, room["id"])["items"]
    assert [m["id"] for m in items] == ids
    assert items[1]["is_deleted"] is True and items[1]["content"] is None
    assert items[0]["content"] == "m0" and items[2]["content"] == "m2"
    assert [m["id"] for m in history_page(bob, room["id"], after=ids[0])["items"]] == ids[1:]


def test_a_non_member_gets_the_same_404_as_for_an_unknown_room(api: ApiClient, pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    carol = api.register("Carol")
    room = alice.make_group(bob)
    fill(alice, room, 1)
    hidden = carol.get(history_url(room["id"]))
    unknown = carol.get(history_url(str(uuid.uuid4())))
    assert_error(hidden, 404)
    assert hidden.get_json() == unknown.get_json()


# ---- limit -----------------------------------------------------------------------------------------------


def test_limit_defaults_to_50(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    ids = fill(alice, room, 55)
    body = history_page(bob, room["id"])
    assert [m["id"] for m in body["items"]] == ids[5:]
    assert body["next_cursor"] is not None


def test_limit_100_is_allowed(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    ids = fill(alice, room, 3)
    assert [m["id"] for m in history_page(bob, room["id"], limit=100)["items"]] == ids


@pytest.mark.parametrize("limit", ["101", "0", "-1", "x", "1.5", "", "99999999999999999999"])
def test_a_bad_limit_is_refused(pair: tuple[Actor, Actor], limit: str) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    response = bob.get(history_url(room["id"]), query_string={"limit": limit})
    assert "limit" in details_of(response)


# ---- cursors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before",
    [
        "garbage",
        "!!!!",
        "ü",
        "a\u0000",
        "x" * 600,
        cursor_of({"seq": 3}),
        cursor_of([]),
        cursor_of(["3"]),
        cursor_of([-1]),
        cursor_of([1.5]),
        cursor_of([True]),
        cursor_of([None]),
        cursor_of([1, 2]),
        cursor_of([10**30]),
        cursor_of(["2024-01-01T00:00:00+00:00", str(uuid.uuid4())]),
    ],
)
def test_a_garbage_before_cursor_is_refused(pair: tuple[Actor, Actor], before: str) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    fill(alice, room, 2)
    response = bob.get(history_url(room["id"]), query_string={"before": before})
    assert set(details_of(response)) == {"before"}


@pytest.mark.parametrize(
    "tamper", [lambda c: c[:-2], lambda c: c + "%%", lambda c: "A" + c], ids=["truncated", "appended", "prepended"]
)
def test_a_tampered_cursor_is_refused(pair: tuple[Actor, Actor], tamper: Any) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    fill(alice, room, 3)
    cursor = history_page(bob, room["id"], limit=1)["next_cursor"]
    assert cursor is not None
    response = bob.get(history_url(room["id"]), query_string={"before": tamper(cursor)})
    assert set(details_of(response)) == {"before"}


def test_after_an_unknown_message_is_refused_like_one_from_another_room(
    api: ApiClient, pair: tuple[Actor, Actor]
) -> None:
    alice, bob = pair
    room, other_room = alice.make_group(bob), alice.make_group(api.register("Carol"))
    fill(alice, room, 2)
    elsewhere = alice.say(other_room, "over there")
    cross = bob.get(history_url(room["id"]), query_string={"after": elsewhere["id"]})
    cross_own = alice.get(history_url(room["id"]), query_string={"after": elsewhere["id"]})
    unknown = bob.get(history_url(room["id"]), query_string={"after": str(uuid.uuid4())})
    assert set(details_of(cross)) == {"after"}
    assert cross.get_json() == unknown.get_json() == cross_own.get_json()


@pytest.mark.parametrize("after", ["not-a-uuid", "", "a\u0000"])
def test_a_malformed_after_is_refused(pair: tuple[Actor, Actor], after: str) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    response = bob.get(history_url(room["id"]), query_string={"after": after})
    assert set(details_of(response)) == {"after"}


def test_before_and_after_together_are_refused(pair: tuple[Actor, Actor]) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    ids = fill(alice, room, 3)
    cursor = history_page(bob, room["id"], limit=1)["next_cursor"]
    response = bob.get(history_url(room["id"]), query_string={"before": cursor, "after": ids[0]})
    assert set(details_of(response)) & {"before", "after"}
