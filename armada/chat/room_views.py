"""Rooms as a member sees them: the room list, one room, and unread counts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, case, exists, false, func, or_, select, true
from sqlalchemy.orm import selectinload

from armada.chat.viewer import with_my_reactions
from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, ChatRoomMember, MessageMention, ThreadFollow, User
from armada.pagination import Page, decode_cursor, encode_cursor, keyset_page
from armada.permissions import access_room

# What a serialized room needs, loaded in a fixed number of queries whatever the page size.
ROOM_VIEW_OPTIONS = (
    selectinload(ChatRoom.active_members),
    selectinload(ChatRoom.last_message).selectinload(ChatMessage.reply_to),
)


# The room list reads its members itself (_with_member_views).
LIST_OPTIONS = selectinload(ChatRoom.last_message).selectinload(ChatMessage.reply_to)


class MemberView(NamedTuple):
    """A member as the room list serves it (MemberSchema's fields), read without ORM objects."""

    user_id: uuid.UUID
    display_name: str
    is_admin: bool
    joined_at: datetime
    last_read_at: datetime | None

    @property
    def user(self) -> MemberView:
        """Itself: serializers read `member.user.display_name`, as of a ChatRoomMember."""
        return self


_members, _users = ChatRoomMember.__table__, User.__table__


def _with_member_views(rooms: list[ChatRoom]) -> None:
    """Each room's active members in join order (the relationship's order), as MemberViews: one Core query."""
    if not rooms:
        return
    rows = db.session.connection().execute(
        select(
            _members.c.room_id,
            _members.c.user_id,
            _users.c.display_name,
            _members.c.is_admin,
            _members.c.joined_at,
            _members.c.last_read_at,
        )
        .join(_users, _users.c.id == _members.c.user_id)
        .where(_members.c.room_id.in_([r.id for r in rooms]), _members.c.is_active == true())
        .order_by(_members.c.room_id, _members.c.joined_at, _members.c.id)
    )
    views: dict[uuid.UUID, list[MemberView]] = {r.id: [] for r in rooms}
    for room_id, *member in rows:
        views[room_id].append(MemberView(*member))
    for room in rooms:
        room.member_views = tuple(views[room.id])


class Unread(NamedTuple):
    """A member's unread messages in a room, and how many of them mention them."""

    messages: int
    mentions: int


def unread_counts(user: User, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Unread]:
    """Per room: live messages from others after the user's read pointer, and those mentioning them; one query.

    Thread replies count as mentions but not as unread messages (a thread keeps its own unread count); a mention
    in a reply stops counting once its thread is read past it, too.
    """
    if not room_ids:
        return {}
    mentions_me = exists().where(MessageMention.message_id == ChatMessage.id, MessageMention.user_id == user.id)
    read_in_its_thread = exists().where(
        ThreadFollow.root_id == ChatMessage.thread_root_id,
        ThreadFollow.user_id == user.id,
        ThreadFollow.last_read_seq >= ChatMessage.seq,
    )
    unread_mention = and_(
        or_(ChatMessage.mentions_room == true(), mentions_me),
        or_(ChatMessage.thread_root_id.is_(None), ~read_in_its_thread),
    )
    rows = db.session.execute(
        select(
            ChatMessage.room_id,
            func.sum(case((ChatMessage.thread_root_id.is_(None), 1), else_=0)),
            func.sum(case((unread_mention, 1), else_=0)),
        )
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
    return {room_id: Unread(int(unread or 0), int(mentions or 0)) for room_id, unread, mentions in rows}


def _with_viewer_state(user: User, rooms: list[ChatRoom]) -> list[ChatRoom]:
    counts = unread_counts(user, [r.id for r in rooms])
    for room in rooms:
        room.unread_count, room.mention_count = counts.get(room.id, Unread(0, 0))
    with_my_reactions(user, [room.last_message for room in rooms])
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
    stmt = stmt.order_by(ChatRoom.last_activity_at.desc(), ChatRoom.id.desc()).options(LIST_OPTIONS)
    page: Page[ChatRoom] = keyset_page(stmt, limit, lambda room: encode_cursor([room.last_activity_at, room.id]))
    _with_member_views(page.items)
    _with_viewer_state(user, page.items)
    return page


def room_view_unchecked(room_id: uuid.UUID) -> ChatRoom:
    """A room with its members and last message loaded, for a caller that already checked access."""
    return db.session.scalars(
        select(ChatRoom)
        .where(ChatRoom.id == room_id)
        .options(*ROOM_VIEW_OPTIONS)
        .execution_options(populate_existing=True)
    ).one()


def room_view(user: User, room_id: uuid.UUID) -> ChatRoom:
    """One room as its member sees it, unread and mention counts included."""
    access_room(user, room_id)
    return _with_viewer_state(user, [room_view_unchecked(room_id)])[0]
