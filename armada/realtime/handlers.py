"""Socket.IO event handlers: authenticate, validate with the REST schemas, call the same services, ack."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room, leave_room, rooms

from armada import ratelimit
from armada.api import flatten_messages, validation_messages
from armada.auth.tokens import TokenIdentity, check_session, decode_access_token, is_session_revoked, token_user
from armada.chat import editing, reactions, receipts, sending
from armada.chat.feature_schemas import ReactionsResultSchema, reactions_answer
from armada.chat.schemas import MessageSchema, ReadResultSchema, SendMessageSchema
from armada.database import autocommit_reads, see_latest_commits
from armada.errors import ANSWERABLE, DomainError, Unauthorized, ValidationFailed, domain_error
from armada.extensions import socketio
from armada.models import User
from armada.permissions import check_joined, room_position
from armada.realtime import delivery, events
from armada.realtime.schemas import (
    MessageRefSchema,
    NotifySchema,
    ReactionRefSchema,
    RoomRefSchema,
    SocketEditSchema,
    SocketMarkReadSchema,
    TypingSchema,
)

_message = MessageSchema()
_read = ReadResultSchema()
_reactions = ReactionsResultSchema()


def _sid() -> str:
    """The socket the current event came from (Flask-SocketIO sets it on the request, untyped)."""
    sid: str = request.sid  # type: ignore[attr-defined]
    return sid


def _namespace() -> str:
    """The namespace of the current event."""
    namespace: str = request.namespace  # type: ignore[attr-defined]
    return namespace


def _identity(reads_only: bool) -> TokenIdentity:
    """The socket's identity, still valid now: an expired or revoked token ends the connection. For an event
    that only reads, its statements (from this check on) run without a transaction (database.autocommit_reads)."""
    identity: TokenIdentity | None = socketio.server.get_session(_sid()).get("identity")
    if identity is None:
        raise Unauthorized("Not authenticated.", code="authorization_required")
    if identity.expires_at <= time.time():
        raise Unauthorized("The token has expired; refresh it and reconnect.", code="token_expired")
    if reads_only:
        autocommit_reads()
    if is_session_revoked(identity.sid, identity.user_id):
        raise Unauthorized("The token has been revoked (logged out); log in again.", code="token_revoked")
    return identity


def _user(identity: TokenIdentity) -> User:
    user = token_user(identity.user_id)
    if user is None:
        raise Unauthorized("The token's user no longer exists.", code="invalid_token")
    return user


def _load(schema: ma.Schema, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed("The event payload must be a JSON object.", details={"_schema": ["Not an object."]})
    try:
        loaded: dict[str, Any] = schema.load(data, unknown=ma.EXCLUDE)
    except ma.ValidationError as exc:
        details = flatten_messages({"payload": validation_messages(exc)})
        raise ValidationFailed(f"Invalid or missing fields: {', '.join(sorted(details))}.", details=details) from None
    return loaded


def _disconnect_soon(sid: str, namespace: str) -> None:
    """Disconnect a socket once the current event's acknowledgement has gone out."""
    socketio.sleep(0.1)
    socketio.server.disconnect(sid, namespace=namespace, ignore_queue=True)


def socket_event(
    name: str, limit: str | None = None, reads_only: bool = False
) -> Callable[[Callable[..., dict[str, Any] | None]], Callable[..., dict[str, Any]]]:
    """Register a client -> server event whose handler takes (identity, payload) and returns ack fields; `limit`
    names the ratelimit.LIMITS entry that counts the socket's events of this kind; a handler that writes nothing
    says `reads_only`, and its statements run without a transaction around them (database.autocommit_reads)."""

    def decorator(handler: Callable[..., dict[str, Any] | None]) -> Callable[..., dict[str, Any]]:
        @functools.wraps(handler)
        def wrapper(data: Any = None, *_: Any) -> dict[str, Any]:
            try:
                try:
                    identity = _identity(reads_only)
                except Unauthorized as exc:
                    # The token stopped being valid while connected: refuse this event and end the connection,
                    # after the refusal's acknowledgement is sent (a client drops acks that follow a disconnect).
                    socketio.start_background_task(_disconnect_soon, _sid(), _namespace())
                    return events.error(_sid(), exc)
                if limit is not None:
                    ratelimit.check_socket_event(limit, _sid())
                return {"ok": True, **(handler(identity, data) or {})}
            except ANSWERABLE as exc:  # the identity check reads the database too
                error = domain_error(exc, f"socket event {name}")
                if error is None:
                    raise
                return events.error(_sid(), error)

        socketio.on_event(name, wrapper)
        return wrapper

    return decorator


@socketio.on("connect")
def connect(auth: Any = None) -> None:
    """Authenticate with `auth: {token}` (or `?token=`); refuse with a message saying why."""
    token = auth.get("token") if isinstance(auth, dict) else None
    try:
        identity = decode_access_token(token or request.args.get("token"))
        autocommit_reads()  # one lookup follows, the session's with its user: no transaction needed around it
        check_session(identity)
    except ANSWERABLE as exc:
        error = domain_error(exc, "socket connect")
        if error is None:
            raise
        raise ConnectionRefusedError(error.message, {"code": error.error_code}) from None
    socketio.server.save_session(_sid(), {"identity": identity, "typing": {}})
    join_room(events.user_channel(identity.user_id))
    join_room(events.session_channel(identity.sid))
    events.connected(_sid(), identity.user_id)


@socket_event("join_room", limit="socket_join_room_total", reads_only=True)
def on_join_room(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """Start receiving a room's events (members only; others get the same error as for a missing room)."""
    room_id = _load(RoomRefSchema(), data)["room_id"]
    # Per room too: a client may join every room it is in at once (hence the loose total), but each join or leave
    # is heard by the whole room.
    ratelimit.check_socket_event("socket_join_room", _sid(), room_id)
    _user(identity)  # the token's user still exists (loaded with the session check: no statement)
    user_id = identity.user_id
    room_position(user_id, room_id)
    channel = events.room_channel(room_id)
    join_room(channel)
    # A removal committed between the check and the join found this socket outside the room, so nothing made
    # it leave: check again, seeing every commit so far, now that it is in.
    see_latest_commits()
    try:
        last_seq = room_position(user_id, room_id)
    except DomainError:
        leave_room(channel)
        raise
    # Read after the socket joined: it gets every change after this number live (armada.realtime.delivery).
    delivery.current_ledger().joined(str(room_id), last_seq)
    events.joined(_sid(), room_id, identity.user_id)
    return {"room_id": str(room_id)}


@socket_event("leave_room", limit="socket_join_room_total", reads_only=True)
def on_leave_room(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """Stop receiving a room's events."""
    room_id = _load(RoomRefSchema(), data)["room_id"]
    ratelimit.check_socket_event("socket_join_room", _sid(), room_id)
    channel = events.room_channel(room_id)
    if channel in rooms():
        leave_room(channel)
        events.left(_sid(), room_id, identity.user_id)
    return {"room_id": str(room_id)}


@socket_event("send_message", limit="socket_send_message")
def on_send_message(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """Send a message like POST /api/chat/messages; `{message_id}` alone is the notify-only form."""
    user = _user(identity)
    if isinstance(data, dict) and "message_id" in data:
        # The seed's clients POST first and then announce the id here (with or without its room_id); the POST
        # already broadcast it. A create never carries message_id, so its presence alone means notify-only.
        notify = _load(NotifySchema(), data)
        message = sending.access_sent_message(user, notify["message_id"], notify.get("room_id"))
        return {"message": _message.dump(message), "created": False}
    # A send counts against the user's message limit whichever way it comes, or sockets would bypass it.
    ratelimit.check_user("send_message", identity.user_id)
    message, created = sending.send_message(user, **_load(SendMessageSchema(), data))
    return {"message": _message.dump(message), "created": created}


@socket_event("typing", limit="socket_typing", reads_only=True)
def on_typing(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """Tell the room's other sockets; only from a joined room, and at most once a second unless it flips."""
    payload = _load(TypingSchema(), data)
    room_id, is_typing = payload["room_id"], payload["is_typing"]
    check_joined(events.room_channel(room_id) in rooms())
    last: dict[uuid.UUID, tuple[float, bool]] = socketio.server.get_session(_sid())["typing"]
    now = time.monotonic()
    previous = last.get(room_id)
    interval = current_app.config["TYPING_MIN_INTERVAL_MS"] / 1000
    if previous is not None and previous[1] == is_typing and now - previous[0] < interval:
        return {"forwarded": False}
    last[room_id] = (now, is_typing)
    events.typing(_sid(), room_id, identity.user_id, is_typing)
    return {"forwarded": True}


@socket_event("message_edited")
def on_message_edited(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """Edit a message like PATCH /api/chat/messages/{id}; the same text again is a no-op."""
    ratelimit.check_user("change_message", identity.user_id)  # with REST's edits and deletions, malformed too
    payload = _load(SocketEditSchema(), data)
    message_id = payload.pop("message_id")
    message, changed = editing.edit_message(_user(identity), message_id, **payload)
    return {"message": _message.dump(message), "changed": changed}


@socket_event("message_deleted")
def on_message_deleted(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """Delete a message like DELETE /api/chat/messages/{id}; again is a no-op."""
    ratelimit.check_user("change_message", identity.user_id)  # with REST's edits and deletions, malformed too
    message, changed = editing.delete_message(_user(identity), _load(MessageRefSchema(), data)["message_id"])
    return {"message": _message.dump(message), "changed": changed}


@socket_event("mark_as_read")
def on_mark_as_read(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """Mark messages read like POST /api/chat/rooms/{id}/read."""
    payload = _load(SocketMarkReadSchema(), data)
    result = receipts.mark_read(_user(identity), payload["room_id"], payload.get("message_ids"), payload.get("up_to"))
    ack: dict[str, Any] = _read.dump(result)
    return ack


@socket_event("add_reaction")
def on_add_reaction(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """React like PUT /api/chat/messages/{id}/reactions/{emoji}; again is a no-op."""
    ratelimit.check_user("change_message", identity.user_id)  # with REST's reactions, edits and deletions
    payload = _load(ReactionRefSchema(), data)
    message, _ = reactions.add_reaction(_user(identity), payload["message_id"], payload["emoji"])
    ack: dict[str, Any] = _reactions.dump(reactions_answer(message))
    return ack


@socket_event("remove_reaction")
def on_remove_reaction(identity: TokenIdentity, data: Any) -> dict[str, Any]:
    """Take back a reaction like DELETE /api/chat/messages/{id}/reactions/{emoji}."""
    ratelimit.check_user("change_message", identity.user_id)
    payload = _load(ReactionRefSchema(), data)
    message, _ = reactions.remove_reaction(_user(identity), payload["message_id"], payload["emoji"])
    ack: dict[str, Any] = _reactions.dump(reactions_answer(message))
    return ack
