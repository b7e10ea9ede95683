"""Socket events that only read (connect, join_room, leave_room, typing) run their statements in no transaction:
what that must not change — a removal racing a join still keeps the socket out, and the connections they hand
back to the pool run the next unit of work in a transaction again."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Flask
from sqlalchemy import Connection, update

from armada.extensions import db
from armada.models import ChatRoomMember
from tests.helpers.in_process import InProcessSocket
from tests.helpers.support import Actor, QueryCounter, committed_just_before


def test_a_removal_committed_between_the_two_room_checks_of_a_join_keeps_the_socket_out(
    app: Flask, pair: tuple[Actor, Actor], sockets: Callable[..., InProcessSocket], count_queries: QueryCounter
) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    socket = sockets(bob.access_token)

    def remove_bob(connection: Connection) -> None:
        connection.execute(
            update(ChatRoomMember)
            .where(ChatRoomMember.room_id == uuid.UUID(room["id"]), ChatRoomMember.user_id == uuid.UUID(bob.id))
            .values(is_active=False)
        )

    # The first check passes; the removal commits before the second, which runs once the socket is in the room.
    recheck = committed_just_before(app, "SELECT chat_rooms.last_seq", remove_bob, passing=1)
    with count_queries as counter, recheck as ran:
        ack = socket.call("join_room", {"room_id": room["id"]})
    assert ran, counter.statements
    # The path under test: both checks in no transaction, so none is ended before the second.
    checks = [level for sql, level in zip(counter.statements, counter.isolation, strict=True) if "last_seq" in sql]
    assert checks == ["AUTOCOMMIT", "AUTOCOMMIT"], counter.statements
    assert ack["ok"] is False and ack["error"]["code"] == "room_not_found", ack
    assert socket.received("room_joined") == []
    alice.say(room, "after the removal")
    assert socket.received("new_message") == []


def test_a_join_without_a_race_still_joins(pair: tuple[Actor, Actor], sockets: Callable[..., InProcessSocket]) -> None:
    # The twin of the test above, so that its refusal can only come from the removal.
    alice, bob = pair
    room = alice.make_group(bob)
    socket = sockets(bob.access_token)
    assert socket.call("join_room", {"room_id": room["id"]}) == {"ok": True, "room_id": room["id"]}
    alice.say(room, "hello")
    assert [m["message"]["content"] for m in socket.received("new_message")] == ["hello"]


def test_connections_back_from_reading_socket_events_run_the_next_unit_of_work_in_a_transaction(
    app: Flask, pair: tuple[Actor, Actor], sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob = pair
    room = alice.make_group(bob)
    socket = sockets(bob.access_token)
    assert socket.call("join_room", {"room_id": room["id"]})["ok"]
    assert socket.call("typing", {"room_id": room["id"], "is_typing": True})["ok"]
    assert socket.call("leave_room", {"room_id": room["id"]})["ok"]
    with app.app_context():
        pool = db.engine.pool
        held = [db.engine.connect() for _ in range(pool.checkedin())]  # type: ignore[attr-defined]
        try:
            assert held, "the events handed no connection back to the pool"
            assert [c.get_isolation_level() for c in held].count("AUTOCOMMIT") == 0
        finally:
            for connection in held:
                connection.close()
