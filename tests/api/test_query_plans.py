"""Every read of the second wave's message features (search included) is served by an index: no statement scans a
whole table of messages, reactions, mentions, edits or thread follows (EXPLAIN on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from armada.extensions import db
from tests.helpers.support import Actor, ApiClient, QueryCounter, history_url

THUMB = "\N{THUMBS UP SIGN}"
BIG_TABLES = ("chat_messages", "message_reactions", "message_mentions", "message_edits", "thread_follows")


def full_scans(app: Flask, statements: list[str], parameters: list[Any]) -> list[str]:
    """The statements whose plan reads one of BIG_TABLES, or a whole index of one, from end to end."""
    found = []
    with app.app_context(), db.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite:
            conn.exec_driver_sql("SET enable_seqscan = off")  # tiny test tables: ask whether an index can serve
            leading = dict(conn.exec_driver_sql(LEADING_COLUMNS).fetchall())
        for statement, params in zip(statements, parameters, strict=True):
            if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                continue  # an INSERT reads no table
            if sqlite:
                plan = "\n".join(str(row) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
                # "SEARCH t" seeks; "SCAN t" reads the table, or a whole index of it ("USING INDEX"), end to end.
                if any(re.search(rf"SCAN {table}\b", plan) for table in BIG_TABLES):
                    found.append(f"{statement}\n{plan}")
            else:
                [[tree]] = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).fetchall()
                if any(_reads_all(node, leading) for node in _nodes(tree[0]["Plan"])):
                    found.append(f"{statement}\n{tree}")
    return found


# Each index of the big tables -> its first column: an index seek must constrain it.
LEADING_COLUMNS = f"""
SELECT i.relname, a.attname FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
WHERE t.relname IN ({", ".join(f"'{t}'" for t in BIG_TABLES)})
-- Search reads this one backwards from the newest for a common word, and stops at its page's last match.
AND i.relname <> 'ix_chat_messages_created_at_id'
"""


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _nodes(child))]


def _reads_all(node: dict[str, Any], leading: dict[str, str]) -> bool:
    """A PostgreSQL plan node that reads a whole big table, or a whole index of one (nothing on its first column)."""
    kind = node["Node Type"]
    if kind == "Seq Scan":
        return bool(node.get("Relation Name") in BIG_TABLES)
    if kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan") and node["Index Name"] in leading:
        return not re.search(rf"\b{leading[node['Index Name']]}\b", node.get("Index Cond", ""))
    return False


@pytest.fixture
def busy_room(api: ApiClient) -> tuple[Actor, Actor, dict[str, Any], dict[str, Any]]:
    """Alice (admin) and Bob in a group with a thread, reactions, mentions, a pin and an edit."""
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    root = alice.say(room, "root")
    for n in range(3):
        reply = bob.say(room, f"reply {n}", thread_root_id=root["id"], mentions=[alice.id])
    assert bob.put(f"/api/chat/messages/{root['id']}/reactions/{THUMB}").status_code == 200
    assert alice.put(f"/api/chat/rooms/{room['id']}/pins/{root['id']}").status_code == 200
    assert alice.patch(f"/api/chat/messages/{root['id']}", json={"content": "root, edited"}).status_code == 200
    return alice, bob, room, {"root": root, "reply": reply}


def test_the_message_features_reads_use_indexes(
    app: Flask, busy_room: tuple[Actor, Actor, dict[str, Any], dict[str, Any]], count_queries: QueryCounter
) -> None:
    alice, _, room, ids = busy_room
    root = ids["root"]["id"]
    reads = [
        history_url(room["id"]),
        f"{history_url(room['id'])}?thread_root_id={root}",
        f"{history_url(room['id'])}?changed_after={root}",
        "/api/chat/rooms",
        f"/api/chat/rooms/{room['id']}",
        f"/api/chat/messages/{root}/reactions/{THUMB}",
        f"/api/chat/messages/{root}/history",
        f"/api/chat/rooms/{room['id']}/pins",
        "/api/chat/threads",
        f"{history_url(room['id'])}?around={ids['reply']['id']}",
        f"{history_url(room['id'])}?around={ids['reply']['id']}&thread_root_id={root}",
        "/api/chat/search?q=reply",
        f"/api/chat/search?q=%22reply+1%22&room_id={room['id']}&sender_id={alice.id}&has=link",
        f"/api/chat/search?q=rep&thread_root_id={root}&since=2020-01-01T00:00:00Z",
    ]
    with count_queries as counter:
        for path in reads:
            assert alice.get(path).status_code == 200, path
    assert any("message_reactions" in s for s in counter.statements)  # the viewer's `me` was read
    assert full_scans(app, counter.statements, counter.parameters) == []


def test_a_full_scan_is_found(app: Flask) -> None:
    # The check above would pass on any plan if it could not tell a scan from an index read.
    unindexed = "SELECT id FROM message_reactions WHERE emoji = 'x'"
    assert len(full_scans(app, [unindexed], [{} if db_is_sqlite(app) else None])) == 1


def db_is_sqlite(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "sqlite"


def test_the_message_features_changes_use_indexes(
    app: Flask, busy_room: tuple[Actor, Actor, dict[str, Any], dict[str, Any]], count_queries: QueryCounter
) -> None:
    alice, bob, room, ids = busy_room
    root, reply = ids["root"]["id"], ids["reply"]["id"]
    with count_queries as counter:
        assert alice.put(f"/api/chat/messages/{root}/reactions/{THUMB}").status_code == 200
        assert alice.delete(f"/api/chat/messages/{root}/reactions/{THUMB}").status_code == 200
        assert alice.put(f"/api/chat/rooms/{room['id']}/pins/{reply}").status_code == 200
        assert alice.post(f"/api/chat/threads/{root}/read", json={"up_to": reply}).status_code == 200
        assert bob.delete(f"/api/chat/messages/{reply}").status_code == 200
        assert alice.delete(f"/api/chat/messages/{root}").status_code == 200
    assert full_scans(app, counter.statements, counter.parameters) == []


def plan_of(app: Flask, statement: str, parameters: Any) -> str:
    """The statement's plan as text (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN)."""
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return "\n".join(str(row) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
        # Statistics of what the test wrote, not of whatever autovacuum last saw; and on tables this small, a
        # bitmap of every row of the room then a sort costs next to nothing: ask which index serves the order.
        conn.exec_driver_sql("ANALYZE chat_messages")
        for plan in ("seqscan", "bitmapscan", "sort"):
            conn.exec_driver_sql(f"SET enable_{plan} = off")
        return "\n".join(str(row) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))


def test_the_rooms_history_reads_no_thread_reply(
    app: Flask, busy_room: tuple[Actor, Actor, dict[str, Any], dict[str, Any]], count_queries: QueryCounter
) -> None:
    # The history leaves replies out through an index of the room's own messages only: a busy thread costs a page
    # nothing, rather than rows read and dropped.
    alice, bob, room, ids = busy_room
    # As in any real database: replies outnumber this room's own messages, and other rooms have messages too, so
    # an index that read either would cost more (with statistics of this data, see plan_of).
    for n in range(20):
        bob.say(room, f"more {n}", thread_root_id=ids["root"]["id"])
    elsewhere = bob.make_group(alice, name="Elsewhere")
    for n in range(40):
        bob.say(elsewhere, f"elsewhere {n}")
    alice.say(room, "after the thread")
    page = alice.get(f"{history_url(room['id'])}?limit=1").get_json()
    for query in ("", f"?before={page['next_cursor']}", f"?after={ids['root']['id']}"):
        with count_queries as counter:
            assert alice.get(f"{history_url(room['id'])}{query}").status_code == 200
        [(statement, parameters)] = [
            (s, p)
            for s, p in zip(counter.statements, counter.parameters, strict=True)
            if "FROM chat_messages" in s and "ORDER BY chat_messages.seq" in s
        ]
        assert "ix_chat_messages_room_id_seq_top_level" in plan_of(app, statement, parameters), query
