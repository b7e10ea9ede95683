"""Benchmark: a page of 50 messages (GET /api/chat/rooms/{id}/messages) when its messages carry 1,000 reactions.

Three rooms of 50 messages each, as one viewer among 50 members sees them: no reactions; 1,000 reactions (50 users
x the 20-emoji cap, the viewer among them) on one message of the page; 1,000 on every message of the page. The
page is fetched over HTTP from a real gunicorn server on PostgreSQL, and its SQL statements counted in-process.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import requests
from sqlalchemy import event

from bench import harness
from bench.history import libpq_url, load_note, pinned_client, summary, timed
from tests.helpers.support import QueryCounter

NAME = "reactions"
PAGE = 50
USERS = 50  # the viewer and 49 others, every one a member of the three rooms
# 20 distinct emoji: the most one message may carry. USERS x EMOJI = 1,000 reactions on a message.
EMOJI = [
    *("👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "🔥", "👀", "🚀"),
    *("✅", "💯", "👏", "🤔", "😍", "🙌", "💡", "⭐", "🥳", "👌"),
]
HOT = PAGE // 2  # the message of the "one" room that gets the reactions

SIZES = {False: {"requests": 1500, "warmup": 150}, True: {"requests": 200, "warmup": 30}}

SCENARIOS = {
    "plain": "page of 50, no reactions",
    "one": "page of 50, one message with 1,000 reactions",
    "every": "page of 50, every message with 1,000 reactions (50,000)",
    "reactors": "reactors of one emoji on that message (first page, limit 50)",
}

# The other 49 messages of the "every" room get the hot message's reactions, as rows and as its summary: what the
# services would have written for the same reactions, 49,000 of them without 49,000 requests.
COPY_SQL = """
INSERT INTO message_reactions (id, message_id, user_id, emoji, created_at)
SELECT gen_random_uuid(), m.id, r.user_id, r.emoji, r.created_at
FROM chat_messages m CROSS JOIN message_reactions r
WHERE m.room_id = %(room)s AND m.id <> %(hot)s AND r.message_id = %(hot)s
"""
SUMMARY_SQL = """
UPDATE chat_messages SET reaction_summary = (SELECT reaction_summary FROM chat_messages WHERE id = %(hot)s)
WHERE room_id = %(room)s
"""


def seed(url: str) -> tuple[harness.Seeder, dict[str, Any]]:
    """Three rooms of PAGE messages through the services; 1,000 reactions on one message of two of them through
    `add_reaction` (the viewer's among them), copied by SQL to every other message of the "every" room."""
    from armada.chat.reactions import add_reaction
    from armada.chat.sending import send_message
    from armada.extensions import db
    from armada.models import User

    start = time.perf_counter()
    seeder = harness.Seeder(url)
    people = seeder.users(USERS, prefix="reactions")
    viewer, others = people[0], people[1:]
    rooms = {name: seeder.group(viewer, others, name=name) for name in ("plain", "one", "every")}
    hot: dict[str, str] = {}
    with seeder.app.app_context():
        users = [db.session.get(User, uuid.UUID(p.id)) for p in people]
        for name, room in rooms.items():
            ids = [
                send_message(users[i % USERS], uuid.UUID(room), content=f"message {i} of {name}")[0].id
                for i in range(PAGE)
            ]
            if name != "plain":
                hot[name] = str(ids[HOT])
                for emoji in EMOJI:
                    for user in users:
                        add_reaction(user, ids[HOT], emoji)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(COPY_SQL, {"room": rooms["every"], "hot": hot["every"]})
        conn.execute(SUMMARY_SQL, {"room": rooms["every"], "hot": hot["every"]})
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) message_reactions")
        conn.execute("VACUUM (ANALYZE) chat_messages")
        reactions = conn.execute("SELECT count(*) FROM message_reactions").fetchone()[0]
    info = {"viewer": viewer, "rooms": rooms, "hot": hot["one"], "reactions": reactions}
    return seeder, info | {"seed_seconds": time.perf_counter() - start}


def paths(info: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each scenario's request: path and query."""
    pages = {name: (f"/api/chat/rooms/{room}/messages", {"limit": PAGE}) for name, room in info["rooms"].items()}
    return pages | {"reactors": (f"/api/chat/messages/{info['hot']}/reactions/{EMOJI[0]}", {"limit": PAGE})}


def count_statements(seeder: harness.Seeder, info: dict[str, Any]) -> dict[str, Any]:
    """Statements and answer size per request, in-process through the same app; checks what the pages hold."""
    from armada.extensions import db

    counter = QueryCounter()
    with seeder.app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter.on_execute)
    client = seeder.app.test_client()
    headers = {"Authorization": f"Bearer {info['viewer'].token}"}
    out: dict[str, Any] = {}
    try:
        client.get("/api/users/me", headers=headers)  # connection set-up is not the page's
        for name, (path, query) in paths(info).items():
            with counter:
                response = client.get(path, headers=headers, query_string=query)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            items = response.get_json()["items"]
            out[name] = {"statements": counter.count, "bytes": len(response.get_data()), "items": len(items)}
            if name in ("one", "every"):
                reacted = [m for m in items if m["reactions"]]
                assert len(reacted) == (1 if name == "one" else PAGE), (name, len(reacted))
                assert all(
                    r == {"emoji": e, "count": USERS, "me": True}
                    for m in reacted
                    for r, e in zip(m["reactions"], EMOJI, strict=True)
                )
    finally:
        event.remove(engine, "before_cursor_execute", counter.on_execute)
    return out


def measure_http(base_url: str, info: dict[str, Any], sizes: dict[str, int]) -> dict[str, list[float]]:
    """Latencies per scenario over one keep-alive connection, the scenarios shuffled together."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {info['viewer'].token}"
    requests_of = paths(info)
    tasks = [name for name in SCENARIOS for _ in range(sizes["requests"])]
    random.Random(15).shuffle(tasks)

    def get(name: str) -> float:
        path, query = requests_of[name]
        ms, response = timed(lambda: session.get(f"{base_url}{path}", params=query))
        if response.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {response.status_code} {response.text[:200]}")
        return ms

    for name in tasks[: sizes["warmup"]]:
        get(name)
    samples: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    for name in tasks:
        samples[name].append(get(name))
    session.close()
    return samples


def run(quick: bool, scratch: Path) -> dict[str, Any]:
    """Seed, count statements in-process, then measure the pages over HTTP."""
    sizes = SIZES[quick]
    started, load_before = time.perf_counter(), os.getloadavg()
    with harness.database("postgres", scratch, NAME) as url:
        seeder, info = seed(url)
        queries = count_statements(seeder, info)
        with harness.armada_servers(url, scratch) as servers, pinned_client():
            samples = measure_http(servers[0].url, info, sizes)
    return {
        "scenario": NAME,
        "quick": quick,
        "machine": harness.machine(),
        "users": USERS,
        "emoji": len(EMOJI),
        "reactions": info["reactions"],
        "seed_seconds": info["seed_seconds"],
        "stats": {name: summary(ms) for name, ms in samples.items()},
        "queries": queries,
        "samples": {name: [round(ms, 4) for ms in v] for name, v in samples.items()},
        "run_seconds": time.perf_counter() - started,
        "load_average": {"start": load_before, "end": os.getloadavg()},
    }


def report(result: dict[str, Any]) -> str:
    """The Markdown section of this scenario."""
    stats, queries = result["stats"], result["queries"]
    lines = [
        "### Message page with 1,000 reactions on a message",
        "",
        f"Method: three group rooms of {result['users']} members, {PAGE} messages each (`send_message`), read by "
        f"one member with `GET /api/chat/rooms/{{id}}/messages?limit={PAGE}`: no reactions; one message with "
        f"1,000 reactions ({result['users']} users x {result['emoji']} emoji, the cap, the viewer among them, "
        "through `add_reaction`); every message with 1,000 (the other 49,000 rows and summaries copied by SQL "
        f"from the first; {result['reactions']:,} reactions in the database). Latency: gunicorn (gevent, "
        "1 worker) on core 0 and PostgreSQL, sequential requests over one keep-alive `requests.Session` on "
        "core 1, the request kinds shuffled together. Statements and sizes: in-process, the app's test client."
        + load_note(result),
        "",
        "| request | n | p50 ms | p99 ms | p99.9 ms | statements | answer KB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in SCENARIOS.items():
        s, q = stats[name], queries[name]
        lines.append(
            f"| {label} | {s['n']:,} | {s['p50']:.2f} | {s['p99']:.2f} | {s['p99_9']:.2f} | {q['statements']} "
            f"| {q['bytes'] / 1024:.1f} |"
        )
    plain, every = stats["plain"], stats["every"]
    lines += [
        "",
        "A page's reactions are the summary kept on each message row plus one lookup of the viewer's own (`me`) "
        "for the whole page: no reaction rows are counted on a read. What grows is the JSON (20 reactions per "
        "message)." + busy_note(result),
        "",
        f"**Goal** (report the page's latency with 1,000 reactions): p50/p99 {plain['p50']:.2f}/{plain['p99']:.2f} "
        f"ms without reactions, {stats['one']['p50']:.2f}/{stats['one']['p99']:.2f} ms with 1,000 on one "
        f"message, {every['p50']:.2f}/{every['p99']:.2f} ms with 1,000 on every message; statements "
        f"{queries['plain']['statements']}, {queries['one']['statements']}, {queries['every']['statements']} "
        "(the `me` lookup only when a message has reactions).",
    ]
    return "\n".join(lines) + "\n"


def busy_note(result: dict[str, Any]) -> str:
    """A warning when other work loaded the machine beyond its cores while this ran."""
    load, cores = result["load_average"], result["machine"]["cores"]
    if max(load["start"][0], load["end"][0]) <= cores:
        return ""
    return (
        f" Other work loaded the machine beyond its {cores} cores during this run: the tails (p99, p99.9) are "
        "mostly that; compare the p50s."
    )


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """Percentiles per request kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    names = list(SCENARIOS)
    width = 0.27
    for i, (key, label) in enumerate((("p50", "p50"), ("p99", "p99"), ("p99_9", "p99.9"))):
        ax.bar(
            [j + (i - 1) * width for j in range(len(names))],
            [result["stats"][n][key] for n in names],
            width,
            label=label,
        )
    short = {
        "plain": "page of 50\nno reactions",
        "one": "page of 50\n1,000 on one",
        "every": "page of 50\n1,000 on each",
        "reactors": "reactors of\none emoji",
    }
    ax.set_xticks(range(len(names)), [short[n] for n in names], fontsize=8)
    ax.set_ylabel("ms")
    ax.set_title("Message page latency with reactions")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    path = out / f"{NAME}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


if __name__ == "__main__":
    from bench.run import standalone

    standalone(sys.modules[__name__])
