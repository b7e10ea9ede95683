"""Benchmark: the room list (GET /api/chat/rooms) of a user in 500 group rooms: latency and SQL statements.

Rooms, messages and read pointers are made through Armada's own services, so every room has a real last
message and a real unread count; the list is then fetched over HTTP from a real gunicorn server, and its SQL
statements are counted in-process through the same Flask app.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import event

from bench import harness
from bench.history import load_note, pinned_client, summary, timed
from tests.helpers.support import QueryCounter

NAME = "roomlist"
DEFAULT_LIMIT = 50  # armada.schemas.DEFAULT_PAGE_SIZE
MAX_LIMIT = 100  # armada.schemas.MAX_PAGE_SIZE
OTHERS = 3  # other members per room
SMALL_ROOMS = 10  # the contrast user, for "the statement count does not grow with rooms"

SIZES = {
    False: {"rooms": 500, "first": 1000, "walks": 100, "small": 500, "warmup": 50},
    True: {"rooms": 500, "first": 150, "walks": 15, "small": 100, "warmup": 20},
}

SCENARIOS = {
    "first_default": f"first page, limit {DEFAULT_LIMIT} (default)",
    "first_max": f"first page, limit {MAX_LIMIT} (max)",
    "walk_default": f"every page of a full walk, limit {DEFAULT_LIMIT}",
    "walk_max": f"every page of a full walk, limit {MAX_LIMIT}",
    "small_first": f"first page, user in {SMALL_ROOMS} rooms",
}


def seed(url: str, rooms: int) -> tuple[harness.Seeder, dict[str, Any]]:
    """The measured user in `rooms` groups and a contrast user in 10, each room with 1-5 messages from mixed
    senders (some newest ones replies); every third room read to its end, so unread counts are a mix."""
    from armada.chat.receipts import mark_read
    from armada.chat.sending import send_message
    from armada.extensions import db
    from armada.models import User

    start = time.perf_counter()
    seeder = harness.Seeder(url)
    main, small, *others = seeder.users(2 + OTHERS, prefix="roomlist")
    made = [(main, seeder.group(main, others, name=f"room {i}")) for i in range(rooms)]
    made += [(small, seeder.group(small, others, name=f"small {i}")) for i in range(SMALL_ROOMS)]
    with seeder.app.app_context():
        users = {u.id: db.session.get(User, uuid.UUID(u.id)) for u in (main, small, *others)}
        for i, (owner, room_id) in enumerate(made):
            senders = [*others, owner]
            first = last = None
            for j in range(1 + i % 5):
                # Every 7th room's newest message is a reply, so the reply preview's query is exercised too.
                reply = first.id if first is not None and i % 7 == 0 and j == i % 5 else None
                last, _ = send_message(
                    users[senders[(i + j) % len(senders)].id],
                    uuid.UUID(room_id),
                    content=f"message {j} in room {i}",
                    reply_to_id=reply,
                )
                first = first or last
            if i % 3 == 0 and last is not None:
                mark_read(users[owner.id], uuid.UUID(room_id), up_to=last.id)
    return seeder, {"main": main, "small": small, "rooms": rooms, "seed_seconds": time.perf_counter() - start}


def count_statements(seeder: harness.Seeder, info: dict[str, Any]) -> dict[str, Any]:
    """SQL statements per GET /api/chat/rooms, in-process through the same app (first pages and full walks)."""
    from armada.extensions import db

    counter = QueryCounter()
    with seeder.app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter.on_execute)
    client = seeder.app.test_client()
    out: dict[str, Any] = {}
    try:
        for who, rooms in (("main", info["rooms"]), ("small", SMALL_ROOMS)):
            headers = {"Authorization": f"Bearer {info[who].token}"}
            client.get("/api/chat/rooms", headers=headers)  # first request: connection set-up is not the list's
            for limit in (DEFAULT_LIMIT, MAX_LIMIT):
                per_page, statements, cursor, seen = [], [], None, 0
                while True:
                    query: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
                    with counter:
                        response = client.get("/api/chat/rooms", headers=headers, query_string=query)
                    assert response.status_code == 200, response.get_data(as_text=True)[:300]
                    body = response.get_json()
                    per_page.append(counter.count)
                    if not statements:
                        statements = [" ".join(s.split())[:140] for s in counter.statements]
                    seen += len(body["items"])
                    cursor = body["next_cursor"]
                    if not cursor:
                        break
                assert seen == rooms, f"walk saw {seen} rooms, expected {rooms}"
                out[f"{who}_limit{limit}"] = {
                    "rooms": rooms,
                    "limit": limit,
                    "pages": len(per_page),
                    "per_page": per_page,
                    "walk_total": sum(per_page),
                    "first_page_statements": statements,
                }
    finally:
        event.remove(engine, "before_cursor_execute", counter.on_execute)
    return out


def measure_http(base_url: str, info: dict[str, Any], sizes: dict[str, int]) -> dict[str, Any]:
    """Latencies per scenario, the scenarios shuffled together so drift hits all alike."""
    session = requests.Session()
    endpoint = f"{base_url}/api/chat/rooms"
    main = {"Authorization": f"Bearer {info['main'].token}"}
    small = {"Authorization": f"Bearer {info['small'].token}"}

    def get(headers: dict[str, str], params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        ms, response = timed(lambda: session.get(endpoint, headers=headers, params=params))
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        return ms, response.json()

    def walk(limit: int) -> tuple[list[float], int]:
        pages, cursor, seen = [], None, 0
        while True:
            ms, body = get(main, {"limit": limit} | ({"cursor": cursor} if cursor else {}))
            pages.append(ms)
            seen += len(body["items"])
            if not (cursor := body["next_cursor"]):
                return pages, seen

    tasks = (
        ["first_default"] * sizes["first"]
        + ["first_max"] * sizes["first"]
        + ["small_first"] * sizes["small"]
        + ["walk_default"] * sizes["walks"]
        + ["walk_max"] * sizes["walks"]
    )
    random.Random(6).shuffle(tasks)
    for task in tasks[: sizes["warmup"]]:
        get(small if task == "small_first" else main, {"limit": MAX_LIMIT})
    samples: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    walks: dict[str, list[list[float]]] = {"walk_default": [], "walk_max": []}
    for task in tasks:
        if task == "first_default":
            samples[task].append(get(main, {})[0])
        elif task == "first_max":
            samples[task].append(get(main, {"limit": MAX_LIMIT})[0])
        elif task == "small_first":
            samples[task].append(get(small, {})[0])
        else:
            pages, seen = walk(DEFAULT_LIMIT if task == "walk_default" else MAX_LIMIT)
            assert seen == info["rooms"], f"walk saw {seen} rooms"
            samples[task] += pages
            walks[task].append(pages)
    session.close()
    return {"samples": samples, "walks": walks}


def run(quick: bool, scratch: Path) -> dict[str, Any]:
    """Seed, count statements in-process, then measure the list over HTTP."""
    sizes = SIZES[quick]
    started, load_before = time.perf_counter(), os.getloadavg()
    with harness.database("postgres", scratch, NAME) as url:
        seeder, info = seed(url, sizes["rooms"])
        queries = count_statements(seeder, info)
        with harness.armada_servers(url, scratch) as servers, pinned_client():
            http = measure_http(servers[0].url, info, sizes)
    stats = {name: summary(ms) for name, ms in http["samples"].items()}
    walk_totals = {name: summary([sum(w) for w in ws]) for name, ws in http["walks"].items()}
    # p50 by page number: a keyset cursor should cost the same on the last page as on the first.
    by_page = {
        name: [summary([w[i] for w in ws if len(w) > i])["p50"] for i in range(max(map(len, ws)))]
        for name, ws in http["walks"].items()
    }
    counts = {key: q["per_page"] for key, q in queries.items()}
    distinct = sorted({c for per_page in counts.values() for c in per_page})
    return {
        "scenario": NAME,
        "quick": quick,
        "machine": harness.machine(),
        "rooms": sizes["rooms"],
        "small_rooms": SMALL_ROOMS,
        "members_per_room": 1 + OTHERS,
        "seed_seconds": info["seed_seconds"],
        "requests": {name: len(ms) for name, ms in http["samples"].items()},
        "stats": stats,
        "walk_totals": walk_totals,
        "walk_p50_by_page": by_page,
        "queries": queries,
        "statements_per_request": distinct,
        "constant_statements": len(distinct) == 1,
        "samples": {name: [round(ms, 4) for ms in v] for name, v in http["samples"].items()},
        "run_seconds": time.perf_counter() - started,
        # The machine is shared: a busy neighbour shows up here, and in the tail.
        "load_average": {"start": load_before, "end": os.getloadavg()},
    }


def report(result: dict[str, Any]) -> str:
    """The Markdown section of this scenario."""
    stats, queries, rooms = result["stats"], result["queries"], result["rooms"]
    total = sum(result["requests"].values())
    lines = [
        f"### Room list (`GET /api/chat/rooms`) of a user in {rooms} rooms",
        "",
        f"Method: one user in {rooms} group rooms of {result['members_per_room']} members each, made through "
        "`create_room`; each room got 1-5 messages from mixed senders through `send_message` (every 7th room's "
        "newest one a reply), and every third room was read to its end with `mark_read`, so `last_message` "
        f"and `unread_count` are real. A second user is in {result['small_rooms']} such rooms. Latency: gunicorn "
        "(gevent, 1 worker) on core 0, sequential requests over one keep-alive `requests.Session` pinned to "
        f"core 1, the scenarios shuffled together ({total:,} requests). Statements: a SQLAlchemy "
        "`before_cursor_execute` listener on the app's engine, requests made in-process with the app's test "
        "client (the same view, services and schemas)." + load_note(result),
        "",
        "| request | n | p50 ms | p99 ms | p99.9 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in SCENARIOS.items():
        s = stats[name]
        lines.append(f"| {label} | {s['n']:,} | {s['p50']:.2f} | {s['p99']:.2f} | {s['p99_9']:.2f} |")
    for name, label in (("walk_default", DEFAULT_LIMIT), ("walk_max", MAX_LIMIT)):
        s = result["walk_totals"][name]
        by_page = ", ".join(f"{ms:.1f}" for ms in result["walk_p50_by_page"][name])
        lines.append(
            f"| whole walk, limit {label} ({len(result['walk_p50_by_page'][name])} pages; p50 per page: "
            f"{by_page}) | {s['n']:,} | {s['p50']:.2f} | {s['p99']:.2f} | {s['p99_9']:.2f} |"
        )
    lines += ["", "| user's rooms | limit | pages | statements per page | whole walk |", "|---:|---:|---:|---|---:|"]
    for q in queries.values():
        lines.append(
            f"| {q['rooms']} | {q['limit']} | {q['pages']} | {', '.join(map(str, q['per_page']))} | {q['walk_total']} |"
        )
    first = queries[f"main_limit{DEFAULT_LIMIT}"]["first_page_statements"]
    lines += ["", "Statements of one page: " + "; ".join(f"`{s[:70]}…`" for s in first) + "."]
    distinct = result["statements_per_request"]
    fp = stats["first_default"]
    lines += [
        "",
        f"**Goal** (first page p50 ≤ 8 ms, constant statements): first page p50 {fp['p50']:.2f} ms / p99 "
        f"{fp['p99']:.2f} ms ({'met' if fp['p50'] <= 8 else 'missed by %.2f ms' % (fp['p50'] - 8)}); "
        + (
            f"constant {distinct[0]} statements per request, whatever the number of rooms or the page."
            if result["constant_statements"]
            else f"statements per request vary: {distinct} (not constant)."
        ),
    ]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """Percentiles per request kind, and p50 per page number of a full walk."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    names = list(SCENARIOS)
    width = 0.27
    for i, (key, label) in enumerate((("p50", "p50"), ("p99", "p99"), ("p99_9", "p99.9"))):
        left.bar(
            [j + (i - 1) * width for j in range(len(names))],
            [result["stats"][n][key] for n in names],
            width,
            label=label,
        )
    short = {
        "first_default": f"first page\nlimit {DEFAULT_LIMIT}",
        "first_max": f"first page\nlimit {MAX_LIMIT}",
        "walk_default": f"walk pages\nlimit {DEFAULT_LIMIT}",
        "walk_max": f"walk pages\nlimit {MAX_LIMIT}",
        "small_first": f"first page\n{SMALL_ROOMS}-room user",
    }
    left.set_xticks(range(len(names)), [short[n] for n in names], fontsize=8)
    left.set_ylabel("ms")
    left.set_title(f"GET /api/chat/rooms latency, user in {result['rooms']} rooms")
    left.legend()
    left.grid(True, axis="y", alpha=0.3)
    for name, label in (("walk_default", f"limit {DEFAULT_LIMIT}"), ("walk_max", f"limit {MAX_LIMIT}")):
        p50 = result["walk_p50_by_page"][name]
        right.plot(range(1, len(p50) + 1), p50, marker="o", label=label)
    right.set_ylim(bottom=0)
    right.set_xlabel("page number in a full walk")
    right.set_ylabel("p50 ms")
    right.set_title("Walking every page: cost per page")
    right.legend()
    right.grid(True, alpha=0.3)
    path = out / f"{NAME}_latency.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


if __name__ == "__main__":
    from bench.run import standalone

    standalone(sys.modules[__name__])
