"""Authorization over Socket.IO on a real gunicorn server with python-socketio clients: the most important cells
of the matrix (tests/api/test_authorization_socket.py), and tokens a real connection must refuse."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.helpers.factories import make_message, make_room
from tests.helpers.realtime import Listener, about, assert_refused, ok
from tests.helpers.servers import SECRETS, HttpUser, Server, serve_fresh
from tests.helpers.tokens import OMIT, forge


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Registering is not what these tests are about: a cheap password hash, and no limit on registrations.
    settings = {"PASSWORD_HASH_METHOD": "scrypt:1024:8:1", "RATE_LIMIT_ENABLED": "false"}
    with serve_fresh(tmp_path_factory.mktemp("authorization"), **settings) as running:
        yield running


REAL_EVENTS: dict[str, tuple[Callable[[str, str], dict[str, Any]], str]] = {
    "join_room": (lambda room, message: {"room_id": room}, "room_not_found"),
    "send_message": (lambda room, message: {"room_id": room, "content": "let me in"}, "room_not_found"),
    "typing": (lambda room, message: {"room_id": room, "is_typing": True}, "validation_failed"),
    "mark_as_read": (lambda room, message: {"room_id": room, "up_to": message}, "room_not_found"),
    "add_reaction": (lambda room, message: {"message_id": message, "emoji": "\N{THUMBS UP SIGN}"}, "message_not_found"),
    "remove_reaction": (lambda room, message: {"message_id": message, "emoji": "\N{EYES}"}, "message_not_found"),
}


@pytest.mark.parametrize("event", list(REAL_EVENTS))
@pytest.mark.parametrize("who", ["non_member", "removed_while_joined"])
def test_on_a_real_server_an_outsiders_event_gets_the_answer_for_a_missing_room_and_reaches_nobody(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener], who: str, event: str
) -> None:
    alice, bob, carol = user("Alice"), user("Bob"), user("Carol")
    room = make_room(alice, bob)["id"]
    first = make_message(alice, room, "before")
    if who == "removed_while_joined":  # a reaction of Bob's from when he was a member, for remove_reaction
        ok(bob.call("PUT", f"/api/chat/messages/{first['id']}/reactions/\N{EYES}"))
    watcher = connect(alice)
    watcher.join(room)
    if who == "removed_while_joined":
        intruder = connect(bob)
        intruder.join(room)
        ok(alice.call("DELETE", f"/api/chat/rooms/{room}/members/{bob.id}"), 204)
        intruder.wait_for("member_removed")
        watcher.wait_for("member_removed")
    else:
        intruder = connect(carol)
    seen = len(watcher.events)
    payload, code = REAL_EVENTS[event]
    hidden = intruder.call(event, payload(room, first["id"]))
    missing = intruder.call(event, payload(str(uuid.uuid4()), str(uuid.uuid4())))
    assert_refused(hidden, code)
    assert hidden == missing
    assert intruder.wait_for("error") == hidden["error"]
    # Events of one process reach a socket in order: once Alice's own message arrives, anything the refused event
    # had caused would have arrived before it.
    sentinel = make_message(alice, room, "sentinel")
    watcher.wait_for("new_message", about(sentinel["id"]))
    assert [(name, data) for name, data in watcher.events[seen:]] == [
        ("new_message", {"room_id": room, "message": sentinel})
    ]
    history = ok(alice.call("GET", f"/api/chat/rooms/{room}/messages"))["items"]
    assert [m["id"] for m in history] == [first["id"], sentinel["id"]]
    assert history[0]["content"] == "before"


@pytest.mark.parametrize("kind", ["alg_none", "hs384_same_key", "no_exp", "sibling_of_a_logged_out_token"])
def test_on_a_real_server_a_bad_token_cannot_connect(
    server: Server,
    http: requests.Session,
    user: Callable[[str], HttpUser],
    sockets: Callable[..., Listener],
    connect: Callable[..., Listener],
    kind: str,
) -> None:
    alice = user("Alice")
    if kind == "sibling_of_a_logged_out_token":
        # The refresh flow's new access token belongs to the same login: logging out with the first revokes both.
        refreshed = http.post(
            f"{server.url}/api/auth/refresh", headers={"Authorization": f"Bearer {alice.refresh_token}"}, timeout=10
        )
        token, code = ok(refreshed)["access_token"], "token_revoked"
        ok(alice.call("POST", "/api/auth/logout"), 204)
    else:
        token, code = {
            "alg_none": (forge(alice.token, None, algorithm="none"), "invalid_token"),
            "hs384_same_key": (forge(alice.token, SECRETS["JWT_SECRET_KEY"], algorithm="HS384"), "invalid_token"),
            "no_exp": (forge(alice.token, SECRETS["JWT_SECRET_KEY"], exp=OMIT), "invalid_token"),
        }[kind]
    refusal = sockets("Alice").refusal(server.url, {"token": token})
    assert refusal["data"] == {"code": code} and refusal["message"]
    # The genuine token still works, unless that login was logged out.
    if code != "token_revoked":
        connect(alice)
