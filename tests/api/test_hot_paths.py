"""The statement budgets the benchmarks' fixes bought (BENCHMARKS.md), kept by tests: what a request costs in
SQL round trips on the paths every client hits all the time, and that the cheaper paths still answer right."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.test import TestResponse

from tests.helpers.in_process import InProcessSocket
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


def test_a_socket_connect_is_one_statement_and_a_join_three_in_no_transaction(
    pair: tuple[Actor, Actor], sockets: Callable[..., InProcessSocket], count_queries: QueryCounter
) -> None:
    """Connect: the session check with its user. join_room: that check again, then the room check before and
    after the socket joins. None inside a transaction, which would cost a BEGIN and a ROLLBACK round trip more."""
    alice, bob = pair
    room = alice.make_group(bob)
    with count_queries as counter:
        socket = sockets(bob.access_token)
    assert socket.received("connected") == [{"user_id": bob.id}]
    assert counter.count == 1, counter.statements
    assert "revoked_sessions" in counter.statements[0] and "users" in counter.statements[0]
    assert counter.isolation == ["AUTOCOMMIT"]
    with count_queries as counter:
        ack = socket.call("join_room", {"room_id": room["id"]})
    assert ack == {"ok": True, "room_id": room["id"]}
    assert counter.count == 3, counter.statements
    assert "revoked_sessions" in counter.statements[0]
    assert all("chat_room_members" in statement for statement in counter.statements[1:])
    assert counter.isolation == ["AUTOCOMMIT"] * 3


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


def test_a_send_with_a_client_id_asks_for_it_twice_and_a_retry_answers_the_first(
    pair: tuple[Actor, Actor], count_queries: QueryCounter
) -> None:
    """A plain send's four, plus the client_id looked up before and under the room's lock; the retry stops after
    the first lookup and loads the message it found (the lookups read only the id: it is rarely there)."""
    alice, bob = pair
    room = alice.make_group(bob)
    body = {"room_id": room["id"], "content": "once", "client_id": "c-1"}
    with count_queries as counter:
        first = alice.post("/api/chat/messages", json=body)
    assert first.status_code == 201
    assert counter.count == 6, counter.statements
    with count_queries as counter:
        again = alice.post("/api/chat/messages", json={**body, "content": "twice"})
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert counter.count == 4, counter.statements
    assert [m["content"] for m in bob.get(f"/api/chat/rooms/{room['id']}/messages").get_json()["items"]] == ["once"]


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


# ---- reactions, threads, mentions and pins ----------------------------------------------------------------------
# Every one of them is kept on the message row (summaries) or read for a whole page at once, so what a page costs does
# not grow with them. A page needs at most two lookups besides its rows: the reply previews (when some message of the
# page replies to one) and the viewer's own reactions (`me`, when some message has reactions); a plain page skips
# them.

THUMBS_UP, PARTY, HEART = "\N{THUMBS UP SIGN}", "\N{PARTY POPPER}", "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"
PAGE = 50
ROOTS = range(0, PAGE, 10)  # the messages that get a thread
REPLIES_PER_THREAD = 4


def react(actor: Actor, message_id: str, emoji: str) -> None:
    response = actor.put(f"/api/chat/messages/{message_id}/reactions/{emoji}")
    assert response.status_code == 200, response.get_json()


def pin(actor: Actor, room_id: str, message_id: str) -> None:
    response = actor.put(f"/api/chat/rooms/{room_id}/pins/{message_id}")
    assert response.status_code == 200, response.get_json()


def plain_room(alice: Actor, bob: Actor) -> dict[str, str]:
    """One message of Alice's, pinned, with one plain reply of Bob's in its thread."""
    room = alice.make_group(bob, name="Plain")["id"]
    root = alice.say(room, "one")["id"]
    bob.say(room, "plain reply", thread_root_id=root)
    pin(alice, room, root)
    return {"room": room, "root": root, "anchor": root}


def busy_room(alice: Actor, bob: Actor, carol: Actor, dave: Actor) -> dict[str, str]:
    """PAGE messages, every other one a reply, each mentioning two people (every fifth @room) and reacted to by all
    four (Alice among them) with three emoji; a thread under every tenth, whose replies mention Alice and carry
    reactions; every fifth pinned."""
    people = (alice, bob, carol, dave)
    room = alice.make_group(bob, carol, dave, name="Busy")["id"]
    ids: list[str] = []
    for i in range(PAGE):
        sender, others = people[i % 4], [p for p in people if p is not people[i % 4]]
        extra = {"reply_to_id": ids[-1]} if ids and i % 2 else {}
        mentions = [others[0].id, others[1].id]
        ids.append(sender.say(room, f"m{i}", mentions=mentions, mentions_room=i % 5 == 0, **extra)["id"])
        for person, emoji in zip(people, (THUMBS_UP, THUMBS_UP, PARTY, HEART), strict=True):
            react(person, ids[-1], emoji)
    for i in ROOTS:
        for r in range(REPLIES_PER_THREAD):
            replier = people[(i + r + 1) % 4]
            mentions = [alice.id] if replier is not alice else [bob.id]
            reply = replier.say(room, f"re {i}.{r}", thread_root_id=ids[i], mentions=mentions)["id"]
            react(alice, reply, THUMBS_UP)
            react(bob, reply, PARTY)
    for i in range(0, PAGE, 5):
        pin(alice, room, ids[i])
    return {"room": room, "root": ids[ROOTS[-1]], "anchor": ids[0]}


def hot_reads(alice: Actor, world: dict[str, str]) -> dict[str, Callable[[], TestResponse]]:
    room = f"/api/chat/rooms/{world['room']}"
    return {
        "history": lambda: alice.get(f"{room}/messages", query_string={"limit": PAGE}),
        "thread page": lambda: alice.get(f"{room}/messages", query_string={"thread_root_id": world["root"]}),
        "changed_after": lambda: alice.get(
            f"{room}/messages", query_string={"changed_after": world["anchor"], "limit": 100}
        ),
        "room list": lambda: alice.get("/api/chat/rooms"),
        "room": lambda: alice.get(room),
        "threads": lambda: alice.get("/api/chat/threads"),
        "pins": lambda: alice.get(f"{room}/pins"),
    }


def statements_of(alice: Actor, world: dict[str, str], counter: QueryCounter) -> dict[str, int]:
    counts = {}
    for name, read in hot_reads(alice, world).items():
        with counter:
            response = read()
        assert response.status_code == 200, (name, response.get_json())
        counts[name] = counter.count
    return counts


# Statements per read: (plain room, busy room). A read's statements: the session check with the user, the access
# check (a room's read), its rows, the reply previews and `me` (busy only), and the read's own extras: a thread page
# checks its root, changed_after reads its anchor, a room list or room loads members and last messages and counts
# unread messages and mentions in one statement, the threads list counts unread replies in one.
EXPECTED = {
    "history": (3, 5),
    "thread page": (4, 5),  # thread replies reply to nothing: no previews
    "changed_after": (4, 6),
    "room list": (5, 7),
    "room": (6, 8),
    "threads": (3, 4),  # the roots reply to nothing
    "pins": (3, 5),
}


def test_hot_reads_cost_a_fixed_number_of_statements_whatever_the_reactions_threads_mentions_and_pins(
    api: ApiClient, count_queries: QueryCounter
) -> None:
    alice, bob, carol, dave = api.users("Alice", "Bob", "Carol", "Dave")
    plain = statements_of(alice, plain_room(alice, bob), count_queries)
    world = busy_room(alice, bob, carol, dave)
    busy = statements_of(alice, world, count_queries)
    assert {name: (plain[name], busy[name]) for name in plain} == EXPECTED
    # ...and the cheap reads answer right: the summaries on the rows, `me` from the one lookup.
    reads = {name: read().get_json() for name, read in hot_reads(alice, world).items()}
    history = reads["history"]["items"]
    assert [m["content"] for m in history] == [f"m{i}" for i in range(PAGE)]
    mine = [{"emoji": THUMBS_UP, "count": 2, "me": True}, {"emoji": PARTY, "count": 1, "me": False}]
    assert all(m["reactions"] == [*mine, {"emoji": HEART, "count": 1, "me": False}] for m in history)
    assert [i for i, m in enumerate(history) if m["thread"]] == list(ROOTS)
    assert {m["thread"]["reply_count"] for m in history if m["thread"]} == {REPLIES_PER_THREAD}
    assert [i for i, m in enumerate(history) if m["pinned_at"]] == list(range(0, PAGE, 5))
    assert all(len(m["mentions"]) == 2 for m in history) and history[5]["mentions_room"] is True
    thread = reads["thread page"]["items"]
    replied = [{"emoji": THUMBS_UP, "count": 1, "me": True}, {"emoji": PARTY, "count": 1, "me": False}]
    assert len(thread) == REPLIES_PER_THREAD and all(m["reactions"] == replied for m in thread)
    assert all(m["thread_root_id"] == world["root"] for m in thread)
    # changed_after: every change since the first message was sent (its own reactions too), thread replies
    # included, each message once.
    changed = reads["changed_after"]["items"]
    assert len({m["id"] for m in changed}) == len(changed) == PAGE + len(ROOTS) * REPLIES_PER_THREAD
    busy_view = next(r for r in reads["room list"]["items"] if r["id"] == world["room"])
    others_top_level = sum(1 for i in range(PAGE) if i % 4)
    # Alice is mentioned by every message of the others', and by their thread replies (three a thread).
    counts = (busy_view["unread_count"], busy_view["mention_count"])
    assert counts == (others_top_level, others_top_level + len(ROOTS) * (REPLIES_PER_THREAD - 1))
    assert (reads["room"]["unread_count"], reads["room"]["mention_count"]) == counts
    assert busy_view["last_message"]["reactions"] == [*mine, {"emoji": HEART, "count": 1, "me": False}]
    threads = reads["threads"]["items"]
    assert [t["root"]["content"] for t in threads if t["room_id"] == world["room"]] == [f"m{i}" for i in ROOTS][::-1]
    assert {t["unread_replies"] for t in threads if t["room_id"] == world["room"]} == {REPLIES_PER_THREAD - 1}
    assert [m["content"] for m in reads["pins"]["items"]] == [f"m{i}" for i in range(0, PAGE, 5)][::-1]
