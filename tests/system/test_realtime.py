"""Socket.IO against one real gunicorn process: auth on connect, every contract event, exactly-once delivery."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.helpers.contract import BROADCAST_ROOM_KEYS, MEMBER_KEYS, MESSAGE_KEYS
from tests.helpers.factories import make_message, make_room
from tests.helpers.realtime import QUIET, WAIT, Crew, Joined, Listener, about, assert_refused, ok
from tests.helpers.servers import SECRETS, HttpUser, Server, serve_fresh
from tests.helpers.tokens import OMIT, claims_of, forge

ROOM_AND_USER = {"room_id", "user_id"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_fresh(tmp_path_factory.mktemp("realtime")) as running:
        yield running


# ---- connecting --------------------------------------------------------------------------------------------


def test_connect_emits_connected_with_the_user_id(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice = user("Alice")
    listener = connect(alice)
    assert listener.matching("connected") == [{"user_id": alice.id}]


def test_the_token_query_parameter_works_over_polling_upgraded_to_websocket(
    server: Server, user: Callable[[str], HttpUser], sockets: Callable[..., Listener]
) -> None:
    alice = user("Alice")
    listener = sockets("Alice")
    listener.client.connect(f"{server.url}?token={alice.token}", wait_timeout=WAIT)  # default: polling first
    assert listener.wait_for("connected") == {"user_id": alice.id}
    deadline = time.monotonic() + WAIT
    while listener.client.transport() != "websocket" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.client.transport() == "websocket"
    room = make_room(alice)
    listener.join(room["id"])
    sent = make_message(alice, room["id"], "over the upgraded transport")
    assert listener.exactly_one("new_message", about(sent["id"]))["message"]["content"] == "over the upgraded transport"


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "authorization_required"),
        ({}, "authorization_required"),
        ({"token": ""}, "authorization_required"),
        ({"token": 12345}, "authorization_required"),
        ({"token": "not.a.jwt"}, "invalid_token"),
        ({"token": "garbage"}, "invalid_token"),
    ],
)
def test_connect_without_a_usable_token_is_refused(
    server: Server, sockets: Callable[..., Listener], auth: Any, code: str
) -> None:
    refusal = sockets().refusal(server.url, auth)
    assert set(refusal) == {"message", "data"} and refusal["data"] == {"code": code}
    assert isinstance(refusal["message"], str) and refusal["message"]


def forged_variants(token: str) -> dict[str, tuple[str, str]]:
    """Tokens made from a real access token's claims: (token, the code the server must refuse it with)."""
    key, now = SECRETS["JWT_SECRET_KEY"], int(time.time())
    return {
        "other_key": (forge(token, "x" * 48), "invalid_token"),
        "expired": (forge(token, key, iat=now - 120, nbf=now - 120, exp=now - 60), "token_expired"),
        "unknown_user": (forge(token, key, sub=str(uuid.uuid4())), "invalid_token"),
        "no_session": (forge(token, key, sid=OMIT), "invalid_token"),
    }


@pytest.mark.parametrize("variant", ["other_key", "expired", "unknown_user", "no_session"])
def test_connect_with_a_forged_or_expired_token_is_refused(
    server: Server, user: Callable[[str], HttpUser], sockets: Callable[..., Listener], variant: str
) -> None:
    token, code = forged_variants(user("Alice").token)[variant]
    refusal = sockets().refusal(server.url, {"token": token})
    assert refusal["data"] == {"code": code}
    if code == "token_expired":
        assert "expired" in refusal["message"]


def test_connect_with_a_refresh_token_is_refused(
    server: Server, user: Callable[[str], HttpUser], sockets: Callable[..., Listener]
) -> None:
    alice = user("Alice")
    assert sockets().refusal(server.url, {"token": alice.refresh_token})["data"] == {"code": "invalid_token"}


def test_connect_with_a_logged_out_token_is_refused(
    server: Server, user: Callable[[str], HttpUser], sockets: Callable[..., Listener]
) -> None:
    alice = user("Alice")
    ok(alice.call("POST", "/api/auth/logout"), 204)
    refusal = sockets().refusal(server.url, {"token": alice.token})
    assert refusal["data"] == {"code": "token_revoked"}
    assert "revoked" in refusal["message"]
    query = sockets().refusal(f"{server.url}?token={alice.token}")
    assert query["data"] == {"code": "token_revoked"}


# ---- joining and leaving ------------------------------------------------------------------------------------


def test_join_and_leave_tell_the_caller_and_the_others(crew: Crew, connect: Callable[..., Listener]) -> None:
    alice, bob, room_id = crew
    alice_socket, bob_socket = connect(alice), connect(bob)
    alice_socket.join(room_id)
    assert alice_socket.exactly_one("room_joined") == {"room_id": room_id}
    bob_socket.join(room_id)
    assert bob_socket.wait_for("room_joined") == {"room_id": room_id}
    assert alice_socket.exactly_one("user_joined") == {"room_id": room_id, "user_id": bob.id}
    assert not bob_socket.matching("user_joined", lambda d: d["user_id"] == bob.id)  # not to the joiner

    assert bob_socket.call("leave_room", {"room_id": room_id}) == {"ok": True, "room_id": room_id}
    assert bob_socket.exactly_one("room_left") == {"room_id": room_id}
    assert alice_socket.exactly_one("user_left") == {"room_id": room_id, "user_id": bob.id}
    make_message(alice, room_id, "after bob left")
    alice_socket.wait_for("new_message")
    bob_socket.assert_no("new_message")


def test_leaving_a_room_never_joined_is_quiet(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice = user("Alice")
    room_id = make_room(alice)["id"]
    listener = connect(alice)
    assert listener.call("leave_room", {"room_id": room_id}) == {"ok": True, "room_id": room_id}
    listener.assert_no("room_left")


def test_a_non_member_cannot_join_and_learns_nothing_about_the_room(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, mallory = user("Alice"), user("Mallory")
    room_id = make_room(alice)["id"]
    listener = connect(mallory)
    hidden = listener.call("join_room", {"room_id": room_id})
    unknown = listener.call("join_room", {"room_id": str(uuid.uuid4())})
    assert_refused(hidden, "room_not_found")
    assert hidden == unknown
    assert listener.wait_for("error") == hidden["error"]
    make_message(alice, room_id, "secret")
    listener.assert_no("new_message")
    assert not listener.matching("room_joined")


# ---- messages ----------------------------------------------------------------------------------------------


def test_send_message_over_the_socket_broadcasts_the_message_once(joined: Joined) -> None:
    alice, bob, room_id, alice_socket, bob_socket = joined
    ack = alice_socket.call("send_message", {"room_id": room_id, "content": "héllo 🚀"})
    assert ack["ok"] is True and ack["created"] is True
    message = ack["message"]
    assert set(message) == MESSAGE_KEYS
    assert (message["room_id"], message["sender_id"], message["content"]) == (room_id, alice.id, "héllo 🚀")
    for listener in (alice_socket, bob_socket):
        event = listener.exactly_one("new_message")
        assert set(event) == {"room_id", "message"}
        assert event == {"room_id": room_id, "message": message}
    history = ok(bob.call("GET", f"/api/chat/rooms/{room_id}/messages"))["items"]
    assert [m["content"] for m in history] == ["héllo 🚀"]


def test_a_reply_sent_over_the_socket_carries_its_preview(joined: Joined) -> None:
    alice, _, room_id, _, bob_socket = joined
    first = make_message(alice, room_id, "question?")
    ack = bob_socket.call("send_message", {"room_id": room_id, "content": "answer", "reply_to_id": first["id"]})
    assert ack["ok"] is True
    event = bob_socket.exactly_one("new_message", about(ack["message"]["id"]))
    assert event["message"]["reply_to_id"] == first["id"]
    assert event["message"]["reply_to"]["content"] == "question?"


def test_a_client_id_retry_over_rest_and_socket_broadcasts_once(joined: Joined) -> None:
    alice, _, room_id, alice_socket, bob_socket = joined
    first = make_message(alice, room_id, "once", client_id="c-1")
    retried = alice_socket.call("send_message", {"room_id": room_id, "content": "once", "client_id": "c-1"})
    assert retried["ok"] is True and retried["created"] is False and retried["message"] == first
    again = alice.call("POST", "/api/chat/messages", json={"room_id": room_id, "content": "once", "client_id": "c-1"})
    assert ok(again)["id"] == first["id"]
    assert bob_socket.exactly_one("new_message")["message"]["id"] == first["id"]


def test_a_socket_send_retried_with_its_client_id_broadcasts_once(joined: Joined) -> None:
    _, _, room_id, alice_socket, bob_socket = joined
    body = {"room_id": room_id, "content": "retry me", "client_id": "c-2"}
    first, second = alice_socket.call("send_message", body), alice_socket.call("send_message", body)
    assert (first["created"], second["created"]) == (True, False)
    assert second["message"]["id"] == first["message"]["id"]
    assert bob_socket.exactly_one("new_message")["message"]["id"] == first["message"]["id"]


@pytest.mark.parametrize("with_room_id", [False, True])
def test_notify_only_send_message_broadcasts_nothing_again(joined: Joined, with_room_id: bool) -> None:
    alice, bob, room_id, alice_socket, bob_socket = joined
    sent = make_message(alice, room_id, "posted over REST")
    bob_socket.wait_for("new_message", about(sent["id"]))
    notify = {"message_id": sent["id"], **({"room_id": room_id} if with_room_id else {})}
    ack = alice_socket.call("send_message", notify)
    assert ack["ok"] is True and ack["created"] is False and ack["message"]["id"] == sent["id"]
    time.sleep(QUIET)
    assert len(bob_socket.matching("new_message")) == 1
    history = ok(bob.call("GET", f"/api/chat/rooms/{room_id}/messages"))["items"]
    assert [m["id"] for m in history] == [sent["id"]]


def test_notify_only_send_message_names_the_room_of_its_message(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice = user("Alice")
    room_id, other_room_id = make_room(alice)["id"], make_room(alice, name="Other")["id"]
    sent = make_message(alice, room_id)
    ack = connect(alice).call("send_message", {"message_id": sent["id"], "room_id": other_room_id})
    assert "room_id" in assert_refused(ack, "validation_failed")["details"]


def test_notify_only_for_a_message_you_cannot_see_is_not_found(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, mallory = user("Alice"), user("Mallory")
    sent = make_message(alice, make_room(alice)["id"], "private")
    listener = connect(mallory)
    hidden = listener.call("send_message", {"message_id": sent["id"]})
    unknown = listener.call("send_message", {"message_id": str(uuid.uuid4())})
    assert_refused(hidden, "message_not_found")
    assert hidden == unknown


@pytest.mark.parametrize(
    ("event", "make_payload", "code"),
    [
        ("send_message", lambda room, message: {"room_id": room, "content": "hi"}, "room_not_found"),
        ("mark_as_read", lambda room, message: {"room_id": room, "up_to": message}, "room_not_found"),
        ("message_edited", lambda room, message: {"message_id": message, "content": "x"}, "message_not_found"),
        ("message_deleted", lambda room, message: {"message_id": message}, "message_not_found"),
    ],
)
def test_a_non_members_event_gets_the_same_error_as_for_unknown_ids(
    user: Callable[[str], HttpUser],
    connect: Callable[..., Listener],
    event: str,
    make_payload: Callable[[str, str], dict[str, Any]],
    code: str,
) -> None:
    alice, mallory = user("Alice"), user("Mallory")
    room_id = make_room(alice)["id"]
    message = make_message(alice, room_id, "private")
    listener = connect(mallory)
    hidden = listener.call(event, make_payload(room_id, message["id"]))
    unknown = listener.call(event, make_payload(str(uuid.uuid4()), str(uuid.uuid4())))
    assert_refused(hidden, code)
    assert hidden == unknown
    assert listener.wait_for("error") == hidden["error"]
    (stored,) = ok(alice.call("GET", f"/api/chat/rooms/{room_id}/messages"))["items"]
    assert stored == message


def test_edits_broadcast_once_and_an_unchanged_edit_is_a_no_op(joined: Joined) -> None:
    alice, _, room_id, alice_socket, bob_socket = joined
    sent = make_message(alice, room_id, "typo")
    edit = {"message_id": sent["id"], "content": "fixed ✓"}
    first, second = alice_socket.call("message_edited", edit), alice_socket.call("message_edited", edit)
    assert (first["ok"], first["changed"], second["ok"], second["changed"]) == (True, True, True, False)
    ok(alice.call("PATCH", f"/api/chat/messages/{sent['id']}", json={"content": "fixed ✓"}))
    event = bob_socket.exactly_one("message_edited")
    assert set(event) == {"room_id", "message"} and event["room_id"] == room_id
    assert set(event["message"]) == MESSAGE_KEYS
    assert (event["message"]["id"], event["message"]["content"], event["message"]["is_edited"]) == (
        sent["id"],
        "fixed ✓",
        True,
    )
    assert event["message"]["edited_at"] is not None


def test_a_rest_edit_reaches_joined_sockets(joined: Joined) -> None:
    alice, _, room_id, _, bob_socket = joined
    sent = make_message(alice, room_id, "draft")
    ok(alice.call("PATCH", f"/api/chat/messages/{sent['id']}", json={"content": "final"}))
    assert bob_socket.exactly_one("message_edited", about(sent["id"]))["message"]["content"] == "final"


@pytest.mark.parametrize(
    ("editor", "deleted_first", "code"),
    [("Bob", False, "not_sender"), ("Alice", True, "message_deleted"), ("Mallory", False, "message_not_found")],
)
def test_an_edit_that_is_not_allowed_is_refused(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener], editor: str, deleted_first: bool, code: str
) -> None:
    people = {"Alice": user("Alice"), "Bob": user("Bob"), "Mallory": user("Mallory")}
    room_id = make_room(people["Alice"], people["Bob"])["id"]
    sent = make_message(people["Alice"], room_id, "mine")
    if deleted_first:
        ok(people["Alice"].call("DELETE", f"/api/chat/messages/{sent['id']}"))
    listener = connect(people[editor])
    assert_refused(listener.call("message_edited", {"message_id": sent["id"], "content": "hacked"}), code)
    assert listener.wait_for("error")["code"] == code
    (stored,) = ok(people["Alice"].call("GET", f"/api/chat/rooms/{room_id}/messages"))["items"]
    assert (stored["content"], stored["is_edited"]) == (None if deleted_first else "mine", False)


def test_deletes_broadcast_once_and_a_repeat_is_a_no_op(joined: Joined) -> None:
    alice, _, room_id, alice_socket, bob_socket = joined
    sent = make_message(alice, room_id, "oops")
    first = alice_socket.call("message_deleted", {"message_id": sent["id"]})
    second = alice_socket.call("message_deleted", {"message_id": sent["id"]})
    assert (first["ok"], first["changed"], second["ok"], second["changed"]) == (True, True, True, False)
    assert first["message"]["is_deleted"] is True and first["message"]["content"] is None
    ok(alice.call("DELETE", f"/api/chat/messages/{sent['id']}"))
    assert bob_socket.exactly_one("message_deleted") == {"room_id": room_id, "message_id": sent["id"]}


def test_an_admin_deletes_others_messages_but_a_member_cannot(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, bob, carol = user("Alice"), user("Bob"), user("Carol")
    room_id = make_room(alice, bob, carol)["id"]
    by_bob = make_message(bob, room_id, "bob's")
    assert_refused(connect(carol).call("message_deleted", {"message_id": by_bob["id"]}), "not_allowed")
    assert connect(alice).call("message_deleted", {"message_id": by_bob["id"]})["changed"] is True


# ---- read receipts -----------------------------------------------------------------------------------------


def test_mark_as_read_tells_the_room_once_per_new_receipt(joined: Joined) -> None:
    alice, bob, room_id, alice_socket, bob_socket = joined
    first, second = make_message(alice, room_id, "one"), make_message(alice, room_id, "two")

    ack = bob_socket.call("mark_as_read", {"room_id": room_id, "message_ids": [first["id"]]})
    assert ack["ok"] is True and ack["message_ids"] == [first["id"]] and ack["unread_count"] == 1
    event = alice_socket.exactly_one("messages_read")
    assert set(event) == {"room_id", "user_id", "message_ids", "read_at"}
    assert (event["room_id"], event["user_id"], event["message_ids"]) == (room_id, bob.id, [first["id"]])

    up_to = bob_socket.call("mark_as_read", {"room_id": room_id, "up_to": second["id"]})
    assert up_to["message_ids"] == [second["id"]] and up_to["unread_count"] == 0
    alice_socket.wait_for("messages_read", lambda d: d["message_ids"] == [second["id"]])
    repeat = bob_socket.call("mark_as_read", {"room_id": room_id, "up_to": second["id"]})
    assert repeat["ok"] is True and repeat["message_ids"] == []
    time.sleep(QUIET)
    assert len(alice_socket.matching("messages_read")) == 2
    assert bob.rooms()[room_id]["unread_count"] == 0


def test_mark_as_read_of_another_rooms_message_is_refused(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, bob = user("Alice"), user("Bob")
    room_id, other_id = make_room(alice, bob)["id"], make_room(alice, bob, name="Other")["id"]
    elsewhere = make_message(alice, other_id)
    ack = connect(bob).call("mark_as_read", {"room_id": room_id, "message_ids": [elsewhere["id"]]})
    assert "message_ids" in assert_refused(ack, "validation_failed")["details"]
    assert bob.rooms()[other_id]["unread_count"] == 1


# ---- typing ------------------------------------------------------------------------------------------------


def test_typing_reaches_the_others_only_and_is_throttled_unless_it_flips(joined: Joined) -> None:
    alice, _, room_id, alice_socket, bob_socket = joined
    typing = {"room_id": room_id, "is_typing": True}
    assert alice_socket.call("typing", typing) == {"ok": True, "forwarded": True}
    assert alice_socket.call("typing", typing) == {"ok": True, "forwarded": False}
    assert bob_socket.exactly_one("user_typing") == {"room_id": room_id, "user_id": alice.id, "is_typing": True}

    assert alice_socket.call("typing", {**typing, "is_typing": False}) == {"ok": True, "forwarded": True}
    stopped = bob_socket.wait_for("user_typing", lambda d: d["is_typing"] is False)
    assert stopped == {"room_id": room_id, "user_id": alice.id, "is_typing": False}
    alice_socket.assert_no("user_typing")


def test_typing_is_forwarded_again_after_the_interval(joined: Joined) -> None:
    alice, _, room_id, alice_socket, bob_socket = joined
    typing = {"room_id": room_id, "is_typing": True}
    assert alice_socket.call("typing", typing)["forwarded"] is True
    time.sleep(1.1)  # TYPING_MIN_INTERVAL_MS defaults to 1000
    assert alice_socket.call("typing", typing)["forwarded"] is True
    assert bob_socket.wait_for_count("user_typing", 2)[1] == {**typing, "user_id": alice.id}


def test_typing_in_a_room_not_joined_is_refused(crew: Crew, connect: Callable[..., Listener]) -> None:
    alice, bob, room_id = crew
    bob_socket = connect(bob)
    bob_socket.join(room_id)
    ack = connect(alice).call("typing", {"room_id": room_id, "is_typing": True})
    assert "room_id" in assert_refused(ack, "validation_failed")["details"]
    bob_socket.assert_no("user_typing")


# ---- who receives what -------------------------------------------------------------------------------------


def test_a_socket_that_never_joined_gets_membership_events_but_no_room_events(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, bob, carol = user("Alice"), user("Bob"), user("Carol")
    bob_socket, carol_socket, alice_socket = connect(bob), connect(carol), connect(alice)
    room = make_room(alice, bob, name="Launch")
    room_id = room["id"]
    created = bob_socket.exactly_one("room_created")
    assert set(created) == {"room"} and set(created["room"]) == BROADCAST_ROOM_KEYS
    assert created["room"]["id"] == room_id and created["room"]["name"] == "Launch"
    assert {m["user_id"] for m in created["room"]["members"]} == {alice.id, bob.id}
    assert all(set(m) == MEMBER_KEYS for m in created["room"]["members"])
    assert alice_socket.exactly_one("room_created")["room"]["id"] == room_id
    carol_socket.assert_no("room_created")

    ok(alice.call("PATCH", f"/api/chat/rooms/{room_id}", json={"name": "Liftoff"}))
    updated = bob_socket.exactly_one("room_updated")
    assert set(updated) == {"room"} and set(updated["room"]) == BROADCAST_ROOM_KEYS
    assert updated["room"]["name"] == "Liftoff"

    ok(alice.call("POST", f"/api/chat/rooms/{room_id}/members/{carol.id}"), 201)
    assert carol_socket.exactly_one("member_added") == {"room_id": room_id, "user_id": carol.id}

    alice_socket.join(room_id)
    sent = make_message(alice, room_id, "room event")
    alice_socket.wait_for("new_message", about(sent["id"]))
    bob_socket.assert_no("new_message")
    carol_socket.assert_no("new_message")

    ok(alice.call("DELETE", f"/api/chat/rooms/{room_id}/members/{carol.id}"), 204)
    assert carol_socket.exactly_one("member_removed") == {"room_id": room_id, "user_id": carol.id}
    assert alice_socket.exactly_one("member_removed") == {"room_id": room_id, "user_id": carol.id}
    bob_socket.assert_no("member_removed")


def test_a_joined_member_gets_a_room_update_once_not_once_per_channel(joined: Joined) -> None:
    alice, bob, room_id, _, bob_socket = joined
    ok(alice.call("PATCH", f"/api/chat/rooms/{room_id}", json={"description": "now with topic"}))
    assert bob_socket.exactly_one("room_updated")["room"]["description"] == "now with topic"
    ok(alice.call("POST", f"/api/chat/rooms/{room_id}/members/{bob.id}", json={"is_admin": True}))
    assert bob_socket.wait_for(
        "room_updated", lambda d: len(d["room"]["members"]) == 2 and all(m["is_admin"] for m in d["room"]["members"])
    )
    time.sleep(QUIET)
    assert len(bob_socket.matching("room_updated")) == 2


def test_every_socket_of_a_user_hears_about_a_new_room(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, bob = user("Alice"), user("Bob")
    phone, laptop = connect(bob), connect(bob, bob.login_again())
    room = ok(alice.call("POST", "/api/chat/rooms", json={"room_type": "direct", "member_ids": [bob.id]}), 201)
    for listener in (phone, laptop):
        event = listener.exactly_one("room_created")
        assert event["room"]["id"] == room["id"] and event["room"]["room_type"] == "direct"
        assert event["room"]["name"] is None


def test_a_removed_member_hears_of_it_and_then_nothing_more_of_the_room(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, bob, carol = user("Alice"), user("Bob"), user("Carol")
    room_id = make_room(alice, bob, carol)["id"]
    bob_socket, carol_socket = connect(bob), connect(carol)
    bob_socket.join(room_id)
    carol_socket.join(room_id)
    ok(alice.call("DELETE", f"/api/chat/rooms/{room_id}/members/{carol.id}"), 204)
    assert carol_socket.exactly_one("member_removed") == {"room_id": room_id, "user_id": carol.id}
    assert bob_socket.exactly_one("member_removed") == {"room_id": room_id, "user_id": carol.id}

    later = make_message(alice, room_id, "after carol left")
    ok(alice.call("PATCH", f"/api/chat/messages/{later['id']}", json={"content": "edited after"}))
    bob_socket.wait_for("message_edited", about(later["id"]))
    carol_socket.assert_no("new_message")
    carol_socket.assert_no("message_edited", within=0)
    assert_refused(carol_socket.call("join_room", {"room_id": room_id}), "room_not_found")


def test_a_member_who_leaves_over_rest_stops_receiving_the_room(joined: Joined) -> None:
    alice, bob, room_id, alice_socket, bob_socket = joined
    ok(bob.call("DELETE", f"/api/chat/rooms/{room_id}/members/{bob.id}"), 204)
    assert bob_socket.exactly_one("member_removed") == {"room_id": room_id, "user_id": bob.id}
    sent = make_message(alice, room_id, "anyone?")
    alice_socket.wait_for("new_message", about(sent["id"]))
    bob_socket.assert_no("new_message")


# ---- bad payloads ------------------------------------------------------------------------------------------

ROOM = "00000000-0000-4000-8000-000000000000"  # replaced by a real room id in the test
BAD_PAYLOADS = [
    ("join_room", None, "_schema"),
    ("join_room", "a string", "_schema"),
    ("join_room", ["room_id"], "_schema"),
    ("join_room", {}, "room_id"),
    ("join_room", {"room_id": "not-a-uuid"}, "room_id"),
    ("join_room", {"room_id": 42}, "room_id"),
    ("leave_room", {"room_id": None}, "room_id"),
    ("send_message", {}, "room_id"),
    ("send_message", {"room_id": ROOM}, "content"),
    ("send_message", {"room_id": ROOM, "content": "   "}, "content"),
    ("send_message", {"room_id": ROOM, "content": 7}, "content"),
    ("send_message", {"room_id": ROOM, "content": "nul \u0000 byte"}, "content"),
    ("send_message", {"room_id": ROOM, "content": "lone \ud800"}, "content"),
    ("send_message", {"room_id": ROOM, "content": "x" * 10_001}, "content"),
    ("send_message", {"room_id": ROOM, "content": "hi", "client_id": ""}, "client_id"),
    ("send_message", {"room_id": ROOM, "content": "hi", "reply_to_id": str(uuid.uuid4())}, "reply_to_id"),
    ("send_message", {"room_id": ROOM, "content": "hi", "message_type": "hologram"}, "message_type"),
    ("send_message", {"message_id": "not-a-uuid"}, "message_id"),
    ("typing", {"room_id": ROOM}, "is_typing"),
    ("typing", {"room_id": ROOM, "is_typing": "maybe"}, "is_typing"),
    ("typing", {"is_typing": True}, "room_id"),
    ("message_edited", {"message_id": str(uuid.uuid4())}, "content"),
    ("message_edited", {"content": "x"}, "message_id"),
    ("message_edited", {"message_id": "nope", "content": "x"}, "message_id"),
    ("message_edited", {"message_id": str(uuid.uuid4()), "content": "a\u0000b"}, "content"),
    ("message_deleted", {}, "message_id"),
    ("message_deleted", {"message_id": [1]}, "message_id"),
    ("mark_as_read", {"room_id": ROOM}, "_schema"),
    ("mark_as_read", {"room_id": ROOM, "message_ids": [str(uuid.uuid4())], "up_to": str(uuid.uuid4())}, "_schema"),
    ("mark_as_read", {"room_id": ROOM, "message_ids": []}, "message_ids"),
    ("mark_as_read", {"room_id": ROOM, "message_ids": "all"}, "message_ids"),
    ("mark_as_read", {"room_id": ROOM, "message_ids": ["nope"]}, "message_ids"),
    ("mark_as_read", {"room_id": ROOM, "up_to": 3}, "up_to"),
    ("mark_as_read", {"message_ids": [str(uuid.uuid4())]}, "room_id"),
]


def with_room(payload: Any, room_id: str) -> Any:
    if isinstance(payload, dict):
        return {k: room_id if v == ROOM else v for k, v in payload.items()}
    return payload


@pytest.mark.parametrize(("event", "payload", "field"), BAD_PAYLOADS)
def test_a_bad_payload_is_a_validation_error_not_a_dropped_connection(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener], event: str, payload: Any, field: str
) -> None:
    alice = user("Alice")
    room_id = make_room(alice)["id"]
    listener = connect(alice)
    listener.join(room_id)
    ack = listener.call(event, with_room(payload, room_id))
    error = assert_refused(ack, "validation_failed")
    details = error["details"]
    assert field in details, details
    assert all(isinstance(v, list) and v and all(isinstance(s, str) for s in v) for v in details.values()), details
    assert listener.wait_for("error") == error
    assert listener.client.connected
    assert listener.call("leave_room", {"room_id": room_id}) == {"ok": True, "room_id": room_id}
    assert ok(alice.call("GET", f"/api/chat/rooms/{room_id}/messages"))["items"] == []


# ---- tokens that stop being valid while connected ----------------------------------------------------------


def test_logout_disconnects_that_sessions_sockets_only(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice = user("Alice")
    other_token = alice.login_again()
    room_id = make_room(alice)["id"]
    this_session, other_session = connect(alice), connect(alice, other_token)
    ok(alice.call("POST", "/api/auth/logout"), 204)
    this_session.wait_for("disconnect")
    assert not this_session.client.connected
    other_session.assert_no("disconnect")
    other_session.join(room_id)
    assert other_session.call("typing", {"room_id": room_id, "is_typing": True})["ok"] is True


@pytest.fixture(scope="module")
def short_token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose access tokens live two seconds."""
    with serve_fresh(tmp_path_factory.mktemp("short"), JWT_ACCESS_TOKEN_EXPIRES="2") as running:
        yield running


def test_an_event_after_the_token_expired_is_refused_and_disconnects(
    short_token_server: Server, http: requests.Session, sockets: Callable[..., Listener]
) -> None:
    alice = HttpUser(http, short_token_server.url, "Alice")
    room_id = make_room(alice)["id"]
    listener = sockets("Alice")
    listener.connect(short_token_server.url, {"token": alice.token})
    listener.join(room_id)
    time.sleep(max(0.0, claims_of(alice.token)["exp"] - time.time()) + 1)
    ack = listener.call("send_message", {"room_id": room_id, "content": "too late"})
    error = assert_refused(ack, "token_expired")
    assert listener.wait_for("error") == error and "expired" in error["message"]
    listener.wait_for("disconnect")
    assert not listener.client.connected
    refreshed = http.post(
        f"{short_token_server.url}/api/auth/refresh",
        headers={"Authorization": f"Bearer {alice.refresh_token}"},
        timeout=10,
    )
    alice.token = ok(refreshed)["access_token"]
    assert ok(alice.call("GET", f"/api/chat/rooms/{room_id}/messages"))["items"] == []
