"""The one place events leave from: this module picks each event's recipients and emits it.

Changes arrive from services through the outbox (armada.outbox): `prepare` reads a recorded change's payload and
recipients inside its transaction, and what it returns is sent once that transaction commits, so a REST request
and a socket event that make the same change broadcast it the same way, exactly once. Socket-level notices that
change nothing in the database (connected, joined, typing, errors) are sent at once by the functions below them.
Room events go to the sockets that joined the room; events about membership also reach every socket of the
affected user. Listing several Socket.IO rooms in one emit delivers once to a socket that is in more than one.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from armada.auth.events import SessionRevoked
from armada.chat.events import (
    MemberAdded,
    MemberRemoved,
    Mentioned,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    MessagePinned,
    MessagesRead,
    MessageUnpinned,
    ReactionChanged,
    RoomCreated,
    RoomUpdated,
    ThreadUpdated,
)
from armada.chat.schemas import BroadcastMessageSchema
from armada.chat.summary_schemas import ThreadSummarySchema
from armada.errors import DomainError
from armada.extensions import socketio
from armada.models import ChatMessage, ChatRoom
from armada.realtime.managers import CHANGE, DISCONNECT, LEAVE
from armada.realtime.schemas import BroadcastRoomSchema, ReadEventSchema

# Broadcasts carry nothing viewer-specific: reactions without `me`, rooms without unread or mention counts.
_message_schema = BroadcastMessageSchema()
# Broadcast rooms and read results carry no viewer-specific unread_count: each recipient keeps its own.
_room_schema = BroadcastRoomSchema()
_read_schema = ReadEventSchema()
_thread_schema = ThreadSummarySchema()


def room_channel(room_id: uuid.UUID | str) -> str:
    """The Socket.IO room of the sockets that joined a chat room."""
    return f"room:{room_id}"


def user_channel(user_id: uuid.UUID | str) -> str:
    """The Socket.IO room of every socket of one user."""
    return f"user:{user_id}"


def session_channel(sid: str) -> str:
    """The Socket.IO room of every socket opened with one login session's tokens."""
    return f"session:{sid}"


class Packet(NamedTuple):
    """One emit: an event, its data and the Socket.IO rooms (or socket id) it goes to."""

    event: str
    data: dict[str, Any]
    to: str | list[str]


def _emit(event: str, data: dict[str, Any], to: str | list[str], skip_sid: str | None = None) -> None:
    socketio.emit(event, data, to=to, skip_sid=skip_sid)


def _sending(*packets: Packet) -> Callable[[], None]:
    return functools.partial(_emit_all, packets)


def _emit_all(packets: tuple[Packet, ...]) -> None:
    for packet in packets:
        _emit(packet.event, packet.data, packet.to)


def _members(room: ChatRoom) -> list[str]:
    return [user_channel(m.user_id) for m in room.active_members]


# ---- changes recorded by services: sent after their commit ----------------------------------------------------


@functools.singledispatch
def prepare(change: object) -> Callable[[], None]:
    """What sends a recorded change (armada.outbox's emitter): payload and recipients read now, sent when called."""
    raise TypeError(f"No event is defined for {type(change).__name__}")


def _message_change(message: ChatMessage, event: str, data: dict[str, Any]) -> Callable[[], None]:
    # Every process delivers it to its sockets in the room's change order, once (armada.realtime.delivery).
    change = {"room_id": str(message.room_id), "seq": message.change_seq, "event": event, "data": data}
    return _sending(Packet(CHANGE, change, room_channel(message.room_id)))


@prepare.register
def _message_created(change: MessageCreated) -> Callable[[], None]:
    message = change.message
    data = {"room_id": str(message.room_id), "message": _message_schema.dump(message)}
    return _message_change(message, "new_message", data)


@prepare.register
def _message_edited(change: MessageEdited) -> Callable[[], None]:
    message = change.message
    data = {"room_id": str(message.room_id), "message": _message_schema.dump(message)}
    return _message_change(message, "message_edited", data)


@prepare.register
def _message_deleted(change: MessageDeleted) -> Callable[[], None]:
    message = change.message
    data = {"room_id": str(message.room_id), "message_id": str(message.id)}
    return _message_change(message, "message_deleted", data)


@prepare.register
def _reaction_changed(change: ReactionChanged) -> Callable[[], None]:
    message = change.message
    data = {
        "room_id": str(message.room_id),
        "message_id": str(message.id),
        "emoji": change.emoji,
        "user_id": str(change.user_id),
        "count": change.count,
    }
    return _message_change(message, "reaction_added" if change.added else "reaction_removed", data)


@prepare.register
def _thread_updated(change: ThreadUpdated) -> Callable[[], None]:
    root = change.root
    thread = None if root.thread is None else _thread_schema.dump(root.thread)
    data = {"room_id": str(root.room_id), "root_id": str(root.id), "thread": thread}
    return _message_change(root, "thread_updated", data)


@prepare.register
def _message_pinned(change: MessagePinned) -> Callable[[], None]:
    message = change.message
    data = {
        "room_id": str(message.room_id),
        "message_id": str(message.id),
        "pinned_by": str(message.pinned_by),
        "pinned_at": _message_schema.fields["pinned_at"].serialize("pinned_at", message),
    }
    return _message_change(message, "message_pinned", data)


@prepare.register
def _message_unpinned(change: MessageUnpinned) -> Callable[[], None]:
    message = change.message
    return _message_change(
        message, "message_unpinned", {"room_id": str(message.room_id), "message_id": str(message.id)}
    )


@prepare.register
def _mentioned(change: Mentioned) -> Callable[[], None]:
    # Every socket of each newly mentioned user, joined to the room or not; once per socket (one emit).
    message = change.message
    data = {"room_id": str(message.room_id), "message": _message_schema.dump(message)}
    return _sending(Packet("mentioned", data, [user_channel(u) for u in change.user_ids]))


@prepare.register
def _messages_read(change: MessagesRead) -> Callable[[], None]:
    return _sending(Packet("messages_read", _read_schema.dump(change), room_channel(change.room_id)))


@prepare.register
def _room_created(change: RoomCreated) -> Callable[[], None]:
    # Every member hears of it, whether or not they joined anything.
    return _sending(Packet("room_created", {"room": _room_schema.dump(change.room)}, _members(change.room)))


@prepare.register
def _room_updated(change: RoomUpdated) -> Callable[[], None]:
    room = change.room
    return _sending(Packet("room_updated", {"room": _room_schema.dump(room)}, [room_channel(room.id), *_members(room)]))


@prepare.register
def _member_added(change: MemberAdded) -> Callable[[], None]:
    data = {"room_id": str(change.room.id), "user_id": str(change.user_id)}
    return _sending(Packet("member_added", data, [room_channel(change.room.id), user_channel(change.user_id)]))


@prepare.register
def _member_removed(change: MemberRemoved) -> Callable[[], None]:
    # Their sockets leave the room first, on every process (managers.LEAVE), then all hear it.
    data = {"room_id": str(change.room_id), "user_id": str(change.user_id)}
    return _sending(
        Packet(LEAVE, {"room": room_channel(change.room_id)}, user_channel(change.user_id)),
        Packet("member_removed", data, [room_channel(change.room_id), user_channel(change.user_id)]),
    )


@prepare.register
def _session_revoked(change: SessionRevoked) -> Callable[[], None]:
    # Its sockets are disconnected on every process (managers.DISCONNECT).
    return _sending(Packet(DISCONNECT, {}, session_channel(change.sid)))


# ---- message changes read back from the database (armada.realtime.delivery) -----------------------------------


class Replayed(NamedTuple):
    """A changed message as a replay reads it: its room position, its last change number and its JSON now."""

    seq: int
    change_seq: int
    message: dict[str, Any]


def replayable(message: ChatMessage) -> Replayed:
    """Read what a replay needs of a message (inside the transaction that loaded it)."""
    return Replayed(message.seq, message.change_seq, _message_schema.dump(message))


def replayed(change: Replayed, known: bool) -> list[tuple[str, dict[str, Any]]]:
    """The events that bring sockets up to date with a message, as it is now: `new_message` if they never had it
    (`known` False), else `message_edited`, or `message_deleted` and, for a deleted message that is no thread reply,
    `thread_updated` (a tombstone's thread still changes, and `message_deleted` carries no JSON to say how)."""
    room_id, message = change.message["room_id"], change.message
    if not known:
        return [("new_message", {"room_id": room_id, "message": message})]
    if not message["is_deleted"]:
        return [("message_edited", {"room_id": room_id, "message": message})]
    deleted = ("message_deleted", {"room_id": room_id, "message_id": message["id"]})
    if message["thread_root_id"] is not None:
        return [deleted]
    # Its thread may have changed while the sockets were away, even to none (its last reply deleted).
    return [deleted, ("thread_updated", {"room_id": room_id, "root_id": message["id"], "thread": message["thread"]})]


# ---- socket-level notices (no database change): sent at once ---------------------------------------------------


def member_removed_while_away(socket_id: str, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """`member_removed` to one socket of this process that missed it (see reconcile.py)."""
    data = {"room_id": str(room_id), "user_id": str(user_id)}
    socketio.emit("member_removed", data, to=socket_id, ignore_queue=True)


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
    ack = exc.ack()
    _emit("error", ack["error"], socket_id)
    return ack
