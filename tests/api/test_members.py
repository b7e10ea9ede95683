"""Room membership over REST: adding, promoting, removing, leaving, admin hand-over and closing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from armada.extensions import db
from armada.models import ChatRoom, ChatRoomMember
from tests.helpers.support import Actor, ApiClient, assert_error

ROOMS = "/api/chat/rooms"


def member_url(room: dict[str, Any], user: Actor | str) -> str:
    """The membership endpoint of a user in a room."""
    user_id = user if isinstance(user, str) else user.id
    return f"{ROOMS}/{room['id']}/members/{user_id}"


def admins(room: dict[str, Any]) -> dict[str, bool]:
    """user id -> is_admin, for a room body."""
    return {m["user_id"]: m["is_admin"] for m in room["members"]}


def fetch(actor: Actor, room: dict[str, Any]) -> dict[str, Any]:
    """The room as this actor sees it now (asserting they can)."""
    response = actor.get(f"{ROOMS}/{room['id']}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def listed_ids(actor: Actor) -> list[str]:
    """The ids of the actor's room list."""
    return [r["id"] for r in actor.get(ROOMS).get_json()["items"]]


def memberships(app: Flask, room: dict[str, Any], user: Actor) -> list[tuple[bool, bool]]:
    """(is_active, is_admin) of every membership row of the user in the room."""
    with app.app_context():
        rows = db.session.execute(
            select(ChatRoomMember.is_active, ChatRoomMember.is_admin).where(
                ChatRoomMember.room_id == uuid.UUID(room["id"]), ChatRoomMember.user_id == uuid.UUID(user.id)
            )
        )
        return [tuple(row) for row in rows]


def room_is_active(app: Flask, room: dict[str, Any]) -> bool:
    """The room's is_active column."""
    with app.app_context():
        return db.session.scalar(select(ChatRoom.is_active).where(ChatRoom.id == uuid.UUID(room["id"])))


# ---- adding ------------------------------------------------------------------------------------------------


def test_admin_adds_a_member(api: ApiClient, app: Flask) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob)
    response = alice.post(member_url(room, carol))
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] == room["id"]
    added = {m["user_id"]: m for m in body["members"]}[carol.id]
    assert added["display_name"] == "Carol" and added["is_admin"] is False
    assert memberships(app, room, carol) == [(True, False)]


def test_readding_an_existing_member_is_200_without_a_duplicate(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    response = alice.post(member_url(room, bob))
    assert response.status_code == 200
    assert [m["user_id"] for m in response.get_json()["members"]].count(bob.id) == 1
    assert memberships(app, room, bob) == [(True, False)]


def test_is_admin_true_promotes_an_existing_member(api: ApiClient, app: Flask) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob)
    response = alice.post(member_url(room, bob), json={"is_admin": True})
    assert response.status_code == 200
    assert admins(response.get_json()) == {alice.id: True, bob.id: True}
    assert bob.post(member_url(room, carol)).status_code == 201


def test_new_member_can_be_added_as_admin(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group()
    response = alice.post(member_url(room, bob), json={"is_admin": True})
    assert response.status_code == 201
    assert admins(response.get_json())[bob.id] is True


def test_readding_without_is_admin_keeps_admin_status(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    alice.post(member_url(room, bob), json={"is_admin": True})
    assert admins(alice.post(member_url(room, bob)).get_json())[bob.id] is True


def test_admin_demotes_another_admin(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    alice.post(member_url(room, bob), json={"is_admin": True})
    response = alice.post(member_url(room, bob), json={"is_admin": False})
    assert response.status_code == 200
    assert admins(response.get_json()) == {alice.id: True, bob.id: False}


def test_demoting_the_last_admin_is_refused(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    assert_error(alice.post(member_url(room, alice), json={"is_admin": False}), 409, "last_admin")
    assert memberships(app, room, alice) == [(True, True)]


def test_non_admin_cannot_add_members(api: ApiClient, app: Flask) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob)
    assert_error(bob.post(member_url(room, carol)), 403, "not_admin")
    assert memberships(app, room, carol) == []


def test_non_admin_cannot_promote_themselves(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    assert_error(bob.post(member_url(room, bob), json={"is_admin": True}), 403, "not_admin")
    assert memberships(app, room, bob) == [(True, False)]


def test_adding_an_unknown_user_is_404(api: ApiClient, app: Flask) -> None:
    alice = api.register("Alice")
    room = alice.make_group()
    assert_error(alice.post(member_url(room, str(uuid.uuid4()))), 404, "user_not_found")
    assert [m["user_id"] for m in fetch(alice, room)["members"]] == [alice.id]


def test_non_member_adding_gets_the_unknown_room_404(api: ApiClient, app: Flask) -> None:
    alice, mallory = api.users("Alice", "Mallory")
    room = alice.make_group()
    existing = mallory.post(member_url(room, mallory))
    unknown = mallory.post(f"{ROOMS}/{uuid.uuid4()}/members/{mallory.id}")
    assert_error(existing, 404, "room_not_found")
    assert existing.get_json() == unknown.get_json()
    assert memberships(app, room, mallory) == []


@pytest.mark.parametrize("is_admin", ["maybe", [True], {"x": 1}, 2], ids=["word", "list", "object", "number"])
def test_is_admin_must_be_a_boolean(api: ApiClient, app: Flask, is_admin: Any) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group()
    response = alice.post(member_url(room, bob), json={"is_admin": is_admin})
    assert "is_admin" in assert_error(response, 422, "validation_failed")["details"]
    assert memberships(app, room, bob) == []


@pytest.mark.parametrize("method", ["post", "delete"])
def test_non_uuid_user_id_is_a_contract_404(api: ApiClient, method: str) -> None:
    alice = api.register("Alice")
    room = alice.make_group()
    assert_error(getattr(alice, method)(f"{ROOMS}/{room['id']}/members/not-a-uuid"), 404, "not_found")


def test_added_member_sees_the_room_with_nothing_unread_and_reads_history(api: ApiClient) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob)
    history = [alice.say(room, "one")["id"], bob.say(room, "two 🎈")["id"]]
    assert alice.post(member_url(room, carol)).status_code == 201
    listed = carol.get(ROOMS).get_json()["items"]
    assert [r["id"] for r in listed] == [room["id"]] and listed[0]["unread_count"] == 0
    assert fetch(carol, room)["unread_count"] == 0
    messages = carol.get(f"{ROOMS}/{room['id']}/messages").get_json()["items"]
    assert [m["id"] for m in messages] == history
    bob.say(room, "three")
    assert fetch(carol, room)["unread_count"] == 1


# ---- removing and leaving ----------------------------------------------------------------------------------


def test_admin_removes_a_member_who_then_loses_all_access(api: ApiClient, app: Flask) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob, carol)
    bob.say(room, "before")
    response = alice.delete(member_url(room, bob))
    assert response.status_code == 204 and response.get_data() == b""
    assert_error(bob.get(f"{ROOMS}/{room['id']}"), 404, "room_not_found")
    assert_error(bob.get(f"{ROOMS}/{room['id']}/messages"), 404, "room_not_found")
    assert room["id"] not in listed_ids(bob)
    sent = bob.post("/api/chat/messages", json={"room_id": room["id"], "content": "still here?"})
    assert_error(sent, 404, "room_not_found")
    assert bob.id not in admins(fetch(alice, room))
    assert memberships(app, room, bob) == [(False, False)]


def test_member_leaves_by_deleting_their_own_id(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    assert bob.delete(member_url(room, bob)).status_code == 204
    assert admins(fetch(alice, room)) == {alice.id: True}
    assert room["id"] not in listed_ids(bob)


def test_non_admin_cannot_remove_someone_else(api: ApiClient, app: Flask) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob, carol)
    assert_error(bob.delete(member_url(room, carol)), 403, "not_admin")
    assert_error(bob.delete(member_url(room, alice)), 403, "not_admin")
    assert set(admins(fetch(alice, room))) == {alice.id, bob.id, carol.id}


@pytest.mark.parametrize("who", ["never-joined", "already-removed", "unknown-user"])
def test_removing_a_non_member_is_404(api: ApiClient, who: str) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob)
    target = {"never-joined": carol.id, "already-removed": bob.id, "unknown-user": str(uuid.uuid4())}[who]
    if who == "already-removed":
        assert alice.delete(member_url(room, bob)).status_code == 204
    assert_error(alice.delete(member_url(room, target)), 404, "member_not_found")


def test_non_member_removing_gets_the_unknown_room_404(api: ApiClient) -> None:
    alice, bob, mallory = api.users("Alice", "Bob", "Mallory")
    room = alice.make_group(bob)
    existing = mallory.delete(member_url(room, bob))
    unknown = mallory.delete(f"{ROOMS}/{uuid.uuid4()}/members/{bob.id}")
    assert_error(existing, 404, "room_not_found")
    assert existing.get_json() == unknown.get_json()
    assert bob.id in admins(fetch(alice, room))


def test_removed_member_cannot_manage_the_room(api: ApiClient) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob, carol)
    alice.post(member_url(room, bob), json={"is_admin": True})
    assert alice.delete(member_url(room, bob)).status_code == 204
    assert_error(bob.post(member_url(room, bob)), 404, "room_not_found")
    assert_error(bob.delete(member_url(room, carol)), 404, "room_not_found")
    assert_error(bob.patch(f"{ROOMS}/{room['id']}", json={"name": "Mine"}), 404, "room_not_found")


def test_last_admin_leaving_hands_admin_to_the_longest_standing_member(api: ApiClient) -> None:
    alice, bob, carol, dave, erin = api.users("Alice", "Bob", "Carol", "Dave", "Erin")
    room = alice.make_group()
    for newcomer in (bob, carol, dave, erin):
        assert alice.post(member_url(room, newcomer)).status_code == 201
    assert alice.delete(member_url(room, alice)).status_code == 204
    assert admins(fetch(carol, room)) == {bob.id: True, carol.id: False, dave.id: False, erin.id: False}
    assert bob.patch(f"{ROOMS}/{room['id']}", json={"name": "Bob's now"}).status_code == 200


def test_admin_leaving_while_another_admin_remains_promotes_nobody(api: ApiClient) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_group(bob)
    alice.post(member_url(room, carol), json={"is_admin": True})
    assert alice.delete(member_url(room, alice)).status_code == 204
    assert admins(fetch(bob, room)) == {bob.id: False, carol.id: True}


def test_last_member_leaving_closes_the_room(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    assert bob.delete(member_url(room, bob)).status_code == 204
    assert room_is_active(app, room) is True
    assert alice.delete(member_url(room, alice)).status_code == 204
    assert room_is_active(app, room) is False
    assert listed_ids(alice) == [] and listed_ids(bob) == []


def test_removed_user_readded_comes_back_active(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    alice.say(room, "while you were here")
    assert alice.delete(member_url(room, bob)).status_code == 204
    alice.say(room, "while you were away")
    response = alice.post(member_url(room, bob))
    assert response.status_code == 201
    assert admins(response.get_json()) == {alice.id: True, bob.id: False}
    assert memberships(app, room, bob) == [(True, False)]
    assert listed_ids(bob) == [room["id"]]
    assert fetch(bob, room)["unread_count"] == 0
    bob.say(room, "I'm back")
