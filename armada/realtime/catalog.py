"""The Socket.IO events, in one table each way: what every client -> server event takes, answers and does, and
what every server -> client event carries and who receives it. The AsyncAPI document (asyncapi.py) is made from
these tables; tests check them against the handlers the server registers and the events sockets receive.
"""

from __future__ import annotations

from typing import NamedTuple

import marshmallow as ma

from armada.chat.schemas import SendMessageSchema
from armada.realtime import schemas as s
from armada.schemas import ErrorDetailSchema


class ClientEvent(NamedTuple):
    """A client -> server event: its payload schemas (any one of them), its success acknowledgement, what it does."""

    payloads: tuple[type[ma.Schema], ...]
    ack: type[ma.Schema]
    summary: str
    description: str


class ServerEvent(NamedTuple):
    """A server -> client event: its payload schema, what it says, and who receives it."""

    payload: type[ma.Schema]
    summary: str
    recipients: str


CLIENT_EVENTS: dict[str, ClientEvent] = {
    "join_room": ClientEvent(
        (s.RoomRefSchema,),
        s.RoomAckSchema,
        "Start receiving a room's events.",
        "Members only (a room one may not see answers as a missing one): `room_joined` to this socket, "
        "`user_joined` to the room's other sockets. Changes committed before the acknowledgement are the "
        "client's catch-up (see Delivery guarantee).",
    ),
    "leave_room": ClientEvent(
        (s.RoomRefSchema,),
        s.RoomAckSchema,
        "Stop receiving a room's events.",
        "`room_left` to this socket, `user_left` to the room.",
    ),
    "send_message": ClientEvent(
        (SendMessageSchema, s.NotifySchema),
        s.SendAckSchema,
        "Send a message.",
        "The fields of `POST /api/chat/messages` (idempotent by `client_id`), or `{message_id}` alone to announce "
        "one already sent over REST (notify-only: nothing is sent twice). Broadcast as `new_message`.",
    ),
    "typing": ClientEvent(
        (s.TypingSchema,),
        s.TypingAckSchema,
        "Say one is (or stopped) typing.",
        "In a room this socket joined: `user_typing` to the room's other sockets, at most once a second per room "
        "unless `is_typing` flips.",
    ),
    "message_edited": ClientEvent(
        (s.SocketEditSchema,),
        s.ChangeAckSchema,
        "Edit one's own text message.",
        "As `PATCH /api/chat/messages/{id}`; the same text again is a no-op. Broadcast as `message_edited`.",
    ),
    "message_deleted": ClientEvent(
        (s.MessageRefSchema,),
        s.ChangeAckSchema,
        "Delete a message.",
        "Its sender or a room admin, as `DELETE /api/chat/messages/{id}`; again is a no-op. Broadcast as "
        "`message_deleted`.",
    ),
    "mark_as_read": ClientEvent(
        (s.SocketMarkReadSchema,),
        s.ReadAckSchema,
        "Mark messages read.",
        "As `POST /api/chat/rooms/{id}/read`: send either `message_ids` or `up_to`. Broadcast as `messages_read`.",
    ),
    "add_reaction": ClientEvent(
        (s.ReactionRefSchema,),
        s.ReactionAckSchema,
        "React to a message with one emoji.",
        "As `PUT /api/chat/messages/{id}/reactions/{emoji}`; again is a no-op. Broadcast as `reaction_added`.",
    ),
    "remove_reaction": ClientEvent(
        (s.ReactionRefSchema,),
        s.ReactionAckSchema,
        "Take back one's reaction.",
        "As `DELETE /api/chat/messages/{id}/reactions/{emoji}`; one you do not have is a no-op. Broadcast as "
        "`reaction_removed`.",
    ),
}

_JOINED = "every socket that joined the room"
_IN_ORDER = f"{_JOINED}, exactly once and in the room's order (see Delivery guarantee)."

SERVER_EVENTS: dict[str, ServerEvent] = {
    "connected": ServerEvent(s.ConnectedEventSchema, "Who the socket is authenticated as.", "the socket, once."),
    "room_joined": ServerEvent(s.RoomEventSchema, "This socket joined the room.", "the socket that joined."),
    "room_left": ServerEvent(s.RoomEventSchema, "This socket left the room.", "the socket that left."),
    "user_joined": ServerEvent(
        s.MembershipEventSchema, "A socket of this user joined the room.", "the room's other joined sockets."
    ),
    "user_left": ServerEvent(
        s.MembershipEventSchema, "A socket of this user left the room.", "the sockets still in the room."
    ),
    "new_message": ServerEvent(s.MessageEventSchema, "A message was sent (or is replayed).", _IN_ORDER),
    "message_edited": ServerEvent(s.MessageEventSchema, "A message changed: here as it is now.", _IN_ORDER),
    "message_deleted": ServerEvent(s.MessageDeletedEventSchema, "A message was deleted (a tombstone now).", _IN_ORDER),
    "reaction_added": ServerEvent(
        s.ReactionEventSchema, "A member reacted; `count` is the emoji's count now.", _IN_ORDER
    ),
    "reaction_removed": ServerEvent(
        s.ReactionEventSchema, "A member took back a reaction; `count` 0 means the emoji left the message.", _IN_ORDER
    ),
    "thread_updated": ServerEvent(
        s.ThreadEventSchema,
        "A thread's summary changed (after its reply's `new_message`, or a reply's deletion).",
        _IN_ORDER,
    ),
    "message_pinned": ServerEvent(s.PinnedEventSchema, "A message was pinned.", _IN_ORDER),
    "message_unpinned": ServerEvent(
        s.MessageDeletedEventSchema, "A message was unpinned (deleting one unpins it silently).", _IN_ORDER
    ),
    "mentioned": ServerEvent(
        s.MessageEventSchema,
        "A message (sent or edited) newly mentions you, by id or `@room`.",
        "every socket of each newly mentioned user, joined to the room or not; never the sender.",
    ),
    "messages_read": ServerEvent(
        s.ReadEventSchema, "A member read messages (`message_ids`: the newly read ones).", f"{_JOINED}."
    ),
    "user_typing": ServerEvent(s.TypingEventSchema, "A member is (or stopped) typing.", "the room's other sockets."),
    "room_created": ServerEvent(
        s.RoomChangeEventSchema, "A room was created with you in it.", "every socket of every member, joined or not."
    ),
    "room_updated": ServerEvent(
        s.RoomChangeEventSchema,
        "A room's name, description or avatar changed.",
        f"{_JOINED}, and every socket of every member (once each).",
    ),
    "member_added": ServerEvent(
        s.MembershipEventSchema, "A user became a member.", f"{_JOINED}, and every socket of that user."
    ),
    "member_removed": ServerEvent(
        s.MembershipEventSchema,
        "A member was removed or left; their sockets leave the room first, on every process.",
        f"{_JOINED}, and every socket of that user.",
    ),
    "error": ServerEvent(
        ErrorDetailSchema,
        "An event of this socket failed: the same `error` as its `ok: false` acknowledgement.",
        "the socket whose event failed.",
    ),
}
