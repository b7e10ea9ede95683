"""Request and response schemas of rooms, members, messages and read receipts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import ValidationError, fields, post_dump, post_load, validate, validates_schema

from armada.chat import dumps
from armada.chat.summary_schemas import BroadcastReactionSchema, ReactionSchema, ThreadSummarySchema
from armada.media.urls import links
from armada.models import ChatMessage, MessageType, RoomType
from armada.schemas import RequestSchema, SafeString, SafeURL, TrimmedString, page_schema

MAX_MESSAGE_CHARS = 10_000
MAX_MEMBERS_PER_REQUEST = 500
MAX_READ_IDS = 500
MAX_MENTIONS = 50
PREVIEW_CHARS = dumps.PREVIEW_CHARS
DECLARED_MEDIA_FIELDS = ("media_filename", "media_size", "media_mime_type")


def _avatar_url() -> SafeURL:
    # require_tld off: self-hosted installs serve avatars from intranet hosts such as http://files/a.png.
    return SafeURL(validate=validate.Length(max=2048), schemes={"http", "https"}, require_tld=False, allow_none=True)


# ---- responses ---------------------------------------------------------------------------------------------


class HandWrittenDump(ma.Schema):
    """A schema whose plain dumps (no `only`/`exclude`) are made by a function of armada.chat.dumps: the same
    output, a fraction of the CPU. Subclasses not registered in _HAND_WRITTEN dump through marshmallow."""

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        fast = _HAND_WRITTEN.get(type(self))
        if fast is None or self.only is not None or self.exclude:
            return super().dump(obj, many=many)
        return [fast(o) for o in obj] if (self.many if many is None else many) else fast(obj)


class ReplyPreviewSchema(ma.Schema):
    """The message a reply answers, shortened."""

    id = fields.UUID(required=True)
    sender_id = fields.UUID(required=True)
    message_type = fields.Enum(MessageType, by_value=True, required=True)
    content = fields.Method("preview", allow_none=True)
    is_deleted = fields.Boolean(required=True)

    def preview(self, message: ChatMessage) -> str | None:
        if message.is_deleted or message.content is None:
            return None
        return message.content[:PREVIEW_CHARS]


class MessageSchema(HandWrittenDump):
    """A message; a deleted one is a tombstone with content, media, reactions and mentions emptied."""

    id = fields.UUID(required=True)
    room_id = fields.UUID(required=True)
    sender_id = fields.UUID(required=True)
    message_type = fields.Enum(MessageType, by_value=True, required=True)
    content = fields.String(allow_none=True)
    media_url = fields.Method("media_link", allow_none=True, metadata={"description": "Signed, expiring link."})
    thumbnail_url = fields.Method("thumbnail_link", allow_none=True, metadata={"description": "Images only."})
    media_filename = fields.String(allow_none=True)
    media_size = fields.Integer(allow_none=True)
    media_mime_type = fields.String(allow_none=True)
    reply_to_id = fields.UUID(allow_none=True)
    reply_to = fields.Nested(ReplyPreviewSchema, allow_none=True)
    forwarded_from_id = fields.UUID(allow_none=True)
    is_edited = fields.Boolean(required=True)
    edited_at = fields.DateTime(allow_none=True)
    is_deleted = fields.Boolean(required=True)
    deleted_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    client_id = fields.String(allow_none=True)
    reactions = fields.List(
        fields.Nested(ReactionSchema),
        required=True,
        metadata={"description": "In the order each emoji was first used; `me` only in REST answers and acks."},
    )
    thread_root_id = fields.UUID(allow_none=True, metadata={"description": "Set on a thread reply: its root."})
    thread = fields.Nested(ThreadSummarySchema, allow_none=True, metadata={"description": "Null until a reply."})
    mentions = fields.List(fields.UUID(), attribute="mention_ids", required=True)
    mentions_room = fields.Boolean(required=True)
    pinned_at = fields.DateTime(allow_none=True)
    pinned_by = fields.UUID(allow_none=True)
    link_previews = fields.Method(
        "no_previews",
        required=True,
        metadata={"type": "array", "items": {"type": "object"}, "description": "Previews of the links in the text."},
    )

    def no_previews(self, _: Any) -> list[Any]:
        # Link previews are not made yet (they come with background jobs): every message has none.
        return []

    def media_link(self, message: Any) -> str | None:
        return None if message.is_deleted else self._links(message)[0]

    def thumbnail_link(self, message: Any) -> str | None:
        return None if message.is_deleted else self._links(message)[1]

    @staticmethod
    def _links(message: Any) -> tuple[str | None, str | None]:
        # Signed afresh on every serialization; only the storage key is ever stored.
        return links(message.media_url, message.media_filename, message.media_mime_type, message.message_type)

    @post_dump
    def empty_tombstone(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("is_deleted"):
            for field in ("content", "media_url", "thumbnail_url", "media_filename", "media_size", "media_mime_type"):
                data[field] = None
            data.update(reactions=[], mentions=[], mentions_room=False, link_previews=[])
        return data


class BroadcastMessageSchema(MessageSchema):
    """A message as broadcast: reactions without the viewer-specific `me`."""

    reactions = fields.List(fields.Nested(BroadcastReactionSchema), required=True)


class MemberSchema(ma.Schema):
    """A room member."""

    user_id = fields.UUID(required=True)
    display_name = fields.String(attribute="user.display_name", required=True)
    is_admin = fields.Boolean(required=True)
    joined_at = fields.DateTime(required=True)
    last_read_at = fields.DateTime(allow_none=True)


class MembersField(fields.List):  # type: ignore[type-arg]
    """A room's active members: the room list's `member_views` when it read them, else the relationship."""

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing) -> Any:
        return dumps.members_of(obj)


class RoomSchema(HandWrittenDump):
    """A room as one of its members sees it."""

    id = fields.UUID(required=True)
    name = fields.String(allow_none=True)
    room_type = fields.Enum(RoomType, by_value=True, required=True)
    description = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    created_by = fields.UUID(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    is_active = fields.Boolean(required=True)
    members = MembersField(fields.Nested(MemberSchema), required=True)
    unread_count = fields.Integer(required=True)
    mention_count = fields.Integer(
        required=True,
        metadata={"description": "Unread messages mentioning you; a thread reply until its thread is read."},
    )
    last_message = fields.Nested(MessageSchema, allow_none=True)


class ReadResultSchema(ma.Schema):
    """The outcome of marking messages read."""

    room_id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    message_ids = fields.List(fields.UUID(), required=True, metadata={"description": "Newly read messages."})
    read_at = fields.DateTime(required=True)
    unread_count = fields.Integer(required=True)


_HAND_WRITTEN: dict[type[ma.Schema], Callable[[Any], dict[str, Any]]] = {
    MessageSchema: dumps.message,
    BroadcastMessageSchema: dumps.broadcast_message,
    RoomSchema: dumps.room,
}

RoomPageSchema = page_schema(RoomSchema, "RoomPage")
MessagePageSchema = page_schema(MessageSchema, "MessagePage")


# ---- requests ----------------------------------------------------------------------------------------------


def _mentions() -> fields.List[Any]:
    return fields.List(
        fields.UUID(),
        validate=validate.Length(max=MAX_MENTIONS),
        metadata={
            "description": f"User ids (active members of the room), at most {MAX_MENTIONS}; duplicates collapse."
        },
    )


class CreateRoomSchema(RequestSchema):
    """POST /api/chat/rooms."""

    room_type = fields.Enum(RoomType, by_value=True, required=True)
    member_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=MAX_MEMBERS_PER_REQUEST))
    name = TrimmedString(validate=validate.Length(min=1, max=100), allow_none=True)
    description = SafeString(validate=validate.Length(max=2000), allow_none=True)
    avatar_url = _avatar_url()

    @validates_schema
    def fits_the_type(self, data: dict[str, Any], **_: Any) -> None:
        if data["room_type"] is RoomType.DIRECT:
            if data.get("name"):
                raise ValidationError("A direct room has no name.", "name")
            if len(set(data["member_ids"])) != 1:
                raise ValidationError("A direct room needs exactly one other user.", "member_ids")
        elif not data.get("name"):
            raise ValidationError("A group room needs a name.", "name")


class UpdateRoomSchema(RequestSchema):
    """PATCH /api/chat/rooms/{room_id}: only the fields sent change."""

    name = TrimmedString(validate=validate.Length(min=1, max=100))
    description = SafeString(validate=validate.Length(max=2000), allow_none=True)
    avatar_url = _avatar_url()


class AddMemberSchema(RequestSchema):
    """POST /api/chat/rooms/{room_id}/members/{user_id} (body optional)."""

    is_admin = fields.Boolean(allow_none=True, load_default=None)


class SendMessageSchema(RequestSchema):
    """POST /api/chat/messages (and the socket's send_message)."""

    room_id = fields.UUID(required=True)
    message_type = fields.Enum(MessageType, by_value=True, metadata={"description": "Default `text`."})
    content = SafeString(validate=validate.Length(max=MAX_MESSAGE_CHARS), allow_none=True)
    media_url = SafeString(validate=validate.Length(max=1024), allow_none=True)
    # Accepted for the seed's clients, but a message's media details come from its upload: sent with a text message
    # or a forward they are refused, and otherwise dropped.
    media_filename = SafeString(validate=validate.Length(max=255), allow_none=True)
    media_size = fields.Integer(validate=validate.Range(min=0, max=2**53), allow_none=True)
    media_mime_type = SafeString(validate=validate.Length(max=255), allow_none=True)
    reply_to_id = fields.UUID(
        allow_none=True,
        metadata={"description": "A live message of the same room; a deleted one is refused (422)."},
    )
    forwarded_from_id = fields.UUID(allow_none=True)
    thread_root_id = fields.UUID(
        allow_none=True,
        metadata={"description": "A reply in this message's thread: a message of the same room, not itself a reply."},
    )
    mentions = _mentions()
    mentions_room = fields.Boolean(load_default=False, metadata={"description": "`@room`: every member but you."})
    client_id = SafeString(
        validate=validate.Length(min=1, max=64),
        allow_none=True,
        metadata={"description": "A client-made id; resending with the same one returns the first message."},
    )

    @validates_schema
    def media_details_only_with_media(self, data: dict[str, Any], **_: Any) -> None:
        if not any(data.get(name) is not None for name in DECLARED_MEDIA_FIELDS):
            return
        # Refused whoever sends them, before the room is looked up: such a body is wrong for any room.
        if data.get("forwarded_from_id") is not None:
            raise ValidationError("A forward copies the original's media; send no media details.", "content")
        if data.get("message_type", MessageType.TEXT) is MessageType.TEXT:
            raise ValidationError("A text message has no media details; send those with a media type.", "media_url")

    @post_load
    def drop_declared_media(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # send_message takes no such arguments: the loaded body is passed to it as keywords.
        for name in DECLARED_MEDIA_FIELDS:
            data.pop(name, None)
        return data


class EditMessageSchema(RequestSchema):
    """PATCH /api/chat/messages/{message_id}: `mentions` and `mentions_room`, when sent, replace the message's."""

    content = SafeString(required=True, validate=validate.Length(min=1, max=MAX_MESSAGE_CHARS))
    mentions = _mentions()
    mentions_room = fields.Boolean(metadata={"description": "`@room`; unchanged when left out."})


class MarkReadSchema(RequestSchema):
    """POST /api/chat/rooms/{room_id}/read: either `message_ids` or `up_to`."""

    message_ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=MAX_READ_IDS))
    up_to = fields.UUID()

    @validates_schema
    def exactly_one(self, data: dict[str, Any], **_: Any) -> None:
        if ("message_ids" in data) == ("up_to" in data):
            raise ValidationError("Send either message_ids or up_to.", "_schema")
