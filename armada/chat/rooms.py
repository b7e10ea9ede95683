"""Room services: creating direct and group rooms, and changing a group's settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select

from armada import outbox
from armada.chat.events import RoomCreated, RoomUpdated
from armada.chat.room_views import room_view
from armada.chat.sequencing import lock_and_recheck_room
from armada.database import insert_skipping_duplicates
from armada.errors import ValidationFailed
from armada.extensions import db
from armada.models import ChatRoom, ChatRoomMember, RoomType, User, utcnow
from armada.permissions import access_room, check_admin, check_group_room
from armada.transaction import transactional


def direct_key(a: uuid.UUID, b: uuid.UUID) -> str:
    """The unique key of the direct room between two users, the same in either direction."""
    low, high = sorted((str(a), str(b)))
    return f"{low}:{high}"


def _existing_users(user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    ids = set(user_ids)
    return set(db.session.scalars(select(User.id).where(User.id.in_(ids)))) if ids else set()


@transactional
def create_room(
    user: User,
    room_type: RoomType,
    member_ids: Sequence[uuid.UUID],
    name: str | None = None,
    description: str | None = None,
    avatar_url: str | None = None,
) -> tuple[ChatRoom, bool]:
    """Create a room, or return the existing direct room of the pair; the bool says whether it is new."""
    others = list(dict.fromkeys(m for m in member_ids if m != user.id))
    unknown = set(others) - _existing_users(others)
    if unknown:
        problems = [f"Unknown user: {u}" for u in sorted(map(str, unknown))]
        raise ValidationFailed("Some member_ids are not users.", details={"member_ids": problems})
    now = utcnow()
    if room_type is RoomType.DIRECT:
        if len(others) != 1:  # the one member named was the caller
            raise ValidationFailed.field("member_ids", "A direct room needs exactly one other user.")
        room_id, created = _get_or_create_direct(user, others[0], description, avatar_url)
        room = room_view(user, room_id)
        if created:
            outbox.record(RoomCreated(room))
        return room, created
    room = ChatRoom(
        name=name,
        room_type=RoomType.GROUP,
        description=description,
        avatar_url=avatar_url,
        created_by=user.id,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
    )
    db.session.add(room)
    db.session.flush()
    db.session.add(ChatRoomMember(room_id=room.id, user_id=user.id, is_admin=True, joined_at=now))
    db.session.add_all(ChatRoomMember(room_id=room.id, user_id=uid, joined_at=now) for uid in others)
    room = room_view(user, room.id)
    outbox.record(RoomCreated(room))
    return room, True


def _get_or_create_direct(
    user: User, other_id: uuid.UUID, description: str | None, avatar_url: str | None
) -> tuple[uuid.UUID, bool]:
    key = direct_key(user.id, other_id)
    existing = db.session.scalar(select(ChatRoom.id).where(ChatRoom.direct_key == key))
    if existing is not None:
        return existing, False
    now = utcnow()
    values = {
        "id": uuid.uuid4(),
        "room_type": RoomType.DIRECT,
        "description": description,
        "avatar_url": avatar_url,
        "created_by": user.id,
        "direct_key": key,
        "created_at": now,
        "updated_at": now,
        "last_activity_at": now,
    }
    insert = insert_skipping_duplicates(ChatRoom, "direct_key").values(values).returning(ChatRoom.id)
    room_id = db.session.scalar(insert)
    if room_id is None:
        # The other user created the same pair's room a moment ago (we waited for their commit): theirs is the room.
        return db.session.scalars(select(ChatRoom.id).where(ChatRoom.direct_key == key)).one(), False
    db.session.add_all(ChatRoomMember(room_id=room_id, user_id=uid, joined_at=now) for uid in (user.id, other_id))
    return room_id, True


@transactional
def update_room(user: User, room_id: uuid.UUID, changes: dict[str, str | None]) -> ChatRoom:
    """Change a group's name, description or avatar (admins only)."""
    access = access_room(user, room_id)
    check_group_room(access.room)
    check_admin(access)
    access = lock_and_recheck_room(user, access)
    check_admin(access)
    for field in ("name", "description", "avatar_url"):
        if field in changes:
            setattr(access.room, field, changes[field])
    access.room.updated_at = utcnow()
    room = room_view(user, room_id)
    outbox.record(RoomUpdated(room))
    return room
