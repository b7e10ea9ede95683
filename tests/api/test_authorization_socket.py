"""Authorization matrix, Socket.IO: every client -> server event x actor x target, and every kind of bad token.

The cells run through Flask-SocketIO's in-process test client on the cast of the REST matrix
(tests/helpers/authorization.py). An event that does what a REST call does must answer what that call's row in the
REST tables says, so the two can never drift apart; the events with no REST twin have their own rows below.
The most important cells run again against a real gunicorn server: tests/system/test_authorization_socket.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from armada.extensions import db, socketio
from armada.models import RevokedSession, utcnow
from tests.helpers.authorization import (
    CALLER_POLICY,
    KEPT,
    MESSAGE_POLICY,
    NA,
    NEW_EMOJI,
    NO_MESSAGE,
    NO_ROOM,
    READ,
    ROOM_POLICY,
    TOKEN_CODES,
    Outcome,
    Row,
    Scene,
    assert_cells,
    assert_effect,
    bad_token,
    cells,
    everyone,
    forged,
    new_id,
    people,
    snapshot,
    stage,
    unknown,
    worlds,
)
from tests.helpers.in_process import InProcessSocket
from tests.helpers.realtime import assert_refused
from tests.helpers.support import ApiClient
from tests.helpers.tokens import claims_of

WAIT = 5.0  # seconds a server-side disconnect may take


# ---- the policy ------------------------------------------------------------------------------------------------

SocketCall = Callable[[InProcessSocket, Scene, str], Any]


def typing_after_joining(socket: InProcessSocket, scene: Scene, room: str) -> Any:
    """Try to join the room, then say one is typing there: the typing acknowledgement."""
    socket.call("join_room", {"room_id": room})
    return socket.call("typing", {"room_id": room, "is_typing": True})


def send_file(socket: InProcessSocket, room: str, media_url: str) -> Any:
    """send_message of a file message carrying the upload `media_url`: its acknowledgement."""
    return socket.call("send_message", {"room_id": room, "message_type": "file", "media_url": media_url})


# Events that do what a REST call does: event name, the REST row it answers like, and its payload.
MIRRORED: dict[str, tuple[str, SocketCall]] = {
    "send_message": ("send", lambda c, s, room: c.call("send_message", {"room_id": room, "content": "hi"})),
    "mark_as_read": (
        "mark_read",
        lambda c, s, room: c.call("mark_as_read", {"room_id": room, "up_to": s.ids["others_message"]}),
    ),
    "message_edited": ("edit", lambda c, s, m: c.call("message_edited", {"message_id": m, "content": "edited"})),
    "message_deleted": ("delete", lambda c, s, m: c.call("message_deleted", {"message_id": m})),
    "send_message:reply": (
        "reply",
        lambda c, s, m: c.call("send_message", {"room_id": s.room, "content": "re", "reply_to_id": m}),
    ),
    "send_message:forward_here": (
        "forward_here",
        lambda c, s, m: c.call("send_message", {"room_id": s.room, "forwarded_from_id": m}),
    ),
    "send_message:forward_out": (
        "forward_out",
        lambda c, s, m: c.call("send_message", {"room_id": s.ids["side_room"], "forwarded_from_id": m}),
    ),
    "mark_as_read:message_ids": (
        "read_ids",
        lambda c, s, m: c.call("mark_as_read", {"room_id": s.room, "message_ids": [m]}),
    ),
    "mark_as_read:up_to": ("read_up_to", lambda c, s, m: c.call("mark_as_read", {"room_id": s.room, "up_to": m})),
    "send_message:media": ("send_media", lambda c, s, media: send_file(c, s.room, media)),
    "send_message:media_out": ("send_media_out", lambda c, s, media: send_file(c, s.ids["side_room"], media)),
    "send_message:thread": (
        "thread_reply",
        lambda c, s, m: c.call("send_message", {"room_id": s.room, "content": "re", "thread_root_id": m}),
    ),
    "send_message:mention": (
        "mention",
        lambda c, s, user: c.call("send_message", {"room_id": s.room, "content": "hi you", "mentions": [user]}),
    ),
    "add_reaction": ("react", lambda c, s, m: c.call("add_reaction", {"message_id": m, "emoji": NEW_EMOJI})),
    "add_reaction:again": ("react_again", lambda c, s, m: c.call("add_reaction", {"message_id": m, "emoji": KEPT})),
    "add_reaction:text": ("react_text", lambda c, s, m: c.call("add_reaction", {"message_id": m, "emoji": "ok"})),
    "remove_reaction": ("unreact", lambda c, s, m: c.call("remove_reaction", {"message_id": m, "emoji": KEPT})),
}

QUIET = Outcome(200, changes=False, like_missing=True)  # allowed for anyone, and tells nothing
NOT_JOINED = unknown("room_id")  # typing is only for a room the socket joined

# Events with no REST twin: (event, target) -> outcome per role.
#                                          owner    admin    member   removed     non_member
SOCKET_POLICY: dict[tuple[str, str], Row] = {
    ("join_room", "room"): (READ, READ, READ, NO_ROOM, NO_ROOM),
    ("join_room", "other_room"): everyone(NO_ROOM),
    ("join_room", "missing_room"): everyone(NO_ROOM),
    ("leave_room", "room"): everyone(QUIET),
    ("leave_room", "other_room"): everyone(QUIET),
    ("leave_room", "missing_room"): everyone(QUIET),
    ("typing", "room"): (READ, READ, READ, NOT_JOINED, NOT_JOINED),
    ("typing", "other_room"): everyone(NOT_JOINED),
    ("typing", "missing_room"): everyone(NOT_JOINED),
    # send_message {message_id}: the seed's "I posted this over REST" notice; it sends nothing again.
    ("notify", "own_message"): (READ, READ, READ, NO_MESSAGE, NA),
    ("notify", "others_message"): (READ, READ, READ, NO_MESSAGE, NO_MESSAGE),
    ("notify", "own_deleted"): (READ, READ, READ, NO_MESSAGE, NA),
    ("notify", "others_deleted"): (READ, READ, READ, NO_MESSAGE, NO_MESSAGE),
    ("notify", "side_message"): everyone(READ),
    ("notify", "foreign_message"): everyone(NO_MESSAGE),
    ("notify", "missing_message"): everyone(NO_MESSAGE),
}
SOCKET_ONLY: dict[str, SocketCall] = {
    "join_room": lambda c, s, room: c.call("join_room", {"room_id": room}),
    "leave_room": lambda c, s, room: c.call("leave_room", {"room_id": room}),
    "typing": typing_after_joining,
    "notify": lambda c, s, m: c.call("send_message", {"message_id": m}),
}

# Of the calls about no one room or message, sending an upload or a mention is what a socket event also does.
REST_POLICY = {
    **ROOM_POLICY,
    **MESSAGE_POLICY,
    **{
        (call, target): row
        for (call, target), row in CALLER_POLICY.items()
        if call.startswith("send_media") or call == "mention"
    },
}
SOCKET_CALLS: dict[str, SocketCall] = {**SOCKET_ONLY, **{event: call for event, (_, call) in MIRRORED.items()}}
FULL_SOCKET_POLICY: dict[tuple[str, str], Row] = {
    **SOCKET_POLICY,
    **{
        (event, target): row
        for event, (endpoint, _) in MIRRORED.items()
        for (rest_endpoint, target), row in REST_POLICY.items()
        if rest_endpoint == endpoint
    },
}


def test_every_client_event_is_in_the_matrix() -> None:
    # A new event handler must get its rows: every event but connect is sent by some cell.
    sent = {"send_message" if event == "notify" else event.partition(":")[0] for event, _ in FULL_SOCKET_POLICY}
    handled = {name for name, _handler, namespace in socketio.handlers if (namespace or "/") == "/"} - {"connect"}
    assert handled == sent


def check_ack(socket: InProcessSocket, ack: Any, outcome: Outcome) -> None:
    """The acknowledgement says ok, or refuses with the outcome's code (and 422 field), as its `error` event did."""
    if not outcome.refused:
        assert isinstance(ack, dict) and ack.get("ok") is True, ack
        return
    assert_refused(ack, outcome.code or "")
    if outcome.field is not None:
        assert outcome.field in ack["error"].get("details", {}), ack
    assert socket.received("error")[-1] == ack["error"]


def as_if(ack: Any, target_id: str) -> str:
    """The acknowledgement with the target's id blanked: what a caller learns beyond the id it sent."""
    return json.dumps(ack, sort_keys=True).replace(target_id, "<id>")


@pytest.mark.parametrize(("event", "target", "role", "outcome"), list(cells(FULL_SOCKET_POLICY, changing=True)))
def test_socket_matrix_allowed_changes(
    api: ApiClient,
    app: Flask,
    sockets: Callable[..., InProcessSocket],
    event: str,
    target: str,
    role: str,
    outcome: Outcome,
) -> None:
    scene = stage(api, app, role, target, side_room=event.endswith(("forward_out", "media_out")))
    socket = sockets(scene.actor.access_token)
    before = snapshot(app)
    check_ack(socket, SOCKET_CALLS[event](socket, scene, scene.ids[target]), outcome)
    assert_effect(before, snapshot(app), outcome)


@pytest.mark.parametrize(("role", "target", "row"), list(worlds(FULL_SOCKET_POLICY)))
def test_socket_matrix_refusals_reads_and_no_ops(
    api: ApiClient,
    app: Flask,
    sockets: Callable[..., InProcessSocket],
    role: str,
    target: str,
    row: list[tuple[str, Outcome]],
) -> None:
    scene = stage(api, app, role, target, side_room=True)
    socket = sockets(scene.actor.access_token)
    assert socket.is_connected() and socket.received("connected") == [{"user_id": scene.actor.id}]
    before = snapshot(app)

    def cell(event: str, outcome: Outcome) -> None:
        call = SOCKET_CALLS[event]
        ack = call(socket, scene, scene.ids[target])
        check_ack(socket, ack, outcome)
        assert snapshot(app) == before, "the database changed"
        if outcome.like_missing:
            missing = new_id()
            assert as_if(ack, scene.ids[target]) == as_if(call(socket, scene, missing), missing), "unlike a missing id"
        assert socket.is_connected(), "the socket was disconnected"

    assert_cells(role, target, row, cell)


# ---- tokens ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["auth", "query"])
@pytest.mark.parametrize("kind", list(TOKEN_CODES))
def test_a_socket_with_a_bad_token_is_refused_saying_why(
    api: ApiClient, app: Flask, sockets: Callable[..., InProcessSocket], kind: str, via: str
) -> None:
    (alice,) = people(api, app, "Alice")
    socket = sockets(bad_token(app, alice, kind), via)
    assert not socket.is_connected()
    assert set(socket.refusal) == {"message", "data"} and socket.refusal["data"] == {"code": TOKEN_CODES[kind]}
    assert isinstance(socket.refusal["message"], str) and socket.refusal["message"]
    assert socket.queue == []


def test_a_token_re_signed_unchanged_connects(
    api: ApiClient, app: Flask, sockets: Callable[..., InProcessSocket]
) -> None:
    # Proves forged() changes only what it is asked to, so each refusal above comes from its one defect.
    (alice,) = people(api, app, "Alice")
    socket = sockets(forged("resigned", alice.access_token, app.config["JWT_SECRET_KEY"]))
    assert socket.is_connected() and socket.received("connected") == [{"user_id": alice.id}]


def revoke_quietly(app: Flask, token: str) -> None:
    """Revoke the token's session in the database only, as a logout whose disconnect never reached this process."""
    with app.app_context():
        db.session.add(RevokedSession(sid=claims_of(token)["sid"], expires_at=utcnow() + timedelta(hours=1)))
        db.session.commit()


def wait_disconnected(socket: InProcessSocket) -> None:
    """Wait for the server to disconnect the socket, from a background task of the server's async mode."""
    deadline = time.monotonic() + WAIT
    while socket.is_connected() and time.monotonic() < deadline:
        socketio.sleep(0.02)  # gevent in this process: only its sleep lets that task run
    assert not socket.is_connected(), "the server did not disconnect the socket"


REVOKED_EVENTS: dict[str, Callable[[Scene], Any]] = {
    "join_room": lambda s: {"room_id": s.room},
    "leave_room": lambda s: {"room_id": s.room},
    "typing": lambda s: {"room_id": s.room, "is_typing": True},
    "send_message": lambda s: {"room_id": s.room, "content": "after logout"},
    "notify": lambda s: {"message_id": s.ids["own_message"]},
    "mark_as_read": lambda s: {"room_id": s.room, "up_to": s.ids["others_message"]},
    "message_edited": lambda s: {"message_id": s.ids["own_message"], "content": "after logout"},
    "message_deleted": lambda s: {"message_id": s.ids["own_message"]},
    "add_reaction": lambda s: {"message_id": s.ids["own_message"], "emoji": NEW_EMOJI},
    "remove_reaction": lambda s: {"message_id": s.ids["own_message"], "emoji": KEPT},
}


@pytest.mark.parametrize("event", list(REVOKED_EVENTS))
def test_an_event_on_a_socket_whose_session_was_revoked_is_refused_and_disconnects(
    api: ApiClient, app: Flask, sockets: Callable[..., InProcessSocket], event: str
) -> None:
    scene = stage(api, app, "owner", "own_message")
    socket = sockets(scene.actor.access_token)
    assert socket.call("join_room", {"room_id": scene.room})["ok"] is True
    revoke_quietly(app, scene.actor.access_token)
    before = snapshot(app)
    ack = socket.call("send_message" if event == "notify" else event, REVOKED_EVENTS[event](scene))
    assert_refused(ack, "token_revoked")
    wait_disconnected(socket)
    assert snapshot(app) == before


# ---- mass assignment over the socket ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"sender_id": "<bystander>"},
        {"id": "<new>", "is_deleted": True, "is_edited": True, "created_at": "2000-01-01T00:00:00+00:00"},
    ],
    ids=["sender_id", "server_fields"],
)
def test_socket_payload_fields_a_client_may_not_set_are_ignored(
    api: ApiClient, app: Flask, sockets: Callable[..., InProcessSocket], extra: dict[str, Any]
) -> None:
    scene = stage(api, app, "member", "own_message")
    values = {"<bystander>": scene.cast["bystander"].id, "<new>": new_id()}
    extra = {name: values.get(value, value) if isinstance(value, str) else value for name, value in extra.items()}
    socket = sockets(scene.actor.access_token)
    sent = socket.call("send_message", {"room_id": scene.room, "content": "mine", **extra})
    edited = socket.call("message_edited", {"message_id": scene.ids["own_message"], "content": "edited", **extra})
    for ack in (sent, edited):
        assert ack["ok"] is True, ack
        message = ack["message"]
        assert message["sender_id"] == scene.actor.id and message["room_id"] == scene.room
        assert message["is_deleted"] is False and not message["created_at"].startswith("2000")
        assert message["id"] != values["<new>"]
    assert sent["message"]["is_edited"] is False and edited["message"]["id"] == scene.ids["own_message"]
