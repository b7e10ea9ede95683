"""GET /api/users/me and the user search GET /api/users?q=."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from armada.extensions import db
from tests.helpers.in_process import InProcessSocket
from tests.helpers.support import Actor, ApiClient, QueryCounter, assert_error, cursor_of

USER_FIELDS = {"id", "email", "display_name", "avatar_url", "created_at"}
PUBLIC_USER_FIELDS = USER_FIELDS - {"email"}


def search(actor: Actor, **params: Any) -> TestResponse:
    return actor.get("/api/users", query_string=params)


def found_names(actor: Actor, q: str) -> set[str]:
    """Display names of every user matching q (one page is enough for these small tests)."""
    response = search(actor, q=q, limit=100)
    assert response.status_code == 200, response.get_json()
    return {user["display_name"] for user in response.get_json()["items"]}


def walk(actor: Actor, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paginated search, following next_cursor, and the number of pages."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        response = search(actor, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"items", "next_cursor"}
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 50, "pagination does not terminate"


# --- /me ------------------------------------------------------------------------------------------------


def test_me_returns_the_caller(api: ApiClient) -> None:
    alice, bob = api.register("Alice", email="alice@example.com"), api.register("Bob")
    for actor in (alice, bob):
        response = actor.get("/api/users/me")
        assert response.status_code == 200
        assert response.get_json() == actor.user
    assert set(alice.get("/api/users/me").get_json()) == USER_FIELDS
    assert alice.get("/api/users/me").get_json()["email"] == "alice@example.com"


def test_me_never_exposes_the_password_hash(api: ApiClient) -> None:
    alice = api.register("Alice")
    text = alice.get("/api/users/me").get_data(as_text=True)
    assert "password" not in text and "scrypt" not in text


def test_me_requires_a_token(client: FlaskClient) -> None:
    assert_error(client.get("/api/users/me"), 401, "authorization_required")


# --- search ---------------------------------------------------------------------------------------------


def test_search_requires_a_token(client: FlaskClient) -> None:
    assert_error(client.get("/api/users", query_string={"q": "bob"}), 401, "authorization_required")


def test_search_finds_a_prefix_of_any_word_of_the_name(api: ApiClient) -> None:
    searcher = api.register("Searcher")
    api.users("Bob Smith", "Anna Bolt", "Rob Bo", "Ebony")
    assert found_names(searcher, "bo") == {"Bob Smith", "Anna Bolt", "Rob Bo"}
    assert found_names(searcher, "BOL") == {"Anna Bolt"}
    assert found_names(searcher, "smith") == {"Bob Smith"}


def test_search_never_matches_inside_a_word(api: ApiClient) -> None:
    searcher = api.register("Searcher")
    api.users("Bob Smith", "Anna Bolt")
    assert found_names(searcher, "ob") == set()
    assert found_names(searcher, "mith") == set()
    assert found_names(searcher, "nna") == set()


def test_search_matches_words_in_a_row(api: ApiClient) -> None:
    searcher = api.register("Searcher")
    api.users("Anna Maria Bolt", "Anna Smith", "Maria Anna")
    assert found_names(searcher, "anna bo") == set()  # the words must follow one another
    assert found_names(searcher, "maria bo") == {"Anna Maria Bolt"}
    assert found_names(searcher, "anna   maria") == {"Anna Maria Bolt"}
    assert found_names(searcher, "anna s") == {"Anna Smith"}


def test_search_finds_words_after_punctuation(api: ApiClient) -> None:
    searcher = api.register("Searcher")
    api.users("Anna-Maria O'Brien", "(Bob)", "snake_case")
    assert found_names(searcher, "maria") == {"Anna-Maria O'Brien"}
    assert found_names(searcher, "brien") == {"Anna-Maria O'Brien"}
    assert found_names(searcher, "o'b") == {"Anna-Maria O'Brien"}
    assert found_names(searcher, "bob") == {"(Bob)"}
    assert found_names(searcher, "(bo") == {"(Bob)"}
    assert found_names(searcher, "case") == {"snake_case"}


def test_search_finds_a_whole_email_case_insensitively(api: ApiClient) -> None:
    searcher = api.register("Searcher")
    api.register("Alice", email="alice@wonder.example")
    api.register("Bob", email="bob@builder.example")
    assert found_names(searcher, "ALICE@Wonder.example") == {"Alice"}
    assert found_names(searcher, "  bob@builder.example ") == {"Bob"}


@pytest.mark.parametrize("q", ["alice@wonder", "wonder.example", "lice@wonder.example", "alice@wonder.exampl"])
def test_search_never_matches_part_of_an_email(api: ApiClient, q: str) -> None:
    searcher = api.register("Searcher")
    api.register("Someone", email="alice@wonder.example")
    assert found_names(searcher, q) == set()


def test_search_shows_no_email_of_anyone(api: ApiClient) -> None:
    searcher = api.register("Searcher Person", email="searcher@example.com")
    bob = api.register("Bob Unique", email="bob@secret.example")
    for q in ("bob", "bob@secret.example", "searcher", "searcher@example.com"):
        response = search(searcher, q=q)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "@" not in text, text
        for user in response.get_json()["items"]:
            assert set(user) == PUBLIC_USER_FIELDS
    assert search(searcher, q="bob").get_json()["items"] == [
        {key: value for key, value in bob.user.items() if key != "email"}
    ]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("100%", {"100% sure"}),
        ("10%", set()),
        ("snake_c", {"snake_case"}),
        ("snake_", {"snake_case"}),
        ("back\\s", {"back\\slash"}),
        ("%%", set()),
        ("__", set()),
        ("\\\\", set()),
        ("%sure", set()),
    ],
)
def test_search_treats_like_wildcards_literally(api: ApiClient, q: str, expected: set[str]) -> None:
    searcher = api.register("Searcher")
    api.users("100% sure", "1000 sure", "snake_case", "snakeXcase", "back\\slash", "backslash", "backXslash")
    assert found_names(searcher, q) == expected


def test_search_finds_unicode_names(api: ApiClient) -> None:
    searcher = api.register("Searcher")
    api.users("Zoë 🚀🌙", "李小龍", "Zoe", "Émile Ångström")
    assert found_names(searcher, "zoë") == {"Zoë 🚀🌙"}
    assert found_names(searcher, "ZOË") == {"Zoë 🚀🌙"}
    assert found_names(searcher, "🚀🌙") == {"Zoë 🚀🌙"}
    assert found_names(searcher, "李小") == {"李小龍"}
    assert found_names(searcher, "小龍") == set()  # not a word start
    assert found_names(searcher, "éMI") == {"Émile Ångström"}
    assert found_names(searcher, "ÅNGS") == {"Émile Ångström"}


def test_search_folds_case_and_unicode_forms(api: ApiClient) -> None:
    searcher = api.register("Searcher")
    api.users("Straße Nord", "Cafe\u0301 Owner", "ＡＢＣ Corp")
    assert found_names(searcher, "strasse") == {"Straße Nord"}
    assert found_names(searcher, "STRASSE") == {"Straße Nord"}
    assert found_names(searcher, "café") == {"Cafe\u0301 Owner"}  # composed query, decomposed name
    assert found_names(searcher, "abc") == {"ＡＢＣ Corp"}  # full-width letters


def test_search_ending_at_the_edges_of_unicode_finds_exactly_its_prefix(api: ApiClient) -> None:
    # "Starts with" is a range up to the next code point: none after U+10FFFF, and surrogates are skipped.
    searcher = api.register("Searcher")
    api.users("a\U0010ffff b", "a\U0010fffe", "b\U0010ffff", "c\ud7ffz", "c\ue000")
    assert found_names(searcher, "a\U0010ffff") == {"a\U0010ffff b"}
    assert found_names(searcher, "c\ud7ff") == {"c\ud7ffz"}


@pytest.mark.parametrize("q", ["", " ", "a", "  b  ", "é", "🚀"])
def test_search_refuses_a_query_shorter_than_two_characters(api: ApiClient, q: str) -> None:
    alice = api.register("Alice")
    error = assert_error(search(alice, q=q), 422, "validation_failed")
    assert "q" in error["details"]


def test_search_refuses_a_missing_q(api: ApiClient) -> None:
    alice = api.register("Alice")
    error = assert_error(alice.get("/api/users"), 422, "validation_failed")
    assert "q" in error["details"]


def test_search_with_no_match_is_an_empty_page(api: ApiClient) -> None:
    alice = api.register("Alice")
    assert search(alice, q="zzz-nobody").get_json() == {"items": [], "next_cursor": None}


def test_search_pages_visit_every_user_once_in_name_then_id_order(api: ApiClient) -> None:
    # Repeated names put equal display names across a page boundary, so the id tie-break matters.
    names = ["Member B", "Member A", "Member C", "Member B", "Member A", "Member B", "Member D"]
    actors = [api.register(name) for name in names]
    items, pages = walk(actors[0], q="member", limit=3)
    assert pages == 3
    expected = sorted((a.user["display_name"], a.id) for a in actors)
    assert [(u["display_name"], u["id"]) for u in items] == expected


def test_search_page_size_is_respected(api: ApiClient) -> None:
    actors = api.users(*[f"Page {n}" for n in range(5)])
    body = search(actors[0], q="page", limit=2).get_json()
    assert len(body["items"]) == 2 and isinstance(body["next_cursor"], str)
    last = search(actors[0], q="page", limit=5).get_json()
    assert len(last["items"]) == 5 and last["next_cursor"] is None


def test_search_cursor_continues_after_a_user_is_added(api: ApiClient) -> None:
    # Keyset, not OFFSET: a user added before the cursor's position is not repeated or skipped past.
    actors = [api.register(name) for name in ("Kay B", "Kay C", "Kay D")]
    first = search(actors[0], q="kay", limit=1).get_json()
    assert [u["display_name"] for u in first["items"]] == ["Kay B"]
    api.register("Kay A")
    rest = search(actors[0], q="kay", limit=10, cursor=first["next_cursor"]).get_json()
    assert [u["display_name"] for u in rest["items"]] == ["Kay C", "Kay D"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", "99999999999999999999"])
def test_search_refuses_a_bad_limit(api: ApiClient, limit: str) -> None:
    alice = api.register("Alice")
    error = assert_error(search(alice, q="al", limit=limit), 422, "validation_failed")
    assert "limit" in error["details"]


@pytest.mark.parametrize("limit", ["1", "100"])
def test_search_accepts_limits_at_the_bounds(api: ApiClient, limit: str) -> None:
    alice = api.register("Alice")
    assert search(alice, q="al", limit=limit).status_code == 200


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "not-base64-at-all",
        cursor_of({"name": "a"}),
        cursor_of("a string"),
        cursor_of(["only one"]),
        cursor_of(["a", str(uuid.uuid4()), "extra"]),
        cursor_of(["a", "not-a-uuid"]),
        cursor_of([1, str(uuid.uuid4())]),
        cursor_of(["a\u0000b", str(uuid.uuid4())]),
        cursor_of(["a\ud800b", str(uuid.uuid4())]),
        "bad\u0000cursor",
        "x" * 600,
    ],
)
def test_search_refuses_a_bad_cursor(api: ApiClient, cursor: str) -> None:
    alice = api.register("Alice")
    error = assert_error(search(alice, q="al", cursor=cursor), 422, "validation_failed")
    assert "cursor" in error["details"]


@pytest.mark.parametrize("q", ["a\u0000b", "\u0000\u0000", "x" * 255])
def test_search_refuses_an_unsafe_or_overlong_q(api: ApiClient, q: str) -> None:
    alice = api.register("Alice")
    error = assert_error(search(alice, q=q), 422, "validation_failed")
    assert "q" in error["details"]


def test_search_finds_the_longest_email(api: ApiClient) -> None:
    alice = api.register("Alice")
    longest = "a" * 64 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 59 + ".example"
    assert len(longest) == 254
    api.register("Long Mail", email=longest)
    assert found_names(alice, longest.upper()) == {"Long Mail"}


def test_search_with_a_long_name_query_matches_on_its_start(api: ApiClient) -> None:
    # Keys keep a name's first 100 characters from each word on; a longer query compares those.
    searcher = api.register("Searcher")
    long_name = "Wolfe" + "schlegel" * 11 + "x"
    api.users(long_name[:100])
    assert found_names(searcher, long_name[:100]) == {long_name[:100]}
    assert found_names(searcher, "wolfe" + "schlegel" * 5 + "y") == set()


def test_search_with_invalid_utf8_in_q_matches_nobody(api: ApiClient) -> None:
    alice = api.register("Alice")
    # The UTF-8 form of a lone surrogate (ED A0 80); the server decodes it to replacement characters.
    response = alice.get("/api/users?q=%ED%A0%80")
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("matches", [0, 3, 30])
def test_a_search_is_one_statement_whatever_it_finds(api: ApiClient, count_queries: QueryCounter, matches: int) -> None:
    searcher = api.register("Searcher")
    api.users(*[f"Match {n}" for n in range(matches)], "Other Person")
    with count_queries as counter:
        response = search(searcher, q="match", limit=10)
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == min(matches, 10)
    # The session check with the user (see test_hot_paths.py), then the search.
    assert counter.count == 2, counter.statements


def test_a_search_reads_the_name_index_and_the_email_index(
    app: Flask, api: ApiClient, count_queries: QueryCounter
) -> None:
    searcher = api.register("Searcher")
    api.users("Anna Bolt", "Bob Smith")
    with count_queries as counter:
        assert found_names(searcher, "bo") == {"Anna Bolt", "Bob Smith"}
    statement, parameters = counter.statements[-1], counter.parameters[-1]
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(row) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            assert "SCAN user_name_keys" not in plan and "SCAN users" not in plan, plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # tiny test tables: ask whether an index can serve
            plan = " ".join(str(row) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "Seq Scan on user_name_keys" not in plan, plan
    assert "ix_user_name_keys_key_user_id" in plan, plan
    assert "email" in plan, plan


def test_search_trims_surrounding_whitespace_of_q(api: ApiClient) -> None:
    alice = api.register("Alice")
    api.register("Bob")
    assert found_names(alice, "  bob  ") == {"Bob"}


# --- no one sees another user's email ---------------------------------------------------------------------


def test_nothing_a_user_is_answered_or_sent_shows_another_users_email(
    api: ApiClient, sockets: Callable[..., InProcessSocket]
) -> None:
    alice = api.register("Alice", email="alice.private@example.com")
    bob = api.register("Bob", email="bob.private@example.com")
    socket = sockets(alice.access_token)
    group = alice.make_group(bob)
    direct = bob.make_direct(alice)
    socket.call("join_room", {"room_id": group["id"]})
    first = bob.say(group, "hello")
    bob.say(group, "a reply", reply_to_id=first["id"])
    alice.post(f"/api/chat/rooms/{group['id']}/read", json={"up_to": first["id"]})
    answers = [
        alice.get("/api/users", query_string={"q": "bob"}),
        alice.get("/api/users", query_string={"q": "bob.private@example.com"}),
        alice.get("/api/chat/rooms"),
        alice.get(f"/api/chat/rooms/{group['id']}"),
        alice.get(f"/api/chat/rooms/{direct['id']}"),
        alice.get(f"/api/chat/rooms/{group['id']}/messages"),
        alice.get(f"/api/chat/rooms/{direct['id']}/messages"),
    ]
    for response in answers:
        assert response.status_code == 200, response.get_json()
        assert "bob.private" not in response.get_data(as_text=True), response.request.path
    heard = [item["args"] for item in socket.queue]
    assert heard and "bob.private" not in repr(heard)
    assert "bob.private" not in repr([group, direct, first])
    # The caller's own email stays in their own answers.
    assert alice.get("/api/users/me").get_json()["email"] == "alice.private@example.com"


def _schemas_with_email(document: dict[str, Any]) -> Iterator[str]:
    for name, schema in document["components"]["schemas"].items():
        if "email" in schema.get("properties", {}):
            yield name


def test_the_api_document_shows_emails_only_in_the_callers_own_account(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert set(_schemas_with_email(document)) == {"User", "Register", "Login"}
    users = document["paths"]["/api/users"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = document["components"]["schemas"][users["$ref"].rsplit("/", 1)[1]]
    assert page["properties"]["items"]["items"]["$ref"].endswith("/PublicUser")
    assert "email" not in client.get("/api/asyncapi.json").get_data(as_text=True)
