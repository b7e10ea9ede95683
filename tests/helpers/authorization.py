"""The authorization matrix's shared parts: what each cell may expect (outcomes), the policy tables, the cast a
cell is staged with, what every cell checks the database for, and the kinds of bad token. The REST matrix
(tests/api/test_authorization_rest.py) and the Socket.IO one (tests/api/test_authorization_socket.py) are both
built on these tables, so the two can never drift apart.

The cast of every cell (users made in the database, everything else through the API): "Team", a group made by
`owner` (admin) with `admin` (promoted), `member`, `removed` (removed once it has said its things) and `bystander`;
`non_member` is in none of it; `outsider` has a room of its own. Each actor acts on one target:

- rooms: `room` (Team), `other_room` (the outsider's), `missing_room` (an id that exists nowhere);
- messages: `own_message` and `own_deleted` (the actor's, in Team), `others_message` and `others_deleted` (the
  bystander's), `side_message` (the actor's, in a group of its own), `foreign_message` (the outsider's),
  `missing_message`;
- the caller's own things: `side_room` (the actor's group of its own), `other_user` (the outsider, whom a body names
  as member, creator or uploader), `missing_user`; uploads `own_upload` and `others_upload` (the bystander's) made
  through Armada, `own_direct` and `others_direct` put at a signed upload URL;
- signed links, which are bearer credentials: `link` (to a file the bystander sent to Team), `tampered_link`,
  `expired_link`; `upload_link` (the bystander's, unused), `used_upload_link`, `tampered_upload_link`,
  `expired_upload_link`;
- the second wave's: the actor has reacted with KEPT to `own_message`, `others_message` and `side_message` (when it
  could); `others_message` is pinned (by the owner); `thread` is a thread root of the bystander's in Team with a
  reply of the bystander's (`thread_reply`) and, unless the actor never was in Team, one of the actor's, so the
  actor follows it; users a message may mention: `team_user` (the bystander) and `removed_user`.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from armada.auth.tokens import issue_tokens
from armada.extensions import db
from armada.media.storage import storage
from armada.models import (
    ChatMessage,
    ChatRoom,
    ChatRoomMember,
    MediaUpload,
    MessageEdit,
    MessageMention,
    MessageReaction,
    MessageReadReceipt,
    RevokedSession,
    ThreadFollow,
    User,
)
from tests.helpers.support import Actor, ApiClient
from tests.helpers.tokens import OMIT, forge

ROOMS = "/api/chat/rooms"
MESSAGES = "/api/chat/messages"
UPLOAD = "/api/chat/upload"
SIGNED_URL = "/api/chat/upload/signed-url"
MEDIA = "/api/media"
ROLES = ("owner", "admin", "member", "removed", "non_member")
KEPT = "\N{EYES}"  # the reaction the actor already has on its staged messages
NEW_EMOJI = "\N{THUMBS UP SIGN}"  # one it has not used yet


# ---- outcomes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one cell expects: a status, the code (and 422 field) of a refusal, and what it does to the database."""

    status: int
    code: str | None = None
    field: str | None = None
    like_missing: bool = False  # the very answer given for an id that does not exist
    changes: bool | None = None  # writes (True), writes nothing (False), either (None); a refusal never writes
    shows: bool | None = None  # a list answer holds the target (True), or never mentions it (False)

    @property
    def refused(self) -> bool:
        """Whether the cell is a refusal (a 4xx)."""
        return self.status >= 400

    def __str__(self) -> str:
        shown = None if self.shows is None else "listing the target" if self.shows else "not mentioning the target"
        return " ".join(str(part) for part in (self.status, self.code, self.field, shown) if part is not None)


READ = Outcome(200, changes=False)
DONE = Outcome(200, changes=True)
SAME = Outcome(200, changes=False)  # allowed, but it already is so: nothing to change
CREATED = Outcome(201, changes=True)
GONE = Outcome(204, changes=True)
NO_ROOM = Outcome(404, "room_not_found", like_missing=True)
NO_MESSAGE = Outcome(404, "message_not_found", like_missing=True)
NOT_ADMIN = Outcome(403, "not_admin")
NOT_SENDER = Outcome(403, "not_sender")
NOT_ALLOWED = Outcome(403, "not_allowed")
IS_DELETED = Outcome(409, "message_deleted")
LISTED = Outcome(200, changes=False, shows=True)
UNLISTED = Outcome(200, changes=False, shows=False)
BAD_LINK = Outcome(403, "invalid_link", like_missing=True)  # tampered, or (an upload link) expired
EXPIRED_LINK = Outcome(403, "link_expired")
USED_LINK = Outcome(403, "invalid_link")
NOT_A_THREAD = Outcome(404, "thread_not_found")  # a reply (the caller can see) has no thread of its own
NA = None  # the cell does not exist (a non-member has no message of its own in Team)


def unknown(field: str) -> Outcome:
    """A 422 on `field`, the same as for an id that does not exist."""
    return Outcome(422, "validation_failed", field, like_missing=True)


def invalid(field: str) -> Outcome:
    """A 422 on `field` for a reason the caller may know (it can read the message)."""
    return Outcome(422, "validation_failed", field)


def everyone(outcome: Outcome) -> tuple[Outcome, ...]:
    """The same outcome for every role."""
    return (outcome,) * len(ROLES)


Row = tuple[Outcome | None, ...]

# ---- the policy ------------------------------------------------------------------------------------------------

# Calls on a room: (endpoint, target) -> outcome per role.
#                                        owner     admin     member     removed  non_member
ROOM_POLICY: dict[tuple[str, str], Row] = {
    ("get_room", "room"): (READ, READ, READ, NO_ROOM, NO_ROOM),
    ("history", "room"): (READ, READ, READ, NO_ROOM, NO_ROOM),
    ("rename", "room"): (DONE, DONE, NOT_ADMIN, NO_ROOM, NO_ROOM),
    ("add_member", "room"): (CREATED, CREATED, NOT_ADMIN, NO_ROOM, NO_ROOM),  # adds non_member
    ("readd_member", "room"): (SAME, SAME, NOT_ADMIN, NO_ROOM, NO_ROOM),  # the bystander again
    ("promote_self", "room"): (SAME, SAME, NOT_ADMIN, NO_ROOM, NO_ROOM),
    ("demote_self", "room"): (DONE, DONE, NOT_ADMIN, NO_ROOM, NO_ROOM),  # another admin stays
    ("demote_owner", "room"): (DONE, DONE, NOT_ADMIN, NO_ROOM, NO_ROOM),
    ("remove_member", "room"): (GONE, GONE, NOT_ADMIN, NO_ROOM, NO_ROOM),  # the bystander
    ("remove_owner", "room"): (GONE, GONE, NOT_ADMIN, NO_ROOM, NO_ROOM),
    ("leave", "room"): (GONE, GONE, GONE, NO_ROOM, NO_ROOM),
    ("send", "room"): (CREATED, CREATED, CREATED, NO_ROOM, NO_ROOM),
    ("mark_read", "room"): (DONE, DONE, DONE, NO_ROOM, NO_ROOM),
    ("pins", "room"): (READ, READ, READ, NO_ROOM, NO_ROOM),
}
# The same calls on a room the actor is not in, or that does not exist: the same 404, whoever asks.
ROOM_POLICY |= {
    (endpoint, target): everyone(NO_ROOM)
    for endpoint, _ in list(ROOM_POLICY)
    for target in ("other_room", "missing_room")
}

# Calls on a message: (endpoint, target) -> outcome per role. reply, forward_here, read_* and *after act in Team;
# forward_out forwards into the actor's own side group.
#                                        owner        admin        member       removed      non_member
MESSAGE_POLICY: dict[tuple[str, str], Row] = {
    ("edit", "own_message"): (DONE, DONE, DONE, NO_MESSAGE, NA),
    ("edit", "others_message"): (NOT_SENDER, NOT_SENDER, NOT_SENDER, NO_MESSAGE, NO_MESSAGE),
    ("edit", "own_deleted"): (IS_DELETED, IS_DELETED, IS_DELETED, NO_MESSAGE, NA),
    ("edit", "others_deleted"): (NOT_SENDER, NOT_SENDER, NOT_SENDER, NO_MESSAGE, NO_MESSAGE),
    ("edit", "side_message"): everyone(DONE),
    ("edit", "foreign_message"): everyone(NO_MESSAGE),
    ("edit", "missing_message"): everyone(NO_MESSAGE),
    ("delete", "own_message"): (DONE, DONE, DONE, NO_MESSAGE, NA),
    ("delete", "others_message"): (DONE, DONE, NOT_ALLOWED, NO_MESSAGE, NO_MESSAGE),
    ("delete", "own_deleted"): (SAME, SAME, SAME, NO_MESSAGE, NA),
    ("delete", "others_deleted"): (SAME, SAME, NOT_ALLOWED, NO_MESSAGE, NO_MESSAGE),
    ("delete", "side_message"): everyone(DONE),
    ("delete", "foreign_message"): everyone(NO_MESSAGE),
    ("delete", "missing_message"): everyone(NO_MESSAGE),
    # A reply names a live message of its own room.
    ("reply", "own_message"): (CREATED, CREATED, CREATED, NO_ROOM, NA),
    ("reply", "others_message"): (CREATED, CREATED, CREATED, NO_ROOM, NO_ROOM),
    ("reply", "own_deleted"): (*(invalid("reply_to_id"),) * 3, NO_ROOM, NA),
    ("reply", "others_deleted"): (*(invalid("reply_to_id"),) * 3, NO_ROOM, NO_ROOM),
    ("reply", "side_message"): (*(unknown("reply_to_id"),) * 3, NO_ROOM, NO_ROOM),
    ("reply", "foreign_message"): (*(unknown("reply_to_id"),) * 3, NO_ROOM, NO_ROOM),
    ("reply", "missing_message"): (*(unknown("reply_to_id"),) * 3, NO_ROOM, NO_ROOM),
    # A forward copies a live message the sender can read, from any room.
    ("forward_here", "own_message"): (CREATED, CREATED, CREATED, NO_ROOM, NA),
    ("forward_here", "others_message"): (CREATED, CREATED, CREATED, NO_ROOM, NO_ROOM),
    ("forward_here", "own_deleted"): (*(invalid("forwarded_from_id"),) * 3, NO_ROOM, NA),
    ("forward_here", "others_deleted"): (*(invalid("forwarded_from_id"),) * 3, NO_ROOM, NO_ROOM),
    ("forward_here", "side_message"): (CREATED, CREATED, CREATED, NO_ROOM, NO_ROOM),
    ("forward_here", "foreign_message"): (*(unknown("forwarded_from_id"),) * 3, NO_ROOM, NO_ROOM),
    ("forward_here", "missing_message"): (*(unknown("forwarded_from_id"),) * 3, NO_ROOM, NO_ROOM),
    ("forward_out", "own_message"): (CREATED, CREATED, CREATED, unknown("forwarded_from_id"), NA),
    ("forward_out", "others_message"): (*(CREATED,) * 3, *(unknown("forwarded_from_id"),) * 2),
    ("forward_out", "own_deleted"): (*(invalid("forwarded_from_id"),) * 3, unknown("forwarded_from_id"), NA),
    ("forward_out", "others_deleted"): (*(invalid("forwarded_from_id"),) * 3, *(unknown("forwarded_from_id"),) * 2),
    ("forward_out", "side_message"): everyone(CREATED),
    ("forward_out", "foreign_message"): everyone(unknown("forwarded_from_id")),
    ("forward_out", "missing_message"): everyone(unknown("forwarded_from_id")),
}


def _receipts_and_anchors() -> dict[tuple[str, str], Row]:
    """Read receipts and catch-up anchors in Team: any message of Team, deleted or not; any other is unknown."""
    rows: dict[tuple[str, str], Row] = {}
    for endpoint, field in (
        ("read_ids", "message_ids"),
        ("read_up_to", "up_to"),
        ("history_after", "after"),
        ("changed_after", "changed_after"),
    ):
        allowed = READ if endpoint.endswith("after") else DONE
        #                                 owner    admin    member   removed  non_member
        rows[endpoint, "own_message"] = (allowed, allowed, allowed, NO_ROOM, NA)
        rows[endpoint, "others_message"] = (allowed, allowed, allowed, NO_ROOM, NO_ROOM)
        rows[endpoint, "own_deleted"] = (allowed, allowed, allowed, NO_ROOM, NA)
        rows[endpoint, "others_deleted"] = (allowed, allowed, allowed, NO_ROOM, NO_ROOM)
        for target in ("side_message", "foreign_message", "missing_message"):
            rows[endpoint, target] = (*(unknown(field),) * 3, NO_ROOM, NO_ROOM)
    return rows


MESSAGE_POLICY |= _receipts_and_anchors()

ELSEWHERE = ("side_message", "foreign_message", "missing_message")


def _members(team: Outcome, own: bool, outsider: Outcome = NO_MESSAGE) -> Row:
    """A row for a target in Team: the three members get `team`, the removed member and the non-member `outsider`
    (NA for the actor's own messages, which a non-member has none of)."""
    return (team, team, team, outsider, NA if own else outsider)


def _reactions() -> dict[tuple[str, str], Row]:
    """Reactions and edit history: members of the message's room only, wherever the message is."""
    rows: dict[tuple[str, str], Row] = {}
    for own in (True, False):
        message, deleted = ("own_message", "own_deleted") if own else ("others_message", "others_deleted")
        rows["react", message] = _members(DONE, own)
        rows["react_again", message] = _members(SAME, own)  # KEPT, which it already has
        rows["react", deleted] = _members(IS_DELETED, own)
        rows["unreact", message] = _members(DONE, own)  # takes KEPT back
        rows["unreact", deleted] = _members(SAME, own)  # deleting emptied its reactions
        rows["react_text", message] = _members(unknown("emoji"), own, unknown("emoji"))
        for endpoint in ("reactors", "edit_history"):
            rows[endpoint, message] = rows[endpoint, deleted] = _members(READ, own)
    rows["react", "side_message"] = rows["unreact", "side_message"] = everyone(DONE)
    rows["react_again", "side_message"] = everyone(SAME)
    rows["reactors", "side_message"] = rows["edit_history", "side_message"] = everyone(READ)
    rows["react_text", "missing_message"] = everyone(unknown("emoji"))  # the emoji is checked first, for anyone
    for endpoint in ("react", "unreact", "reactors", "edit_history"):
        for target in ELSEWHERE[1:]:
            rows[endpoint, target] = everyone(NO_MESSAGE)
    return rows


def _pins() -> dict[tuple[str, str], Row]:
    """Pins in Team (`others_message` is pinned, `own_message` not): group admins only. A path's room and message
    must go together: a message of another room is missing from this one, even to a member of both."""
    #                                        owner       admin       member     removed     non_member
    rows: dict[tuple[str, str], Row] = {
        ("pin", "own_message"): (DONE, DONE, NOT_ADMIN, NO_MESSAGE, NA),
        ("pin", "others_message"): (SAME, SAME, NOT_ADMIN, NO_MESSAGE, NO_MESSAGE),
        ("pin", "own_deleted"): (IS_DELETED, IS_DELETED, NOT_ADMIN, NO_MESSAGE, NA),
        ("pin", "others_deleted"): (IS_DELETED, IS_DELETED, NOT_ADMIN, NO_MESSAGE, NO_MESSAGE),
        ("unpin", "own_message"): (SAME, SAME, NOT_ADMIN, NO_MESSAGE, NA),
        ("unpin", "others_message"): (DONE, DONE, NOT_ADMIN, NO_MESSAGE, NO_MESSAGE),
        ("unpin", "own_deleted"): (SAME, SAME, NOT_ADMIN, NO_MESSAGE, NA),
        ("unpin", "others_deleted"): (SAME, SAME, NOT_ADMIN, NO_MESSAGE, NO_MESSAGE),
        # In the actor's own side group, where it is the admin: only that group's messages.
        ("pin_in_side", "side_message"): everyone(DONE),
        ("pin_in_side", "own_message"): (*(NO_MESSAGE,) * 4, NA),
        ("pin_in_side", "others_message"): everyone(NO_MESSAGE),
        # Team's pins list: the pinned message, to members only.
        ("team_pins", "others_message"): (LISTED, LISTED, LISTED, NO_ROOM, NO_ROOM),
        ("team_pins", "own_message"): (UNLISTED, UNLISTED, UNLISTED, NO_ROOM, NA),
        ("team_pins", "side_message"): (UNLISTED, UNLISTED, UNLISTED, NO_ROOM, NO_ROOM),
    }
    for endpoint in ("pin", "unpin", "pin_in_side"):
        for target in ELSEWHERE:
            rows.setdefault((endpoint, target), everyone(NO_MESSAGE))
    return rows


def _threads() -> dict[tuple[str, str], Row]:
    """Threads in Team: a reply names a root of the room it is sent to (a deleted root's thread lives on), and a
    thread's replies and read pointer are its room's members'."""
    rows: dict[tuple[str, str], Row] = {}
    for own in (True, False):
        message, deleted = ("own_message", "own_deleted") if own else ("others_message", "others_deleted")
        for target in (message, deleted):
            rows["thread_reply", target] = _members(CREATED, own, NO_ROOM)
            rows["thread_history", target] = _members(READ, own, NO_ROOM)
        rows["read_thread", message] = _members(invalid("up_to"), own)  # up_to is no reply of its
    for target in ELSEWHERE:
        rows["thread_reply", target] = rows["thread_history", target] = _members(
            unknown("thread_root_id"), False, NO_ROOM
        )
    rows["thread_reply", "thread"] = _members(CREATED, False, NO_ROOM)
    rows["thread_history", "thread"] = _members(READ, False, NO_ROOM)
    rows["read_thread", "thread"] = _members(DONE, False)
    # A reply has no thread of its own.
    rows["thread_reply", "thread_reply"] = rows["thread_history", "thread_reply"] = _members(
        invalid("thread_root_id"), False, NO_ROOM
    )
    rows["read_thread", "thread_reply"] = _members(NOT_A_THREAD, False)
    rows["read_thread", "side_message"] = everyone(invalid("up_to"))
    rows["read_thread", "foreign_message"] = rows["read_thread", "missing_message"] = everyone(NO_MESSAGE)
    return rows


MESSAGE_POLICY |= _reactions() | _pins() | _threads()

# Calls about no one room or message. The room list: does it show the target room? A new group and uploads, whose
# body names `other_user` as member, creator or uploader: anyone signed in may make them, and they are the caller's
# whatever the body says. A message carrying an upload (a file; send_media_out posts to the actor's side group): an
# upload is sent only by its uploader, so another's is unknown, the same as an upload that does not exist.
#                                        owner     admin     member    removed   non_member
CALLER_POLICY: dict[tuple[str, str], Row] = {
    ("list_rooms", "room"): (LISTED, LISTED, LISTED, UNLISTED, UNLISTED),
    ("list_rooms", "other_room"): everyone(UNLISTED),
    ("list_rooms", "side_room"): everyone(LISTED),
    ("create_group", "other_user"): everyone(CREATED),
    ("create_group", "missing_user"): everyone(unknown("member_ids")),
    ("upload", "other_user"): everyone(CREATED),
    ("signed_upload", "other_user"): everyone(DONE),  # a pending upload, the caller's
    ("send_media", "own_upload"): (CREATED, CREATED, CREATED, NO_ROOM, NO_ROOM),
    ("send_media", "own_direct"): (CREATED, CREATED, CREATED, NO_ROOM, NO_ROOM),
    ("send_media", "others_upload"): (*(unknown("media_url"),) * 3, NO_ROOM, NO_ROOM),
    ("send_media", "others_direct"): (*(unknown("media_url"),) * 3, NO_ROOM, NO_ROOM),
    ("send_media_out", "own_upload"): everyone(CREATED),
    ("send_media_out", "own_direct"): everyone(CREATED),
    ("send_media_out", "others_upload"): everyone(unknown("media_url")),
    ("send_media_out", "others_direct"): everyone(unknown("media_url")),
    # The threads the caller follows, in rooms it is in: never the removed member's old ones.
    ("list_threads", "thread"): (LISTED, LISTED, LISTED, UNLISTED, UNLISTED),
    # A message to Team may mention its active members only; anyone else is as unknown as a missing user.
    ("mention", "team_user"): (CREATED, CREATED, CREATED, NO_ROOM, NO_ROOM),
    ("mention", "removed_user"): (*(unknown("mentions"),) * 3, NO_ROOM, NO_ROOM),
    ("mention", "other_user"): (*(unknown("mentions"),) * 3, NO_ROOM, NO_ROOM),
    ("mention", "missing_user"): (*(unknown("mentions"),) * 3, NO_ROOM, NO_ROOM),
    # Search (for the target's words, SEARCH_WORDS): messages of rooms the caller is an active member of, never a
    # deleted one, never the removed member's old room; a room or thread filter of another's is missing.
    ("search", "others_message"): (LISTED, LISTED, LISTED, UNLISTED, UNLISTED),
    ("search", "own_message"): (LISTED, LISTED, LISTED, UNLISTED, NA),
    ("search", "thread_reply"): (LISTED, LISTED, LISTED, UNLISTED, UNLISTED),
    ("search", "side_message"): everyone(LISTED),
    ("search", "foreign_message"): everyone(UNLISTED),
    ("search", "own_deleted"): (UNLISTED, UNLISTED, UNLISTED, UNLISTED, NA),
    ("search", "others_deleted"): everyone(UNLISTED),
    ("search_team", "others_message"): (LISTED, LISTED, LISTED, NO_ROOM, NO_ROOM),
    ("search_thread", "thread"): (LISTED, LISTED, LISTED, NO_MESSAGE, NO_MESSAGE),
}
# A word of each staged message's text, for the search cells.
SEARCH_WORDS = {
    "others_message": "bystander",
    "own_message": "mine",
    "thread_reply": "first reply",
    "thread": "thread",
    "side_message": "elsewhere",
    "foreign_message": "for you",
    "own_deleted": "soon gone",
    "others_deleted": "soon gone",
}

# Signed links take no bearer token (README, Media): whoever holds one may use it, by design, so the answer is the
# same for every role. A link that was tampered with is refused as one that never existed; an expired download link
# says so (an expired upload link is refused as a tampered one); an upload link works once.
LINK_POLICY: dict[tuple[str, str], Row] = {
    ("download", "link"): everyone(READ),
    ("download", "tampered_link"): everyone(BAD_LINK),
    ("download", "expired_link"): everyone(EXPIRED_LINK),
    ("direct_put", "upload_link"): everyone(CREATED),
    ("direct_put", "used_upload_link"): everyone(USED_LINK),
    ("direct_put", "tampered_upload_link"): everyone(BAD_LINK),
    ("direct_put", "expired_upload_link"): everyone(BAD_LINK),
}


def cells(policy: dict[tuple[str, str], Row], changing: bool) -> Iterator[Any]:
    """pytest params (endpoint, target, role, outcome) of the cells that change the database, or of those that do
    not."""
    for (endpoint, target), row in policy.items():
        for role, outcome in zip(ROLES, row, strict=True):
            if outcome is not NA and bool(outcome.changes) == changing:
                yield pytest.param(endpoint, target, role, outcome, id=f"{endpoint}-{target}-{role}")


def worlds(policy: dict[tuple[str, str], Row]) -> Iterator[Any]:
    """pytest params (role, target, [(endpoint, outcome)]) of the cells that write nothing, one per staged world.

    A cell that writes nothing (a refusal, a read, an allowed no-op) leaves the world as it found it, checked after
    every cell, so all the cells of one role and target share one staging; a failure names its cell.
    """
    grouped: dict[tuple[str, str], list[tuple[str, Outcome]]] = {}
    for param in cells(policy, changing=False):
        endpoint, target, role, outcome = param.values
        grouped.setdefault((role, target), []).append((endpoint, outcome))
    for (role, target), row in grouped.items():
        yield pytest.param(role, target, row, id=f"{role}-{target}")


def assert_cells(role: str, target: str, row: list[tuple[str, Any]], cell: Callable[[str, Any], None]) -> None:
    """Run every cell of a world, then fail naming each cell that failed."""
    failures = []
    for endpoint, outcome in row:
        try:
            cell(endpoint, outcome)
        except AssertionError as exc:
            failures.append(f"{endpoint}-{target}-{role}: expected {outcome}: {exc}")
    assert not failures, "\n".join(failures)


# ---- the cast --------------------------------------------------------------------------------------------------


def new_id() -> str:
    """An id that exists nowhere."""
    return str(uuid.uuid4())


def member_url(room_id: str, user: Actor | str) -> str:
    """The URL of a user's membership of a room."""
    return f"{ROOMS}/{room_id}/members/{user if isinstance(user, str) else user.id}"


def said_and_deleted(actor: Actor, room_id: str) -> str:
    """The id of a message the actor sent to the room and deleted."""
    message_id = actor.say(room_id, "soon gone")["id"]
    response = actor.delete(f"{MESSAGES}/{message_id}")
    assert response.status_code == 200, response.get_json()
    return message_id


def reaction_url(message_id: str, emoji: str) -> str:
    """The URL of a message's reactions with one emoji (URL-encoded by the test client)."""
    return f"{MESSAGES}/{message_id}/reactions/{emoji}"


def react(actor: Actor, message_id: str, emoji: str) -> None:
    """The actor reacts to the message with the emoji."""
    response = actor.put(reaction_url(message_id, emoji))
    assert response.status_code == 200, response.get_json()


@dataclass
class Scene:
    """The cast, who acts, and the ids of every target that was built (`ids[target]`, plus `side_room`)."""

    cast: dict[str, Actor]
    role: str
    ids: dict[str, str]
    # What the actor sends to the signed links' routes instead of its own token: a bad one, or none ({}).
    presented: dict[str, str] | None = None

    @property
    def actor(self) -> Actor:
        """Who acts in this cell."""
        return self.cast[self.role]

    @property
    def headers(self) -> dict[str, str]:
        """What the actor sends as its credentials."""
        return self.actor.headers if self.presented is None else self.presented

    @property
    def room(self) -> str:
        """Team's id."""
        return self.ids["room"]


def people(api: ApiClient, app: Flask, *names: str) -> list[Actor]:
    """Users made straight in the database, each with a real token pair from the login code.

    Registering is tested elsewhere, and its deliberately slow password hash would dominate every cell.
    """
    with app.app_context():
        users = [User(email=f"{uuid.uuid4().hex}@example.com", password_hash="!", display_name=n) for n in names]
        db.session.add_all(users)
        db.session.commit()
        return [
            Actor(
                api.client,
                {"id": str(u.id), "email": u.email, "display_name": u.display_name},
                password="",
                **issue_tokens(u),
            )
            for u in users
        ]


MEDIA_BYTES = b"notes, as a plain file\n"  # plain text: an upload only a `file` message may carry
NOTES_NAME, NOTES_TYPE = "notes.txt", "text/plain"
NOTES = {"filename": NOTES_NAME, "mime_type": NOTES_TYPE, "size": len(MEDIA_BYTES)}  # a signed-url query
PUT_BYTES = b"put by whoever holds the link"
DOWNLOAD_SALT, UPLOAD_SALT = "armada.media.download", "armada.media.direct-upload"
UPLOAD_TARGETS = ("own_upload", "others_upload", "own_direct", "others_direct")
LINK_TARGETS = (
    "link",
    "tampered_link",
    "expired_link",
    "upload_link",
    "used_upload_link",
    "tampered_upload_link",
    "expired_upload_link",
)


def uploaded(actor: Actor) -> dict[str, Any]:
    """The result of the actor's upload of MEDIA_BYTES through Armada."""
    response = actor.post(UPLOAD, data={"file": (io.BytesIO(MEDIA_BYTES), NOTES_NAME)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def signed_upload(actor: Actor, put: bool) -> dict[str, Any]:
    """A signed upload URL of the actor's for MEDIA_BYTES (the signed-url answer), and the bytes PUT there if `put`."""
    response = actor.get(SIGNED_URL, query_string=NOTES)
    assert response.status_code == 200, response.get_json()
    signed = response.get_json()
    if put:
        stored = actor.client.put(urlsplit(signed["upload_url"]).path, data=MEDIA_BYTES, headers=signed["headers"])
        assert stored.status_code == 201, stored.get_data(as_text=True)
    return signed


def token_of(url: str) -> str:
    """The token at the end of a signed link."""
    return url.rsplit("/", 1)[1]


def tampered(token: str) -> str:
    """The token with one character of its signature changed."""
    payload, stamp, signature = token.rsplit(".", 2)
    return f"{payload}.{stamp}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


class TwoHoursAgoSigner(TimestampSigner):
    """Signs as if it were two hours ago: past MEDIA_URL_EXPIRES (an hour)."""

    def get_timestamp(self) -> int:
        """Two hours ago."""
        return int(time.time()) - 2 * 3600


def expired(app: Flask, token: str, salt: str) -> str:
    """The token's own grant, signed two hours ago."""
    key = app.config["SECRET_KEY"]
    grant = URLSafeTimedSerializer(key, salt=salt).loads(token)
    return URLSafeTimedSerializer(key, salt=salt, signer=TwoHoursAgoSigner).dumps(grant)


def upload_target(cast: dict[str, Actor], actor: Actor, target: str) -> str:
    """The media_url an upload target names: an upload's link, or a direct upload's path (as clients send them)."""
    uploader = actor if target.startswith("own_") else cast["bystander"]
    if target.endswith("_upload"):
        return uploaded(uploader)["url"]
    return signed_upload(uploader, put=True)["path"]


def link_targets(app: Flask, cast: dict[str, Actor], team: str) -> dict[str, str]:
    """Every link target (tokens), all the bystander's, and `upload_path`: where `upload_link` puts its bytes."""
    bystander = cast["bystander"]
    sent = bystander.say(team, "notes", message_type="file", media_url=uploaded(bystander)["url"])
    link = token_of(sent["media_url"])
    fresh, used = signed_upload(bystander, put=False), signed_upload(bystander, put=True)
    upload_link = token_of(fresh["upload_url"])
    return {
        "link": link,
        "tampered_link": tampered(link),
        "expired_link": expired(app, link, DOWNLOAD_SALT),
        "upload_link": upload_link,
        "used_upload_link": token_of(used["upload_url"]),
        "tampered_upload_link": tampered(upload_link),
        "expired_upload_link": expired(app, upload_link, UPLOAD_SALT),
        "upload_path": fresh["path"],
    }


def stage(api: ApiClient, app: Flask, role: str, target: str, side_room: bool = False) -> Scene:
    """Build the cast, with what `target` names as `role` sees it (and the actor's side group), through the API."""
    names = (*ROLES, "bystander", "outsider")
    cast = dict(zip(names, people(api, app, *(name.replace("_", " ").title() for name in names)), strict=True))
    owner, actor, bystander = cast["owner"], cast[role], cast["bystander"]
    team = owner.make_group(cast["admin"], cast["member"], cast["removed"], bystander, name="Team")["id"]
    assert owner.post(member_url(team, cast["admin"]), json={"is_admin": True}).status_code == 200
    ids = {"room": team, "missing_room": new_id(), "missing_message": new_id()}
    ids |= {"other_user": cast["outsider"].id, "missing_user": new_id()}
    ids["others_message"] = bystander.say(team, "from the bystander")["id"]
    if target == "others_deleted":
        ids["others_deleted"] = said_and_deleted(bystander, team)
    if target == "own_message":
        ids["own_message"] = actor.say(team, "mine")["id"]
    if target == "own_deleted":
        ids["own_deleted"] = said_and_deleted(actor, team)
    if target in ("other_room", "foreign_message"):
        outsider = cast["outsider"]
        ids["other_room"] = outsider.make_group(name="Elsewhere")["id"]
        ids["foreign_message"] = outsider.say(ids["other_room"], "not for you")["id"]
    if side_room or target in ("side_room", "side_message"):
        ids["side_room"] = actor.make_group(name="Side")["id"]
        ids["side_message"] = actor.say(ids["side_room"], "mine, elsewhere")["id"]
    if target in ("own_message", "side_message") or (target == "others_message" and role != "non_member"):
        react(actor, ids[target], KEPT)
    if target == "others_message":
        pinned = owner.put(f"{ROOMS}/{team}/pins/{ids['others_message']}")
        assert pinned.status_code == 200, pinned.get_json()
    if target in ("thread", "thread_reply"):
        ids["thread"] = bystander.say(team, "a thread")["id"]
        ids["thread_reply"] = bystander.say(team, "its first reply", thread_root_id=ids["thread"])["id"]
        if role != "non_member":
            actor.say(team, "my reply", thread_root_id=ids["thread"])
    ids |= {"team_user": bystander.id, "removed_user": cast["removed"].id}
    if target in UPLOAD_TARGETS:
        ids[target] = upload_target(cast, actor, target)
    if target in LINK_TARGETS:
        # All of them: the bad-token test opens each with one staging.
        ids |= link_targets(app, cast, team)
    # Last: the removed member said its things while it was still a member.
    assert owner.delete(member_url(team, cast["removed"])).status_code == 204
    return Scene(cast, role, ids)


# ---- checks ----------------------------------------------------------------------------------------------------


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row an authorization mistake could touch: rooms, memberships, messages (with their reactions, mentions,
    pins, thread summaries and edit history), thread follows, receipts, revocations, uploads, and the size of each
    upload's stored object (a direct upload writes only to storage)."""
    queries = {
        "rooms": select(
            ChatRoom.id,
            ChatRoom.name,
            ChatRoom.description,
            ChatRoom.avatar_url,
            ChatRoom.is_active,
            ChatRoom.created_by,
            ChatRoom.updated_at,
            ChatRoom.last_seq,
        ),
        "members": select(
            ChatRoomMember.room_id,
            ChatRoomMember.user_id,
            ChatRoomMember.is_active,
            ChatRoomMember.is_admin,
            ChatRoomMember.last_read_seq,
            ChatRoomMember.last_read_at,
        ),
        "messages": select(
            ChatMessage.id,
            ChatMessage.room_id,
            ChatMessage.sender_id,
            ChatMessage.content,
            ChatMessage.is_edited,
            ChatMessage.is_deleted,
            ChatMessage.change_seq,
            ChatMessage.thread_root_id,
            ChatMessage.thread_reply_count,
            ChatMessage.reaction_summary,
            ChatMessage.mention_ids,
            ChatMessage.pinned_at,
            ChatMessage.pinned_by,
        ),
        "reactions": select(MessageReaction.message_id, MessageReaction.user_id, MessageReaction.emoji),
        "mentions": select(MessageMention.message_id, MessageMention.user_id),
        "edits": select(MessageEdit.message_id, MessageEdit.content),
        "follows": select(
            ThreadFollow.root_id, ThreadFollow.user_id, ThreadFollow.following, ThreadFollow.last_read_seq
        ),
        "receipts": select(MessageReadReceipt.message_id, MessageReadReceipt.user_id),
        "revoked": select(RevokedSession.sid),
        "uploads": select(MediaUpload.key, MediaUpload.uploader_id, MediaUpload.status, MediaUpload.size),
    }
    with app.app_context():
        rows = {
            name: sorted((tuple(row) for row in db.session.execute(query)), key=repr) for name, query in queries.items()
        }
        rows["stored"] = [(key, storage().size(key)) for key, *_ in rows["uploads"]]
        return rows


def assert_effect(before: dict[str, Any], after: dict[str, Any], outcome: Outcome) -> None:
    """A refusal or an allowed no-op wrote nothing; an allowed change wrote something."""
    if outcome.refused or outcome.changes is False:
        assert after == before, "the database changed"
    elif outcome.changes:
        assert after != before, "nothing was written"


# ---- tokens ----------------------------------------------------------------------------------------------------

# Every kind of bad token, and the code of the 401 it gets. "revoked" is the caller's real token after logout.
TOKEN_CODES = {
    "anonymous": "authorization_required",
    "garbage": "invalid_token",
    "expired": "token_expired",
    "not_yet_valid": "invalid_token",
    "revoked": "token_revoked",
    "alg_none": "invalid_token",
    "wrong_key": "invalid_token",
    "hs384_same_key": "invalid_token",
    "no_exp": "invalid_token",
    "no_sid": "invalid_token",
    "unknown_user": "invalid_token",
    "refresh_token": "invalid_token",
}


def forged(kind: str, token: str, key: str) -> str:
    """`token` re-signed with exactly one thing wrong (`resigned`: nothing wrong, to prove the forging is sound)."""
    now = int(time.time())
    made: dict[str, Callable[[], str]] = {
        "resigned": lambda: forge(token, key),
        "garbage": lambda: "not-a-token",
        "expired": lambda: forge(token, key, iat=now - 120, nbf=now - 120, exp=now - 60),
        "not_yet_valid": lambda: forge(token, key, iat=now + 3600, nbf=now + 3600, exp=now + 7200),
        "alg_none": lambda: forge(token, None, algorithm="none"),
        "wrong_key": lambda: forge(token, "another-key-" + "x" * 40),
        "hs384_same_key": lambda: forge(token, key, algorithm="HS384"),
        "no_exp": lambda: forge(token, key, exp=OMIT),
        "no_sid": lambda: forge(token, key, sid=OMIT),
        "unknown_user": lambda: forge(token, key, sub=new_id()),
    }
    return made[kind]()


def bad_token(app: Flask, actor: Actor, kind: str) -> str | None:
    """A token of this kind for the actor (None: no token at all). "revoked" logs the actor out."""
    if kind == "anonymous":
        return None
    if kind == "revoked":
        assert actor.post("/api/auth/logout").status_code == 204
        return actor.access_token
    if kind == "refresh_token":
        return actor.refresh_token
    return forged(kind, actor.access_token, app.config["JWT_SECRET_KEY"])
