"""The room lock and change numbers (armada.chat.sequencing), called directly: each step of the protocol that puts
concurrent changes to one room in one order. The races themselves run through the API in test_members,
test_messages and test_read_receipts; these pin what each step does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import update

from armada.chat.sequencing import (
    lock_and_recheck_message,
    lock_and_recheck_room,
    lock_room,
    take_change_number,
    take_message_seq,
)
from armada.errors import NotFound
from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, ChatRoomMember, User, utcnow
from armada.permissions import access_message, access_room
from tests.helpers.support import ApiClient, QueryCounter


@dataclass
class Scene:
    """Alice (admin) and Bob in a group with one message of Bob's."""

    room_id: uuid.UUID
    message_id: uuid.UUID
    alice: User
    bob: User

    def room(self) -> ChatRoom:
        """The room as the database has it now."""
        db.session.expire_all()
        return db.session.get_one(ChatRoom, self.room_id)

    def committed_elsewhere(self, statement: object) -> None:
        """Run and commit a change on a connection of its own: another request's change that committed."""
        with db.engine.begin() as other:
            other.execute(statement)


@pytest.fixture
def scene(app: Flask, api: ApiClient) -> Iterator[Scene]:
    alice, bob = api.register("Alice"), api.register("Bob")
    group = alice.make_group(bob)
    message = bob.say(group, "hi")
    with app.app_context():
        yield Scene(
            uuid.UUID(group["id"]),
            uuid.UUID(message["id"]),
            db.session.get_one(User, uuid.UUID(alice.id)),
            db.session.get_one(User, uuid.UUID(bob.id)),
        )


def test_each_change_takes_the_next_number_and_only_a_new_message_moves_the_last_message(scene: Scene) -> None:
    before = scene.room()
    last_seq, last_message_seq = before.last_seq, before.last_message_seq
    assert take_change_number(scene.room_id) == last_seq + 1
    at = utcnow()
    assert take_change_number(scene.room_id, new_message_at=at) == last_seq + 2
    after = scene.room()
    assert (after.last_seq, after.last_message_seq, after.last_activity_at) == (last_seq + 2, last_seq + 2, at)
    assert last_message_seq == last_seq  # the one message so far was the last change


def test_a_send_takes_its_number_in_one_statement_while_membership_is_unchanged(
    scene: Scene, count_queries: QueryCounter
) -> None:
    stamp = access_room(scene.bob, scene.room_id).room.updated_at
    with count_queries:
        seq = take_message_seq(scene.bob, scene.room_id, stamp, utcnow())
    assert count_queries.count == 1
    assert seq == scene.room().last_message_seq


def test_a_send_checks_again_once_membership_changed_and_keeps_a_member(
    scene: Scene, count_queries: QueryCounter
) -> None:
    stamp = access_room(scene.bob, scene.room_id).room.updated_at
    scene.committed_elsewhere(update(ChatRoom).where(ChatRoom.id == scene.room_id).values(updated_at=utcnow()))
    with count_queries:
        seq = take_message_seq(scene.bob, scene.room_id, stamp, utcnow())
    # The stamped UPDATE matched nothing; the plain one took the number; the access check ran again under the lock.
    assert count_queries.count == 3
    assert seq == scene.room().last_message_seq


def test_a_send_checks_again_once_membership_changed_and_refuses_a_removed_sender(scene: Scene) -> None:
    stamp = access_room(scene.bob, scene.room_id).room.updated_at
    db.session.rollback()
    removed = update(ChatRoomMember).where(ChatRoomMember.user_id == scene.bob.id).values(is_active=False)
    scene.committed_elsewhere(removed)
    scene.committed_elsewhere(update(ChatRoom).where(ChatRoom.id == scene.room_id).values(updated_at=utcnow()))
    with pytest.raises(NotFound):
        take_message_seq(scene.bob, scene.room_id, stamp, utcnow())


def test_a_membership_change_stamps_the_room(scene: Scene) -> None:
    stamp = scene.room().updated_at
    lock_room(scene.room_id)
    assert scene.room().updated_at != stamp


def test_a_room_change_rereads_the_actors_access_under_the_lock(scene: Scene) -> None:
    access = access_room(scene.alice, scene.room_id)
    assert access.member.is_admin
    db.session.rollback()
    demoted = update(ChatRoomMember).where(ChatRoomMember.user_id == scene.alice.id).values(is_admin=False)
    scene.committed_elsewhere(demoted)
    assert lock_and_recheck_room(scene.alice, access).member.is_admin is False


def test_a_message_change_takes_a_number_and_rereads_the_message_under_the_lock(scene: Scene) -> None:
    message, access = access_message(scene.bob, scene.message_id)
    assert not message.is_deleted
    last_seq = scene.room().last_seq
    db.session.rollback()
    scene.committed_elsewhere(update(ChatMessage).where(ChatMessage.id == scene.message_id).values(is_deleted=True))
    change, fresh, _ = lock_and_recheck_message(scene.bob, message, access)
    assert change == last_seq + 1
    assert fresh.is_deleted
