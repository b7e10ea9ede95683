"""The statement budgets the benchmarks' fixes bought (BENCHMARKS.md), kept by tests: what a request costs in
SQL round trips on the paths every client hits all the time, and that the cheaper paths still answer right."""

from __future__ import annotations

from tests.helpers.support import Actor, ApiClient, QueryCounter


def test_an_authenticated_request_checks_its_session_and_loads_its_user_in_one_statement(
    pair: tuple[Actor, Actor], count_queries: QueryCounter
) -> None:
    alice, _ = pair
    with count_queries as counter:
        response = alice.get("/api/users/me")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == alice.id
    assert counter.count == 1, counter.statements
    assert "revoked_sessions" in counter.statements[0] and "users" in counter.statements[0]


def test_a_reply_costs_two_statements_more_and_answers_what_was_stored(
    pair: tuple[Actor, Actor], count_queries: QueryCounter
) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    first = alice.say(room, "first")
    with count_queries as counter:
        response = alice.post(
            "/api/chat/messages", json={"room_id": room["id"], "content": "héllo 🚀", "reply_to_id": first["id"]}
        )
    assert response.status_code == 201, response.get_json()
    sent = response.get_json()
    # A plain send's four (below), plus checking the reply target and loading its preview.
    assert counter.count == 6, counter.statements
    history = bob.get(f"/api/chat/rooms/{room['id']}/messages").get_json()["items"]
    assert history[-1] == sent
    assert sent["content"] == "héllo 🚀" and sent["reply_to"]["id"] == first["id"]
    assert sent["is_edited"] is False and sent["is_deleted"] is False


def test_a_plain_send_is_four_statements(pair: tuple[Actor, Actor], count_queries: QueryCounter) -> None:
    """Session check with the user, room access, the room's counter, the insert; no reload after the commit."""
    alice, bob = pair
    room = alice.make_group(bob)
    with count_queries as counter:
        response = alice.post("/api/chat/messages", json={"room_id": room["id"], "content": "x"})
    assert response.status_code == 201
    assert counter.count == 4, counter.statements


def test_the_session_check_still_refuses_a_logged_out_token_and_a_deleted_user(api: ApiClient) -> None:
    alice = api.register("Alice")
    assert alice.post("/api/auth/logout").status_code in (200, 204)
    refused = alice.get("/api/users/me")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "token_revoked"


def test_sends_after_a_send_in_the_same_room_see_fresh_counters(pair: tuple[Actor, Actor]) -> None:
    """The send commits without expiring the room object; the next request must not see stale numbers."""
    alice, bob = pair
    room = alice.make_group(bob)
    ids = [alice.say(room, f"m{i}")["id"] for i in range(3)]
    listed = bob.get(f"/api/chat/rooms/{room['id']}/messages").get_json()["items"]
    assert [m["id"] for m in listed] == ids
    rooms = bob.get("/api/chat/rooms").get_json()["items"]
    assert rooms[0]["unread_count"] == 3 and rooms[0]["last_message"]["id"] == ids[-1]
