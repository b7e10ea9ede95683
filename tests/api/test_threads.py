"""Threads (one level): replies under a root, the root's `thread` summary, the room history without replies, one
thread's history, the events, following, GET /api/chat/threads and POST /api/chat/threads/{root_id}/read."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.test import TestResponse

from armada.extensions import db
from armada.models import ChatMessage
from tests.helpers.contract import MESSAGE_KEYS, SOCKET_SERVER_EVENTS, THREAD_KEYS
from tests.helpers.factories import post_message
from tests.helpers.in_process import InProcessSocket
from tests.helpers.support import Actor, ApiClient, assert_error, details_of, history_page

MESSAGES = "/api/chat/messages"
THREADS = "/api/chat/threads"
FOLLOWED_KEYS = {"room_id", "root", "thread", "unread_replies"}


@dataclass
class Team:
    """Alice (admin), Bob and Carol in one group; Alice's root message in it."""

    alice: Actor
    bob: Actor
    carol: Actor
    room: dict[str, Any]
    root: dict[str, Any]

    @property
    def room_id(self) -> str:
        """The group's id."""
        return str(self.room["id"])


@pytest.fixture
def team(api: ApiClient) -> Team:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob, carol)
    return Team(alice, bob, carol, room, alice.say(room, "shall we ship?"))


def reply(actor: Actor, root: dict[str, Any], content: str = "re", **extra: Any) -> dict[str, Any]:
    """A reply of `actor` in the root's thread."""
    return actor.say(root["room_id"], content, thread_root_id=root["id"], **extra)


def root_now(actor: Actor, root: dict[str, Any]) -> dict[str, Any]:
    """The root as the room's history shows it to `actor` now."""
    (seen,) = [m for m in history_page(actor, root["room_id"], limit=100)["items"] if m["id"] == root["id"]]
    return seen


def thread_of(actor: Actor, root: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    """One page of the root's thread (its replies), as `actor` sees it."""
    return list(history_page(actor, root["room_id"], thread_root_id=root["id"], **params)["items"])


def ids(items: list[dict[str, Any]]) -> list[str]:
    """The ids of listed messages, in order."""
    return [m["id"] for m in items]


def at(stamp: str | None) -> datetime | None:
    """An ISO time as a datetime (None stays None), to compare instants whatever their spelling."""
    return None if stamp is None else datetime.fromisoformat(stamp)


def stored_replies(app: Flask, root_id: str) -> int:
    """Rows naming this root as their thread's."""
    with app.app_context():
        return db.session.scalar(select(func.count()).where(ChatMessage.thread_root_id == uuid.UUID(root_id))) or 0


# ---- sending a reply ------------------------------------------------------------------------------------------


def test_a_reply_names_its_root_and_the_root_gains_a_thread(team: Team) -> None:
    answer = reply(team.bob, team.root, "yes")
    assert set(answer) == MESSAGE_KEYS
    assert answer["thread_root_id"] == team.root["id"] and answer["thread"] is None
    root = root_now(team.carol, team.root)
    assert set(root["thread"]) == THREAD_KEYS
    assert root["thread"]["reply_count"] == 1
    assert root["thread"]["participant_ids"] == [team.bob.id]
    assert at(root["thread"]["last_reply_at"]) == at(answer["created_at"])


def test_a_message_without_replies_has_no_thread(team: Team) -> None:
    assert team.root["thread"] is None and team.root["thread_root_id"] is None
    assert history_page(team.bob, team.room_id)["items"][-1]["thread"] is None


def test_a_reply_over_the_socket(team: Team, sockets: Callable[..., InProcessSocket]) -> None:
    socket = sockets(team.bob.access_token)
    ack = socket.call("send_message", {"room_id": team.room_id, "content": "yes", "thread_root_id": team.root["id"]})
    assert ack["ok"] is True and ack["created"] is True, ack
    assert ack["message"]["thread_root_id"] == team.root["id"]
    assert root_now(team.alice, team.root)["thread"]["reply_count"] == 1


@pytest.fixture
def elsewhere(team: Team) -> dict[str, Any]:
    """A message of Alice's in another room of hers with Bob."""
    other = team.alice.make_group(team.bob, name="Elsewhere")
    return team.alice.say(other, "over there")


@pytest.mark.parametrize("case", ["a reply", "another room's message", "a missing id"])
def test_a_root_that_is_no_message_of_the_room_or_is_a_reply_is_refused(
    app: Flask, team: Team, elsewhere: dict[str, Any], case: str
) -> None:
    first = reply(team.bob, team.root)
    root_id = {"a reply": first["id"], "another room's message": elsewhere["id"], "a missing id": str(uuid.uuid4())}[
        case
    ]
    refused = post_message(team.carol, team.room, "deeper", thread_root_id=root_id)
    assert set(details_of(refused)) == {"thread_root_id"}
    assert stored_replies(app, root_id) == 0
    assert root_now(team.alice, team.root)["thread"]["reply_count"] == 1
    assert [m["sender_id"] for m in thread_of(team.alice, team.root)] == [team.bob.id]


@pytest.mark.parametrize("value", ["not-a-uuid", 42, ""])
def test_a_root_id_that_is_no_uuid_is_refused(team: Team, value: Any) -> None:
    assert set(details_of(post_message(team.bob, team.room, "re", thread_root_id=value))) == {"thread_root_id"}


def test_a_bad_root_over_the_socket_is_refused_on_thread_root_id(
    team: Team, sockets: Callable[..., InProcessSocket]
) -> None:
    first = reply(team.bob, team.root)
    socket = sockets(team.carol.access_token)
    for root_id in (first["id"], str(uuid.uuid4()), "nope"):
        ack = socket.call("send_message", {"room_id": team.room_id, "content": "x", "thread_root_id": root_id})
        assert ack["ok"] is False and ack["error"]["code"] == "validation_failed", ack
        assert set(ack["error"]["details"]) == {"thread_root_id"}, ack


def test_a_stranger_replying_gets_the_same_404_as_for_an_unknown_room(api: ApiClient, team: Team) -> None:
    mallory = api.register("Mallory")
    hidden = post_message(mallory, team.room, "me too", thread_root_id=team.root["id"])
    unknown = post_message(mallory, str(uuid.uuid4()), "me too", thread_root_id=team.root["id"])
    assert_error(hidden, 404)
    assert hidden.get_json() == unknown.get_json()


# ---- the database holds the one-level rule itself -------------------------------------------------------------


def _copy_of(conn: Connection, message_id: str, **changes: Any) -> dict[str, Any]:
    """A stored message's row as a new row (new id, a free seq) with these changes."""
    table = ChatMessage.__table__
    row = dict(conn.execute(select(table).where(table.c.id == uuid.UUID(message_id))).mappings().one())
    top = 1_000_000 + uuid.uuid4().int % 1_000_000
    return {**row, "id": uuid.uuid4(), "seq": top, "change_seq": top, "client_id": None, **changes}


def test_the_database_refuses_a_reply_of_a_reply_and_a_root_of_another_room(
    app: Flask, team: Team, elsewhere: dict[str, Any]
) -> None:
    first = reply(team.bob, team.root)
    table = ChatMessage.__table__
    reply_of_reply = {"thread_root_id": uuid.UUID(first["id"])}
    refused = {
        "a reply's reply, levels as for a root": reply_of_reply,
        "a reply's reply, its root's level forged": {**reply_of_reply, "root_thread_level": 1},
        "a reply at level 0": {**reply_of_reply, "thread_level": 0},
        "a root of another room": {"thread_root_id": uuid.UUID(elsewhere["id"])},
    }
    with app.app_context():
        with db.engine.begin() as conn:  # the control: the same copy under a real root is a valid row
            conn.execute(insert(table).values(_copy_of(conn, first["id"])))
        for case, changes in refused.items():
            with pytest.raises(IntegrityError), db.engine.begin() as conn:
                conn.execute(insert(table).values(_copy_of(conn, first["id"], **changes)))
                pytest.fail(f"stored: {case}")
        # A root with replies cannot become a reply itself either.
        other_root = team.bob.say(team.room, "another root")
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.id == uuid.UUID(team.root["id"]))
                .values(thread_root_id=uuid.UUID(other_root["id"]), thread_level=1, root_thread_level=0)
            )
    assert stored_replies(app, first["id"]) == 0
    assert stored_replies(app, elsewhere["id"]) == 0


# ---- a deleted root -------------------------------------------------------------------------------------------


def test_a_thread_lives_on_when_its_root_is_deleted(team: Team) -> None:
    reply(team.bob, team.root, "first")
    tombstone = team.alice.delete(f"{MESSAGES}/{team.root['id']}").get_json()
    assert tombstone["is_deleted"] is True and tombstone["thread"]["reply_count"] == 1
    later = reply(team.carol, team.root, "still here")
    assert later["thread_root_id"] == team.root["id"]
    root = root_now(team.bob, team.root)
    assert root["is_deleted"] is True and root["content"] is None
    assert root["thread"]["reply_count"] == 2 and root["thread"]["participant_ids"] == [team.carol.id, team.bob.id]
    assert [m["content"] for m in thread_of(team.bob, team.root)] == ["first", "still here"]


def test_a_thread_reply_may_not_quote_its_deleted_root(team: Team) -> None:
    team.alice.delete(f"{MESSAGES}/{team.root['id']}")
    quoting = post_message(team.bob, team.room, "re", thread_root_id=team.root["id"], reply_to_id=team.root["id"])
    assert set(details_of(quoting)) == {"reply_to_id"}


def test_a_reply_to_a_deleted_message_is_refused_over_the_socket(
    team: Team, sockets: Callable[..., InProcessSocket]
) -> None:
    gone = team.bob.say(team.room, "regret")
    team.bob.delete(f"{MESSAGES}/{gone['id']}")
    socket = sockets(team.carol.access_token)
    ack = socket.call("send_message", {"room_id": team.room_id, "content": "what?", "reply_to_id": gone["id"]})
    assert ack["ok"] is False and set(ack["error"]["details"]) == {"reply_to_id"}, ack
    assert ids(history_page(team.carol, team.room_id)["items"]) == [team.root["id"], gone["id"]]


# ---- the room's history and one thread's ----------------------------------------------------------------------


def test_the_room_history_leaves_replies_out_newest_before_and_after(team: Team) -> None:
    first, second = team.root, team.bob.say(team.room, "second")
    reply(team.bob, first)
    third = team.carol.say(team.room, "third")
    reply(team.carol, second)
    reply(team.alice, first)
    newest = history_page(team.bob, team.room_id, limit=2)
    assert ids(newest["items"]) == [second["id"], third["id"]]
    older = history_page(team.bob, team.room_id, limit=2, before=newest["next_cursor"])
    assert ids(older["items"]) == [first["id"]] and older["next_cursor"] is None
    assert ids(history_page(team.bob, team.room_id, after=first["id"])["items"]) == [second["id"], third["id"]]
    assert ids(history_page(team.bob, team.room_id)["items"]) == [first["id"], second["id"], third["id"]]


def test_a_thread_lists_its_replies_without_the_root_with_the_same_cursors(team: Team) -> None:
    other_root = team.bob.say(team.room, "another root")
    replies = [reply(team.bob, team.root, "r1"), reply(team.carol, team.root, "r2")]
    reply(team.alice, other_root, "elsewhere")
    replies.append(reply(team.alice, team.root, "r3"))
    assert ids(thread_of(team.carol, team.root)) == ids(replies)
    newest = history_page(team.carol, team.room_id, thread_root_id=team.root["id"], limit=2)
    assert ids(newest["items"]) == ids(replies[1:])
    older = history_page(team.carol, team.room_id, thread_root_id=team.root["id"], before=newest["next_cursor"])
    assert ids(older["items"]) == ids(replies[:1])
    assert ids(thread_of(team.carol, team.root, after=replies[0]["id"])) == ids(replies[1:])
    # Changes in the thread after r2 was sent, in change order: r3's sending, then r1's edit.
    assert team.bob.patch(f"{MESSAGES}/{replies[0]['id']}", json={"content": "r1!"}).status_code == 200
    changed = thread_of(team.carol, team.root, changed_after=replies[1]["id"])
    assert ids(changed) == [replies[2]["id"], replies[0]["id"]] and changed[1]["content"] == "r1!"


@pytest.mark.parametrize("case", ["a reply", "another room's message", "a missing id", "not a uuid"])
def test_listing_a_thread_with_a_bad_root_is_refused(team: Team, elsewhere: dict[str, Any], case: str) -> None:
    first = reply(team.bob, team.root)
    root_id = {
        "a reply": first["id"],
        "another room's message": elsewhere["id"],
        "a missing id": str(uuid.uuid4()),
        "not a uuid": "nope",
    }[case]
    response = team.bob.get(f"/api/chat/rooms/{team.room_id}/messages", query_string={"thread_root_id": root_id})
    assert set(details_of(response)) == {"thread_root_id"}


def test_changed_after_alone_carries_every_change_replies_included(team: Team) -> None:
    anchor = team.bob.say(team.room, "anchor")
    answer = reply(team.carol, team.root, "in the thread")
    changes = history_page(team.bob, team.room_id, changed_after=anchor["id"])["items"]
    # The reply, then its root, whose thread summary changed after it.
    assert ids(changes) == [answer["id"], team.root["id"]]
    assert changes[0]["thread_root_id"] == team.root["id"] and changes[1]["thread"]["reply_count"] == 1
    team.carol.delete(f"{MESSAGES}/{answer['id']}")
    changes = history_page(team.bob, team.room_id, changed_after=anchor["id"])["items"]
    assert ids(changes) == [answer["id"], team.root["id"]]
    assert changes[0]["is_deleted"] is True and changes[1]["thread"] is None


def room_as_listed(actor: Actor, room_id: str) -> dict[str, Any]:
    """The room as GET /api/chat/rooms lists it for `actor`."""
    response = actor.get("/api/chat/rooms")
    assert response.status_code == 200
    (room,) = [r for r in response.get_json()["items"] if r["id"] == room_id]
    return room


def test_replies_do_not_count_as_unread_nor_become_the_last_message(team: Team) -> None:
    reply(team.carol, team.root, "one")
    reply(team.alice, team.root, "two")
    for seen in (room_as_listed(team.bob, team.room_id), team.bob.get(f"/api/chat/rooms/{team.room_id}").get_json()):
        assert seen["unread_count"] == 1  # Alice's root only
        assert seen["last_message"]["id"] == team.root["id"]
    team.carol.say(team.room, "in the room")
    assert room_as_listed(team.bob, team.room_id)["unread_count"] == 2


# ---- the root's summary ---------------------------------------------------------------------------------------


@pytest.fixture
def crowd(api: ApiClient, team: Team) -> list[Actor]:
    """Six more members of the group."""
    people = api.users(*(f"Member {n}" for n in range(1, 7)))
    for person in people:
        assert team.alice.post(f"/api/chat/rooms/{team.room_id}/members/{person.id}").status_code in (200, 201)
    return people


def test_participants_are_the_five_most_recent_distinct_repliers_newest_first(team: Team, crowd: list[Actor]) -> None:
    u1, u2, u3, u4, u5, u6 = crowd
    replies = [reply(person, team.root) for person in (u1, u2, u1, u3, u4, u5, u6)]
    thread = root_now(team.bob, team.root)["thread"]
    assert thread["reply_count"] == 7
    assert thread["participant_ids"] == [u6.id, u5.id, u4.id, u3.id, u1.id]
    assert at(thread["last_reply_at"]) == at(replies[-1]["created_at"])


def test_deleting_a_reply_recounts_its_thread(team: Team, crowd: list[Actor]) -> None:
    u1, u2, u3, u4, u5, u6 = crowd
    replies = [reply(person, team.root) for person in (u1, u2, u1, u3, u4, u5, u6)]
    assert u6.delete(f"{MESSAGES}/{replies[-1]['id']}").status_code == 200
    thread = root_now(team.bob, team.root)["thread"]
    assert thread["reply_count"] == 6
    assert thread["participant_ids"] == [u5.id, u4.id, u3.id, u1.id, u2.id]
    assert at(thread["last_reply_at"]) == at(replies[-2]["created_at"])
    # An admin's deletion of someone's reply recounts too; the last one gone, the thread is null.
    for answer in replies[:-1]:
        assert team.alice.delete(f"{MESSAGES}/{answer['id']}").status_code == 200
    assert root_now(team.bob, team.root)["thread"] is None


# ---- events ---------------------------------------------------------------------------------------------------


def drained(socket: InProcessSocket) -> list[tuple[str, Any]]:
    """Every event the socket received since last drained, in order, as (name, payload)."""
    return [(item["name"], item["args"][0]) for item in socket.get_received()]


def test_a_reply_is_broadcast_as_new_message_then_thread_updated(
    team: Team, sockets: Callable[..., InProcessSocket]
) -> None:
    joined, elsewhere = sockets(team.carol.access_token), sockets(team.carol.access_token)
    assert joined.call("join_room", {"room_id": team.room_id})["ok"]
    drained(joined), drained(elsewhere)
    answer = reply(team.bob, team.root, "yes")
    heard = [(name, data) for name, data in drained(joined) if name in SOCKET_SERVER_EVENTS]
    assert [name for name, _ in heard] == ["new_message", "thread_updated"]
    new_message, thread_updated = heard[0][1], heard[1][1]
    assert new_message["message"]["id"] == answer["id"]
    assert new_message["message"]["thread_root_id"] == team.root["id"]
    assert set(thread_updated) == SOCKET_SERVER_EVENTS["thread_updated"]
    assert thread_updated["room_id"] == team.room_id and thread_updated["root_id"] == team.root["id"]
    assert thread_updated["thread"] == root_now(team.carol, team.root)["thread"]
    assert [name for name, _ in drained(elsewhere)] == []  # not joined: room events are not for it


def test_a_reply_sent_over_the_socket_is_broadcast_the_same_way(
    team: Team, sockets: Callable[..., InProcessSocket]
) -> None:
    sender, listener = sockets(team.bob.access_token), sockets(team.carol.access_token)
    assert listener.call("join_room", {"room_id": team.room_id})["ok"]
    drained(listener)
    ack = sender.call("send_message", {"room_id": team.room_id, "content": "yes", "thread_root_id": team.root["id"]})
    assert ack["ok"], ack
    heard = [(name, data) for name, data in drained(listener) if name in SOCKET_SERVER_EVENTS]
    assert [name for name, _ in heard] == ["new_message", "thread_updated"]
    assert heard[1][1]["thread"]["participant_ids"] == [team.bob.id]


def test_deleting_a_reply_is_broadcast_then_its_recounted_thread(
    team: Team, sockets: Callable[..., InProcessSocket]
) -> None:
    answer = reply(team.bob, team.root)
    socket = sockets(team.carol.access_token)
    assert socket.call("join_room", {"room_id": team.room_id})["ok"]
    drained(socket)
    team.bob.delete(f"{MESSAGES}/{answer['id']}")
    heard = [(name, data) for name, data in drained(socket) if name in SOCKET_SERVER_EVENTS]
    assert heard == [
        ("message_deleted", {"room_id": team.room_id, "message_id": answer["id"]}),
        ("thread_updated", {"room_id": team.room_id, "root_id": team.root["id"], "thread": None}),
    ]


# ---- following: GET /api/chat/threads ------------------------------------------------------------------------


def followed(actor: Actor, **params: Any) -> dict[str, Any]:
    """One page of the actor's followed threads."""
    response = actor.get(THREADS, query_string=params)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"items", "next_cursor"}
    return body


def followed_roots(actor: Actor) -> list[str]:
    """The root ids of every thread the actor follows, in the listed order."""
    return [item["root"]["id"] for item in followed(actor, limit=100)["items"]]


def unread_replies(actor: Actor, root: dict[str, Any]) -> int:
    """The actor's unread replies in the root's thread, as GET /api/chat/threads lists them."""
    (item,) = [i for i in followed(actor, limit=100)["items"] if i["root"]["id"] == root["id"]]
    count: int = item["unread_replies"]
    return count


def read_thread(actor: Actor, root_id: str, **body: Any) -> TestResponse:
    """POST /api/chat/threads/{root_id}/read."""
    return actor.post(f"{THREADS}/{root_id}/read", json=body)


def test_the_starter_and_repliers_follow_a_thread_others_do_not(api: ApiClient, team: Team) -> None:
    assert followed_roots(team.alice) == []  # no replies yet: no thread
    answer = reply(team.bob, team.root, "yes")
    for follower in (team.alice, team.bob):
        (item,) = followed(follower)["items"]
        assert set(item) == FOLLOWED_KEYS and set(item["root"]) == MESSAGE_KEYS
        assert item["room_id"] == team.room_id and item["root"]["id"] == team.root["id"]
        assert item["thread"] == root_now(follower, team.root)["thread"]
        assert at(item["thread"]["last_reply_at"]) == at(answer["created_at"])
    assert followed_roots(team.carol) == []
    assert followed_roots(api.register("Mallory")) == []


def test_being_mentioned_in_a_thread_follows_it(api: ApiClient, team: Team) -> None:
    dave = api.register("Dave")
    assert team.alice.post(f"/api/chat/rooms/{team.room_id}/members/{dave.id}").status_code in (200, 201)
    # Carol by a reply that names her; Dave by the root, once it has a thread; neither has replied.
    mentioning_root = team.alice.say(team.room, "Dave?", mentions=[dave.id])
    reply(team.bob, team.root, "Carol?", mentions=[team.carol.id])
    reply(team.bob, mentioning_root)
    assert followed_roots(team.carol) == [team.root["id"]]
    assert followed_roots(dave) == [mentioning_root["id"]]


def test_an_edit_that_mentions_someone_in_a_thread_makes_them_follow_it(team: Team) -> None:
    answer = reply(team.bob, team.root)
    assert followed_roots(team.carol) == []
    edited = team.bob.patch(f"{MESSAGES}/{answer['id']}", json={"content": "Carol?", "mentions": [team.carol.id]})
    assert edited.status_code == 200, edited.get_json()
    assert followed_roots(team.carol) == [team.root["id"]]


def test_threads_are_listed_most_recent_reply_first_and_paginated(team: Team) -> None:
    older_root = team.alice.say(team.room, "another")
    reply(team.bob, team.root)
    reply(team.bob, older_root)
    reply(team.carol, team.root)  # team.root's thread is now the most recent
    assert followed_roots(team.alice) == [team.root["id"], older_root["id"]]
    first = followed(team.alice, limit=1)
    assert [i["root"]["id"] for i in first["items"]] == [team.root["id"]] and first["next_cursor"]
    second = followed(team.alice, limit=1, cursor=first["next_cursor"])
    assert [i["root"]["id"] for i in second["items"]] == [older_root["id"]]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("params", [{"limit": 101}, {"limit": 0}, {"cursor": "garbage!"}])
def test_bad_paging_of_threads_is_refused(team: Team, params: dict[str, Any]) -> None:
    assert set(details_of(team.alice.get(THREADS, query_string=params))) == set(params)


def test_threads_of_a_room_one_has_left_are_not_listed(team: Team) -> None:
    reply(team.bob, team.root)
    assert followed_roots(team.bob) == [team.root["id"]]
    assert team.alice.delete(f"/api/chat/rooms/{team.room_id}/members/{team.bob.id}").status_code in (200, 204)
    assert followed_roots(team.bob) == []
    assert followed_roots(team.alice) == [team.root["id"]]


def test_a_thread_whose_root_was_deleted_is_still_followed(team: Team) -> None:
    reply(team.bob, team.root)
    team.alice.delete(f"{MESSAGES}/{team.root['id']}")
    (item,) = followed(team.bob)["items"]
    assert item["root"]["is_deleted"] is True and item["thread"]["reply_count"] == 1


def test_unread_replies_never_count_ones_own(team: Team) -> None:
    reply(team.bob, team.root, "b1")
    reply(team.alice, team.root, "a1")
    reply(team.bob, team.root, "b2")
    assert unread_replies(team.alice, team.root) == 2
    assert unread_replies(team.bob, team.root) == 1


# ---- reading a thread: POST /api/chat/threads/{root_id}/read --------------------------------------------------


def test_reading_a_thread_up_to_a_reply(team: Team) -> None:
    first, second = reply(team.bob, team.root, "b1"), reply(team.carol, team.root, "c1")
    response = read_thread(team.alice, team.root["id"], up_to=first["id"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"root_id": team.root["id"], "unread_replies": 1}
    assert unread_replies(team.alice, team.root) == 1
    assert read_thread(team.alice, team.root["id"], up_to=second["id"]).get_json()["unread_replies"] == 0
    reply(team.bob, team.root, "b2")
    assert unread_replies(team.alice, team.root) == 1


def test_a_thread_read_pointer_never_moves_back(team: Team) -> None:
    first, second = reply(team.bob, team.root), reply(team.bob, team.root)
    assert read_thread(team.alice, team.root["id"], up_to=second["id"]).get_json()["unread_replies"] == 0
    assert read_thread(team.alice, team.root["id"], up_to=first["id"]).get_json()["unread_replies"] == 0
    assert unread_replies(team.alice, team.root) == 0


def test_reading_a_thread_one_does_not_follow_does_not_follow_it(team: Team) -> None:
    answer = reply(team.bob, team.root)
    response = read_thread(team.carol, team.root["id"], up_to=answer["id"])
    assert response.get_json() == {"root_id": team.root["id"], "unread_replies": 0}
    assert followed_roots(team.carol) == []


@pytest.mark.parametrize("case", ["a reply of another thread", "the root itself", "a missing id", "not a uuid"])
def test_reading_up_to_something_that_is_no_reply_of_the_thread_is_refused(team: Team, case: str) -> None:
    other_root = team.bob.say(team.room, "another")
    reply(team.bob, team.root)
    elsewhere = reply(team.bob, other_root)
    up_to = {
        "a reply of another thread": elsewhere["id"],
        "the root itself": team.root["id"],
        "a missing id": str(uuid.uuid4()),
        "not a uuid": "nope",
    }[case]
    assert set(details_of(read_thread(team.alice, team.root["id"], up_to=up_to))) == {"up_to"}
    assert unread_replies(team.alice, team.root) == 1


@pytest.mark.parametrize("body", [{}, {"up_to": None}, {"up_to": 5}])
def test_reading_a_thread_without_a_reply_id_is_refused(team: Team, body: dict[str, Any]) -> None:
    reply(team.bob, team.root)
    assert set(details_of(read_thread(team.alice, team.root["id"], **body))) == {"up_to"}


def test_reading_a_reply_as_a_thread_is_404(team: Team) -> None:
    answer = reply(team.bob, team.root)
    assert_error(read_thread(team.alice, answer["id"], up_to=answer["id"]), 404)


def test_a_stranger_reading_a_thread_gets_the_same_404_as_for_an_unknown_one(api: ApiClient, team: Team) -> None:
    answer = reply(team.bob, team.root)
    mallory = api.register("Mallory")
    hidden = read_thread(mallory, team.root["id"], up_to=answer["id"])
    unknown = read_thread(mallory, str(uuid.uuid4()), up_to=answer["id"])
    assert_error(hidden, 404)
    assert hidden.get_json() == unknown.get_json()
