"""Message search: GET /api/chat/search through the Flask test client, on the suite's database (SQLite, or
PostgreSQL when the suite runs on it): matching rules, highlights, filters, privacy, bad input and pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.test import TestResponse

from armada.chat.search_text import fold
from tests.helpers.contract import MESSAGE_KEYS
from tests.helpers.support import BAD_TIME_ID_PAGE_ARGS, Actor, ApiClient, assert_error, details_of, history_page

SEARCH = "/api/chat/search"


def search(actor: Actor, q: str, **params: Any) -> TestResponse:
    """GET a search, whatever the answer."""
    return actor.get(SEARCH, query_string={"q": q, **params})


def found(actor: Actor, q: str, **params: Any) -> list[dict[str, Any]]:
    """The results of a search that must succeed (every page), each checked against the contract's shape."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = search(actor, q, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        assert set(page) == {"items", "next_cursor"}
        for item in page["items"]:
            assert set(item) == {"message", "room_id", "highlights"}
            assert set(item["message"]) == MESSAGE_KEYS and item["room_id"] == item["message"]["room_id"]
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def contents(actor: Actor, q: str, **params: Any) -> list[str]:
    """The texts of every result, newest first."""
    return [item["message"]["content"] for item in found(actor, q, **params)]


def marked(item: dict[str, Any]) -> list[str]:
    """The words a result's highlights mark, cut out of its content by code point."""
    content = item["message"]["content"]
    return [content[start:end] for start, end in item["highlights"]]


@pytest.fixture
def team(api: ApiClient) -> tuple[Actor, Actor, dict[str, Any]]:
    """Alice and Bob in a group."""
    alice, bob = api.users("Alice", "Bob")
    return alice, bob, alice.make_group(bob)


# ---- what matches ------------------------------------------------------------------------------------------


def test_every_word_must_match_in_any_order_and_case(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "The Deploy went fine")
    alice.say(room, "deploy failed")
    alice.say(room, "fine weather")
    assert contents(bob, "fine DEPLOY") == ["The Deploy went fine"]
    assert sorted(contents(bob, "deploy")) == ["The Deploy went fine", "deploy failed"]


def test_accents_are_ignored_both_ways(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "Meet at the café")
    alice.say(room, "a naive plan")
    alice.say(room, "e\u0301te\u0301 decomposed")  # été with combining accents
    assert contents(bob, "Cafe") == ["Meet at the café"]
    assert contents(bob, "naïve") == ["a naive plan"]
    assert contents(bob, "ete") == ["e\u0301te\u0301 decomposed"]


def test_the_last_word_is_also_a_prefix_the_others_are_not(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "deployment tomorrow")
    alice.say(room, "deploys today")
    assert sorted(contents(bob, "depl")) == ["deployment tomorrow", "deploys today"]
    assert contents(bob, "tomorrow depl") == ["deployment tomorrow"]
    # Only the last: `depl` in front must be a whole word.
    assert contents(bob, "depl tomorrow") == []


def test_a_quoted_phrase_matches_in_order_and_next_to_each_other(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "the release notes are out")
    alice.say(room, "notes on the release")
    alice.say(room, "release the new notes")
    assert contents(bob, '"release notes"') == ["the release notes are out"]
    assert sorted(contents(bob, "release notes")) == sorted(
        ["the release notes are out", "notes on the release", "release the new notes"]
    )
    # A closed phrase is not a prefix; an unclosed one runs to the end, and its last word is.
    assert contents(bob, '"release note"') == []
    assert contents(bob, '"release note') == ["the release notes are out"]


@pytest.mark.parametrize("q", ["OR", "NOT", "AND", "-minus", "NEAR(", "a:b", "50%", "back\\slash", "x*"])
def test_operators_and_syntax_are_plain_words(team: tuple[Actor, Actor, dict[str, Any]], q: str) -> None:
    alice, bob, room = team
    text = f"literally {q} here"
    alice.say(room, text)
    alice.say(room, "something else entirely")
    assert contents(bob, q) == [text]


def test_punctuation_separates_words_on_both_databases(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "see example.com or mail ops@example.org, foo_bar and v1.2.3")
    for q in ("example", "com", "ops", "org", "foo", "bar", "v1", "3"):
        assert len(found(bob, q)) == 1, q


def test_vowel_signs_are_part_of_their_word_on_both_databases(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    # Devanagari's vowel signs (ि, ी: spacing marks, category Mc) sit inside a word, as accents do.
    alice.say(room, "हिन्दी भाषा")
    (hit,) = found(bob, "हिन्दी भाष")
    assert marked(hit) == ["हिन्दी", "भाषा"]
    # So a word's first letter alone is no word of it (only the last word of a query is a prefix).
    assert found(bob, "ह भाषा") == []
    assert found(bob, "न्द भाषा") == []


def test_an_emoji_variation_selector_is_no_part_of_a_word(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    # ✔️ is ✔ and U+FE0F (a mark that asks for the emoji form): neither belongs to the word written next to it.
    alice.say(room, "ok\u2714\ufe0fdone")
    (hit,) = found(bob, "ok done")
    assert marked(hit) == ["ok", "done"]


def test_what_either_database_finds_without_accents_is_highlighted(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "Łódź then Ørsted")
    # PostgreSQL's unaccent also reads ł and ø as l and o (SQLite keeps them): whatever is found, its word is marked.
    for q in ("lodz", "orsted", "łódź"):
        for hit in found(bob, q):
            assert [fold(word) for word in marked(hit)] == [fold(q)], q
    assert [marked(hit) for hit in found(bob, "Łodz Ørsted")] == [["Łódź", "Ørsted"]]


def test_edited_messages_are_found_by_their_current_text(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    message = alice.say(room, "original wording")
    assert alice.patch(f"/api/chat/messages/{message['id']}", json={"content": "revised text"}).status_code == 200
    assert contents(bob, "original") == []
    assert contents(bob, "revised") == ["revised text"]


def test_deleted_messages_are_never_found(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    message = alice.say(room, "secret plans")
    assert contents(bob, "secret") == ["secret plans"]
    assert alice.delete(f"/api/chat/messages/{message['id']}").status_code == 200
    assert found(bob, "secret") == []


def test_thread_replies_are_found(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    root = alice.say(room, "root of a thread")
    alice.say(room, "a reply inside", thread_root_id=root["id"])
    (hit,) = found(bob, "inside")
    assert hit["message"]["thread_root_id"] == root["id"]


# ---- highlights --------------------------------------------------------------------------------------------


def test_highlights_are_code_point_offsets_past_emoji_and_accents(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    # An emoji outside the BMP (two UTF-16 units), a flag (two code points) and a combining accent before the match.
    content = "👍🇫🇷 re\u0301sume\u0301 Deployment, then deploy!"
    alice.say(room, content)
    (hit,) = found(bob, "resume depl")
    # Python indexes strings by code point: 4 before the first word (👍 is one, the flag two, then a space).
    words = ["re\u0301sume\u0301", "Deployment", "deploy"]
    assert hit["highlights"] == [[content.index(w), content.index(w) + len(w)] for w in words]
    assert hit["highlights"][0] == [4, 12]
    assert marked(hit) == ["re\u0301sume\u0301", "Deployment", "deploy"]


def test_a_phrase_highlights_only_its_words_in_order(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "notes: release notes, then release")
    (hit,) = found(bob, '"release notes"')
    assert marked(hit) == ["release", "notes"]
    assert hit["highlights"] == [[7, 14], [15, 20]]


# ---- filters -----------------------------------------------------------------------------------------------


def test_filters_by_room_sender_and_thread(api: ApiClient) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    one, two = alice.make_group(bob, carol, name="One"), alice.make_group(bob, name="Two")
    root = alice.say(one, "budget root")
    bob.say(one, "budget reply", thread_root_id=root["id"])
    carol.say(one, "budget from carol")
    bob.say(two, "budget elsewhere")
    assert sorted(contents(alice, "budget", room_id=one["id"])) == [
        "budget from carol",
        "budget reply",
        "budget root",
    ]
    assert sorted(contents(alice, "budget", sender_id=bob.id)) == ["budget elsewhere", "budget reply"]
    assert sorted(contents(alice, "budget", thread_root_id=root["id"])) == ["budget reply", "budget root"]


def test_filters_by_time_since_inclusive_until_exclusive(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    first = alice.say(room, "standup one")
    second = alice.say(room, "standup two")
    at = second["created_at"]
    assert contents(bob, "standup", since=at) == ["standup two"]
    assert contents(bob, "standup", until=at) == ["standup one"]
    later = (datetime.fromisoformat(first["created_at"]) + timedelta(days=1)).isoformat()
    assert contents(bob, "standup", since=later) == []


def test_filters_by_what_a_message_has(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "report at https://example.com/r")
    alice.say(room, "report at HTTP://EXAMPLE.ORG")
    alice.say(room, "report without a link, example.com alone")
    assert sorted(contents(bob, "report", has="link")) == [
        "report at HTTP://EXAMPLE.ORG",
        "report at https://example.com/r",
    ]
    assert found(bob, "report", has="media") == []


# ---- privacy -----------------------------------------------------------------------------------------------


def test_only_rooms_the_caller_is_an_active_member_of(api: ApiClient) -> None:
    alice, bob, mallory = api.users("Alice", "Bob", "Mallory")
    room = alice.make_group(bob)
    alice.say(room, "confidential numbers")
    assert found(mallory, "confidential") == []
    assert len(found(bob, "confidential")) == 1
    assert alice.delete(f"/api/chat/rooms/{room['id']}/members/{bob.id}").status_code == 204
    assert found(bob, "confidential") == []
    assert_error(search(bob, "confidential", room_id=room["id"]), 404, "room_not_found")


def test_a_room_or_thread_filter_of_someone_else_is_a_404(
    team: tuple[Actor, Actor, dict[str, Any]], api: ApiClient
) -> None:
    alice, _, room = team
    (mallory,) = api.users("Mallory")
    root = alice.say(room, "private thread")
    assert_error(search(mallory, "private", room_id=room["id"]), 404, "room_not_found")
    assert_error(search(mallory, "private", thread_root_id=root["id"]), 404, "message_not_found")
    assert_error(search(mallory, "private", room_id=str(uuid.uuid4())), 404, "room_not_found")


# ---- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["", "   ", "!!!", '""', "👍🎉", "-", "* : %", "❤\ufe0f", "#\ufe0f\u20e3"])
def test_no_word_is_a_422_on_q(team: tuple[Actor, Actor, dict[str, Any]], q: str) -> None:
    _, bob, _ = team
    assert "q" in details_of(search(bob, q))


def test_q_is_required_and_at_most_256_characters(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    alice.say(room, "é" * 10)
    assert "q" in details_of(bob.get(SEARCH))
    assert "q" in details_of(search(bob, "é" * 257))
    assert search(bob, "é" * 256).status_code == 200


@pytest.mark.parametrize(
    "params, field",
    [
        ({"q": "a\x00b"}, "q"),
        ({"room_id": "nope"}, "room_id"),
        ({"sender_id": "1"}, "sender_id"),
        ({"since": "yesterday"}, "since"),
        ({"until": "0001-01-01T00:00:00+01:00"}, "until"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"has": "pdf"}, "has"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_arguments_are_422_on_their_field(
    team: tuple[Actor, Actor, dict[str, Any]], params: dict[str, str], field: str
) -> None:
    _, bob, _ = team
    assert field in details_of(bob.get(SEARCH, query_string={"q": "hello", **params}))


def test_a_reply_is_no_thread_to_search(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    root = alice.say(room, "root")
    reply = alice.say(room, "reply", thread_root_id=root["id"])
    assert "thread_root_id" in details_of(search(bob, "reply", thread_root_id=reply["id"]))


def test_search_needs_a_token(client: Any) -> None:
    assert_error(client.get(SEARCH, query_string={"q": "x"}), 401)


# ---- order and pages ---------------------------------------------------------------------------------------


def test_newest_first_in_pages_without_gaps_or_repeats(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    sent = [alice.say(room, f"ticket number {n}")["id"] for n in range(7)]
    pages = []
    cursor = None
    while True:
        page = search(bob, "ticket", limit=3, **({"cursor": cursor} if cursor else {})).get_json()
        pages.append([item["message"]["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [sent[6:3:-1], sent[3:0:-1], sent[0:1]]


def test_reactions_carry_the_viewers_me(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    message = alice.say(room, "react to this")
    assert bob.put(f"/api/chat/messages/{message['id']}/reactions/👍").status_code == 200
    (hit,) = found(bob, "react")
    assert hit["message"]["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]
    (hit,) = found(alice, "react")
    assert hit["message"]["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]


def test_a_page_is_a_constant_number_of_statements(
    team: tuple[Actor, Actor, dict[str, Any]], count_queries: Any
) -> None:
    alice, bob, room = team
    counts = []
    for n in (1, 10):
        previous = alice.say(room, "an earlier message")
        for i in range(n):
            previous = alice.say(room, f"batch{n} item {i}", reply_to_id=previous["id"])
            bob.put(f"/api/chat/messages/{previous['id']}/reactions/🎉")
        with count_queries:
            assert len(found(bob, f"batch{n}")) == n
        counts.append(count_queries.count)
    assert counts[0] == counts[1], counts


def test_found_at_the_utc_time_it_was_sent(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    sent = alice.say(room, "timestamped")
    start = datetime.fromisoformat(sent["created_at"]).astimezone(UTC)
    naive = start.replace(tzinfo=None).isoformat()  # no offset: read as UTC
    assert contents(bob, "timestamped", since=naive) == ["timestamped"]


@pytest.mark.parametrize("args", BAD_TIME_ID_PAGE_ARGS)
def test_bad_pages_are_422(team: tuple[Actor, Actor, dict[str, Any]], args: dict[str, Any]) -> None:
    _, bob, _ = team
    details = details_of(search(bob, "x", **args))
    assert set(details) == set(args), details


# ---- opening a result: the history around a message -------------------------------------------------------


def ids(page: dict[str, Any]) -> list[str]:
    """The message ids of a history page, in its order."""
    return [message["id"] for message in page["items"]]


@pytest.fixture
def long_room(team: tuple[Actor, Actor, dict[str, Any]]) -> tuple[Actor, dict[str, Any], list[str]]:
    """Bob, and a room of 60 messages (oldest first) with more than a page of history around any of them."""
    alice, bob, room = team
    return bob, room, [alice.say(room, f"line {n}")["id"] for n in range(60)]


def test_around_a_message_far_back_pages_both_ways(long_room: tuple[Actor, dict[str, Any], list[str]]) -> None:
    bob, room, sent = long_room
    page = history_page(bob, room["id"], around=sent[30], limit=10)
    assert ids(page) == sent[25:35]  # five older, then the message and newer
    older = history_page(bob, room["id"], before=page["next_cursor"], limit=10)
    assert ids(older) == sent[15:25]
    newer = history_page(bob, room["id"], after=sent[34], limit=10)
    assert ids(newer) == sent[35:45]


def test_around_near_either_end(long_room: tuple[Actor, dict[str, Any], list[str]]) -> None:
    bob, room, sent = long_room
    first = history_page(bob, room["id"], around=sent[2], limit=10)
    assert ids(first) == sent[0:10] and first["next_cursor"] is None
    last = history_page(bob, room["id"], around=sent[58], limit=10)
    assert ids(last) == sent[53:60] and last["next_cursor"] is not None
    only = history_page(bob, room["id"], around=sent[40], limit=1)
    assert ids(only) == [sent[40]]
    assert ids(history_page(bob, room["id"], before=only["next_cursor"], limit=2)) == sent[38:40]


def test_around_a_thread_reply_is_its_root_unless_in_the_thread(team: tuple[Actor, Actor, dict[str, Any]]) -> None:
    alice, bob, room = team
    root = alice.say(room, "root")
    replies = [alice.say(room, f"reply {n}", thread_root_id=root["id"])["id"] for n in range(3)]
    after = alice.say(room, "after the thread")
    page = history_page(bob, room["id"], around=replies[1], limit=10)
    assert ids(page) == [root["id"], after["id"]]
    in_thread = history_page(bob, room["id"], around=replies[1], thread_root_id=root["id"], limit=2)
    assert ids(in_thread) == replies[0:2]


def test_around_refuses_what_is_not_in_the_room(team: tuple[Actor, Actor, dict[str, Any]], api: ApiClient) -> None:
    alice, bob, room = team
    (carol,) = api.users("Carol")
    elsewhere = alice.say(alice.make_group(carol), "elsewhere")
    message = alice.say(room, "here")
    url = f"/api/chat/rooms/{room['id']}/messages"
    assert "around" in details_of(bob.get(url, query_string={"around": elsewhere["id"]}))
    assert "around" in details_of(bob.get(url, query_string={"around": str(uuid.uuid4())}))
    assert "around" in details_of(bob.get(url, query_string={"around": "nope"}))
    assert details_of(bob.get(url, query_string={"around": message["id"], "after": message["id"]}))
    root = alice.say(room, "other root")
    other = alice.say(room, "reply", thread_root_id=root["id"])
    assert "around" in details_of(bob.get(url, query_string={"around": message["id"], "thread_root_id": root["id"]}))
    assert other["thread_root_id"] == root["id"]
    assert_error(carol.get(url, query_string={"around": message["id"]}), 404, "room_not_found")
