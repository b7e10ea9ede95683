"""Threads (one level, as in Slack): replies under a root, the root's summary, following and unread replies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, case, false, func, or_, select, true, update
from sqlalchemy.orm import selectinload

from armada import outbox
from armada.chat.events import ThreadUpdated
from armada.chat.sequencing import UNSYNCHRONIZED, take_change_number
from armada.chat.viewer import with_my_reactions
from armada.database import insert_or_update, insert_skipping_duplicates
from armada.errors import NotFound, ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, ChatRoom, ChatRoomMember, ThreadFollow, ThreadSummary, User
from armada.pagination import Page, decode_cursor, encode_cursor, keyset_page
from armada.permissions import access_message
from armada.transaction import transactional

MAX_PARTICIPANTS = 5


class FollowedThread(NamedTuple):
    """A thread the caller follows, as `GET /api/chat/threads` lists it."""

    room_id: uuid.UUID
    root: ChatMessage
    thread: ThreadSummary | None
    unread_replies: int


class ThreadRead(NamedTuple):
    """The caller's unread replies in a thread after reading it."""

    root_id: uuid.UUID
    unread_replies: int


def _fresh(message_id: uuid.UUID) -> ChatMessage | None:
    # Read again: the caller holds the room's lock, and the copy in the session may predate a change it waited for.
    return db.session.scalars(
        select(ChatMessage).where(ChatMessage.id == message_id).execution_options(populate_existing=True)
    ).first()


def check_thread_root(room_id: uuid.UUID, root_id: uuid.UUID) -> ChatMessage:
    """The root a new reply goes under, read under the room's lock: a message of the room that is no reply itself."""
    root = _fresh(root_id)
    if root is None or root.room_id != room_id:
        raise ValidationFailed.field("thread_root_id", "No such message in this room.")
    if root.thread_root_id is not None:
        raise ValidationFailed.field("thread_root_id", "A thread reply cannot start a thread; use its root.")
    return root


def follow(root_id: uuid.UUID, room_id: uuid.UUID, user_ids: Iterable[uuid.UUID]) -> None:
    """Make these users follow the thread (starting, replying or being mentioned does)."""
    users = list(dict.fromkeys(user_ids))
    if not users:
        return
    rows = [
        {"root_id": root_id, "user_id": u, "room_id": room_id, "following": True, "last_read_seq": 0} for u in users
    ]
    # A row a read left unfollowed (read_thread) starts following now; one statement either way.
    db.session.execute(insert_or_update(ThreadFollow, ("root_id", "user_id"), {"following": True}), rows)


def follow_mentions(message: ChatMessage, newly_mentioned: list[uuid.UUID]) -> None:
    """Users an edit newly mentions by id in a thread (its root or a reply) follow it."""
    named = [u for u in newly_mentioned if str(u) in message.mention_ids]
    root_id = message.thread_root_id or (message.id if message.thread_reply_count else None)
    if named and root_id is not None:
        follow(root_id, message.room_id, named)


def add_reply(root: ChatMessage, reply: ChatMessage) -> None:
    """Count a new reply in its root's summary (a change of the root), and make its people follow the thread."""
    root.change_seq = take_change_number(root.room_id)  # the room's lock is held already: no wait
    root.thread_reply_count += 1
    root.thread_last_reply_at = reply.created_at
    sender = str(reply.sender_id)
    root.thread_participant_ids = [sender, *(p for p in root.thread_participant_ids if p != sender)][:MAX_PARTICIPANTS]
    mentioned = [uuid.UUID(u) for u in [*root.mention_ids, *reply.mention_ids]]
    follow(root.id, root.room_id, [root.sender_id, reply.sender_id, *mentioned])
    outbox.record(ThreadUpdated(root))


def remove_reply(reply: ChatMessage) -> None:
    """Recount a thread after one of its replies was deleted (under the room's lock)."""
    assert reply.thread_root_id is not None
    root = _fresh(reply.thread_root_id)
    assert root is not None
    live = (ChatMessage.thread_root_id == root.id, ChatMessage.is_deleted == false())
    count = db.session.scalar(select(func.count()).where(*live)) or 0
    # The participants are read from the newest replies only: a bound, whatever the thread's length.
    recent = db.session.execute(
        select(ChatMessage.sender_id, ChatMessage.created_at).where(*live).order_by(ChatMessage.seq.desc()).limit(200)
    ).all()
    root.change_seq = take_change_number(root.room_id)
    root.thread_reply_count = count
    root.thread_last_reply_at = recent[0].created_at if recent else None
    root.thread_participant_ids = list(dict.fromkeys(str(r.sender_id) for r in recent))[:MAX_PARTICIPANTS]
    outbox.record(ThreadUpdated(root))


def _unread_replies(user: User, root_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per thread: live replies of others after the user's read pointer in it, in one query."""
    if not root_ids:
        return {}
    rows = db.session.execute(
        select(ChatMessage.thread_root_id, func.count())
        .outerjoin(
            ThreadFollow, and_(ThreadFollow.root_id == ChatMessage.thread_root_id, ThreadFollow.user_id == user.id)
        )
        .where(
            ChatMessage.thread_root_id.in_(root_ids),
            or_(ThreadFollow.last_read_seq.is_(None), ChatMessage.seq > ThreadFollow.last_read_seq),
            ChatMessage.sender_id != user.id,
            ChatMessage.is_deleted == false(),
        )
        .group_by(ChatMessage.thread_root_id)
    )
    return {root_id: count for root_id, count in rows if root_id is not None}


def list_threads(user: User, limit: int, cursor: str | None) -> Page[FollowedThread]:
    """The threads the user follows in rooms they are in, most recent reply first."""
    stmt = (
        select(ChatMessage)
        .join(ThreadFollow, and_(ThreadFollow.root_id == ChatMessage.id, ThreadFollow.user_id == user.id))
        .join(ChatRoom, and_(ChatRoom.id == ChatMessage.room_id, ChatRoom.is_active == true()))
        .join(
            ChatRoomMember,
            and_(
                ChatRoomMember.room_id == ChatMessage.room_id,
                ChatRoomMember.user_id == user.id,
                ChatRoomMember.is_active == true(),
            ),
        )
        .where(ThreadFollow.following == true(), ChatMessage.thread_reply_count > 0)
        .options(selectinload(ChatMessage.reply_to))
    )
    if cursor:
        at, root_id = decode_cursor(cursor, "cursor", (datetime, uuid.UUID))
        stmt = stmt.where(
            or_(
                ChatMessage.thread_last_reply_at < at,
                and_(ChatMessage.thread_last_reply_at == at, ChatMessage.id < root_id),
            )
        )
    stmt = stmt.order_by(ChatMessage.thread_last_reply_at.desc(), ChatMessage.id.desc())
    page: Page[ChatMessage] = keyset_page(stmt, limit, lambda root: encode_cursor([root.thread_last_reply_at, root.id]))
    with_my_reactions(user, page.items)
    unread = _unread_replies(user, [root.id for root in page.items])
    items = [FollowedThread(root.room_id, root, root.thread, unread.get(root.id, 0)) for root in page.items]
    return Page(items, page.next_cursor)


def access_thread(user: User, root_id: uuid.UUID) -> ChatMessage:
    """A thread's root the user may see; a reply (no thread of its own) answers as a missing thread."""
    root, _ = access_message(user, root_id)
    if root.thread_root_id is not None:
        raise NotFound("No such thread.", code="thread_not_found")
    return root


@transactional
def read_thread(user: User, root_id: uuid.UUID, up_to: uuid.UUID) -> ThreadRead:
    """Mark a thread read up to one of its replies (a read pointer never moves back)."""
    root = access_thread(user, root_id)
    top = db.session.scalar(
        select(ChatMessage.seq).where(ChatMessage.id == up_to, ChatMessage.thread_root_id == root.id)
    )
    if top is None:
        raise ValidationFailed.field("up_to", "No such reply in this thread.")
    # Reading a thread one does not follow keeps one's place in it without following it.
    row = {"root_id": root.id, "user_id": user.id, "room_id": root.room_id, "following": False, "last_read_seq": 0}
    db.session.execute(insert_skipping_duplicates(ThreadFollow, "root_id", "user_id"), [row])
    db.session.execute(
        update(ThreadFollow)
        .where(ThreadFollow.root_id == root.id, ThreadFollow.user_id == user.id)
        .values(last_read_seq=case((ThreadFollow.last_read_seq < top, top), else_=ThreadFollow.last_read_seq)),
        execution_options=UNSYNCHRONIZED,
    )
    return ThreadRead(root.id, _unread_replies(user, [root.id]).get(root.id, 0))
