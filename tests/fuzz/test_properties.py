"""Property tests: history pages under concurrent writes, and the message state machine against a model.

Both run on whatever database the suite has (SQLite by default, PostgreSQL with ARMADA_TEST_DATABASE_URL).
`ARMADA_PROPERTY_EXAMPLES=200 .venv/bin/pytest tests/fuzz/test_properties.py` explores much more than `make test`.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from armada.chat.schemas import PREVIEW_CHARS
from tests.helpers.support import Actor, ApiClient, assert_error, history_url

EXAMPLES = int(os.environ.get("ARMADA_PROPERTY_EXAMPLES") or 0)
MAX_PAGES = 500  # a walk longer than this is looping
JOIN_TIMEOUT = 120  # seconds; only reached if a writer hangs, which fails the test
COMMON = {
    "deadline": None,
    "database": None,  # nothing written to .hypothesis/; a failure prints its reproduction
    # The same examples on every run, so CI cannot flake; ARMADA_PROPERTY_EXAMPLES explores further locally.
    "derandomize": True,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def get_page(actor: Actor, room_id: str, **params: Any) -> dict[str, Any]:
    """One history page, checked for shape, for no id twice on one page, and for the limit."""
    response = actor.get(history_url(room_id), query_string=params)
    assert response.status_code == 200, (params, response.get_json())
    body = response.get_json()
    assert set(body) == {"items", "next_cursor"}, body
    ids = [m["id"] for m in body["items"]]
    assert len(ids) == len(set(ids)) and len(ids) <= params["limit"], (params, ids)
    return body


class Walk:
    """Follows one kind of cursor page by page; drained again later, it resumes where a client would."""

    def __init__(self, actor: Actor, room_id: str, param: str, start: str | None, limit: int) -> None:
        self.actor, self.room_id, self.param, self.limit = actor, room_id, param, limit
        self.cursor = start
        self.pages: list[list[dict[str, Any]]] = []
        self.mark = 0  # pages[mark:] were read from `cursor`: a resumed walk reads them again, so drops them

    def step(self) -> bool:
        """Fetch the next page; False once next_cursor is null."""
        params: dict[str, Any] = {"limit": self.limit}
        if self.cursor is not None:
            params[self.param] = self.cursor
        body = get_page(self.actor, self.room_id, **params)
        self.pages.append(body["items"])
        if body["next_cursor"] is not None:
            self.cursor, self.mark = body["next_cursor"], len(self.pages)
            return True
        if body["items"] and self.param == "after":
            # Caught up: the next catch-up starts after the newest message held.
            self.cursor, self.mark = body["items"][-1]["id"], len(self.pages)
        return False

    def drain(self) -> None:
        """Step until caught up."""
        del self.pages[self.mark :]
        for _ in range(MAX_PAGES):
            if not self.step():
                return
        raise AssertionError(f"{self.param} paging did not end")

    @property
    def items(self) -> list[dict[str, Any]]:
        """Every item read, in the order read."""
        return [m for page in self.pages for m in page]


# ---- 1. pagination under concurrent writes --------------------------------------------------------------------

WriterOp = tuple[str, int]  # ("send", _), ("edit", i), ("delete", i): i picks one of the writer's own messages


@dataclass
class Writer:
    """One thread of writes as one user (on its own test client), recording what it changed."""

    actor: Actor
    room_id: str
    own: list[str]  # this user's messages from before the writes: only they are edited or deleted here
    ops: list[WriterOp]
    sent: list[str] = field(default_factory=list)
    changes: Counter[str] = field(default_factory=Counter)  # message id -> effective edits and deletions
    deleted: set[str] = field(default_factory=set)
    error: BaseException | None = None

    def run(self, start: threading.Barrier) -> None:
        """Apply every op in order, checking each answer; a failure is kept for the test's thread."""
        try:
            start.wait()
            for n, (kind, index) in enumerate(self.ops):
                self.apply(n, kind, index)
        except BaseException as exc:
            self.error = exc

    def apply(self, n: int, kind: str, index: int) -> None:
        """One write; edits and deletes touch only this user's messages, so their outcome is known."""
        if kind == "send" or not self.own:
            response = self.actor.post("/api/chat/messages", json={"room_id": self.room_id, "content": f"w{n}"})
            assert response.status_code == 201, response.get_json()
            self.sent.append(response.get_json()["id"])
            return
        target = self.own[index % len(self.own)]
        if kind == "edit":
            response = self.actor.patch(f"/api/chat/messages/{target}", json={"content": f"edit {n}"})
            if target in self.deleted:
                assert_error(response, 409, "message_deleted")
                return
            assert response.status_code == 200 and response.get_json()["content"] == f"edit {n}", response.get_json()
            self.changes[target] += 1
            return
        response = self.actor.delete(f"/api/chat/messages/{target}")
        assert response.status_code == 200 and response.get_json()["is_deleted"], response.get_json()
        if target not in self.deleted:
            self.deleted.add(target)
            self.changes[target] += 1


writer_ops = st.lists(
    st.tuples(st.sampled_from(["send", "send", "edit", "delete"]), st.integers(0, 20)), min_size=1, max_size=12
)


@settings(max_examples=EXAMPLES or 10, **COMMON)
@given(
    before=st.integers(1, 12),
    anchor=st.integers(0, 11),
    limit=st.integers(1, 5),
    ops=st.lists(writer_ops, min_size=2, max_size=3),
)
def test_pages_read_during_concurrent_writes_have_no_duplicates_or_gaps(
    app: Flask, before: int, anchor: int, limit: int, ops: list[list[WriterOp]]
) -> None:
    api = ApiClient(app.test_client())
    users = [api.register(f"Writer {i}") for i in range(len(ops))]
    reader = users[0]
    room_id = reader.make_group(*users[1:])["id"]
    senders = [i % len(users) for i in range(before)]
    initial = [users[who].say(room_id, f"m{i}")["id"] for i, who in enumerate(senders)]
    anchor_id = initial[anchor % before]
    writers = [
        Writer(
            Actor(app.test_client(), user.user, user.access_token, user.refresh_token, user.password),
            room_id,
            [m for m, who in zip(initial, senders, strict=True) if who == n],
            user_ops,
        )
        for n, (user, user_ops) in enumerate(zip(users, ops, strict=True))
    ]
    start = threading.Barrier(len(writers) + 1)
    threads = [threading.Thread(target=w.run, args=(start,), daemon=True) for w in writers]
    for thread in threads:
        thread.start()
    start.wait()

    # Read while the writers write: newest first with `before`, and both catch-up cursors from the anchor.
    backward = Walk(reader, room_id, "before", None, limit)
    after = Walk(reader, room_id, "after", anchor_id, limit)
    changes = Walk(reader, room_id, "changed_after", anchor_id, limit)
    for walk in (backward, after, changes):
        walk.drain()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive(), "a writer hung"
    for writer in writers:
        if writer.error is not None:
            raise writer.error
    # Catch up once more now that the writes are over, as a client does on its next reconnect.
    after.drain()
    changes.drain()

    final = Walk(reader, room_id, "before", None, 100)
    final.drain()
    history = [m for page in reversed(final.pages) for m in page]
    ids = [m["id"] for m in history]
    sent = [m for w in writers for m in w.sent]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(initial + sent), "history lost or doubled messages"
    assert ids[:before] == initial
    for writer in writers:  # each writer's messages appear in the order it sent them
        assert [m for m in ids if m in set(writer.sent)] == writer.sent

    # `before`: everything up to the newest message of the first page, each once, none skipped.
    seen = [m["id"] for page in reversed(backward.pages) for m in page]
    assert seen == ids[: len(seen)] and seen[-1] == backward.pages[0][-1]["id"]
    # `after`: exactly the messages newer than the anchor, in order, though some arrived mid-walk.
    newer = ids[ids.index(anchor_id) + 1 :]
    assert [m["id"] for m in after.items] == newer
    # `changed_after`: every message created, edited or deleted since the anchor was sent, listed no more often
    # than it changed, and the last copy of each is its final state.
    changed = Counter(newer)
    for writer in writers:
        changed.update(writer.changes)
    listed = Counter(m["id"] for m in changes.items)
    assert set(listed) == set(changed), (set(changed) - set(listed), set(listed) - set(changed))
    assert all(listed[m] <= changed[m] for m in listed), "a message listed more often than it changed"
    final_by_id = {m["id"]: m for m in history}
    for message_id, message in {m["id"]: m for m in changes.items}.items():
        assert message == final_by_id[message_id], "catch-up ended on a stale copy"


# ---- 2. the message state machine -----------------------------------------------------------------------------

USERS = ("alice", "bob", "carol")
ROOMS = ("main", "side")
MEMBERS = {"main": {"alice", "bob", "carol"}, "side": {"alice", "bob"}}
ADMINS = {"main": {"alice"}, "side": {"alice"}}
PAGINGS = ("before", "after", "changed_after")
CLIENT_IDS = (None, None, "c-1")  # a client_id used again by the same sender in the same room is a retry
# What the state machine did, over all its runs in one test. Hypothesis enables a random subset of the rules in
# each run, so one run may never reach a given branch (a reply, a retry, an edit of a tombstone...), but together
# the runs make many changes of every kind.
OUTCOMES: Counter[str] = Counter()
CHANGES = (
    "send",
    "reply",
    "forward",
    "edit",
    "delete",
    "delete by an admin",
    "thread reply",
    "reaction added",
    "reaction removed",
    "pin",
    "unpin",
)
# "❤" and "❤️" are one reaction, stored fully qualified.
EMOJI = {
    "\N{THUMBS UP SIGN}": "\N{THUMBS UP SIGN}",
    "\u2764": "\u2764\ufe0f",
    "\u2764\ufe0f": "\u2764\ufe0f",
    "🎉": "🎉",
}
MIN_CHANGES = 30
SPECIAL_CONTENTS = ["", " ", "\t\n", "\u00a0", "x\x00y", "é🚀", "a" * (PREVIEW_CHARS + 5)]
# Mostly any text, a quarter of the time an edge case (blank, NUL, long).
texts = st.text(min_size=1, max_size=12)
contents = st.one_of(texts, texts, texts, st.sampled_from(SPECIAL_CONTENTS))


@dataclass
class Model:
    """What the server should hold for one message."""

    id: str
    room: str
    sender: str
    seq: int
    change_seq: int
    content: str | None
    reply_to_id: str | None = None
    forwarded_from_id: str | None = None
    client_id: str | None = None
    is_edited: bool = False
    is_deleted: bool = False
    thread_root_id: str | None = None
    # emoji -> the users who reacted with it, in first-use order (an emptied emoji leaves)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    pinned_by: str | None = None


class MessageStateMachine(RuleBasedStateMachine):
    """Send, reply, forward, edit and delete in any order, as any of three users, against a model."""

    client: FlaskClient  # set by the test

    def __init__(self) -> None:
        super().__init__()
        api = ApiClient(self.client)
        self.actors = dict(zip(USERS, api.users("Alice", "Bob", "Carol"), strict=True))
        alice, bob, carol = self.actors.values()
        self.room_ids = {"main": alice.make_group(bob, carol)["id"], "side": alice.make_group(bob)["id"]}
        self.counter = dict.fromkeys(ROOMS, 0)  # the room's change counter: seq and change_seq
        self.messages: dict[str, Model] = {}
        self.by_client_id: dict[tuple[str, str, str], str] = {}

    # -- expectations ----------------------------------------------------------------------------------------

    def thread_of(self, m: Model) -> dict[str, Any] | None:
        """A root's thread summary, but for its time: the live replies, up to 5 latest distinct repliers."""
        replies = sorted(
            (r for r in self.messages.values() if r.thread_root_id == m.id and not r.is_deleted), key=lambda r: r.seq
        )
        if not replies:
            return None
        repliers = list(dict.fromkeys(self.actors[r.sender].id for r in reversed(replies)))[:5]
        return {"reply_count": len(replies), "participant_ids": repliers}

    def expected(self, m: Model, viewer: str) -> dict[str, Any]:
        """The message as the API must show it to `viewer`."""
        reply = self.messages.get(m.reply_to_id) if m.reply_to_id else None
        preview = None
        if reply is not None:
            text = None if reply.is_deleted or reply.content is None else reply.content[:PREVIEW_CHARS]
            preview = {
                "id": reply.id,
                "sender_id": self.actors[reply.sender].id,
                "message_type": "text",
                "content": text,
                "is_deleted": reply.is_deleted,
            }
        return {
            "id": m.id,
            "room_id": self.room_ids[m.room],
            "sender_id": self.actors[m.sender].id,
            "message_type": "text",
            "content": None if m.is_deleted else m.content,
            "media_url": None,
            "thumbnail_url": None,
            "media_filename": None,
            "media_size": None,
            "media_mime_type": None,
            "reply_to_id": m.reply_to_id,
            "reply_to": preview,
            "forwarded_from_id": m.forwarded_from_id,
            "is_edited": m.is_edited,
            "is_deleted": m.is_deleted,
            "client_id": m.client_id,
            "reactions": [
                {"emoji": emoji, "count": len(users), "me": viewer in users} for emoji, users in m.reactions.items()
            ],
            "thread_root_id": m.thread_root_id,
            "mentions": [],
            "mentions_room": False,
            "pinned_by": self.actors[m.pinned_by].id if m.pinned_by else None,
            "link_previews": [],
        }

    def check(self, body: dict[str, Any], m: Model, viewer: str) -> None:
        """A message body has the contract's fields, equal to the model's, timestamps exactly when they should be."""
        expected = self.expected(m, viewer)
        assert set(body) == set(expected) | {"edited_at", "deleted_at", "created_at", "pinned_at", "thread"}, set(body)
        assert {k: body[k] for k in expected} == expected
        assert (body["edited_at"] is not None) == m.is_edited and (body["deleted_at"] is not None) == m.is_deleted
        assert body["created_at"] is not None and (body["pinned_at"] is not None) == (m.pinned_by is not None)
        thread = body["thread"]
        assert (thread and {"reply_count": thread["reply_count"], "participant_ids": thread["participant_ids"]}) == (
            self.thread_of(m)
        )

    def pick(self, data: st.DataObject) -> Model | None:
        """A known message, forwards and tombstones twice as likely (their rules are the subtle ones), or now and
        then None: no message. Creation order, so that replays and shrinking pick the same one."""
        ids = list(self.messages)
        ids += [m.id for m in self.messages.values() if m.is_deleted or m.forwarded_from_id]
        if not ids or data.draw(st.integers(0, 9)) == 0:
            return None
        return self.messages[data.draw(st.sampled_from(ids))]

    def outcome(self, name: str) -> None:
        """Tally what the rules did, for the test's check that they did something."""
        OUTCOMES[name] += 1

    def next_change(self, room: str) -> int:
        self.counter[room] += 1
        return self.counter[room]

    def created(self, response: Any, user: str, room: str, client_id: str | None, **fields: Any) -> Model:
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        seq = self.next_change(room)
        m = Model(body["id"], room, user, seq, seq, client_id=client_id, **fields)
        assert m.id not in self.messages
        self.messages[m.id] = m
        if client_id is not None:
            self.by_client_id[(room, user, client_id)] = m.id
        self.check(body, m, user)
        return m

    def retried(self, response: Any, user: str, room: str, client_id: str | None) -> bool:
        """If this send repeats a client_id: it answered the first message, unchanged, with 200."""
        first = self.by_client_id.get((room, user, client_id)) if client_id else None
        if first is None:
            return False
        assert response.status_code == 200, response.get_json()
        self.check(response.get_json(), self.messages[first], user)
        return True

    # -- rules -----------------------------------------------------------------------------------------------

    @initialize()
    def seed(self) -> None:
        """Every run starts from a message of each member in each room, so the other rules have targets."""
        for room in ROOMS:
            for user in sorted(MEMBERS[room]):
                response = self.actors[user].post(
                    "/api/chat/messages", json={"room_id": self.room_ids[room], "content": f"{user} in {room}"}
                )
                self.created(response, user, room, None, content=f"{user} in {room}")

    @rule(
        data=st.data(),
        user=st.sampled_from(USERS),
        room=st.sampled_from(ROOMS),
        content=contents,
        client_id=st.sampled_from(CLIENT_IDS),
    )
    def send(self, data: st.DataObject, user: str, room: str, content: str, client_id: str | None) -> None:
        """Send a message, or a reply to any known message (the same room's or another's) or to no message."""
        reply = self.pick(data) if data.draw(st.integers(0, 2)) == 0 else None
        reply_to_id = reply.id if reply else (str(uuid.uuid4()) if data.draw(st.integers(0, 9)) == 0 else None)
        body = {"room_id": self.room_ids[room], "content": content}
        if reply_to_id:
            body["reply_to_id"] = reply_to_id
        if client_id:
            body["client_id"] = client_id
        response = self.actors[user].post("/api/chat/messages", json=body)
        if "\x00" in content:
            assert_error(response, 422, "validation_failed")
        elif user not in MEMBERS[room]:
            assert_error(response, 404, "room_not_found")
            self.outcome("send to a room of others")
        elif self.retried(response, user, room, client_id):
            self.outcome("retried send")
        elif not content.strip():
            assert_error(response, 422, "validation_failed")
            self.outcome("blank send")
        elif reply_to_id and (reply is None or reply.room != room):
            assert "reply_to_id" in assert_error(response, 422, "validation_failed")["details"]
            self.outcome("reply to a message of elsewhere")
        elif reply is not None and reply.is_deleted:
            assert "reply_to_id" in assert_error(response, 422, "validation_failed")["details"]
            self.outcome("reply to a deleted message")
        else:
            self.created(response, user, room, client_id, content=content, reply_to_id=reply_to_id)
            self.outcome("reply" if reply_to_id else "send")

    @rule(
        data=st.data(),
        user=st.sampled_from(USERS),
        room=st.sampled_from(ROOMS),
        client_id=st.sampled_from(CLIENT_IDS),
        with_content=st.sampled_from([False, False, False, True]),
    )
    def forward(self, data: st.DataObject, user: str, room: str, client_id: str | None, with_content: bool) -> None:
        """Forward any known message (or an unknown id) into a room, sometimes wrongly with content of its own."""
        source = self.pick(data)
        body: dict[str, Any] = {
            "room_id": self.room_ids[room],
            "forwarded_from_id": source.id if source else str(uuid.uuid4()),
        }
        if with_content:
            body["content"] = "mine"
        if client_id:
            body["client_id"] = client_id
        response = self.actors[user].post("/api/chat/messages", json=body)
        if user not in MEMBERS[room]:
            assert_error(response, 404, "room_not_found")
        elif self.retried(response, user, room, client_id):
            self.outcome("retried forward")
        elif with_content:
            assert_error(response, 422, "validation_failed")
        elif source is None or user not in MEMBERS[source.room] or source.is_deleted:
            assert "forwarded_from_id" in assert_error(response, 422, "validation_failed")["details"]
            self.outcome("forward of nothing readable")
        else:
            self.created(response, user, room, client_id, content=source.content, forwarded_from_id=source.id)
            self.outcome("forward")

    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        """Edit any known message (or an unknown id), as its sender more often than not, now and then to its text."""
        m = self.pick(data)
        user = data.draw(st.sampled_from([m.sender, m.sender, *USERS] if m else USERS))
        content = data.draw(st.one_of(contents, st.just(m.content)) if m and m.content else contents)
        url = f"/api/chat/messages/{m.id if m else uuid.uuid4()}"
        response = self.actors[user].patch(url, json={"content": content})
        if content == "" or "\x00" in content:
            assert_error(response, 422, "validation_failed")
        elif m is None or user not in MEMBERS[m.room]:
            assert_error(response, 404, "message_not_found")
            self.outcome("edit of nothing visible")
        elif not content.strip():
            assert_error(response, 422, "validation_failed")
        elif m.sender != user:
            assert_error(response, 403, "not_sender")
            self.outcome("edit by another")
        elif m.is_deleted:
            assert_error(response, 409, "message_deleted")
            self.outcome("edit of a tombstone")
        elif m.forwarded_from_id is not None:
            assert_error(response, 409, "not_editable")
            self.outcome("edit of a forward")
        else:
            assert response.status_code == 200, response.get_json()
            if content != m.content:  # the same text again changes nothing, not even is_edited
                m.content, m.is_edited, m.change_seq = content, True, self.next_change(m.room)
                self.outcome("edit")
            else:
                self.outcome("edit to the same text")
            self.check(response.get_json(), m, user)

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        """Delete any known message (or an unknown id), as its sender or an admin more often than not."""
        m = self.pick(data)
        user = data.draw(st.sampled_from([m.sender, *sorted(ADMINS[m.room]), *USERS] if m else USERS))
        response = self.actors[user].delete(f"/api/chat/messages/{m.id if m else uuid.uuid4()}")
        if m is None or user not in MEMBERS[m.room]:
            assert_error(response, 404, "message_not_found")
        elif m.sender != user and user not in ADMINS[m.room]:
            assert_error(response, 403, "not_allowed")
            self.outcome("delete by a plain member")
        else:
            assert response.status_code == 200, response.get_json()
            if not m.is_deleted:  # deleting again is a no-op
                # A tombstone has no reactions and no pin; a deleted reply changes its root's thread too.
                m.is_deleted, m.change_seq, m.reactions, m.pinned_by = True, self.next_change(m.room), {}, None
                if m.thread_root_id is not None:
                    self.messages[m.thread_root_id].change_seq = self.next_change(m.room)
                self.outcome("delete" if m.sender == user else "delete by an admin")
            else:
                self.outcome("delete again")
            self.check(response.get_json(), m, user)

    @rule(data=st.data(), user=st.sampled_from(USERS), content=texts)
    def reply_in_thread(self, data: st.DataObject, user: str, content: str) -> None:
        """Reply in the thread of any known message (a reply's, another room's, a tombstone's) or of no message."""
        root = self.pick(data)
        room = root.room if root and data.draw(st.integers(0, 4)) else data.draw(st.sampled_from(ROOMS))
        body = {
            "room_id": self.room_ids[room],
            "content": content,
            "thread_root_id": root.id if root else str(uuid.uuid4()),
        }
        response = self.actors[user].post("/api/chat/messages", json=body)
        if "\x00" in content:
            assert_error(response, 422, "validation_failed")
        elif user not in MEMBERS[room]:
            assert_error(response, 404, "room_not_found")
        elif not content.strip():
            assert_error(response, 422, "validation_failed")
        elif root is None or root.room != room or root.thread_root_id is not None:
            assert "thread_root_id" in assert_error(response, 422, "validation_failed")["details"]
            self.outcome("thread reply refused")
        else:
            # The reply takes a change number, then its root another (the thread summary is part of its JSON).
            self.created(response, user, room, None, content=content, thread_root_id=root.id)
            root.change_seq = self.next_change(room)
            self.outcome("thread reply")

    @rule(data=st.data(), user=st.sampled_from(USERS), emoji=st.sampled_from(sorted(EMOJI)), add=st.booleans())
    def react(self, data: st.DataObject, user: str, emoji: str, add: bool) -> None:
        """Add or take back a reaction on any known message (or an unknown id)."""
        m = self.pick(data)
        url = f"/api/chat/messages/{m.id if m else uuid.uuid4()}/reactions/{emoji}"
        response = self.actors[user].put(url) if add else self.actors[user].delete(url)
        if m is None or user not in MEMBERS[m.room]:
            assert_error(response, 404, "message_not_found")
            return
        if add and m.is_deleted:
            assert_error(response, 409, "message_deleted")
            self.outcome("reaction on a tombstone")
            return
        assert response.status_code == 200, response.get_json()
        stored, users = EMOJI[emoji], m.reactions.get(EMOJI[emoji], [])
        if add and user not in users:
            m.reactions[stored] = [*users, user]
            m.change_seq = self.next_change(m.room)
            self.outcome("reaction added")
        elif not add and user in users:
            users.remove(user)
            if not users:
                del m.reactions[stored]
            m.change_seq = self.next_change(m.room)
            self.outcome("reaction removed")
        else:
            self.outcome("reaction no-op")
        expected = self.expected(m, user)["reactions"]
        assert response.get_json() == {"message_id": m.id, "reactions": expected}

    @rule(data=st.data(), user=st.sampled_from(USERS), pin=st.booleans(), elsewhere=st.integers(0, 9))
    def pin(self, data: st.DataObject, user: str, pin: bool, elsewhere: int) -> None:
        """Pin or unpin any known message (or an unknown id), now and then through another room's path."""
        m = self.pick(data)
        room = m.room if m and elsewhere else data.draw(st.sampled_from(ROOMS))
        url = f"/api/chat/rooms/{self.room_ids[room]}/pins/{m.id if m else uuid.uuid4()}"
        response = self.actors[user].put(url) if pin else self.actors[user].delete(url)
        if m is None or m.room != room or user not in MEMBERS[m.room]:
            assert_error(response, 404, "message_not_found")
            return
        if user not in ADMINS[room]:  # both rooms are groups: admins pin
            assert_error(response, 403, "not_admin")
            return
        if pin and m.is_deleted:
            assert_error(response, 409, "message_deleted")
            return
        assert response.status_code == 200, response.get_json()
        if pin != (m.pinned_by is not None):
            m.pinned_by, m.change_seq = (user if pin else None), self.next_change(m.room)
            self.outcome("pin" if pin else "unpin")
        self.check(response.get_json(), m, user)

    def verify_room(self, room: str, limit: int, anchor_index: int, kinds: tuple[str, ...] = PAGINGS) -> None:
        """Paging a room shows the model: its newest message, and all of it newest first (`before`), after an anchor
        (`after`) and changed since the anchor was sent (`changed_after`)."""
        alice, room_id = self.actors["alice"], self.room_ids[room]
        everything = sorted((m for m in self.messages.values() if m.room == room), key=lambda m: m.seq)
        # The history leaves thread replies to their threads; the change feed carries them.
        timeline = [m for m in everything if m.thread_root_id is None]
        response = alice.get(f"/api/chat/rooms/{room_id}")
        assert response.status_code == 200, response.get_json()
        last = response.get_json()["last_message"]  # the newest message, in its current state
        if timeline:
            self.check(last, timeline[-1], "alice")
        else:
            assert last is None
        anchor = timeline[anchor_index % len(timeline)] if timeline else None
        for kind in kinds:
            if kind == "before":
                walk = Walk(alice, room_id, "before", None, limit)
                walk.drain()
                listed = [b for page in reversed(walk.pages) for b in page]
                expected = timeline
            elif anchor is None:
                continue
            else:
                walk = Walk(alice, room_id, kind, anchor.id, limit)
                walk.drain()
                listed = walk.items
                expected = (
                    [m for m in timeline if m.seq > anchor.seq]
                    if kind == "after"
                    else sorted((m for m in everything if m.change_seq > anchor.seq), key=lambda m: m.change_seq)
                )
            assert [b["id"] for b in listed] == [m.id for m in expected], kind
            for b, m in zip(listed, expected, strict=True):
                self.check(b, m, "alice")

    def verify_threads(self, room: str) -> None:
        """Each thread of the room lists its replies (tombstones too), oldest first, root excluded."""
        alice, room_id = self.actors["alice"], self.room_ids[room]
        for root in [m for m in self.messages.values() if m.room == room and m.thread_root_id is None]:
            replies = sorted((m for m in self.messages.values() if m.thread_root_id == root.id), key=lambda m: m.seq)
            response = alice.get(f"{history_url(room_id)}?thread_root_id={root.id}&limit=100")
            assert response.status_code == 200, response.get_json()
            listed = response.get_json()["items"]
            assert [b["id"] for b in listed] == [m.id for m in replies]
            for b, m in zip(listed, replies, strict=True):
                self.check(b, m, "alice")

    @rule(
        room=st.sampled_from(ROOMS), limit=st.integers(1, 7), anchor=st.integers(0, 50), kind=st.sampled_from(PAGINGS)
    )
    def read_history(self, room: str, limit: int, anchor: int, kind: str) -> None:
        """Page through a room's history one way."""
        self.verify_room(room, limit, anchor, (kind,))

    def teardown(self) -> None:
        """The whole history of both rooms, every way, at the end of every run."""
        for room in ROOMS:
            self.verify_room(room, 100, 0)
            self.verify_threads(room)


def test_any_order_of_sends_edits_deletes_forwards_replies_reactions_pins_and_threads_matches_the_model(
    app: Flask,
) -> None:
    MessageStateMachine.client = app.test_client()
    OUTCOMES.clear()
    run_state_machine_as_test(
        MessageStateMachine,
        settings=settings(max_examples=EXAMPLES or 15, stateful_step_count=40, **COMMON),
    )
    # A generator that stopped reaching the API's success paths would leave the model nothing to check.
    assert sum(OUTCOMES[kind] for kind in CHANGES) >= MIN_CHANGES, OUTCOMES
    assert {"send", "forward", "edit", "delete", "thread reply", "reaction added", "pin"} <= set(OUTCOMES), OUTCOMES
