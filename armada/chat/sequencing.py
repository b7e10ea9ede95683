"""The room lock and change numbers: how concurrent changes to one room are put in one order.

Every change to a room's messages (a send, an edit, a deletion) takes the room's next change number with one
UPDATE of the room's row, which row-locks it until commit. So changes to one room commit in number order: a client
catching up with `after=` or `changed_after=` can never miss one that committed late, and a concurrent retry of the
same `client_id` waits for the first send and then finds it.

Membership changes take the same lock (`lock_room`) and stamp the room's `updated_at` under it. The last-admin rules
count admins, so without the lock two admins demoting each other, or both leaving, at the same moment would each
still count the other. The stamp is how a send tells, without a statement more, that membership may have changed
since it checked access (`take_message_seq`). A change checks the caller's access before it locks (to answer a
stranger at once) and again, on rows read afresh, once it holds the lock (`lock_and_recheck_*`): a change it waited
for may have removed or demoted the caller, and it must hold as if the two had run one after the other.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Update, select, update

from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, User, utcnow
from armada.permissions import RoomAccess, access_message, access_room

# No session synchronization on these UPDATEs: nothing reads the room object's counters after them, and evaluating
# the SET against the identity map cost more than the UPDATE itself on the send path (see BENCHMARKS.md).
UNSYNCHRONIZED = {"synchronize_session": False}
_rooms = cast(Table, ChatRoom.__table__)


def _counter_update(room_id: uuid.UUID, new_message_at: datetime | None = None) -> Update:
    """The UPDATE that takes the room's next change number (returned); it row-locks the room until commit."""
    values: dict[str, Any] = {"last_seq": ChatRoom.last_seq + 1}
    if new_message_at is not None:
        # Both SET expressions read the old last_seq, so last_message_seq gets the same new number.
        values |= {"last_message_seq": ChatRoom.last_seq + 1, "last_activity_at": new_message_at}
    return update(ChatRoom).where(ChatRoom.id == room_id).values(values).returning(ChatRoom.last_seq)


def take_change_number(room_id: uuid.UUID, new_message_at: datetime | None = None) -> int:
    """Take the room's next change number (for a new message if `new_message_at`); row-locks the room until commit."""
    change: int = db.session.execute(
        _counter_update(room_id, new_message_at), execution_options=UNSYNCHRONIZED
    ).scalar_one()
    return change


def take_message_seq(
    user: User, room_id: uuid.UUID, checked_stamp: datetime, now: datetime, *, in_thread: bool = False
) -> int:
    """Take the room's next change number for a new message, the sender still a member once it is.

    A thread reply (`in_thread`) is no new message of the room's own history: it leaves the room's last message
    and activity time as they are.

    The sender's access was checked before the lock, when the room's updated_at was `checked_stamp`, and a removal
    the send waited for (it holds the same lock) may have committed since. Every membership change stamps
    updated_at under that lock (`lock_room`), so the number is taken only if the stamp is unchanged, which
    PostgreSQL re-evaluates on the row as a removal that held it left it; only if it changed does the send check
    again, now under the lock. So a send costs no statement more. (A condition on the membership row in that
    UPDATE would not do: after waiting, PostgreSQL re-reads only the row it locks, other tables as they were.)
    """
    new_message_at = None if in_thread else now
    # _counter_update's statement in Core, on the table: the ORM's handling of its DML cost ~0.13 ms of CPU per
    # send, and nothing is pending to flush yet (the send has only read).
    values: dict[str, Any] = {"last_seq": _rooms.c.last_seq + 1}
    if new_message_at is not None:
        values |= {"last_message_seq": _rooms.c.last_seq + 1, "last_activity_at": new_message_at}
    unchanged = (
        update(_rooms)
        .where(_rooms.c.id == room_id, _rooms.c.updated_at == checked_stamp)
        .values(values)
        .returning(_rooms.c.last_seq)
    )
    seq = db.session.connection().execute(unchanged).scalar_one_or_none()
    if seq is None:
        seq = take_change_number(room_id, new_message_at=new_message_at)
        access_room(user, room_id)
    return seq


def lock_room(room_id: uuid.UUID) -> None:
    """Row-lock the room until commit for a membership or settings change, stamping its updated_at."""
    statement = update(ChatRoom).where(ChatRoom.id == room_id).values(updated_at=utcnow())
    db.session.execute(statement, execution_options=UNSYNCHRONIZED)


def lock_and_recheck_room(actor: User, access: RoomAccess) -> RoomAccess:
    """Lock the room's row (`lock_room`), then check the actor's access again on rows read afresh."""
    lock_room(access.room.id)
    db.session.expire(access.room)
    db.session.expire(access.member)
    return access_room(actor, access.room.id)


def lock_and_recheck_message(
    user: User, message: ChatMessage, access: RoomAccess
) -> tuple[int, ChatMessage, RoomAccess]:
    """Take the room's next change number, then read the message and the caller's access to it again.

    Either may have changed while we waited for the lock: the message edited or deleted, or the caller removed
    or demoted. One query, as the plain re-read of the message it replaces.
    """
    message_id = message.id
    change = take_change_number(message.room_id)
    for row in (message, access.room, access.member):
        db.session.expire(row)
    message, access = access_message(user, message_id)
    return change, message, access


def last_change_numbers(room_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each room's last change number (one statement per thousand rooms): how far its committed changes go."""
    numbers: dict[uuid.UUID, int] = {}
    for start in range(0, len(room_ids), 1000):  # bounded IN lists, whatever the number of rooms
        chunk = room_ids[start : start + 1000]
        rows = db.session.execute(select(ChatRoom.id, ChatRoom.last_seq).where(ChatRoom.id.in_(chunk)))
        numbers.update((room_id, last_seq) for room_id, last_seq in rows)
    return numbers
