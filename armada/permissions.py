"""Every permission rule, in one place: who may see and do what with rooms, messages and uploads.

`access_*` fetch an object *and* check the caller may see it: a room or message the caller is not a
member of gets exactly the same 404 as an id that does not exist, so ids cannot be probed.
`check_*` raise when an action is not allowed on an object the caller can already see.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, func, select, true
from sqlalchemy.orm import InstrumentedAttribute

from armada.errors import Conflict, Forbidden, NotFound, ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, ChatRoomMember, MediaUpload, MessageType, RoomType, User


class RoomAccess(NamedTuple):
    """A room together with the caller's active membership of it."""

    room: ChatRoom
    member: ChatRoomMember


def _active_membership(
    user_id: uuid.UUID | BindParameter[uuid.UUID], room_id: uuid.UUID | BindParameter[uuid.UUID]
) -> tuple[ColumnElement[bool], ...]:
    """The rule of room access, for a query joining ChatRoomMember to ChatRoom: the room is active and the user
    an active member of it."""
    return (
        ChatRoom.id == room_id,
        ChatRoom.is_active == true(),
        ChatRoomMember.user_id == user_id,
        ChatRoomMember.is_active == true(),
    )


def access_room(user: User, room_id: uuid.UUID) -> RoomAccess:
    """The active room `room_id` if `user` is an active member; otherwise 404."""
    row = db.session.execute(
        select(ChatRoom, ChatRoomMember)
        .join(ChatRoomMember, ChatRoomMember.room_id == ChatRoom.id)
        .where(*_active_membership(user.id, room_id))
    ).first()
    if row is None:
        raise room_not_found()
    return RoomAccess(row[0], row[1])


def room_position(user_id: uuid.UUID, room_id: uuid.UUID) -> int:
    """The last change number of the room `room_id` if the user may see it (as access_room); otherwise 404.

    For socket joins, which need nothing else: no objects loaded, and the user given by id, so a join can check
    again after ending its transaction without reloading the (then expired) user.
    """
    last_seq = db.session.scalar(_ROOM_POSITION, {"user_id": user_id, "room_id": room_id})
    if last_seq is None:
        raise room_not_found()
    return int(last_seq)


def check_room_access(user: User, room_id: uuid.UUID) -> datetime:
    """access_room's check without loading the room and membership (a Core query, for the hot paths that need
    neither object); answers the room's updated_at, which a send compares under the room's lock."""
    stamp = db.session.connection().execute(_ROOM_STAMP, {"user_id": user.id, "room_id": room_id}).scalar()
    if stamp is None:
        raise room_not_found()
    return stamp  # type: ignore[no-any-return]


def _room_column_if_accessible(column: InstrumentedAttribute[Any]) -> Select[Any]:
    """One column of the room, if the user may see it (access_room's rule), with user_id and room_id bound at
    execution: built once, since building a statement costs more CPU than the rest of such a check."""
    return (
        select(column)
        .join(ChatRoomMember, ChatRoomMember.room_id == ChatRoom.id)
        .where(*_active_membership(bindparam("user_id"), bindparam("room_id")))
    )


_ROOM_POSITION = _room_column_if_accessible(ChatRoom.last_seq)  # two per socket join
_ROOM_STAMP = _room_column_if_accessible(ChatRoom.updated_at)  # every send and history page


def visible_rooms(user: User) -> Select[uuid.UUID]:
    """The ids of the active rooms `user` is an active member of: what a search across rooms may read."""
    return (
        select(ChatRoomMember.room_id)
        .join(ChatRoom, ChatRoom.id == ChatRoomMember.room_id)
        .where(ChatRoomMember.user_id == user.id, ChatRoomMember.is_active == true(), ChatRoom.is_active == true())
    )


def room_not_found() -> NotFound:
    """The error for a room the caller is not an active member of, the same as for one that does not exist."""
    return NotFound("No such room.", code="room_not_found")


def access_message(user: User, message_id: uuid.UUID) -> tuple[ChatMessage, RoomAccess]:
    """A message and the caller's access to its room; 404 unless the caller is a member of that room."""
    row = db.session.execute(
        select(ChatMessage, ChatRoom, ChatRoomMember)
        .join(ChatRoom, ChatRoom.id == ChatMessage.room_id)
        .join(ChatRoomMember, ChatRoomMember.room_id == ChatRoom.id)
        .where(
            ChatMessage.id == message_id,
            ChatRoom.is_active == true(),
            ChatRoomMember.user_id == user.id,
            ChatRoomMember.is_active == true(),
        )
    ).first()
    if row is None:
        raise NotFound("No such message.", code="message_not_found")
    return row[0], RoomAccess(row[1], row[2])


def access_message_in_room(user: User, room_id: uuid.UUID, message_id: uuid.UUID) -> tuple[ChatMessage, RoomAccess]:
    """A message of the room `room_id` (a path names both) and the caller's access; 404 otherwise."""
    message, access = access_message(user, message_id)
    if message.room_id != room_id:
        raise NotFound("No such message.", code="message_not_found")
    return message, access


def check_live(message: ChatMessage) -> None:
    """A deleted message gains no reactions and no pin."""
    if message.is_deleted:
        raise Conflict("The message is deleted.", code="message_deleted")


def check_can_pin(access: RoomAccess) -> None:
    """Group rooms: admins pin and unpin; direct rooms: either member."""
    if access.room.room_type is RoomType.GROUP:
        check_admin(access)


def check_group_room(room: ChatRoom) -> None:
    """Direct rooms never gain or lose members and have no settings."""
    if room.room_type is RoomType.DIRECT:
        raise Conflict("A direct room's members and settings cannot change.", code="direct_room")


def check_admin(access: RoomAccess) -> None:
    """Only room admins manage settings and other members."""
    if not access.member.is_admin:
        raise Forbidden("Only a room admin can do this.", code="not_admin")


def check_can_remove_member(access: RoomAccess, user_id: uuid.UUID) -> None:
    """Anyone may leave; only admins remove others."""
    if user_id != access.member.user_id:
        check_admin(access)


def check_can_edit(user: User, message: ChatMessage) -> None:
    """The sender may edit the text of their own, live, non-forwarded text message."""
    if message.sender_id != user.id:
        raise Forbidden("Only the sender can edit a message.", code="not_sender")
    if message.is_deleted:
        raise Conflict("A deleted message cannot be edited.", code="message_deleted")
    if message.message_type is not MessageType.TEXT or message.forwarded_from_id is not None:
        raise Conflict("Only your own text messages can be edited.", code="not_editable")


def check_can_delete(access: RoomAccess, message: ChatMessage) -> None:
    """The sender or a room admin may delete a message."""
    if message.sender_id != access.member.user_id and not access.member.is_admin:
        raise Forbidden("Only the sender or a room admin can delete this message.", code="not_allowed")


def active_admin_count(room_id: uuid.UUID) -> int:
    """How many active admins a room has."""
    return (
        db.session.scalar(
            select(func.count()).where(
                ChatRoomMember.room_id == room_id,
                ChatRoomMember.is_active == true(),
                ChatRoomMember.is_admin == true(),
            )
        )
        or 0
    )


def check_not_last_admin(room_id: uuid.UUID) -> None:
    """A group always keeps an admin: the last one cannot be demoted (leaving hands the role over instead)."""
    if active_admin_count(room_id) <= 1:
        raise Conflict("A room needs at least one admin; make someone else admin first.", code="last_admin")


def access_upload(user: User, key: str) -> MediaUpload:
    """An upload the caller made; a message may carry no one else's (the same 422 for a missing key)."""
    upload = db.session.scalar(select(MediaUpload).where(MediaUpload.key == key, MediaUpload.uploader_id == user.id))
    if upload is None:
        raise ValidationFailed.field("media_url", "Must be the url or path of a file you uploaded to /api/chat/upload.")
    return upload


def check_joined(joined: bool) -> None:
    """Typing is heard by the sockets in a room, so only a socket that joined the room may send it."""
    if not joined:
        raise ValidationFailed.field("room_id", "Join the room before sending typing events.")
