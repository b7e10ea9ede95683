"""REST endpoints of rooms, members, messages and receipts: parse, call one service, serialize."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required

from armada import ratelimit
from armada.api import ArmadaBlueprint
from armada.chat import editing, history, members, receipts, room_views, rooms, sending
from armada.chat.history_schemas import MessageListArgsSchema
from armada.chat.schemas import (
    AddMemberSchema,
    CreateRoomSchema,
    EditMessageSchema,
    MarkReadSchema,
    MessagePageSchema,
    MessageSchema,
    ReadResultSchema,
    RoomPageSchema,
    RoomSchema,
    SendMessageSchema,
    UpdateRoomSchema,
)
from armada.schemas import PageArgsSchema

rooms_blp = ArmadaBlueprint("rooms", __name__, url_prefix="/api/chat/rooms", description="Rooms and members.")
messages_blp = ArmadaBlueprint("messages", __name__, url_prefix="/api/chat", description="Messages and receipts.")


@rooms_blp.route("")
class Rooms(MethodView):
    decorators = [jwt_required()]

    @rooms_blp.arguments(PageArgsSchema, location="query")
    @rooms_blp.response(200, RoomPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The caller's rooms, most recent activity first."""
        return room_views.list_rooms(current_user, args["limit"], args.get("cursor"))

    @ratelimit.per_user("create_room")
    @rooms_blp.arguments(CreateRoomSchema)
    @rooms_blp.response(201, RoomSchema, description="Created.")
    @rooms_blp.alt_response(200, schema=RoomSchema, description="The direct room of this pair already existed.")
    @rooms_blp.alt_response(429, **ratelimit.documented("create_room"))
    def post(self, data: dict[str, Any]) -> Any:
        """Create a direct or group room."""
        room, created = rooms.create_room(current_user, **data)
        return room, 201 if created else 200


@rooms_blp.route("/<uuid:room_id>")
class Room(MethodView):
    decorators = [jwt_required()]

    @rooms_blp.response(200, RoomSchema)
    def get(self, room_id: uuid.UUID) -> Any:
        """A room the caller is a member of."""
        return room_views.room_view(current_user, room_id)

    @rooms_blp.arguments(UpdateRoomSchema)
    @rooms_blp.response(200, RoomSchema)
    @rooms_blp.alt_response(403, description="Only a room admin can do this (`not_admin`).")
    @rooms_blp.alt_response(409, description="A direct room has no settings (`direct_room`).")
    def patch(self, data: dict[str, Any], room_id: uuid.UUID) -> Any:
        """Change a group's name, description or avatar (admins)."""
        return rooms.update_room(current_user, room_id, data)


@rooms_blp.route("/<uuid:room_id>/members/<uuid:user_id>")
class Member(MethodView):
    decorators = [jwt_required()]

    @rooms_blp.arguments(AddMemberSchema)
    @rooms_blp.response(201, RoomSchema, description="Added.")
    @rooms_blp.alt_response(200, schema=RoomSchema, description="Already a member; `is_admin` applied if sent.")
    @rooms_blp.alt_response(403, description="Only a room admin can do this (`not_admin`).")
    @rooms_blp.alt_response(
        409, description="A direct room (`direct_room`), or demoting the last admin (`last_admin`)."
    )
    def post(self, data: dict[str, Any], room_id: uuid.UUID, user_id: uuid.UUID) -> Any:
        """Add a member to a group, or change a member's admin flag (admins)."""
        room, added = members.add_member(current_user, room_id, user_id, data["is_admin"])
        return room, 201 if added else 200

    @rooms_blp.response(204)
    @rooms_blp.alt_response(403, description="Only a room admin can remove others (`not_admin`).")
    @rooms_blp.alt_response(409, description="A direct room's members cannot change (`direct_room`).")
    def delete(self, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Remove a member (admins), or leave (your own user id)."""
        members.remove_member(current_user, room_id, user_id)


@rooms_blp.route("/<uuid:room_id>/messages")
class RoomMessages(MethodView):
    decorators = [jwt_required()]

    @rooms_blp.arguments(MessageListArgsSchema, location="query")
    @rooms_blp.response(200, MessagePageSchema)
    def get(self, args: dict[str, Any], room_id: uuid.UUID) -> Any:
        """History, oldest first: the newest page, older with `before`, newer than a message with `after`, or
        everything created, edited or deleted since a message with `changed_after` (catch-up)."""
        return history.list_messages(current_user, room_id, **args)


@rooms_blp.route("/<uuid:room_id>/read", methods=["POST"])
@jwt_required()
@rooms_blp.arguments(MarkReadSchema)
@rooms_blp.response(200, ReadResultSchema)
def mark_read(data: dict[str, Any], room_id: uuid.UUID) -> Any:
    """Mark messages read, by ids or everything up to one."""
    return receipts.mark_read(current_user, room_id, data.get("message_ids"), data.get("up_to"))


@messages_blp.route("/messages", methods=["POST"])
@jwt_required()
@ratelimit.per_user("send_message")
@messages_blp.arguments(SendMessageSchema)
@messages_blp.response(201, MessageSchema, description="Created.")
@messages_blp.alt_response(200, schema=MessageSchema, description="A retry: this client_id was already sent.")
@messages_blp.alt_response(404, description="No such room, or not a member of it (`room_not_found`).")
@messages_blp.alt_response(429, **ratelimit.documented("send_message"))
def send_message(data: dict[str, Any]) -> Any:
    """Send a message, a reply (`reply_to_id`), a forward (`forwarded_from_id`) or a thread reply
    (`thread_root_id`), optionally mentioning members (`mentions`, `mentions_room`)."""
    message, created = sending.send_message(current_user, **data)
    return message, 201 if created else 200


@messages_blp.route("/messages/<uuid:message_id>")
class Message(MethodView):
    decorators = [jwt_required()]

    @ratelimit.per_user("change_message")
    @messages_blp.arguments(EditMessageSchema)
    @messages_blp.response(200, MessageSchema)
    @messages_blp.alt_response(403, description="Only the sender can edit a message (`not_sender`).")
    @messages_blp.alt_response(
        409, description="Deleted (`message_deleted`), or not a text message of one's own (`not_editable`)."
    )
    @messages_blp.alt_response(429, **ratelimit.documented("change_message"))
    def patch(self, data: dict[str, Any], message_id: uuid.UUID) -> Any:
        """Edit the text of your own message."""
        message, _ = editing.edit_message(current_user, message_id, **data)
        return message

    @ratelimit.per_user("change_message")
    @messages_blp.response(200, MessageSchema)
    @messages_blp.alt_response(403, description="Only the sender or a room admin can delete it (`not_allowed`).")
    @messages_blp.alt_response(429, **ratelimit.documented("change_message"))
    def delete(self, message_id: uuid.UUID) -> Any:
        """Delete a message (sender or room admin); it stays as a tombstone."""
        message, _ = editing.delete_message(current_user, message_id)
        return message
