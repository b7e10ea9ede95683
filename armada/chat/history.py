"""A room's history: the newest page, older pages (`before`), newer messages (`after`), and the change feed.

The plain history leaves thread replies out; `thread_root_id` lists one thread's replies instead, with the same
cursors. The change feed of the whole room (`changed_after` alone) carries every change, thread replies included.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from armada.chat.viewer import with_my_reactions
from armada.errors import ValidationFailed
from armada.extensions import db
from armada.models import ChatMessage, User
from armada.pagination import Page, decode_cursor, encode_cursor, keyset_page
from armada.permissions import check_room_access


def _anchor_seq(room_id: uuid.UUID, message_id: uuid.UUID, field: str) -> int:
    seq = db.session.scalar(select(ChatMessage.seq).where(ChatMessage.id == message_id, ChatMessage.room_id == room_id))
    if seq is None:
        raise ValidationFailed.field(field, "No such message in this room.")
    return seq


def _room_messages(room_id: uuid.UUID) -> Select[ChatMessage]:
    return select(ChatMessage).where(ChatMessage.room_id == room_id).options(selectinload(ChatMessage.reply_to))


def changes_after(room_id: uuid.UUID, change_seq: int, limit: int) -> list[ChatMessage]:
    """The room's messages changed after change number `change_seq`, in change order, at most `limit`: what a
    process replays to its sockets (armada.realtime.delivery); no caller, so no access check."""
    changes = _room_messages(room_id).where(ChatMessage.change_seq > change_seq).order_by(ChatMessage.change_seq)
    return list(db.session.scalars(changes.limit(limit)))


def _check_thread_root(room_id: uuid.UUID, root_id: uuid.UUID) -> None:
    root = db.session.execute(
        select(ChatMessage.thread_root_id).where(ChatMessage.id == root_id, ChatMessage.room_id == room_id)
    ).first()
    if root is None:
        raise ValidationFailed.field("thread_root_id", "No such message in this room.")
    if root.thread_root_id is not None:
        raise ValidationFailed.field("thread_root_id", "A thread reply has no thread of its own.")


def list_messages(
    user: User,
    room_id: uuid.UUID,
    limit: int,
    before: str | None = None,
    after: uuid.UUID | None = None,
    changed_after: str | None = None,
    thread_root_id: uuid.UUID | None = None,
    around: uuid.UUID | None = None,
) -> Page[ChatMessage]:
    """A page of a room's history or of one thread (`thread_root_id`), oldest first; see `_list_messages`."""
    if around is not None:
        page = _around(user, room_id, limit, around, thread_root_id)
    else:
        page = _list_messages(user, room_id, limit, before, after, changed_after, thread_root_id)
    with_my_reactions(user, page.items)
    return page


def _around(
    user: User, room_id: uuid.UUID, limit: int, message_id: uuid.UUID, thread_root_id: uuid.UUID | None
) -> Page[ChatMessage]:
    """The page around a message (a search result, a link): up to `limit // 2` older messages, then the message
    and newer ones, oldest first. `next_cursor` is the `before` cursor of older pages; newer ones come with
    `after=<the last id>`. A thread reply is shown at its root in the plain history, in place with
    `thread_root_id`."""
    check_room_access(user, room_id)
    anchor = db.session.execute(
        select(ChatMessage.seq, ChatMessage.thread_root_id).where(
            ChatMessage.id == message_id, ChatMessage.room_id == room_id
        )
    ).first()
    if anchor is None:
        raise ValidationFailed.field("around", "No such message in this room.")
    stmt = _room_messages(room_id)
    seq = anchor.seq
    if thread_root_id is not None:
        _check_thread_root(room_id, thread_root_id)
        if anchor.thread_root_id != thread_root_id:
            raise ValidationFailed.field("around", "Not a reply of this thread.")
        stmt = stmt.where(ChatMessage.thread_root_id == thread_root_id)
    else:
        if anchor.thread_root_id is not None:
            seq = _anchor_seq(room_id, anchor.thread_root_id, "around")
        stmt = stmt.where(ChatMessage.thread_root_id.is_(None))
    half = limit // 2
    # One row more than wanted on the older side tells whether older pages remain.
    before = list(
        db.session.scalars(stmt.where(ChatMessage.seq < seq).order_by(ChatMessage.seq.desc()).limit(half + 1))
    )
    older = before[:half][::-1]
    newer = stmt.where(ChatMessage.seq >= seq).order_by(ChatMessage.seq).limit(limit - len(older))
    items = older + list(db.session.scalars(newer))
    return Page(items, encode_cursor([items[0].seq]) if len(before) > half and items else None)


def _list_messages(
    user: User,
    room_id: uuid.UUID,
    limit: int,
    before: str | None,
    after: uuid.UUID | None,
    changed_after: str | None,
    thread_root_id: uuid.UUID | None,
) -> Page[ChatMessage]:
    """A page of a room's history, oldest first: the newest page, or `before`, `after` or `changed_after`.

    `changed_after` (a message id, or a `next_cursor` of this kind) lists the messages created, edited or
    deleted since that message was sent, in the order the changes happened: a reconnecting client's catch-up.
    The request schema lets at most one of the three through.
    """
    check_room_access(user, room_id)
    stmt = _room_messages(room_id)
    if thread_root_id is not None:
        _check_thread_root(room_id, thread_root_id)
        stmt = stmt.where(ChatMessage.thread_root_id == thread_root_id)
    elif changed_after is None:
        stmt = stmt.where(ChatMessage.thread_root_id.is_(None))
    if after is not None:
        anchor = _anchor_seq(room_id, after, "after")
        newer = stmt.where(ChatMessage.seq > anchor).order_by(ChatMessage.seq)
        return keyset_page(newer, limit, lambda message: str(message.id))
    if changed_after is not None:
        try:
            since = _anchor_seq(room_id, uuid.UUID(changed_after), "changed_after")
        except ValueError:
            (since,) = decode_cursor(changed_after, "changed_after", (int,))
        changes = stmt.where(ChatMessage.change_seq > since).order_by(ChatMessage.change_seq)
        return keyset_page(changes, limit, lambda message: encode_cursor([message.change_seq]))
    if before is not None:
        (before_seq,) = decode_cursor(before, "before", (int,))
        stmt = stmt.where(ChatMessage.seq < before_seq)
    newest_first = stmt.order_by(ChatMessage.seq.desc())
    return keyset_page(newest_first, limit, lambda message: encode_cursor([message.seq]), reverse=True)
