"""REST endpoints of reactions, threads, pins and edit history: parse, call one service, serialize."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required

from armada import ratelimit
from armada.api import ArmadaBlueprint
from armada.chat import editing, pins, reactions, search, threads
from armada.chat.feature_schemas import (
    EditPageSchema,
    FollowedThreadPageSchema,
    PinPageSchema,
    ReactionsResultSchema,
    ReactorPageSchema,
    ThreadReadResultSchema,
    ThreadReadSchema,
    reactions_answer,
)
from armada.chat.schemas import MessageSchema
from armada.chat.search_schemas import SearchArgsSchema, SearchPageSchema
from armada.schemas import PageArgsSchema

reactions_blp = ArmadaBlueprint(
    "reactions", __name__, url_prefix="/api/chat/messages", description="Reactions and edit history of messages."
)
threads_blp = ArmadaBlueprint("threads", __name__, url_prefix="/api/chat/threads", description="Followed threads.")
pins_blp = ArmadaBlueprint("pins", __name__, url_prefix="/api/chat/rooms", description="Pinned messages.")
search_blp = ArmadaBlueprint("search", __name__, url_prefix="/api/chat", description="Message search.")


# minlength=0: an empty emoji (a client encoding "") reaches the view and its 422 on `emoji`, not a routing 404.
@reactions_blp.route("/<uuid:message_id>/reactions/<string(minlength=0):emoji>")
class Reaction(MethodView):
    decorators = [jwt_required()]

    @ratelimit.per_user("change_message")
    @reactions_blp.response(200, ReactionsResultSchema)
    @reactions_blp.alt_response(
        409, description="Deleted (`message_deleted`), or a 21st distinct emoji (`too_many_reactions`)."
    )
    @reactions_blp.alt_response(422, description="`emoji` is not exactly one emoji.")
    @reactions_blp.alt_response(429, **ratelimit.documented("change_message"))
    def put(self, message_id: uuid.UUID, emoji: str) -> Any:
        """React with one emoji (URL-encoded); again is a no-op."""
        message, _ = reactions.add_reaction(current_user, message_id, emoji)
        return reactions_answer(message)

    @ratelimit.per_user("change_message")
    @reactions_blp.response(200, ReactionsResultSchema)
    @reactions_blp.alt_response(422, description="`emoji` is not exactly one emoji.")
    @reactions_blp.alt_response(429, **ratelimit.documented("change_message"))
    def delete(self, message_id: uuid.UUID, emoji: str) -> Any:
        """Take back your reaction; one you do not have is a no-op."""
        message, _ = reactions.remove_reaction(current_user, message_id, emoji)
        return reactions_answer(message)

    @reactions_blp.arguments(PageArgsSchema, location="query")
    @reactions_blp.response(200, ReactorPageSchema)
    @reactions_blp.alt_response(422, description="`emoji` is not exactly one emoji.")
    def get(self, args: dict[str, Any], message_id: uuid.UUID, emoji: str) -> Any:
        """Who reacted with this emoji, oldest first."""
        return reactions.list_reactors(current_user, message_id, emoji, args["limit"], args.get("cursor"))


@reactions_blp.route("/<uuid:message_id>/history")
@jwt_required()
@reactions_blp.arguments(PageArgsSchema, location="query")
@reactions_blp.response(200, EditPageSchema)
def edit_history(args: dict[str, Any], message_id: uuid.UUID) -> Any:
    """A message's earlier versions, oldest first, each with when it was replaced (empty once deleted)."""
    return editing.list_edit_history(current_user, message_id, args["limit"], args.get("cursor"))


@threads_blp.route("")
@jwt_required()
@threads_blp.arguments(PageArgsSchema, location="query")
@threads_blp.response(200, FollowedThreadPageSchema)
def followed_threads(args: dict[str, Any]) -> Any:
    """The threads you follow (started, replied in, mentioned in) in your rooms, most recent reply first."""
    return threads.list_threads(current_user, args["limit"], args.get("cursor"))


@threads_blp.route("/<uuid:root_id>/read", methods=["POST"])
@jwt_required()
@threads_blp.arguments(ThreadReadSchema)
@threads_blp.response(200, ThreadReadResultSchema)
@threads_blp.alt_response(
    404,
    description="No such message, or not yours to see (`message_not_found`); a thread reply (`thread_not_found`).",
)
def read_thread(data: dict[str, Any], root_id: uuid.UUID) -> Any:
    """Mark a thread read up to one of its replies."""
    return threads.read_thread(current_user, root_id, data["up_to"])


@pins_blp.route("/<uuid:room_id>/pins/<uuid:message_id>")
class Pin(MethodView):
    decorators = [jwt_required()]

    @ratelimit.per_user("change_message")
    @pins_blp.response(200, MessageSchema)
    @pins_blp.alt_response(403, description="Group rooms: admins only (`not_admin`).")
    @pins_blp.alt_response(409, description="Deleted (`message_deleted`), or 100 pins already (`too_many_pins`).")
    @pins_blp.alt_response(429, **ratelimit.documented("change_message"))
    def put(self, room_id: uuid.UUID, message_id: uuid.UUID) -> Any:
        """Pin a message of the room (group admins; either member of a direct room); again is a no-op."""
        message, _ = pins.pin_message(current_user, room_id, message_id)
        return message

    @ratelimit.per_user("change_message")
    @pins_blp.response(200, MessageSchema)
    @pins_blp.alt_response(403, description="Group rooms: admins only (`not_admin`).")
    @pins_blp.alt_response(429, **ratelimit.documented("change_message"))
    def delete(self, room_id: uuid.UUID, message_id: uuid.UUID) -> Any:
        """Unpin a message; one that is not pinned is a no-op."""
        message, _ = pins.unpin_message(current_user, room_id, message_id)
        return message


@pins_blp.route("/<uuid:room_id>/pins")
@jwt_required()
@pins_blp.arguments(PageArgsSchema, location="query")
@pins_blp.response(200, PinPageSchema)
def list_pins(args: dict[str, Any], room_id: uuid.UUID) -> Any:
    """The room's pinned messages, most recently pinned first."""
    return pins.list_pins(current_user, room_id, args["limit"], args.get("cursor"))


@search_blp.route("/search", methods=["GET"])
@jwt_required()
@ratelimit.per_user("search")
@search_blp.arguments(SearchArgsSchema, location="query")
@search_blp.response(200, SearchPageSchema)
@search_blp.alt_response(
    404, description="`room_id` or `thread_root_id` is not yours to see (`room_not_found`, `message_not_found`)."
)
@search_blp.alt_response(429, **ratelimit.documented("search"))
def search_messages(args: dict[str, Any]) -> Any:
    """Messages of your rooms matching `q`, newest first, with the spans of the matched words (`highlights`)."""
    return search.search_messages(current_user, **args)
