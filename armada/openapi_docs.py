"""The OpenAPI document's prose and examples: `info.description`, and an example of each request and response body.

The examples are one conversation, so that ids agree from one to the next: Alice makes a group with Bob and sends
"Hello!"; Bob reacts to it (so does Alice), replies mentioning her, and reads it; Bob answers in Hello's thread,
mentioning Alice; Alice pins Hello, then edits it to "Hello, team!". tests/api/test_openapi.py checks each
against its schema.
"""

from __future__ import annotations

from typing import Any

# armada.realtime.asyncapi serves it; not imported, since it needs the Api this module documents.
ASYNCAPI_PATH = "/api/asyncapi.json"

DESCRIPTION = f"""Armada is a self-hostable real-time chat backend: 1-on-1 and group rooms, replies, forwards,
edits, soft deletes, read receipts, typing indicators and media, over this REST API and Socket.IO.

**Real time**: the Socket.IO API (connecting, the events a client emits and receives, their payloads and
acknowledgements) is described by the AsyncAPI 3.0 document at [{ASYNCAPI_PATH}]({ASYNCAPI_PATH}).

**Authentication**: `POST /api/auth/register` or `POST /api/auth/login` answer an access token (15 minutes by
default) and a refresh token (30 days). Send the access token as `Authorization: Bearer <token>` on every other
request; `POST /api/auth/refresh` with the refresh token as the bearer answers a new access token;
`POST /api/auth/logout` revokes the login session, both of its tokens.

**Errors** always have one shape, `{{"error": {{"code": "...", "message": "...", "details": {{...}}}}}}`: `code` is
stable and meant for programs, `message` for people. A 422 (`validation_failed`) maps each field in `details` to
its messages; a 429 (`rate_limited`) carries `details.retry_after`, as its `Retry-After` header does. A room or
message the caller is not a member of answers 404, the same as one that does not exist. Unknown JSON fields are
ignored. Each operation lists the statuses it can answer.

**Pagination** is keyset-based (never page numbers or offsets): a list answers `{{"items": [...],
"next_cursor": ...}}`; pass `limit` (at most 100) and the previous page's `next_cursor` as `cursor` (rooms,
users) or `before`/`after`/`changed_after` (messages) until `next_cursor` is null. Message pages are always
oldest first.

**Messages** carry `reactions` (`PUT /api/chat/messages/{{message_id}}/reactions/{{emoji}}` reacts with one emoji,
`DELETE` on it takes the reaction back; at most 20 distinct emoji a message), a `thread` summary on a thread root
(send with `thread_root_id` to reply in its thread; `GET /api/chat/rooms/{{room_id}}/messages?thread_root_id=` lists
one thread, `GET /api/chat/threads` the threads you follow), `mentions` (user ids) and `mentions_room`, which rooms
count in `mention_count`, and `pinned_at`/`pinned_by` (`PUT /api/chat/rooms/{{room_id}}/pins/{{message_id}}`, at most
100 a room). An edit keeps the earlier text: `GET /api/chat/messages/{{message_id}}/history`. Whatever changes a
message's JSON gives it a new change number, so `changed_after` alone resynchronises a room.

**Search**: `GET /api/chat/search?q=` finds messages of your rooms, newest first: every word must match (case and
accents aside), the last also as a prefix, `"quoted words"` in order. `highlights` are `[start, end]` offsets in
Unicode code points (JavaScript strings count UTF-16 units: convert with `Array.from(content)`). To show a result
in its room, `GET /api/chat/rooms/{{room_id}}/messages?around={{message_id}}` answers the page around it."""

ALICE = "72f2a5c6-c60c-400d-a8fe-4cee7d2c4389"
BOB = "72acba32-95d2-49c7-9e83-887f83da148e"
ROOM = "86ab0023-d420-4010-9b00-edd4ccaee0a2"
HELLO = "e08e0f12-fdf2-4b51-aafd-e24a7d2400d9"
REPLY = "296eda3e-4381-4331-aae5-9a99069f08ad"
THREAD_REPLY = "b3c5f0d4-2f1e-4c59-9a3e-5d0c8e61f7a2"
CREATED = "2026-12-05T09:30:00.120000+00:00"
SENT = "2026-12-05T09:31:12.445000+00:00"
BOB_REACTED = "2026-12-05T09:31:30.018000+00:00"
ALICE_REACTED = "2026-12-05T09:31:41.672000+00:00"
REPLIED = "2026-12-05T09:32:40.907000+00:00"
THREADED = "2026-12-05T09:33:05.311000+00:00"
PINNED = "2026-12-05T09:34:00.250000+00:00"
EDITED = "2026-12-05T09:35:10.803000+00:00"
THUMBS_UP, PARTY = "\N{THUMBS UP SIGN}", "\N{PARTY POPPER}"
# Shortened: real tokens are a few hundred characters.
ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3MmYyYTVjNiIsInR5cGUiOiJhY2Nlc3MifQ.rUDMdE-Q-fe7_DAQ"
REFRESH_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3MmYyYTVjNiIsInR5cGUiOiJyZWZyZXNoIn0.Fz-o870mOg_mQauB"
MEDIA_PATH = f"{ALICE}/03e85b592b504124b46b2da6541d81ad.jpg"
MEDIA_URL = (
    "https://chat.example.com/api/media/.eJwtyksOwyAMANG7sC7EOIaQs1Rd2OB8qqZBEVGvXynt8mnmbgackEOONkfIlg.QJLszNnE"
)
THUMBNAIL_URL = (
    "https://chat.example.com/api/media/.eJwtxzEOgzAMAMC_ZG7AMXYIb6kYHNvQIiEiBP9vB7a7dxhxQWHNUTNoJACLUhaPpO.Uw7NGVw5"
)

ALICE_USER = {
    "id": ALICE,
    "email": "alice@example.com",
    "display_name": "Alice",
    "avatar_url": None,
    "created_at": CREATED,
}
# Another user, as the directory shows them: never with an email.
BOB_USER = {
    "id": BOB,
    "display_name": "Bob",
    "avatar_url": None,
    "created_at": CREATED,
}
TEXT_MESSAGE: dict[str, Any] = {
    "message_type": "text",
    "media_url": None,
    "thumbnail_url": None,
    "media_filename": None,
    "media_size": None,
    "media_mime_type": None,
    "forwarded_from_id": None,
    "is_edited": False,
    "edited_at": None,
    "is_deleted": False,
    "deleted_at": None,
    "reactions": [],
    "thread_root_id": None,
    "thread": None,
    "mentions": [],
    "mentions_room": False,
    "pinned_at": None,
    "pinned_by": None,
    "link_previews": [],
}
# As Alice sees them (`me`): Bob reacted 👍 first, then Alice 👍, then Bob 🎉.
HELLO_REACTIONS = [{"emoji": THUMBS_UP, "count": 2, "me": True}, {"emoji": PARTY, "count": 1, "me": False}]
HELLO_THREAD = {"reply_count": 1, "last_reply_at": THREADED, "participant_ids": [BOB]}
HELLO_MESSAGE = {
    "id": HELLO,
    "room_id": ROOM,
    "sender_id": ALICE,
    "content": "Hello!",
    **TEXT_MESSAGE,
    "reply_to_id": None,
    "reply_to": None,
    "created_at": SENT,
    "client_id": "c-1",
    "reactions": HELLO_REACTIONS,
    "thread": HELLO_THREAD,
    "pinned_at": PINNED,
    "pinned_by": ALICE,
}
REPLY_MESSAGE = {
    "id": REPLY,
    "room_id": ROOM,
    "sender_id": BOB,
    "content": "Hi Alice! Lunch at noon?",
    **TEXT_MESSAGE,
    "reply_to_id": HELLO,
    "reply_to": {"id": HELLO, "sender_id": ALICE, "message_type": "text", "content": "Hello!", "is_deleted": False},
    "created_at": REPLIED,
    "client_id": "c-7",
    "mentions": [ALICE],
}
# In Hello's thread: not in the room's plain history (MessagePage), but in `?thread_root_id=` pages.
THREAD_REPLY_MESSAGE = {
    "id": THREAD_REPLY,
    "room_id": ROOM,
    "sender_id": BOB,
    "content": "Count me in, Alice.",
    **TEXT_MESSAGE,
    "reply_to_id": None,
    "reply_to": None,
    "created_at": THREADED,
    "client_id": "c-8",
    "thread_root_id": HELLO,
    "mentions": [ALICE],
}
MEMBERS = [
    {"user_id": ALICE, "display_name": "Alice", "is_admin": True, "joined_at": CREATED, "last_read_at": REPLIED},
    {"user_id": BOB, "display_name": "Bob", "is_admin": False, "joined_at": CREATED, "last_read_at": SENT},
]
ROOM_OBJECT = {
    "id": ROOM,
    "name": "Team",
    "room_type": "group",
    "description": "Planning the launch",
    "avatar_url": None,
    "created_by": ALICE,
    "created_at": CREATED,
    "updated_at": CREATED,
    "is_active": True,
    "members": MEMBERS,
    "unread_count": 1,
    "mention_count": 1,  # Bob's thread reply: thread replies count here, though not in unread_count
    "last_message": REPLY_MESSAGE,
}

# Component schema name -> its example.
EXAMPLES: dict[str, Any] = {
    "Error": {
        "error": {
            "code": "validation_failed",
            "message": "Invalid or missing fields: room_id.",
            "details": {"room_id": ["Not a valid UUID."]},
        }
    },
    "Register": {"email": "alice@example.com", "password": "a long password", "display_name": "Alice"},
    "Login": {"email": "alice@example.com", "password": "a long password"},
    "User": ALICE_USER,
    "AuthResult": {"user": ALICE_USER, "access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN},
    "AccessToken": {"access_token": ACCESS_TOKEN},
    "UserPage": {"items": [BOB_USER], "next_cursor": None},
    "RegistrationMode": {"mode": "invite"},
    "Member": MEMBERS[0],
    "Message": HELLO_MESSAGE,
    "ReplyPreview": REPLY_MESSAGE["reply_to"],
    "MessagePage": {"items": [HELLO_MESSAGE, REPLY_MESSAGE], "next_cursor": None},
    "SendMessage": {"room_id": ROOM, "content": "Hello!", "client_id": "c-1"},
    "EditMessage": {"content": "Hello, team!"},
    "Room": ROOM_OBJECT,
    "RoomPage": {"items": [ROOM_OBJECT], "next_cursor": None},
    "CreateRoom": {"room_type": "group", "name": "Team", "description": "Planning the launch", "member_ids": [BOB]},
    "UpdateRoom": {"name": "Launch team", "description": "Launch on Friday"},
    "AddMember": {"is_admin": True},
    "MarkRead": {"up_to": REPLY},
    "ReadResult": {"room_id": ROOM, "user_id": ALICE, "message_ids": [REPLY], "read_at": REPLIED, "unread_count": 0},
    "UploadResult": {
        "url": MEDIA_URL,
        "path": MEDIA_PATH,
        "filename": "photo.jpg",
        "size": 183204,
        "mime_type": "image/jpeg",
        "message_type": "image",
        "thumbnail_url": THUMBNAIL_URL,
    },
    "SignedUpload": {
        "upload_url": "https://chat.example.com/api/media/upload/.eJwNzMENgzAMBdBdfCbFOE5iuk3yMREgJA69IXYvb4B.pMbWoAq9",
        "path": MEDIA_PATH,
        "method": "PUT",
        "headers": {"Content-Type": "image/jpeg"},
        "expires_at": "2026-12-05T10:31:12.563000+00:00",
    },
    "Health": {"status": "ok", "database": "ok"},
    "ReactionsResult": {"message_id": HELLO, "reactions": HELLO_REACTIONS},
    "Reactor": {"user_id": BOB, "display_name": "Bob", "reacted_at": BOB_REACTED},
    "ReactorPage": {
        "items": [
            {"user_id": BOB, "display_name": "Bob", "reacted_at": BOB_REACTED},
            {"user_id": ALICE, "display_name": "Alice", "reacted_at": ALICE_REACTED},
        ],
        "next_cursor": None,
    },
    "Edit": {"content": "Hello!", "edited_at": EDITED},
    "EditPage": {"items": [{"content": "Hello!", "edited_at": EDITED}], "next_cursor": None},
    "FollowedThread": {"room_id": ROOM, "root": HELLO_MESSAGE, "thread": HELLO_THREAD, "unread_replies": 1},
    "FollowedThreadPage": {
        "items": [{"room_id": ROOM, "root": HELLO_MESSAGE, "thread": HELLO_THREAD, "unread_replies": 1}],
        "next_cursor": None,
    },
    "ThreadRead": {"up_to": THREAD_REPLY},
    "ThreadReadResult": {"root_id": HELLO, "unread_replies": 0},
    "PinPage": {"items": [HELLO_MESSAGE], "next_cursor": None},
    # GET /api/chat/search?q=lunch: "Lunch" is at code points 10 to 15 of Bob's reply.
    "SearchHit": {"message": REPLY_MESSAGE, "room_id": ROOM, "highlights": [[10, 15]]},
    "SearchPage": {
        "items": [{"message": REPLY_MESSAGE, "room_id": ROOM, "highlights": [[10, 15]]}],
        "next_cursor": None,
    },
    "Reaction": HELLO_REACTIONS[0],
    "ThreadSummary": HELLO_THREAD,
}
