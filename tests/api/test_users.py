"""GET /api/users/me and the user search GET /api/users?q=."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers.support import Actor, ApiClient, assert_error, cursor_of

USER_FIELDS = {"id", "email", "display_name", "avatar_url", "created_at"}


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
    assert_error(client.get("/api/users", query_string={"q": "a"}), 401, "authorization_required")


def test_search_matches_a_display_name_substring_case_insensitively(api: ApiClient) -> None:
    alice = api.register("Alice Cooper")
    api.register("Bob Marley")
    api.register("Coop Ville")
    assert found_names(alice, "COOP") == {"Alice Cooper", "Coop Ville"}
    assert found_names(alice, "ice coo") == {"Alice Cooper"}


def test_search_matches_an_email_substring_case_insensitively(api: ApiClient) -> None:
    alice = api.register("Alice", email="alice@wonder.example")
    api.register("Bob", email="bob@builder.example")
    assert found_names(alice, "WONDER.EX") == {"Alice"}
    assert found_names(alice, "@builder") == {"Bob"}


def test_search_returns_users_in_the_user_shape(api: ApiClient) -> None:
    alice = api.register("Alice")
    bob = api.register("Bob Unique")
    items = search(alice, q="unique").get_json()["items"]
    assert items == [bob.user]
    assert set(items[0]) == USER_FIELDS


def test_search_without_q_lists_everyone(api: ApiClient) -> None:
    actors = api.users("Ann", "Ben", "Cid")
    assert found_names(actors[0], "") == {"Ann", "Ben", "Cid"}
    response = actors[0].get("/api/users")
    assert {u["id"] for u in response.get_json()["items"]} == {a.id for a in actors}


def test_search_with_no_match_is_an_empty_page(api: ApiClient) -> None:
    alice = api.register("Alice")
    assert search(alice, q="zzz-nobody").get_json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("q", "expected"),
    [("%", {"100%"}), ("_", {"snake_case"}), ("\\", {"back\\slash"}), ("0%", {"100%"}), ("e_c", {"snake_case"})],
)
def test_search_treats_like_wildcards_literally(api: ApiClient, q: str, expected: set[str]) -> None:
    searcher = api.register("Searcher")
    api.users("100%", "snake_case", "back\\slash", "plain name", "snakeXcase")
    assert found_names(searcher, q) == expected


def test_search_finds_unicode_display_names(api: ApiClient) -> None:
    alice = api.register("Alice")
    api.users("Zoë 🚀", "李小龍", "Zoe")
    assert found_names(alice, "zoë") == {"Zoë 🚀"}
    assert found_names(alice, "🚀") == {"Zoë 🚀"}
    assert found_names(alice, "小") == {"李小龍"}


def test_search_trims_surrounding_whitespace_of_q(api: ApiClient) -> None:
    alice = api.register("Alice")
    api.register("Bob")
    assert found_names(alice, "  bob  ") == {"Bob"}


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
    error = assert_error(search(alice, limit=limit), 422, "validation_failed")
    assert "limit" in error["details"]


@pytest.mark.parametrize("limit", ["1", "100"])
def test_search_accepts_limits_at_the_bounds(api: ApiClient, limit: str) -> None:
    alice = api.register("Alice")
    assert search(alice, limit=limit).status_code == 200


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
    error = assert_error(search(alice, cursor=cursor), 422, "validation_failed")
    assert "cursor" in error["details"]


@pytest.mark.parametrize("q", ["a\u0000b", "\u0000", "x" * 101])
def test_search_refuses_an_unsafe_or_overlong_q(api: ApiClient, q: str) -> None:
    alice = api.register("Alice")
    error = assert_error(search(alice, q=q), 422, "validation_failed")
    assert "q" in error["details"]


def test_search_with_invalid_utf8_in_q_matches_nobody(api: ApiClient) -> None:
    alice = api.register("Alice")
    # The UTF-8 form of a lone surrogate (ED A0 80); the server decodes it to replacement characters.
    response = alice.get("/api/users?q=%ED%A0%80")
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_cursor": None}


def test_search_is_case_insensitive_beyond_ascii(api: ApiClient) -> None:
    alice = api.register("Alice")
    api.users("Zoë Émile", "ÅSA")
    assert found_names(alice, "ZOË ÉMILE") == {"Zoë Émile"}
    assert found_names(alice, "åsa") == {"ÅSA"}
