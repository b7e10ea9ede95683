"""Property tests of message search, on whatever database the suite has (SQLite by default, PostgreSQL with
ARMADA_TEST_DATABASE_URL): any query text is a search or a 422, never a 5xx and never syntax; any word of a message
finds it, with highlights on that word; pages read during concurrent sends have no duplicates or gaps.

`ARMADA_PROPERTY_EXAMPLES=500 .venv/bin/pytest tests/fuzz/test_search_properties.py` explores much more.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.support import Actor, ApiClient

EXAMPLES = int(os.environ.get("ARMADA_PROPERTY_EXAMPLES") or 0)
SEARCH = "/api/chat/search"
COMMON = {
    "deadline": None,
    "database": None,
    "derandomize": True,  # the same examples on every run: CI cannot flake
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
# The syntax of both engines' query languages, and of SQL: each must be a plain character to search for.
SYNTAX = [*"\"'*:%\\-+()^~&|!<>@_.,;[]{}$#", "OR", "AND", "NOT", "NEAR(", "NEAR/2", "--", "/*", "';", "\x00"]
query_text = st.lists(
    st.one_of(st.sampled_from(SYNTAX), st.text(max_size=6), st.sampled_from([" ", '"', "é", "👍", "\u0301"])),
    max_size=12,
).map("".join)
# Words as people write them: letters (Latin with accents, Greek, Cyrillic) and digits, some with a combining accent.
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éèêëàâäçñöüÉÀÇαβγδεζΑΒΓдежзийДЕЖ"
words = st.text(alphabet=LETTERS, min_size=1, max_size=10).map(lambda w: unicodedata.normalize("NFC", w))
separators = st.sampled_from([" ", ", ", " - ", "... ", " 👍 ", "\n", " (", ") ", '"', " http://x.io/", "_", "/"])


@pytest.fixture
def pair(api: ApiClient) -> tuple[Actor, Actor, str]:
    """Alice and Bob in a group."""
    alice, bob = api.users("Alice", "Bob")
    return alice, bob, alice.make_group(bob)["id"]


@settings(max_examples=EXAMPLES or 150, **COMMON)
@given(q=query_text)
def test_any_query_text_is_a_search_or_a_422_on_q(pair: tuple[Actor, Actor, str], q: str) -> None:
    alice, _, _ = pair
    response = alice.get(SEARCH, query_string={"q": q})
    assert response.status_code in (200, 422), (q, response.status_code, response.get_data())
    if response.status_code == 422:
        assert set(response.get_json()["error"]["details"]) == {"q"}, (q, response.get_json())
    else:
        assert response.get_json()["items"] == []  # nothing was said: a match out of nothing is syntax at work


@settings(max_examples=EXAMPLES or 40, **COMMON)
@given(text=st.lists(st.tuples(words, separators), min_size=1, max_size=6), pick=st.integers(0, 5))
def test_any_word_of_a_message_finds_it_and_is_highlighted(
    pair: tuple[Actor, Actor, str], text: list[tuple[str, str]], pick: int
) -> None:
    alice, bob, room = pair
    content = "".join(word + sep for word, sep in text)
    message = alice.say(room, content)
    word = text[pick % len(text)][0]
    for q in (word, word.upper(), f'"{word}"', word[: max(1, len(word) - 2)]):
        response = bob.get(SEARCH, query_string={"q": q, "room_id": room})
        assert response.status_code == 200, (q, response.get_json())
        hits = [item for item in response.get_json()["items"] if item["message"]["id"] == message["id"]]
        assert len(hits) == 1, (content, q)
        marked = [content[start:end].casefold() for start, end in hits[0]["highlights"]]
        assert any(w.startswith(q.strip('"').casefold()) for w in marked), (content, q, marked)


def test_pages_read_during_concurrent_sends_have_no_duplicates_or_gaps(app: Flask, api: ApiClient) -> None:
    reader, writer = api.users("Reader", "Writer")
    room = reader.make_group(writer)["id"]
    before = [writer.say(room, f"needle {n}")["id"] for n in range(25)]
    sent: list[str] = []
    client = Actor(app.test_client(), writer.user, writer.access_token, writer.refresh_token, writer.password)
    start = threading.Barrier(2)

    def write() -> None:
        start.wait()
        for n in range(25):
            sent.append(client.say(room, f"needle late {n}")["id"])

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    start.wait()
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"q": "needle", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = reader.get(SEARCH, query_string=params).get_json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    thread.join(60)
    assert not thread.is_alive()
    ids = [item["message"]["id"] for item in seen]
    assert len(ids) == len(set(ids)), "a message came twice"
    assert set(before) <= set(ids) <= set(before) | set(sent), "a message was skipped, or came from nowhere"
    keys = [(datetime.fromisoformat(item["message"]["created_at"]), item["message"]["id"]) for item in seen]
    assert keys == sorted(keys, reverse=True), "not newest first"
