"""Room services: creating rooms, listing them with unread counts, settings and membership."""

from __future__ import annotations

import uuid
from datetime import datetime
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from armada.chat.permissions import (
    RoomAccess,
    access_room,
    check_admin,
    check_can_remove_member,
    check_group_room,
)
from armada.database import chunked
from armada.errors import Conflict, NotFound, ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, ChatRoomMember, RoomType, User, utcnow
from armada.pagination import Page, decode_cursor, encode_cursor
from armada.realtime import events

# What a serialized room needs, loaded in a fixed number of queries whatever the page size.
ROOM_VIEW_OPTIONS = (
    selectinload(ChatRoom.active_members),
    selectinload(ChatRoom.last_message).selectinload(ChatMessage.reply_to),
)


def direct_key(a: uuid.UUID, b: uuid.UUID) -> str:
    """The unique key of the direct room between two users, the same in either direction."""
    low, high = sorted((str(a), str(b)))
    return f"{low}:{high}"


def _existing_users(user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    ids = set(user_ids)
    return set(db.session.scalars(select(User.id).where(User.id.in_(ids)))) if ids else set()


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
    if room_type is RoomType.DIRECT:
        if name:
            raise ValidationFailed.field("name", "A direct room has no name.")
        if len(others) != 1 or len(set(member_ids)) != 1:
            raise ValidationFailed.field("member_ids", "A direct room needs exactly one other user.")
        room_id, created = _get_or_create_direct(user, others[0], description, avatar_url)
        room = room_view(user, room_id)
        if created:
            events.room_created(room)
        return room, created
    if not name:
        raise ValidationFailed.field("name", "A group room needs a name.")
    now = utcnow()
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
    db.session.commit()
    room = room_view(user, room.id)
    events.room_created(room)
    return room, True


def _get_or_create_direct(
    user: User, other_id: uuid.UUID, description: str | None, avatar_url: str | None
) -> tuple[uuid.UUID, bool]:
    key = direct_key(user.id, other_id)
    existing = db.session.scalar(select(ChatRoom.id).where(ChatRoom.direct_key == key))
    if existing is not None:
        return existing, False
    now = utcnow()
    room = ChatRoom(
        room_type=RoomType.DIRECT,
        description=description,
        avatar_url=avatar_url,
        created_by=user.id,
        direct_key=key,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
    )
    db.session.add(room)
    try:
        db.session.flush()
    except IntegrityError:
        # The other user created the same pair's room a moment ago: theirs is the room.
        db.session.rollback()
        return db.session.scalars(select(ChatRoom.id).where(ChatRoom.direct_key == key)).one(), False
    db.session.add_all(
        ChatRoomMember(room_id=room.id, user_id=uid, joined_at=now) for uid in (user.id, other_id)
    )
    db.session.commit()
    return room.id, True


def unread_counts(user: User, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per room: live messages from others after the user's read pointer, in one query."""
    if not room_ids:
        return {}
    rows = db.session.execute(
        select(ChatMessage.room_id, func.count())
        .join(
            ChatRoomMember,
            and_(ChatRoomMember.room_id == ChatMessage.room_id, ChatRoomMember.user_id == user.id),
        )
        .where(
            ChatMessage.room_id.in_(room_ids),
            ChatMessage.seq > ChatRoomMember.last_read_seq,
            ChatMessage.sender_id != user.id,
            ChatMessage.is_deleted == false(),
        )
        .group_by(ChatMessage.room_id)
    )
    return {room_id: count for room_id, count in rows}


def active_memberships(user_ids: Iterable[uuid.UUID]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(user id, room id) of every active membership of these users in an active room."""
    return {
        (user_id, room_id)
        for chunk in chunked(user_ids)
        for user_id, room_id in db.session.execute(
            select(ChatRoomMember.user_id, ChatRoomMember.room_id)
            .join(ChatRoom, ChatRoom.id == ChatRoomMember.room_id)
            .where(ChatRoomMember.user_id.in_(chunk), ChatRoomMember.is_active == true(), ChatRoom.is_active == true())
        )
    }


def _with_unread_counts(user: User, rooms: list[ChatRoom]) -> list[ChatRoom]:
    counts = unread_counts(user, [r.id for r in rooms])
    for room in rooms:
        room.unread_count = counts.get(room.id, 0)
    return rooms


def list_rooms(user: User, limit: int, cursor: str | None) -> Page[ChatRoom]:
    """The user's active rooms, most recent activity first."""
    stmt = (
        select(ChatRoom)
        .join(
            ChatRoomMember,
            and_(
                ChatRoomMember.room_id == ChatRoom.id,
                ChatRoomMember.user_id == user.id,
                ChatRoomMember.is_active == true(),
            ),
        )
        .where(ChatRoom.is_active == true())
    )
    if cursor:
        at, room_id = decode_cursor(cursor, "cursor", (datetime, uuid.UUID))
        stmt = stmt.where(
            or_(
                ChatRoom.last_activity_at < at,
                and_(ChatRoom.last_activity_at == at, ChatRoom.id < room_id),
            )
        )
    stmt = stmt.order_by(ChatRoom.last_activity_at.desc(), ChatRoom.id.desc()).limit(limit + 1)
    rows = list(db.session.scalars(stmt.options(*ROOM_VIEW_OPTIONS)))
    items = _with_unread_counts(user, rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor([items[-1].last_activity_at, items[-1].id])
    return Page(items, next_cursor)


def room_view_unchecked(room_id: uuid.UUID) -> ChatRoom:
    """A room with its members and last message loaded, for a caller that already checked access."""
    return db.session.scalars(
        select(ChatRoom).where(ChatRoom.id == room_id).options(*ROOM_VIEW_OPTIONS)
        .execution_options(populate_existing=True)
    ).one()


def room_view(user: User, room_id: uuid.UUID) -> ChatRoom:
    """One room as its member sees it, unread count included."""
    access_room(user, room_id)
    return _with_unread_counts(user, [room_view_unchecked(room_id)])[0]


def update_room(user: User, room_id: uuid.UUID, changes: dict[str, str | None]) -> ChatRoom:
    """Change a group's name, description or avatar (admins only)."""
    access = access_room(user, room_id)
    check_group_room(access.room)
    check_admin(access)
    if "name" in changes and not changes["name"]:
        raise ValidationFailed.field("name", "A group room needs a name.")
    access = _lock_and_recheck(user, access)
    check_admin(access)
    for field in ("name", "description", "avatar_url"):
        if field in changes:
            setattr(access.room, field, changes[field])
    access.room.updated_at = utcnow()
    db.session.commit()
    room = room_view(user, room_id)
    events.room_updated(room)
    return room


def _lock_room(room_id: uuid.UUID) -> None:
    """Row-lock the room until commit, so that membership changes of one room run one at a time.

    The last-admin rules count admins: without the lock, two admins demoting each other, or both leaving, at the same
    moment would each still count the other and leave the group with no admin. The new updated_at is how a send
    tells, without a query more, that membership may have changed since it checked (messages._next_message_seq).
    """
    statement = update(ChatRoom).where(ChatRoom.id == room_id).values(updated_at=utcnow())
    db.session.execute(statement, execution_options={"synchronize_session": False})


def _lock_and_recheck(actor: User, access: RoomAccess) -> RoomAccess:
    """Lock the room's row (_lock_room), then check the actor's access again on rows read afresh.

    The first check ran before the lock: a change the actor waited on (another admin removing or demoting them)
    may have committed since, and it must hold as if the two had run one after the other.
    """
    _lock_room(access.room.id)
    db.session.expire(access.room)
    db.session.expire(access.member)
    return access_room(actor, access.room.id)


def _active_admin_count(room_id: uuid.UUID) -> int:
    return db.session.scalar(
        select(func.count()).where(
            ChatRoomMember.room_id == room_id,
            ChatRoomMember.is_active == true(),
            ChatRoomMember.is_admin == true(),
        )
    ) or 0


def add_member(actor: User, room_id: uuid.UUID, user_id: uuid.UUID, is_admin: bool | None) -> tuple[ChatRoom, bool]:
    """Add a user to a group (admins only); for a current member, set `is_admin` if given. Bool: newly added."""
    access = access_room(actor, room_id)
    check_group_room(access.room)
    check_admin(access)
    if db.session.get(User, user_id) is None:
        raise NotFound("No such user.", code="user_not_found")
    access = _lock_and_recheck(actor, access)
    check_admin(access)
    room = access.room
    # Read under the lock, and afresh: it may be the caller's own membership, loaded before the lock.
    member = db.session.scalar(
        select(ChatRoomMember)
        .where(ChatRoomMember.room_id == room.id, ChatRoomMember.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    now = utcnow()
    added = member is None or not member.is_active
    if member is None:
        member = ChatRoomMember(room_id=room.id, user_id=user_id)
        db.session.add(member)
    if added:
        # A newcomer sees the history but starts with nothing unread.
        member.is_active, member.joined_at, member.is_admin = True, now, bool(is_admin)
        member.last_read_seq, member.last_read_at = room.last_seq, None
    elif is_admin is not None and is_admin != member.is_admin:
        if not is_admin and _active_admin_count(room.id) <= 1:
            raise Conflict("A room needs at least one admin; make someone else admin first.", code="last_admin")
        member.is_admin = is_admin
    else:
        db.session.rollback()  # nothing to change: release the lock now
        return room_view(actor, room_id), False
    room.updated_at = now
    db.session.commit()
    view = room_view(actor, room_id)
    if added:
        events.member_added(view, user_id)
    else:
        events.room_updated(view)
    return view, added


def remove_member(actor: User, room_id: uuid.UUID, user_id: uuid.UUID) -> RoomAccess:
    """Remove a member (admins) or leave (anyone); returns the room and the departed membership."""
    access = access_room(actor, room_id)
    check_group_room(access.room)
    check_can_remove_member(access, user_id)
    access = _lock_and_recheck(actor, access)
    check_can_remove_member(access, user_id)
    room = access.room
    member = db.session.scalar(
        select(ChatRoomMember)
        .where(
            ChatRoomMember.room_id == room.id,
            ChatRoomMember.user_id == user_id,
            ChatRoomMember.is_active == true(),
        )
        .execution_options(populate_existing=True)
    )
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    member.is_active, member.is_admin = False, False
    db.session.flush()
    handed_over = _active_admin_count(room.id) == 0
    if handed_over:
        _hand_over_admin(room)
    room.updated_at = utcnow()
    db.session.commit()
    events.member_removed(room.id, user_id)
    if handed_over and room.is_active:
        events.room_updated(room_view_unchecked(room.id))
    return RoomAccess(room, member)


def _hand_over_admin(room: ChatRoom) -> None:
    """The last admin left: the longest-standing member becomes admin; an empty room is closed."""
    heir = db.session.scalar(
        select(ChatRoomMember)
        .where(ChatRoomMember.room_id == room.id, ChatRoomMember.is_active == true())
        .order_by(ChatRoomMember.joined_at, ChatRoomMember.id)
        .limit(1)
    )
    if heir is None:
        room.is_active = False
    else:
        heir.is_admin = True
