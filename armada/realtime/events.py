"""The one place events leave from: services report what happened, this module picks recipients and emits.

Services call the change events (message_created, room_updated, ...) right after their commit, once per
real change, so a REST request and a socket event that make the same change broadcast it the same way.
Room events go to the sockets that joined the room; events about membership also reach every socket of the
affected user. Listing several Socket.IO rooms in one emit delivers once to a socket that is in more than one.
"""

from __future__ import annotations

import uuid
from typing import Any

from armada.chat.schemas import MessageSchema, ReadResultSchema, RoomSchema
from armada.errors import DomainError
from armada.extensions import socketio
from armada.models import ChatMessage, ChatRoom
from armada.realtime.managers import DISCONNECT, LEAVE

_message_schema = MessageSchema()
# Broadcast rooms carry no viewer-specific unread_count: each recipient keeps its own.
_room_schema = RoomSchema(exclude=("unread_count",))
_read_schema = ReadResultSchema(exclude=("unread_count",))


def room_channel(room_id: uuid.UUID | str) -> str:
    """The Socket.IO room of the sockets that joined a chat room."""
    return f"room:{room_id}"


def user_channel(user_id: uuid.UUID | str) -> str:
    """The Socket.IO room of every socket of one user."""
    return f"user:{user_id}"


def session_channel(sid: str) -> str:
    """The Socket.IO room of every socket opened with one login session's tokens."""
    return f"session:{sid}"


def _emit(event: str, data: dict[str, Any], to: str | list[str], skip_sid: str | None = None) -> None:
    socketio.emit(event, data, to=to, skip_sid=skip_sid)


def _members(room: ChatRoom) -> list[str]:
    return [user_channel(m.user_id) for m in room.active_members]


# ---- state changes, called by services after their commit ------------------------------------------------


def message_created(message: ChatMessage) -> None:
    """A message was sent (REST or socket)."""
    data = {"room_id": str(message.room_id), "message": _message_schema.dump(message)}
    _emit("new_message", data, room_channel(message.room_id))


def message_edited(message: ChatMessage) -> None:
    """A message's text changed."""
    data = {"room_id": str(message.room_id), "message": _message_schema.dump(message)}
    _emit("message_edited", data, room_channel(message.room_id))


def message_deleted(message: ChatMessage) -> None:
    """A message became a tombstone."""
    data = {"room_id": str(message.room_id), "message_id": str(message.id)}
    _emit("message_deleted", data, room_channel(message.room_id))


def messages_read(result: Any) -> None:
    """A member read messages (a ReadResult)."""
    _emit("messages_read", _read_schema.dump(result), room_channel(result.room_id))


def room_created(room: ChatRoom) -> None:
    """A room was made: every member hears of it, whether or not they joined anything."""
    _emit("room_created", {"room": _room_schema.dump(room)}, _members(room))


def room_updated(room: ChatRoom) -> None:
    """A room's settings or admins changed."""
    _emit("room_updated", {"room": _room_schema.dump(room)}, [room_channel(room.id), *_members(room)])


def member_added(room: ChatRoom, user_id: uuid.UUID) -> None:
    """Someone joined a group."""
    data = {"room_id": str(room.id), "user_id": str(user_id)}
    _emit("member_added", data, [room_channel(room.id), user_channel(user_id)])


def member_removed(room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Someone left or was removed: their sockets leave the room first, on every process, then all hear it."""
    socketio.emit(LEAVE, {"room": room_channel(room_id)}, to=user_channel(user_id))
    data = {"room_id": str(room_id), "user_id": str(user_id)}
    _emit("member_removed", data, [room_channel(room_id), user_channel(user_id)])


def member_removed_while_away(socket_id: str, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """`member_removed` to one socket of this process that missed it (see reconcile.py)."""
    data = {"room_id": str(room_id), "user_id": str(user_id)}
    socketio.emit("member_removed", data, to=socket_id, ignore_queue=True)


def session_revoked(sid: str) -> None:
    """A login session logged out: its sockets are disconnected on every process."""
    socketio.emit(DISCONNECT, {}, to=session_channel(sid))


# ---- socket-level notices (no database change) ------------------------------------------------------------


def connected(socket_id: str, user_id: uuid.UUID) -> None:
    """Tell a socket who it is authenticated as."""
    _emit("connected", {"user_id": str(user_id)}, socket_id)


def joined(socket_id: str, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """A socket joined a room: `room_joined` to it, `user_joined` to the room's other sockets."""
    _emit("room_joined", {"room_id": str(room_id)}, socket_id)
    _emit("user_joined", {"room_id": str(room_id), "user_id": str(user_id)}, room_channel(room_id), skip_sid=socket_id)


def left(socket_id: str, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """A socket left a room: `room_left` to it, `user_left` to the room."""
    _emit("room_left", {"room_id": str(room_id)}, socket_id)
    _emit("user_left", {"room_id": str(room_id), "user_id": str(user_id)}, room_channel(room_id))


def typing(socket_id: str, room_id: uuid.UUID, user_id: uuid.UUID, is_typing: bool) -> None:
    """`user_typing` to the room's other sockets."""
    data = {"room_id": str(room_id), "user_id": str(user_id), "is_typing": is_typing}
    _emit("user_typing", data, room_channel(room_id), skip_sid=socket_id)


def error(socket_id: str, exc: DomainError) -> dict[str, Any]:
    """Report a failed event: an `error` event to the socket; returns the acknowledgement body."""
    body = {"code": exc.error_code, "message": exc.message}
    if exc.details:
        body["details"] = exc.details
    _emit("error", body, socket_id)
    return {"ok": False, "error": body}

