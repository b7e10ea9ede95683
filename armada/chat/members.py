"""Membership services: adding members and admins to a group, removing members, leaving; who is in which room."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select, true

from armada import outbox
from armada.chat.events import MemberAdded, MemberRemoved, RoomUpdated
from armada.chat.room_views import room_view, room_view_unchecked
from armada.chat.sequencing import lock_and_recheck_room
from armada.database import chunked
from armada.errors import NotFound
from armada.extensions import db
from armada.models import ChatRoom, ChatRoomMember, User, utcnow
from armada.permissions import (
    RoomAccess,
    access_room,
    active_admin_count,
    check_admin,
    check_can_remove_member,
    check_group_room,
    check_not_last_admin,
)
from armada.transaction import discard, transactional


@transactional
def add_member(actor: User, room_id: uuid.UUID, user_id: uuid.UUID, is_admin: bool | None) -> tuple[ChatRoom, bool]:
    """Add a user to a group (admins only); for a current member, set `is_admin` if given. Bool: newly added."""
    access = access_room(actor, room_id)
    check_group_room(access.room)
    check_admin(access)
    if db.session.get(User, user_id) is None:
        raise NotFound("No such user.", code="user_not_found")
    access = lock_and_recheck_room(actor, access)
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
        if not is_admin:
            check_not_last_admin(room.id)
        member.is_admin = is_admin
    else:
        discard()  # nothing to change: release the lock now
        return room_view(actor, room_id), False
    room.updated_at = now
    view = room_view(actor, room_id)
    outbox.record(MemberAdded(view, user_id) if added else RoomUpdated(view))
    return view, added


@transactional
def remove_member(actor: User, room_id: uuid.UUID, user_id: uuid.UUID) -> RoomAccess:
    """Remove a member (admins) or leave (anyone); returns the room and the departed membership."""
    access = access_room(actor, room_id)
    check_group_room(access.room)
    check_can_remove_member(access, user_id)
    access = lock_and_recheck_room(actor, access)
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
    handed_over = active_admin_count(room.id) == 0
    if handed_over:
        _hand_over_admin(room)
    room.updated_at = utcnow()
    outbox.record(MemberRemoved(room.id, user_id))
    if handed_over and room.is_active:
        outbox.record(RoomUpdated(room_view_unchecked(room.id)))
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
