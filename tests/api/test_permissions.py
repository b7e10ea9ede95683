"""Every permission rule (armada.permissions), called directly on rows made through the API.

The REST and socket authorization matrices check the rules through every door; these pin each rule itself.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from armada.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, User
from armada.permissions import (
    access_message,
    access_room,
    access_upload,
    active_admin_count,
    check_admin,
    check_can_delete,
    check_can_edit,
    check_can_remove_member,
    check_group_room,
    check_joined,
    check_not_last_admin,
)
from tests.helpers.support import ApiClient


@dataclass
class World:
    """Alice (admin) and Bob in a group; Carol outside it; Dave removed from it; a direct room of Alice and Bob."""

    group: uuid.UUID
    direct: uuid.UUID
    alices: uuid.UUID  # Alice's text message in the group
    bobs: uuid.UUID  # Bob's
    forward: uuid.UUID  # Alice's forward of Bob's message
    deleted: uuid.UUID  # Alice's deleted message
    upload_key: str  # Alice's upload

    @staticmethod
    def user(name: str) -> User:
        """A user of the world by display name."""
        user = db.session.query(User).filter_by(display_name=name).one()
        return user

    @staticmethod
    def message(message_id: uuid.UUID) -> ChatMessage:
        """A message by id."""
        return db.session.get_one(ChatMessage, message_id)


def _id(body: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(body["id"])


@pytest.fixture
def world(app: Flask, api: ApiClient) -> Iterator[World]:
    alice, bob, _carol, dave = (api.register(name) for name in ("Alice", "Bob", "Carol", "Dave"))
    group = alice.make_group(bob, dave)
    assert alice.delete(f"/api/chat/rooms/{group['id']}/members/{dave.id}").status_code == 204
    direct = alice.make_direct(bob)
    alices, bobs = alice.say(group, "mine"), bob.say(group, "his")
    forward = alice.say(group, content=None, forwarded_from_id=bobs["id"])
    deleted = alice.say(group, "oops")
    assert alice.delete(f"/api/chat/messages/{deleted['id']}").status_code == 200
    upload = alice.post("/api/chat/upload", data={"file": (io.BytesIO(b"notes"), "notes.txt")})
    assert upload.status_code == 201, upload.get_json()
    with app.app_context():
        yield World(
            _id(group), _id(direct), _id(alices), _id(bobs), _id(forward), _id(deleted), upload.get_json()["path"]
        )


def _error(call: Any) -> DomainError:
    with pytest.raises(DomainError) as raised:
        call()
    return raised.value


def test_a_member_accesses_the_room_with_their_membership(world: World) -> None:
    access = access_room(world.user("Bob"), world.group)
    assert (access.room.id, access.member.user_id, access.member.is_admin) == (world.group, world.user("Bob").id, False)


@pytest.mark.parametrize("who", ["Carol", "Dave"])
def test_a_stranger_or_a_removed_member_gets_the_answer_of_a_room_that_does_not_exist(world: World, who: str) -> None:
    refused = _error(lambda: access_room(world.user(who), world.group))
    missing = _error(lambda: access_room(world.user(who), uuid.uuid4()))
    assert isinstance(refused, NotFound)
    assert refused.to_dict() == missing.to_dict() == {"error": {"code": "room_not_found", "message": "No such room."}}


def test_a_closed_room_is_accessible_to_no_one(world: World) -> None:
    db.session.get_one(ChatRoom, world.group).is_active = False
    db.session.flush()
    assert _error(lambda: access_room(world.user("Alice"), world.group)).error_code == "room_not_found"


def test_a_member_accesses_a_message_and_a_stranger_gets_the_answer_of_a_missing_one(world: World) -> None:
    message, access = access_message(world.user("Bob"), world.alices)
    assert (message.id, access.room.id) == (world.alices, world.group)
    refused = _error(lambda: access_message(world.user("Carol"), world.alices))
    assert refused.to_dict() == _error(lambda: access_message(world.user("Carol"), uuid.uuid4())).to_dict()
    assert refused.error_code == "message_not_found"


def test_a_direct_room_never_changes_its_members_or_settings(world: World) -> None:
    room = db.session.get_one(ChatRoom, world.direct)
    assert isinstance(_error(lambda: check_group_room(room)), Conflict)
    assert _error(lambda: check_group_room(room)).error_code == "direct_room"
    check_group_room(db.session.get_one(ChatRoom, world.group))


def test_only_an_admin_manages_the_room_but_anyone_may_leave(world: World) -> None:
    alice, bob = access_room(world.user("Alice"), world.group), access_room(world.user("Bob"), world.group)
    check_admin(alice)
    assert isinstance(_error(lambda: check_admin(bob)), Forbidden)
    check_can_remove_member(bob, world.user("Bob").id)  # leaving
    assert _error(lambda: check_can_remove_member(bob, world.user("Alice").id)).error_code == "not_admin"
    check_can_remove_member(alice, world.user("Bob").id)


def test_only_the_sender_edits_their_own_live_text_message(world: World) -> None:
    alice = world.user("Alice")
    check_can_edit(alice, world.message(world.alices))
    assert _error(lambda: check_can_edit(alice, world.message(world.bobs))).error_code == "not_sender"
    assert _error(lambda: check_can_edit(alice, world.message(world.deleted))).error_code == "message_deleted"
    assert _error(lambda: check_can_edit(alice, world.message(world.forward))).error_code == "not_editable"


def test_the_sender_or_an_admin_deletes_a_message(world: World) -> None:
    alice, bob = access_room(world.user("Alice"), world.group), access_room(world.user("Bob"), world.group)
    check_can_delete(bob, world.message(world.bobs))
    check_can_delete(alice, world.message(world.bobs))  # an admin
    refused = _error(lambda: check_can_delete(bob, world.message(world.alices)))
    assert isinstance(refused, Forbidden) and refused.error_code == "not_allowed"


def test_the_last_admin_cannot_step_down_but_one_of_two_can(world: World) -> None:
    assert active_admin_count(world.group) == 1
    refused = _error(lambda: check_not_last_admin(world.group))
    assert isinstance(refused, Conflict) and refused.error_code == "last_admin"
    access_room(world.user("Bob"), world.group).member.is_admin = True
    db.session.flush()
    assert active_admin_count(world.group) == 2
    check_not_last_admin(world.group)


def test_a_message_carries_only_its_senders_own_upload(world: World) -> None:
    assert access_upload(world.user("Alice"), world.upload_key).uploader_id == world.user("Alice").id
    foreign = _error(lambda: access_upload(world.user("Bob"), world.upload_key))
    missing = _error(lambda: access_upload(world.user("Bob"), "no/such-key.bin"))
    assert isinstance(foreign, ValidationFailed) and foreign.details == {
        "media_url": [foreign.message.split(": ", 1)[1]]
    }
    assert foreign.to_dict() == missing.to_dict()


def test_typing_needs_a_joined_room(world: World) -> None:
    check_joined(True)
    refused = _error(lambda: check_joined(False))
    assert isinstance(refused, ValidationFailed) and list(refused.details or {}) == ["room_id"]
