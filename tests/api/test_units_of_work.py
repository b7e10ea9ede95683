"""Units of work and events on commit (armada.transaction, armada.outbox): a change is announced once it commits,
exactly once and in order, never when it does not, and services compose into one transaction.

The events are observed by an in-process Socket.IO client in the room, as any client would see them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from armada import outbox
from armada.auth.events import SessionRevoked
from armada.chat.editing import delete_message, edit_message
from armada.chat.sending import send_message
from armada.errors import Conflict
from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, User
from armada.transaction import DoomedUnitOfWork, discard, transactional, undo
from tests.helpers.in_process import InProcessSocket
from tests.helpers.support import Actor


@dataclass
class Room:
    """Alice's group with Bob, and Bob's socket joined to it."""

    alice: Actor
    bob: Actor
    room_id: uuid.UUID
    socket: InProcessSocket

    def user(self, actor: Actor) -> User:
        """The actor as the services take it, in the current app context."""
        user = db.session.get(User, uuid.UUID(actor.id))
        assert user is not None
        return user

    def heard(self, event: str) -> list[dict[str, Any]]:
        """What the socket received of `event` so far."""
        return self.socket.received(event)

    def contents(self) -> list[str | None]:
        """The content of every new_message the socket heard, in order."""
        return [data["message"]["content"] for data in self.heard("new_message")]

    def stored(self) -> list[str | None]:
        """The contents stored in the room, oldest first (from a session of its own)."""
        db.session.remove()
        return list(db.session.scalars(select(ChatMessage.content).where(ChatMessage.room_id == self.room_id)))


@pytest.fixture
def room(app: Flask, pair: tuple[Actor, Actor], sockets: Callable[..., InProcessSocket]) -> Iterator[Room]:
    alice, bob = pair
    group = alice.make_group(bob)
    socket = sockets(bob.access_token)
    assert socket.call("join_room", {"room_id": group["id"]})["ok"]
    with app.app_context():
        yield Room(alice, bob, uuid.UUID(group["id"]), socket)


def test_a_change_is_announced_once_and_only_after_its_commit(room: Room) -> None:
    heard_inside: list[str | None] = []

    @transactional
    def send_and_listen() -> ChatMessage:
        message, _ = send_message(room.user(room.alice), room.room_id, content="one")
        heard_inside.extend(room.contents())  # the transaction is still open here
        return message

    message = send_and_listen()
    assert heard_inside == []
    assert room.contents() == ["one"]
    assert room.heard("new_message")[0]["message"]["id"] == str(message.id)
    assert room.stored() == ["one"]


def test_a_change_that_rolls_back_is_never_announced(room: Room) -> None:
    @transactional
    def send_then_refuse() -> None:
        send_message(room.user(room.alice), room.room_id, content="never")
        raise Conflict("changed my mind")

    with pytest.raises(Conflict):
        send_then_refuse()
    send_message(room.user(room.alice), room.room_id, content="later")
    # The dropped event does not ride along with the next commit either.
    assert room.contents() == ["later"]
    assert room.stored() == ["later"]


def test_a_commit_that_fails_announces_nothing(room: Room) -> None:
    @transactional
    def send_with_a_duplicate_account() -> None:
        send_message(room.user(room.alice), room.room_id, content="doomed")
        # Refused by the unique email when the commit flushes it: the commit itself fails.
        db.session.add(User(email=room.alice.user["email"], password_hash="x", display_name="Twin"))

    with pytest.raises(IntegrityError):
        send_with_a_duplicate_account()
    assert room.contents() == []
    send_message(room.user(room.alice), room.room_id, content="after")
    assert room.contents() == ["after"]
    assert room.stored() == ["after"]


def test_services_called_by_a_service_commit_once_and_announce_each_change_once_in_order(room: Room) -> None:
    heard_inside: list[str] = []

    @transactional
    def send_edit_and_delete() -> uuid.UUID:
        alice = room.user(room.alice)
        kept, _ = send_message(alice, room.room_id, content="first")
        edit_message(alice, kept.id, "first, edited")
        gone, _ = send_message(alice, room.room_id, content="second")
        delete_message(alice, gone.id)
        heard_inside.extend(name for name in ("new_message", "message_edited", "message_deleted") if room.heard(name))
        return gone.id

    gone_id = send_edit_and_delete()
    assert heard_inside == []
    order = [
        item["name"]
        for item in room.socket.queue
        if item["name"] in ("new_message", "message_edited", "message_deleted")
    ]
    assert order == ["new_message", "message_edited", "new_message", "message_deleted"]
    assert room.contents() == ["first", "second"]
    assert [data["message"]["content"] for data in room.heard("message_edited")] == ["first, edited"]
    assert room.heard("message_deleted") == [{"room_id": str(room.room_id), "message_id": str(gone_id)}]
    assert room.stored() == ["first, edited", None]


def test_a_failure_after_an_inner_service_undoes_it_and_its_event(room: Room) -> None:
    @transactional
    def send_then_fail() -> None:
        send_message(room.user(room.alice), room.room_id, content="inner")  # commits nothing by itself
        raise Conflict("the outer service refuses")

    with pytest.raises(Conflict):
        send_then_fail()
    assert room.contents() == []
    assert room.stored() == []


@pytest.mark.parametrize("end", [discard, undo])
def test_discard_and_undo_end_a_unit_of_their_own_with_nothing_written(room: Room, end: Callable[[], None]) -> None:
    @transactional
    def rename_then_end() -> str:
        db.session.get_one(ChatRoom, room.room_id).name = "Renamed"
        db.session.flush()
        end()
        return "unchanged"

    assert rename_then_end() == "unchanged"
    db.session.remove()
    assert db.session.get_one(ChatRoom, room.room_id).name == "Team"


def test_discard_inside_another_services_unit_leaves_its_commit_to_that_unit(room: Room) -> None:
    @transactional
    def nothing_to_do() -> None:
        discard()

    @transactional
    def outer() -> None:
        send_message(room.user(room.alice), room.room_id, content="with the inner one")
        nothing_to_do()

    outer()
    assert room.contents() == ["with the inner one"]
    assert room.stored() == ["with the inner one"]


def test_undo_inside_another_services_unit_refuses_the_whole(room: Room) -> None:
    @transactional
    def take_back() -> None:
        undo()

    @transactional
    def outer() -> None:
        send_message(room.user(room.alice), room.room_id, content="with the inner one")
        take_back()

    with pytest.raises(Conflict):
        outer()
    assert room.contents() == []
    assert room.stored() == []


def test_a_unit_that_carries_on_after_a_called_service_failed_cannot_commit(room: Room) -> None:
    @transactional
    def failing() -> None:
        send_message(room.user(room.alice), room.room_id, content="half done")
        raise Conflict("the inner service fails after writing")

    @transactional
    def outer() -> None:
        # What `failing` wrote is still in the transaction: committing it would keep half a change.
        with contextlib.suppress(Conflict):
            failing()
        send_message(room.user(room.alice), room.room_id, content="carried on")

    with pytest.raises(DoomedUnitOfWork):
        outer()
    assert room.contents() == []
    assert room.stored() == []
    send_message(room.user(room.alice), room.room_id, content="next")  # the session is usable again
    assert room.contents() == ["next"]


def test_an_event_must_belong_to_a_transaction(app: Flask) -> None:
    with app.app_context(), pytest.raises(RuntimeError, match="transaction"):
        outbox.record(SessionRevoked("no-transaction"))


def test_a_transaction_closed_without_a_commit_announces_nothing(room: Room) -> None:
    # As when a request ends with its session closed before any commit (the unit of work itself not run).
    send_message.__wrapped__(room.user(room.alice), room.room_id, content="abandoned")  # type: ignore[attr-defined]
    db.session.close()
    send_message(room.user(room.alice), room.room_id, content="kept")
    assert room.contents() == ["kept"]
    assert room.stored() == ["kept"]


def test_a_released_savepoint_keeps_its_events_for_the_commit_and_a_rolled_back_one_drops_only_its_own(
    room: Room,
) -> None:
    heard_inside: list[str | None] = []

    @transactional
    def with_savepoints() -> None:
        alice = room.user(room.alice)
        send_message(alice, room.room_id, content="before")
        with db.session.begin_nested():
            send_message(alice, room.room_id, content="released")
        heard_inside.extend(room.contents())  # released, but the transaction is still open
        savepoint = db.session.begin_nested()
        send_message(alice, room.room_id, content="rolled back")
        savepoint.rollback()
        send_message(alice, room.room_id, content="after")

    with_savepoints()
    assert heard_inside == []
    assert room.contents() == ["before", "released", "after"]
    assert room.stored() == ["before", "released", "after"]


def test_events_are_sent_once_the_connection_is_back_in_the_pool(room: Room) -> None:
    heard_at_checkin: list[int] = []

    def checked_in(*_: Any) -> None:
        heard_at_checkin.append(len(room.heard("new_message")))

    event.listen(db.engine.pool, "checkin", checked_in)
    try:
        send_message(room.user(room.alice), room.room_id, content="one")
    finally:
        event.remove(db.engine.pool, "checkin", checked_in)
    assert heard_at_checkin == [0]
    assert room.contents() == ["one"]
