"""Authorization matrix, REST: every endpoint x actor x target has one expected answer, in the tables of
tests/helpers/authorization.py (which also describes the cast each cell is staged with).

Besides the status and error code, every cell checks that a refusal wrote nothing, that an allowed change wrote
something and an allowed no-op nothing, and that an answer marked `like_missing` is byte for byte the answer for an
id that does not exist: the contract never reveals to a non-member that a room or message exists. A cell that
changes the database (or stored media) is a test of its own; the cells that must not share one staged world per
role and target. Tokens that are missing, expired, revoked or forged get the same 401 from every endpoint, before
anything else; the signed links' own routes take no token, and answer a bad one as they answer anyone.
tests/api/test_authorization_socket.py holds the Socket.IO side, built on the same tables.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, request_finished
from flask import request as incoming
from sqlalchemy import Connection, event, select, text, update
from werkzeug.test import TestResponse

from armada.extensions import db
from armada.media.storage import storage
from armada.models import (
    ChatMessage,
    ChatRoom,
    ChatRoomMember,
    MediaUpload,
    MessageReaction,
    MessageReadReceipt,
)
from tests.helpers.authorization import (
    CALLER_POLICY,
    KEPT,
    LINK_POLICY,
    MEDIA,
    MEDIA_BYTES,
    MESSAGE_POLICY,
    MESSAGES,
    NEW_EMOJI,
    NOTES,
    NOTES_NAME,
    NOTES_TYPE,
    PUT_BYTES,
    ROLES,
    ROOM_POLICY,
    ROOMS,
    SEARCH_WORDS,
    SIGNED_URL,
    TOKEN_CODES,
    UPLOAD,
    Outcome,
    Scene,
    assert_cells,
    assert_effect,
    bad_token,
    cells,
    forged,
    member_url,
    new_id,
    people,
    react,
    reaction_url,
    snapshot,
    stage,
    worlds,
)
from tests.helpers.support import Actor, ApiClient, assert_error

Call = Callable[[Scene, str], TestResponse]
THREADS = "/api/chat/threads"
SEARCH = "/api/chat/search"


def search_for(**params: str) -> Call:
    """Search for the target's words (any word, for an id that exists nowhere), with these filters."""

    def call(scene: Scene, target_id: str) -> TestResponse:
        target = next((name for name, value in scene.ids.items() if value == target_id), None)
        q = SEARCH_WORDS.get(target or "", "anything")
        filters = {name: scene.ids.get(value, target_id) for name, value in params.items()}
        return scene.actor.get(SEARCH, query_string={"q": q, **filters})

    return call


ROOM_CALLS: dict[str, Call] = {
    "get_room": lambda s, room: s.actor.get(f"{ROOMS}/{room}"),
    "history": lambda s, room: s.actor.get(f"{ROOMS}/{room}/messages"),
    "rename": lambda s, room: s.actor.patch(f"{ROOMS}/{room}", json={"name": "Renamed"}),
    "add_member": lambda s, room: s.actor.post(member_url(room, s.cast["non_member"])),
    "readd_member": lambda s, room: s.actor.post(member_url(room, s.cast["bystander"])),
    "promote_self": lambda s, room: s.actor.post(member_url(room, s.actor), json={"is_admin": True}),
    "demote_self": lambda s, room: s.actor.post(member_url(room, s.actor), json={"is_admin": False}),
    "demote_owner": lambda s, room: s.actor.post(member_url(room, s.cast["owner"]), json={"is_admin": False}),
    "remove_member": lambda s, room: s.actor.delete(member_url(room, s.cast["bystander"])),
    "remove_owner": lambda s, room: s.actor.delete(member_url(room, s.cast["owner"])),
    "leave": lambda s, room: s.actor.delete(member_url(room, s.actor)),
    "send": lambda s, room: s.actor.post(MESSAGES, json={"room_id": room, "content": "hi"}),
    "mark_read": lambda s, room: s.actor.post(f"{ROOMS}/{room}/read", json={"up_to": s.ids["others_message"]}),
    "pins": lambda s, room: s.actor.get(f"{ROOMS}/{room}/pins"),
}

MESSAGE_CALLS: dict[str, Call] = {
    "edit": lambda s, m: s.actor.patch(f"{MESSAGES}/{m}", json={"content": "edited"}),
    "delete": lambda s, m: s.actor.delete(f"{MESSAGES}/{m}"),
    "reply": lambda s, m: s.actor.post(MESSAGES, json={"room_id": s.room, "content": "re", "reply_to_id": m}),
    "forward_here": lambda s, m: s.actor.post(MESSAGES, json={"room_id": s.room, "forwarded_from_id": m}),
    "forward_out": lambda s, m: s.actor.post(MESSAGES, json={"room_id": s.ids["side_room"], "forwarded_from_id": m}),
    "read_ids": lambda s, m: s.actor.post(f"{ROOMS}/{s.room}/read", json={"message_ids": [m]}),
    "read_up_to": lambda s, m: s.actor.post(f"{ROOMS}/{s.room}/read", json={"up_to": m}),
    "history_after": lambda s, m: s.actor.get(f"{ROOMS}/{s.room}/messages", query_string={"after": m}),
    "changed_after": lambda s, m: s.actor.get(f"{ROOMS}/{s.room}/messages", query_string={"changed_after": m}),
    "react": lambda s, m: s.actor.put(reaction_url(m, NEW_EMOJI)),
    "react_again": lambda s, m: s.actor.put(reaction_url(m, KEPT)),
    "react_text": lambda s, m: s.actor.put(reaction_url(m, "ok")),
    "unreact": lambda s, m: s.actor.delete(reaction_url(m, KEPT)),
    "reactors": lambda s, m: s.actor.get(reaction_url(m, KEPT)),
    "edit_history": lambda s, m: s.actor.get(f"{MESSAGES}/{m}/history"),
    "pin": lambda s, m: s.actor.put(f"{ROOMS}/{s.room}/pins/{m}"),
    "unpin": lambda s, m: s.actor.delete(f"{ROOMS}/{s.room}/pins/{m}"),
    "pin_in_side": lambda s, m: s.actor.put(f"{ROOMS}/{s.ids['side_room']}/pins/{m}"),
    "team_pins": lambda s, _m: s.actor.get(f"{ROOMS}/{s.room}/pins"),
    "thread_reply": lambda s, m: s.actor.post(MESSAGES, json={"room_id": s.room, "content": "re", "thread_root_id": m}),
    "thread_history": lambda s, m: s.actor.get(f"{ROOMS}/{s.room}/messages", query_string={"thread_root_id": m}),
    # up_to: the thread's reply where there is one, else a message that is no reply of the target's.
    "read_thread": lambda s, m: s.actor.post(
        f"{THREADS}/{m}/read", json={"up_to": s.ids.get("thread_reply", s.ids["others_message"])}
    ),
}


def create_group(scene: Scene, user: str) -> TestResponse:
    """A group with `user`, the body also claiming the user created it and is its admin, and Team's id."""
    body = {
        "room_type": "group",
        "name": "New",
        "member_ids": [user],
        "id": scene.room,
        "created_by": user,
        "is_admin": True,
        "is_active": False,
        "members": [{"user_id": user, "is_admin": True}],
    }
    return scene.actor.post(ROOMS, json=body)


def send_media(room: str) -> Call:
    """Send a file message carrying the target upload, to Team ("room") or the actor's side group ("side_room")."""
    return lambda s, media: s.actor.post(
        MESSAGES, json={"room_id": s.ids[room], "message_type": "file", "media_url": media}
    )


CALLER_CALLS: dict[str, Call] = {
    "list_rooms": lambda s, _room: s.actor.get(ROOMS),
    "create_group": create_group,
    "upload": lambda s, user: s.actor.post(
        UPLOAD, data={"file": (io.BytesIO(MEDIA_BYTES), NOTES_NAME), "uploader_id": user}
    ),
    "signed_upload": lambda s, user: s.actor.get(
        SIGNED_URL, query_string={**NOTES, "uploader_id": user, "path": f"{user}/{NOTES_NAME}"}
    ),
    "send_media": send_media("room"),
    "send_media_out": send_media("side_room"),
    "list_threads": lambda s, _root: s.actor.get(THREADS),
    "mention": lambda s, user: s.actor.post(
        MESSAGES, json={"room_id": s.room, "content": "hi you", "mentions": [user]}
    ),
    "search": search_for(),
    "search_team": search_for(room_id="room"),
    "search_thread": search_for(thread_root_id="target"),
}

LINK_CALLS: dict[str, Call] = {
    "download": lambda s, token: s.actor.client.get(f"{MEDIA}/{token}", headers=s.headers),
    "direct_put": lambda s, token: s.actor.client.put(
        f"{MEDIA}/upload/{token}", data=PUT_BYTES, headers={**s.headers, "Content-Type": NOTES_TYPE}
    ),
}


# ---- checks ----------------------------------------------------------------------------------------------------


def check(response: TestResponse, outcome: Outcome) -> None:
    """The response has the outcome's status, and a refusal its code (and 422 field)."""
    if outcome.refused:
        error = assert_error(response, outcome.status, outcome.code)
        if outcome.field is not None:
            assert outcome.field in error.get("details", {}), error
        return
    assert response.status_code == outcome.status, (response.status_code, response.get_data(as_text=True)[:500])
    if outcome.status != 204 and response.is_json:  # not a file, nor the empty 201 of a direct upload
        assert "error" not in response.get_json()


def listed_rooms(app: Flask, scene: Scene, _room: str, response: TestResponse) -> None:
    """Exactly the rooms the actor is an active member of, each with its own last message only."""
    with app.app_context():
        active = db.session.scalars(
            select(ChatRoomMember.room_id).where(
                ChatRoomMember.user_id == uuid.UUID(scene.actor.id), ChatRoomMember.is_active.is_(True)
            )
        )
        assert {room["id"] for room in response.get_json()["items"]} == {str(room_id) for room_id in active}
    for room in response.get_json()["items"]:
        assert room["last_message"] is None or room["last_message"]["room_id"] == room["id"], room


def made_by_the_caller(app: Flask, scene: Scene, user: str, response: TestResponse) -> None:
    """A new group of the caller's, its only admin, with the member it named, whatever else the body claimed."""
    room = response.get_json()
    assert room["id"] not in scene.ids.values() and (room["created_by"], room["is_active"]) == (scene.actor.id, True)
    assert {m["user_id"]: m["is_admin"] for m in room["members"]} == {scene.actor.id: True, user: False}


def uploaded_by_the_caller(app: Flask, scene: Scene, _user: str, response: TestResponse) -> None:
    """An upload stored, and recorded, as the caller's (its key starts with its uploader's id)."""
    path = response.get_json()["path"]
    assert path.split("/")[0] == scene.actor.id, path
    with app.app_context():
        uploader = db.session.scalar(select(MediaUpload.uploader_id).where(MediaUpload.key == path))
    assert uploader == uuid.UUID(scene.actor.id)


def sent_with_the_callers_upload(app: Flask, scene: Scene, _media: str, response: TestResponse) -> None:
    """A file message of the caller's, carrying the caller's own upload as stored."""
    message = response.get_json()
    assert message["sender_id"] == scene.actor.id and message["message_type"] == "file"
    assert (message["media_filename"], message["media_size"]) == (NOTES_NAME, len(MEDIA_BYTES))
    with app.app_context():
        key = db.session.scalar(select(ChatMessage.media_url).where(ChatMessage.id == uuid.UUID(message["id"])))
    assert key is not None and key.split("/")[0] == scene.actor.id, key


def the_file(app: Flask, scene: Scene, _link: str, response: TestResponse) -> None:
    """The very bytes the bystander uploaded, whoever opens the link."""
    assert response.get_data() == MEDIA_BYTES


def put_at_the_signed_path(app: Flask, scene: Scene, _link: str, response: TestResponse) -> None:
    """The bytes went where the link's signer was told, and nowhere else: that upload stays the signer's."""
    with app.app_context():
        assert storage().get(scene.ids["upload_path"]) == PUT_BYTES


def active_rooms(app: Flask, actor: Actor) -> set[uuid.UUID]:
    """The rooms the actor is an active member of, read from the database."""
    with app.app_context():
        return set(
            db.session.scalars(
                select(ChatRoomMember.room_id).where(
                    ChatRoomMember.user_id == uuid.UUID(actor.id), ChatRoomMember.is_active.is_(True)
                )
            )
        )


def followed_in_my_rooms(app: Flask, scene: Scene, _root: str, response: TestResponse) -> None:
    """Only threads of rooms the actor is an active member of, each its root's room's."""
    active = active_rooms(app, scene.actor)
    for item in response.get_json()["items"]:
        assert uuid.UUID(item["room_id"]) in active and item["root"]["room_id"] == item["room_id"], item


def found_in_my_rooms(app: Flask, scene: Scene, _message: str, response: TestResponse) -> None:
    """Only live messages of rooms the actor is an active member of."""
    active = active_rooms(app, scene.actor)
    for item in response.get_json()["items"]:
        assert uuid.UUID(item["room_id"]) in active and not item["message"]["is_deleted"], item


def reactors_as_stored(app: Flask, scene: Scene, message_id: str, response: TestResponse) -> None:
    """Exactly who reacted to this message with KEPT, oldest first: the actor where it did."""
    with app.app_context():
        stored = db.session.scalars(
            select(MessageReaction.user_id)
            .where(MessageReaction.message_id == uuid.UUID(message_id), MessageReaction.emoji == KEPT)
            .order_by(MessageReaction.created_at, MessageReaction.id)
        )
        assert [item["user_id"] for item in response.get_json()["items"]] == [str(user) for user in stored]


def replies_of_the_target(app: Flask, scene: Scene, root_id: str, response: TestResponse) -> None:
    """A thread's page holds that thread's replies only (the actor's own among them, where it replied)."""
    items = response.get_json()["items"]
    assert all(item["thread_root_id"] == root_id for item in items), items
    if root_id == scene.ids.get("thread"):
        assert scene.ids["thread_reply"] in {item["id"] for item in items}


def mentioning_the_target(app: Flask, scene: Scene, user: str, response: TestResponse) -> None:
    """A message of the caller's that mentions that user."""
    message = response.get_json()
    assert message["sender_id"] == scene.actor.id and message["mentions"] == [user], message


# What every allowed answer of these endpoints holds, whoever asks.
ANSWERS: dict[str, Callable[[Flask, Scene, str, TestResponse], None]] = {
    "list_rooms": listed_rooms,
    "create_group": made_by_the_caller,
    "upload": uploaded_by_the_caller,
    "signed_upload": uploaded_by_the_caller,
    "send_media": sent_with_the_callers_upload,
    "send_media_out": sent_with_the_callers_upload,
    "download": the_file,
    "direct_put": put_at_the_signed_path,
    "list_threads": followed_in_my_rooms,
    "search": found_in_my_rooms,
    "search_team": found_in_my_rooms,
    "search_thread": found_in_my_rooms,
    "reactors": reactors_as_stored,
    "thread_history": replies_of_the_target,
    "mention": mentioning_the_target,
}


def check_answer(
    app: Flask, scene: Scene, endpoint: str, target: str, response: TestResponse, outcome: Outcome
) -> None:
    """check(); then whether a list holds the target, and what an allowed answer of the endpoint must hold."""
    check(response, outcome)
    if outcome.shows is not None:
        target_id = scene.ids[target]
        if outcome.shows:
            items = response.get_json()["items"]
            # A followed thread is its root; a search hit its message.
            listed = {(item.get("root") or item.get("message") or item)["id"] for item in items}
            assert target_id in listed, "the target is not listed"
        else:
            assert target_id.encode() not in response.get_data(), "the answer mentions the target"
    if not outcome.refused and endpoint in ANSWERS:
        ANSWERS[endpoint](app, scene, scene.ids[target], response)


def as_if(response: TestResponse, target_id: str) -> tuple[int, str | None, bytes]:
    """Status, content type and body with the target's id blanked: what a caller learns beyond the id it sent."""
    return response.status_code, response.content_type, response.get_data().replace(target_id.encode(), b"<id>")


# ---- the matrix ------------------------------------------------------------------------------------------------

REST_POLICY = {**ROOM_POLICY, **MESSAGE_POLICY, **CALLER_POLICY, **LINK_POLICY}
CALLS = {**ROOM_CALLS, **MESSAGE_CALLS, **CALLER_CALLS, **LINK_CALLS}
SIDE_ROOM_CALLS = {"forward_out", "send_media_out", "pin_in_side"}  # the calls that need the actor's side group


def run_cell(app: Flask, scene: Scene, endpoint: str, target: str, outcome: Outcome) -> None:
    """One cell on a staged world: its answer, what it wrote, and that an answer `like_missing` is the one for an id
    that does not exist."""
    call = CALLS[endpoint]
    before = snapshot(app)
    response = call(scene, scene.ids[target])
    check_answer(app, scene, endpoint, target, response, outcome)
    assert_effect(before, snapshot(app), outcome)
    if outcome.like_missing:
        missing = new_id()
        assert as_if(response, scene.ids[target]) == as_if(call(scene, missing), missing), "unlike a missing id"


@pytest.mark.parametrize(("endpoint", "target", "role", "outcome"), list(cells(REST_POLICY, changing=True)))
def test_rest_matrix_allowed_changes(
    api: ApiClient, app: Flask, endpoint: str, target: str, role: str, outcome: Outcome
) -> None:
    scene = stage(api, app, role, target, side_room=endpoint in SIDE_ROOM_CALLS)
    run_cell(app, scene, endpoint, target, outcome)


@pytest.mark.parametrize(("role", "target", "row"), list(worlds(REST_POLICY)))
def test_rest_matrix_refusals_reads_and_no_ops(
    api: ApiClient, app: Flask, role: str, target: str, row: list[tuple[str, Outcome]]
) -> None:
    scene = stage(api, app, role, target, side_room=True)
    before = snapshot(app)

    def cell(endpoint: str, outcome: Outcome) -> None:
        run_cell(app, scene, endpoint, target, outcome)
        assert snapshot(app) == before, "the world changed"

    assert_cells(role, target, row, cell)


def test_every_endpoint_of_the_chat_and_media_apis_is_in_the_matrix(api: ApiClient, app: Flask) -> None:
    # A new route must get its row. A route is covered when the call of some actor x target row reaches it, as Flask
    # matched it: made once, with an id that exists nowhere (the route matches whatever the answer), and no list
    # kept by hand. The bad-token table (TOKEN_CALLS) covers nothing here.
    assert {endpoint for endpoint, _ in REST_POLICY} == set(CALLS)
    scene = stage(api, app, "owner", "room", side_room=True)
    covered: set[tuple[str, str]] = set()

    def reached(_app: Flask, **_: Any) -> None:
        if incoming.url_rule is not None:
            covered.add((incoming.method, incoming.url_rule.rule))

    with request_finished.connected_to(reached, app):
        for endpoint in CALLS:
            CALLS[endpoint](scene, new_id())
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/chat/", "/api/media/"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert (routes - covered, covered - routes) == (set(), set()), "(routes without a row, rows off these APIs)"


# ---- tokens ----------------------------------------------------------------------------------------------------


@dataclass
class Bench:
    """Alice, in a group with Bob, each having said something, Bob replying in Alice's thread, Alice reacting to and
    pinning her message: enough for every endpoint to have real ids, and for every change to have something to do."""

    alice: Actor
    bob: Actor
    room: str
    alices_message: str
    bobs_message: str
    bobs_reply: str


def bench(api: ApiClient, app: Flask) -> Bench:
    alice, bob = people(api, app, "Alice", "Bob")
    room = alice.make_group(bob)["id"]
    alices, bobs = alice.say(room, "from alice")["id"], bob.say(room, "from bob")["id"]
    reply = bob.say(room, "in her thread", thread_root_id=alices)["id"]
    react(alice, alices, KEPT)
    assert alice.put(f"{ROOMS}/{room}/pins/{alices}").status_code == 200
    return Bench(alice, bob, room, alices, bobs, reply)


TokenCall = Callable[[Actor, dict[str, str], Bench], TestResponse]
TOKEN_CALLS: dict[str, TokenCall] = {
    "me": lambda a, h, b: a.client.get("/api/users/me", headers=h),
    "search_users": lambda a, h, b: a.client.get("/api/users", query_string={"q": "bob"}, headers=h),
    "list_rooms": lambda a, h, b: a.client.get(ROOMS, headers=h),
    "create_room": lambda a, h, b: a.client.post(
        ROOMS, headers=h, json={"room_type": "group", "name": "New", "member_ids": [b.bob.id]}
    ),
    "get_room": lambda a, h, b: a.client.get(f"{ROOMS}/{b.room}", headers=h),
    "rename": lambda a, h, b: a.client.patch(f"{ROOMS}/{b.room}", headers=h, json={"name": "Renamed"}),
    "promote": lambda a, h, b: a.client.post(member_url(b.room, b.bob), headers=h, json={"is_admin": True}),
    "remove_member": lambda a, h, b: a.client.delete(member_url(b.room, b.bob), headers=h),
    "history": lambda a, h, b: a.client.get(f"{ROOMS}/{b.room}/messages", headers=h),
    "mark_read": lambda a, h, b: a.client.post(f"{ROOMS}/{b.room}/read", headers=h, json={"up_to": b.bobs_message}),
    "send": lambda a, h, b: a.client.post(MESSAGES, headers=h, json={"room_id": b.room, "content": "hi"}),
    "edit": lambda a, h, b: a.client.patch(f"{MESSAGES}/{b.alices_message}", headers=h, json={"content": "edited"}),
    "delete": lambda a, h, b: a.client.delete(f"{MESSAGES}/{b.alices_message}", headers=h),
    "upload": lambda a, h, b: a.client.post(
        "/api/chat/upload", headers=h, data={"file": (io.BytesIO(b"hello"), "hello.txt")}
    ),
    "signed_upload_url": lambda a, h, b: a.client.get(
        "/api/chat/upload/signed-url",
        headers=h,
        query_string={"filename": "a.txt", "mime_type": "text/plain", "size": 5},
    ),
    "react": lambda a, h, b: a.client.put(reaction_url(b.bobs_message, NEW_EMOJI), headers=h),
    "unreact": lambda a, h, b: a.client.delete(reaction_url(b.alices_message, KEPT), headers=h),
    "reactors": lambda a, h, b: a.client.get(reaction_url(b.alices_message, KEPT), headers=h),
    "edit_history": lambda a, h, b: a.client.get(f"{MESSAGES}/{b.alices_message}/history", headers=h),
    "list_threads": lambda a, h, b: a.client.get(THREADS, headers=h),
    "search_messages": lambda a, h, b: a.client.get(SEARCH, query_string={"q": "alice"}, headers=h),
    "read_thread": lambda a, h, b: a.client.post(
        f"{THREADS}/{b.alices_message}/read", headers=h, json={"up_to": b.bobs_reply}
    ),
    "pin": lambda a, h, b: a.client.put(f"{ROOMS}/{b.room}/pins/{b.bobs_message}", headers=h),
    "unpin": lambda a, h, b: a.client.delete(f"{ROOMS}/{b.room}/pins/{b.alices_message}", headers=h),
    "pins": lambda a, h, b: a.client.get(f"{ROOMS}/{b.room}/pins", headers=h),
    "logout": lambda a, h, b: a.client.post("/api/auth/logout", headers=h),
}


# The route each call above exercises; every /api route but these public ones needs an access token.
TOKEN_ROUTES = {
    "me": ("GET", "/api/users/me"),
    "search_users": ("GET", "/api/users"),
    "list_rooms": ("GET", ROOMS),
    "create_room": ("POST", ROOMS),
    "get_room": ("GET", "/api/chat/rooms/<uuid:room_id>"),
    "rename": ("PATCH", "/api/chat/rooms/<uuid:room_id>"),
    "promote": ("POST", "/api/chat/rooms/<uuid:room_id>/members/<uuid:user_id>"),
    "remove_member": ("DELETE", "/api/chat/rooms/<uuid:room_id>/members/<uuid:user_id>"),
    "history": ("GET", "/api/chat/rooms/<uuid:room_id>/messages"),
    "mark_read": ("POST", "/api/chat/rooms/<uuid:room_id>/read"),
    "send": ("POST", MESSAGES),
    "edit": ("PATCH", "/api/chat/messages/<uuid:message_id>"),
    "delete": ("DELETE", "/api/chat/messages/<uuid:message_id>"),
    "upload": ("POST", "/api/chat/upload"),
    "signed_upload_url": ("GET", "/api/chat/upload/signed-url"),
    "react": ("PUT", "/api/chat/messages/<uuid:message_id>/reactions/<string(minlength=0):emoji>"),
    "unreact": ("DELETE", "/api/chat/messages/<uuid:message_id>/reactions/<string(minlength=0):emoji>"),
    "reactors": ("GET", "/api/chat/messages/<uuid:message_id>/reactions/<string(minlength=0):emoji>"),
    "edit_history": ("GET", "/api/chat/messages/<uuid:message_id>/history"),
    "list_threads": ("GET", THREADS),
    "search_messages": ("GET", SEARCH),
    "read_thread": ("POST", "/api/chat/threads/<uuid:root_id>/read"),
    "pin": ("PUT", "/api/chat/rooms/<uuid:room_id>/pins/<uuid:message_id>"),
    "unpin": ("DELETE", "/api/chat/rooms/<uuid:room_id>/pins/<uuid:message_id>"),
    "pins": ("GET", "/api/chat/rooms/<uuid:room_id>/pins"),
    "logout": ("POST", "/api/auth/logout"),
}
PUBLIC_ROUTES = {
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/auth/registration"),
    ("POST", "/api/auth/refresh"),  # takes the refresh token: test_refresh_refuses_a_bad_refresh_token
    ("GET", "/api/health"),
    ("GET", "/api/media/<token>"),
    ("PUT", "/api/media/upload/<token>"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/asyncapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/"),
    ("GET", "/api/docs/assets/<path:filename>"),
}


def test_every_authenticated_route_is_in_the_token_table(app: Flask) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert set(TOKEN_ROUTES) == set(TOKEN_CALLS)
    assert routes - PUBLIC_ROUTES == set(TOKEN_ROUTES.values())


@pytest.mark.parametrize("kind", list(TOKEN_CODES))
def test_a_bad_token_gets_the_same_401_from_every_endpoint(api: ApiClient, app: Flask, kind: str) -> None:
    setting = bench(api, app)
    token = bad_token(app, setting.alice, kind)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    before = snapshot(app)
    answers = {}

    def cell(endpoint: str, code: str) -> None:
        response = TOKEN_CALLS[endpoint](setting.alice, headers, setting)
        answers[endpoint] = assert_error(response, 401, code)
        assert snapshot(app) == before, "the database changed"

    assert_cells(kind, "token", [(endpoint, TOKEN_CODES[kind]) for endpoint in TOKEN_CALLS], cell)
    assert len({error["message"] for error in answers.values()}) == 1, answers


@pytest.mark.parametrize("endpoint", ["me", "get_room", "history", "send", "react", "read_thread"])
def test_a_token_re_signed_unchanged_is_accepted(api: ApiClient, app: Flask, endpoint: str) -> None:
    # Proves forged() changes only what it is asked to, so each refusal above comes from its one defect.
    setting = bench(api, app)
    token = forged("resigned", setting.alice.access_token, app.config["JWT_SECRET_KEY"])
    response = TOKEN_CALLS[endpoint](setting.alice, {"Authorization": f"Bearer {token}"}, setting)
    assert response.status_code in (200, 201), response.get_json()


@pytest.mark.parametrize("kind", list(TOKEN_CODES))
def test_a_signed_link_answers_a_bad_token_as_it_answers_anyone(api: ApiClient, app: Flask, kind: str) -> None:
    # The links are the credential (PUBLIC_ROUTES): sent with no token, or an expired, revoked or forged one, each
    # answers as LINK_POLICY says it answers anyone, here the non-member's column.
    scene = stage(api, app, "non_member", "link")
    token = bad_token(app, scene.actor, kind)
    scene.presented = {} if token is None else {"Authorization": f"Bearer {token}"}
    column = ROLES.index("non_member")
    row = [(f"{endpoint}-{target}", outcomes[column]) for (endpoint, target), outcomes in LINK_POLICY.items()]

    def cell(cell_name: str, outcome: Outcome) -> None:
        endpoint, target = cell_name.split("-")
        run_cell(app, scene, endpoint, target, outcome)

    assert_cells(kind, "token", row, cell)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("alg_none", "invalid_token"),
        ("wrong_key", "invalid_token"),
        ("hs384_same_key", "invalid_token"),
        ("no_exp", "invalid_token"),
        ("no_sid", "invalid_token"),
        ("unknown_user", "invalid_token"),
        ("not_yet_valid", "invalid_token"),
        ("expired", "token_expired"),
        ("access_token", "invalid_token"),
    ],
)
def test_refresh_refuses_a_bad_refresh_token(api: ApiClient, app: Flask, kind: str, code: str) -> None:
    (alice,) = people(api, app, "Alice")
    key = app.config["JWT_SECRET_KEY"]
    token = alice.access_token if kind == "access_token" else forged(kind, alice.refresh_token, key)
    assert_error(alice.client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {token}"}), 401, code)
    resigned = forged("resigned", alice.refresh_token, key)
    assert alice.client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {resigned}"}).status_code == 200


# ---- mass assignment: fields a body may not set ----------------------------------------------------------------


def test_an_edit_cannot_move_reassign_or_undelete_a_message(api: ApiClient, app: Flask) -> None:
    scene = stage(api, app, "member", "own_message")
    other = scene.cast["member"].make_group(name="Other")["id"]
    message_id = scene.ids["own_message"]
    body = {
        "content": "edited",
        "sender_id": scene.cast["bystander"].id,
        "room_id": other,
        "id": new_id(),
        "is_deleted": True,
        "is_edited": False,
        "created_at": "2000-01-01T00:00:00+00:00",
    }
    response = scene.actor.patch(f"{MESSAGES}/{message_id}", json=body)
    assert response.status_code == 200, response.get_json()
    edited = response.get_json()
    assert (edited["id"], edited["room_id"], edited["sender_id"]) == (message_id, scene.room, scene.actor.id)
    assert (edited["content"], edited["is_edited"], edited["is_deleted"]) == ("edited", True, False)
    assert not edited["created_at"].startswith("2000")
    with app.app_context():
        assert db.session.scalar(select(ChatMessage.room_id).where(ChatMessage.id == uuid.UUID(message_id))) == (
            uuid.UUID(scene.room)
        )


def test_adding_a_member_sets_only_the_path_user_and_is_admin(api: ApiClient, app: Flask) -> None:
    scene = stage(api, app, "admin", "room")
    newcomer, bystander = scene.cast["non_member"], scene.cast["bystander"]
    body = {"user_id": bystander.id, "room_id": new_id(), "is_active": False, "joined_at": "2000-01-01T00:00:00Z"}
    before = {m["user_id"]: m for m in scene.actor.get(f"{ROOMS}/{scene.room}").get_json()["members"]}
    response = scene.actor.post(member_url(scene.room, newcomer), json=body)
    assert response.status_code == 201, response.get_json()
    members = {m["user_id"]: m for m in response.get_json()["members"]}
    assert members[newcomer.id]["is_admin"] is False and not members[newcomer.id]["joined_at"].startswith("2000")
    assert members[bystander.id] == before[bystander.id]
    assert newcomer.get(f"{ROOMS}/{scene.room}").status_code == 200


def test_marking_read_records_receipts_for_the_caller_only(api: ApiClient, app: Flask) -> None:
    scene = stage(api, app, "member", "room")
    bystander = scene.cast["bystander"]
    owners_message = scene.cast["owner"].say(scene.room, "read me")["id"]
    body = {"up_to": owners_message, "user_id": bystander.id, "room_id": new_id()}
    response = scene.actor.post(f"{ROOMS}/{scene.room}/read", json=body)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["user_id"] == scene.actor.id and result["room_id"] == scene.room
    with app.app_context():
        readers = set(db.session.scalars(select(MessageReadReceipt.user_id)))
    assert readers == {uuid.UUID(scene.actor.id)}


# ---- last-admin rules under concurrency ------------------------------------------------------------------------

ROUNDS = 8  # rooms per test: each is one chance for the two requests to interleave


def at_once(app: Flask, *requests: Callable[[Any], TestResponse]) -> list[int]:
    """Run the requests in parallel threads, each with its own test client, released together; their statuses."""
    start = threading.Barrier(len(requests))

    def run(request: Callable[[Any], TestResponse]) -> int:
        client = app.test_client()
        start.wait()
        return request(client).status_code

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(run, requests))


def admins_of(app: Flask, room_id: str) -> set[uuid.UUID]:
    """The active admins of a room, as stored."""
    with app.app_context():
        return set(
            db.session.scalars(
                select(ChatRoomMember.user_id).where(
                    ChatRoomMember.room_id == uuid.UUID(room_id),
                    ChatRoomMember.is_active.is_(True),
                    ChatRoomMember.is_admin.is_(True),
                )
            )
        )


def test_two_admins_demoting_each_other_at_once_leave_one_admin(api: ApiClient, app: Flask) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    for _ in range(ROUNDS):
        room = alice.make_group(bob, carol)["id"]
        assert alice.post(member_url(room, bob), json={"is_admin": True}).status_code == 200
        statuses = at_once(
            app,
            lambda c, room=room: c.post(member_url(room, bob), headers=alice.headers, json={"is_admin": False}),
            lambda c, room=room: c.post(member_url(room, alice), headers=bob.headers, json={"is_admin": False}),
        )
        # One wins; the other is refused, as the last admin (409) or as no longer an admin (403).
        assert sorted(statuses) in ([200, 403], [200, 409]), statuses
        assert len(admins_of(app, room)) == 1


def test_the_last_two_admins_leaving_at_once_hand_admin_to_the_member_who_stays(api: ApiClient, app: Flask) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    for _ in range(ROUNDS):
        room = alice.make_group(bob, carol)["id"]
        assert alice.post(member_url(room, bob), json={"is_admin": True}).status_code == 200
        statuses = at_once(
            app,
            lambda c, room=room: c.delete(member_url(room, alice), headers=alice.headers),
            lambda c, room=room: c.delete(member_url(room, bob), headers=bob.headers),
        )
        assert statuses == [204, 204]
        assert admins_of(app, room) == {uuid.UUID(carol.id)}


@contextmanager
def room_locked_by_another_transaction(app: Flask, room_id: str) -> Iterator[Connection]:
    """Hold the room's row lock (as a membership change in progress does) in a transaction of our own, which the
    caller commits or rolls back; PostgreSQL only (SQLite has no row locks, its writers queue on the file)."""
    with app.app_context():
        connection = db.engine.connect()
    try:
        transaction = connection.begin()
        connection.execute(update(ChatRoom).where(ChatRoom.id == uuid.UUID(room_id)).values(name="Locked"))
        yield connection
        if transaction.is_active:
            transaction.rollback()
    finally:
        connection.close()


def wait_until_a_request_waits_for_a_lock(connection: Connection) -> None:
    deadline = time.monotonic() + 10
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while not connection.execute(query).scalar():
        assert time.monotonic() < deadline, "no request ever waited for the room's lock"
        time.sleep(0.02)
        # A transaction sees pg_stat_activity as it was at its first look (and the caller's is still open): look anew.
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))


@pytest.mark.needs_postgres
@pytest.mark.parametrize("change", ["add", "remove", "promote", "rename"])
def test_an_admin_removed_while_their_change_waits_for_the_room_is_refused(
    api: ApiClient, app: Flask, change: str
) -> None:
    alice, bob, carol, dave = api.users("Alice", "Bob", "Carol", "Dave")
    room = alice.make_group(bob, carol)["id"]
    assert alice.post(member_url(room, bob), json={"is_admin": True}).status_code == 200
    bobs_change: Callable[[Any], TestResponse] = {
        "add": lambda c: c.post(member_url(room, dave), headers=bob.headers, json={}),
        "remove": lambda c: c.delete(member_url(room, carol), headers=bob.headers),
        "promote": lambda c: c.post(member_url(room, carol), headers=bob.headers, json={"is_admin": True}),
        "rename": lambda c: c.patch(f"{ROOMS}/{room}", headers=bob.headers, json={"name": "Bob's now"}),
    }[change]
    with ThreadPoolExecutor(1) as pool, room_locked_by_another_transaction(app, room) as other:
        # Bob's request passes its first check (he is an admin) and then waits for the room...
        waiting = pool.submit(lambda: bobs_change(app.test_client()))
        wait_until_a_request_waits_for_a_lock(other)
        # ...while Alice's removal of Bob, which holds it, commits.
        other.execute(
            update(ChatRoomMember)
            .where(ChatRoomMember.room_id == uuid.UUID(room), ChatRoomMember.user_id == uuid.UUID(bob.id))
            .values(is_active=False, is_admin=False)
        )
        other.commit()
        response = waiting.result(timeout=10)
    # As if one after the other: Bob is no longer a member, so the room is not his to see, let alone change.
    assert_error(response, 404, "room_not_found")
    seen = alice.get(f"{ROOMS}/{room}")
    assert seen.status_code == 200, seen.get_json()
    assert {(m["user_id"], m["is_admin"]) for m in seen.get_json()["members"]} == {(alice.id, True), (carol.id, False)}
    assert seen.get_json()["name"] == "Locked"


@contextmanager
def held_before_its_commit(app: Flask, request: Callable[[Any], TestResponse]) -> Iterator[Callable[[], TestResponse]]:
    """Run `request` on a thread of its own and hold it just before its COMMIT, its writes done and its row locks
    taken, until the caller lets it commit: the yielded function does and returns its response."""
    with app.app_context():
        engine = db.engine
    reached, release = threading.Event(), threading.Event()
    held_thread: list[int] = []

    def hold(_connection: Connection) -> None:
        if threading.get_ident() in held_thread and not release.is_set():
            reached.set()
            assert release.wait(10), "never let commit"

    def run() -> TestResponse:
        held_thread.append(threading.get_ident())
        return request(app.test_client())

    event.listen(engine, "commit", hold)
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(run)
            assert reached.wait(10), "the change never got to its commit"

            def let_commit() -> TestResponse:
                release.set()
                return future.result(timeout=10)

            try:
                yield let_commit
            finally:
                release.set()
    finally:
        event.remove(engine, "commit", hold)


@pytest.mark.needs_postgres
@pytest.mark.parametrize("change", ["send", "edit", "delete", "mark_read", "delete_once_demoted"])
def test_a_member_removed_while_their_message_change_waits_is_refused(api: ApiClient, app: Flask, change: str) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob, carol)["id"]
    assert alice.post(member_url(room, bob), json={"is_admin": True}).status_code == 200
    bobs, carols = bob.say(room, "mine")["id"], carol.say(room, "hers")["id"]
    alices_change: Callable[[Any], TestResponse] = (
        (lambda c: c.post(member_url(room, bob), headers=alice.headers, json={"is_admin": False}))
        if change == "delete_once_demoted"
        else (lambda c: c.delete(member_url(room, bob), headers=alice.headers))
    )
    bobs_change: Callable[[Any], TestResponse] = {
        "send": lambda c: c.post(MESSAGES, headers=bob.headers, json={"room_id": room, "content": "still here?"}),
        "edit": lambda c: c.patch(f"{MESSAGES}/{bobs}", headers=bob.headers, json={"content": "edited"}),
        "delete": lambda c: c.delete(f"{MESSAGES}/{carols}", headers=bob.headers),
        "delete_once_demoted": lambda c: c.delete(f"{MESSAGES}/{carols}", headers=bob.headers),
        "mark_read": lambda c: c.post(f"{ROOMS}/{room}/read", headers=bob.headers, json={"up_to": carols}),
    }[change]
    before = alice.get(f"{ROOMS}/{room}/messages").get_json()["items"]
    # Alice's removal (or demotion) of Bob has written everything and holds the room's lock (and the membership
    # row's) when Bob's request passes its first check (he is an admin) and waits for one of them...
    with held_before_its_commit(app, alices_change) as alices, ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(lambda: bobs_change(app.test_client()))
        with app.app_context(), db.engine.connect() as watcher:
            wait_until_a_request_waits_for_a_lock(watcher)
        # ...and then it commits.
        assert alices().status_code in (200, 204)
        response = waiting.result(timeout=10)
    # As if one after the other: a removed Bob is no longer a member, and a demoted one may delete only his own.
    if change == "delete_once_demoted":
        assert_error(response, 403, "not_allowed")
    else:
        assert_error(response, 404, "room_not_found" if change in ("send", "mark_read") else "message_not_found")
    assert alice.get(f"{ROOMS}/{room}/messages").get_json()["items"] == before
    with app.app_context():
        assert (
            db.session.scalar(select(MessageReadReceipt.id).where(MessageReadReceipt.user_id == uuid.UUID(bob.id)))
            is None
        )


@pytest.mark.needs_postgres
def test_a_send_that_waited_for_a_change_that_left_the_sender_a_member_goes_through(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)["id"]

    def rename(c: Any) -> TestResponse:
        return c.patch(f"{ROOMS}/{room}", headers=alice.headers, json={"name": "New"})

    def send(c: Any) -> TestResponse:
        return c.post(MESSAGES, headers=bob.headers, json={"room_id": room, "content": "hi"})

    with held_before_its_commit(app, rename) as alices, ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(lambda: send(app.test_client()))
        with app.app_context(), db.engine.connect() as watcher:
            wait_until_a_request_waits_for_a_lock(watcher)
        assert alices().status_code == 200
        response = waiting.result(timeout=10)
    # The rename stamped the room as membership changes do, so the send checked Bob's access again: he still has it.
    assert response.status_code == 201, response.get_json()
    assert [m["id"] for m in alice.get(f"{ROOMS}/{room}/messages").get_json()["items"]] == [response.get_json()["id"]]
