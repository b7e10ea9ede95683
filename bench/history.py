"""Benchmark: a page of room history at any depth of a 1,000,000-message room (keyset vs OFFSET).

One room gets its messages straight from SQL (generate_series); then pages of 50 are fetched over HTTP from a
real gunicorn server with the API's own `before` cursor at random depths, and the same page is timed as bare
SQL both ways: the keyset query the service runs and the `OFFSET n` query it deliberately does not.
"""

from __future__ import annotations

import gc
import os
import random
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import requests
from sqlalchemy import make_url

from armada.pagination import encode_cursor
from bench import harness

NAME = "history"
PAGE = 50  # the API's default page size, and what a client scrolling back asks for
GOAL_P99_MS = 5.0
GOAL_RATIO = 1.2
EDGE_PAGES = 10  # "oldest pages" = the 10 oldest full pages

# How many samples each method gets. OFFSET gets fewer because one deep OFFSET page costs ~1000 keyset pages.
SIZES = {
    False: {
        "messages": 1_000_000,
        "uniform": 3000,
        "edge": 500,
        "offset_uniform": 300,
        "offset_edge": 50,
        "warmup": 300,
    },
    True: {"messages": 100_000, "uniform": 600, "edge": 100, "offset_uniform": 150, "offset_edge": 20, "warmup": 100},
}

KEYSET_SQL = (
    "SELECT * FROM chat_messages WHERE room_id = %(room)s AND seq < %(before)s ORDER BY seq DESC LIMIT %(limit)s"
)
OFFSET_SQL = "SELECT * FROM chat_messages WHERE room_id = %(room)s ORDER BY seq DESC LIMIT %(limit)s OFFSET %(offset)s"

# created_at runs one second apart, ending now, in seq order: the shape a real room's history has.
INSERT_SQL = """
INSERT INTO chat_messages (id, room_id, sender_id, seq, change_seq, message_type, content,
                           is_edited, is_deleted, thread_level, thread_reply_count, thread_participant_ids,
                           reaction_summary, mention_ids, mentions_room, created_at)
SELECT gen_random_uuid(), %(room)s, CASE WHEN mod(g, 2) = 0 THEN %(a)s::uuid ELSE %(b)s::uuid END,
       %(base)s + g, %(base)s + g, 'text', 'history message number ' || g,
       false, false, 0, 0, '[]', '[]', '[]', false, now() - (%(n)s - g) * interval '1 second'
FROM generate_series(1, %(n)s) AS g
"""
# What send_message's _next_change does to the room, once for the whole batch.
ROOM_SQL = """
UPDATE chat_rooms SET last_seq = %(top)s, last_message_seq = %(top)s,
       last_activity_at = (SELECT created_at FROM chat_messages WHERE room_id = %(room)s AND seq = %(top)s)
WHERE id = %(room)s
"""


# ---- small helpers (harness has no percentile or CPU-pinning helper) ---------------------------------------------


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL harness.database yields, as a URL psycopg accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def summary(ms: list[float]) -> dict[str, float]:
    """Count, p50, p99, p99.9, mean and max of latencies in milliseconds."""
    if not ms:
        return {"n": 0}
    arr = np.asarray(ms)
    p50, p99, p999 = np.percentile(arr, [50, 99, 99.9])
    return {
        "n": len(ms),
        "p50": float(p50),
        "p99": float(p99),
        "p99_9": float(p999),
        "mean": float(arr.mean()),
        "max": float(arr.max()),
    }


@contextmanager
def pinned_client() -> Iterator[None]:
    """Run this process on the load-generator core(s) while measuring, then give the old affinity back."""
    saved = os.sched_getaffinity(0)
    cores = {int(c) for c in harness.LOAD_CPUS.split(",") if c.strip().isdigit()} or {1}
    os.sched_setaffinity(0, cores & saved or saved)
    # A collector pause is the client's cost, not the server's: keep it out of the tail.
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        os.sched_setaffinity(0, saved)


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Milliseconds one call took, and what it returned."""
    start = time.perf_counter()
    value = call()
    return (time.perf_counter() - start) * 1000, value


# ---- seeding -------------------------------------------------------------------------------------------------------


def seed(url: str, messages: int) -> dict[str, Any]:
    """Two users, one group room through Armada's services, then `messages` messages by SQL; VACUUM ANALYZE."""
    seeder = harness.Seeder(url)
    alice, bob = seeder.users(2, prefix="history")
    room = seeder.group(alice, [bob], name="history")
    start = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn:
        base = conn.execute("SELECT last_seq FROM chat_rooms WHERE id = %s", (room,)).fetchone()[0]
        conn.execute(INSERT_SQL, {"room": room, "a": alice.id, "b": bob.id, "base": base, "n": messages})
        conn.execute(ROOM_SQL, {"room": room, "top": base + messages})
        conn.commit()
        inserted = time.perf_counter() - start
        conn.autocommit = True
        # VACUUM as well as ANALYZE: a table this old would have been autovacuumed (hint bits, visibility map).
        conn.execute("VACUUM (ANALYZE) chat_messages")
        size = conn.execute("SELECT pg_total_relation_size('chat_messages')").fetchone()[0]
    return {
        "room": room,
        "token": alice.token,
        "base": base,
        "messages": messages,
        "insert_seconds": inserted,
        "seed_seconds": time.perf_counter() - start,
        "table_bytes": size,
    }


# ---- depths --------------------------------------------------------------------------------------------------------


def depths(rng: random.Random, messages: int, uniform: int, edge: int) -> list[tuple[str, int]]:
    """(group, depth) samples; depth = messages newer than the page, so OFFSET depth is the same page."""
    deepest = messages - PAGE
    out = [("uniform", rng.randint(0, deepest)) for _ in range(uniform)]
    out += [("newest", 0)] * edge
    out += [("oldest", rng.randint(deepest - (EDGE_PAGES - 1) * PAGE, deepest)) for _ in range(edge)]
    rng.shuffle(out)
    return out


def top_seq(info: dict[str, Any], depth: int) -> int:
    """seq of the newest message on the page at `depth`."""
    return info["base"] + info["messages"] - depth


# ---- measuring -----------------------------------------------------------------------------------------------------


def measure_http(base_url: str, info: dict[str, Any], samples: list[tuple[str, int]], warmup: int) -> list[list[Any]]:
    """[group, depth, ms] per page request over one keep-alive connection."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {info['token']}"
    endpoint = f"{base_url}/api/chat/rooms/{info['room']}/messages"

    def params(depth: int) -> dict[str, Any]:
        # The newest page is what a client asks first, with no cursor; deeper ones carry the API's own cursor.
        return {"limit": PAGE} if depth == 0 else {"limit": PAGE, "before": encode_cursor([top_seq(info, depth) + 1])}

    for _, depth in samples[:warmup]:
        session.get(endpoint, params=params(depth)).raise_for_status()
    out = []
    for group, depth in samples:
        ms, response = timed(lambda d=depth: session.get(endpoint, params=params(d)))
        if response.status_code != 200:
            raise RuntimeError(f"depth {depth}: HTTP {response.status_code} {response.text[:200]}")
        out.append([group, depth, round(ms, 4)])
    session.close()
    return out


def check_pages(base_url: str, dsn: str, info: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The cursors built here are the ones the API hands out, and land on the page OFFSET would give."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {info['token']}"
    endpoint = f"{base_url}/api/chat/rooms/{info['room']}/messages"
    newest = session.get(endpoint, params={"limit": PAGE}).json()
    assert newest["next_cursor"] == encode_cursor([top_seq(info, PAGE - 1)]), "cursor format changed"
    checked = 0
    with psycopg.connect(dsn) as conn:
        for depth in [1, rng.randint(0, info["messages"] - PAGE), info["messages"] - PAGE]:
            page = session.get(endpoint, params={"limit": PAGE, "before": encode_cursor([top_seq(info, depth) + 1])})
            ids = [m["id"] for m in page.json()["items"]]
            expected = conn.execute(OFFSET_SQL, {"room": info["room"], "limit": PAGE, "offset": depth}).fetchall()
            assert ids == [str(row[0]) for row in reversed(expected)], f"keyset page at depth {depth} differs"
            checked += 1
    session.close()
    return {"api_next_cursor_matches": True, "pages_equal_to_offset": checked}


def measure_sql(
    dsn: str, info: dict[str, Any], keyset: list[tuple[str, int]], offset: list[tuple[str, int]]
) -> dict[str, list[list[Any]]]:
    """[group, depth, ms] for the keyset and the OFFSET query, interleaved, on one connection."""
    plan = [("keyset", g, d) for g, d in keyset] + [("offset", g, d) for g, d in offset]
    random.Random(7).shuffle(plan)
    out: dict[str, list[list[Any]]] = {"keyset": [], "offset": []}
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        room = uuid.UUID(info["room"])

        def run(method: str, depth: int) -> list[Any]:
            if method == "keyset":
                cur.execute(KEYSET_SQL, {"room": room, "before": top_seq(info, depth) + 1, "limit": PAGE})
            else:
                cur.execute(OFFSET_SQL, {"room": room, "offset": depth, "limit": PAGE})
            return cur.fetchall()

        for method, _, depth in plan[:50]:  # warm-up, and past psycopg's prepare threshold for both queries
            run(method, depth)
        for method, group, depth in plan:
            ms, rows = timed(lambda m=method, d=depth: run(m, d))
            assert len(rows) == PAGE
            out[method].append([group, depth, round(ms, 4)])
    return out


def explain(dsn: str, info: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the keyset query (middle and deepest page) and of the deepest OFFSET."""
    deepest = info["messages"] - PAGE
    out: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = psycopg.ClientCursor(conn)  # client-side binding: EXPLAIN sees the literal values
        cases = {
            "keyset_middle": (KEYSET_SQL, {"before": top_seq(info, deepest // 2) + 1}),
            "keyset_deepest": (KEYSET_SQL, {"before": top_seq(info, deepest) + 1}),
            "offset_deepest": (OFFSET_SQL, {"offset": deepest}),
        }
        for name, (sql, extra) in cases.items():
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, {"room": info["room"], "limit": PAGE, **extra})
            lines = [row[0] for row in cur.fetchall()]
            text = "\n".join(lines)
            time_ms = re.search(r"Execution Time: ([\d.]+) ms", text)
            buffers = re.search(r"Buffers: (.+)", text)
            out[name] = {
                "index": ", ".join(sorted(set(re.findall(r"Index (?:Only )?Scan(?: Backward)? using (\S+)", text)))),
                "top_node": lines[0].split("  (")[0].strip(),
                "scan": next((ln.split("  (")[0].strip(" ->") for ln in lines if "Scan" in ln), ""),
                "buffers": buffers.group(1) if buffers else "",
                "execution_ms": float(time_ms.group(1)) if time_ms else None,
                "plan": lines,
            }
    return out


def groups(rows: list[list[Any]]) -> dict[str, dict[str, float]]:
    """Latency summary per depth group, and over all rows."""
    out = {g: summary([r[2] for r in rows if r[0] == g]) for g in ("uniform", "newest", "oldest")}
    out["all"] = summary([r[2] for r in rows])
    return out


def deciles(rows: list[list[Any]], messages: int) -> list[dict[str, float]]:
    """p50/p99 of the uniform samples in each tenth of the history, newest tenth first."""
    deepest = messages - PAGE
    bins: list[list[float]] = [[] for _ in range(10)]
    for group, depth, ms in rows:
        if group == "uniform":
            bins[min(9, depth * 10 // (deepest + 1))].append(ms)
    return [{"decile": i, "from_depth": i * (deepest + 1) // 10, **summary(b)} for i, b in enumerate(bins)]


def ratio(bins: list[dict[str, float]]) -> float | None:
    """p50 of the deepest decile over p50 of the shallowest."""
    if bins[0].get("n") and bins[-1].get("n"):
        return bins[-1]["p50"] / bins[0]["p50"]
    return None


def run(quick: bool, scratch: Path) -> dict[str, Any]:
    """Seed the room, measure HTTP keyset pages and bare SQL keyset vs OFFSET at the same depths."""
    sizes = SIZES[quick]
    rng = random.Random(6)
    started, load_before = time.perf_counter(), os.getloadavg()
    with harness.database("postgres", scratch, NAME) as url:
        info = seed(url, sizes["messages"])
        dsn = libpq_url(url)
        samples = depths(rng, sizes["messages"], sizes["uniform"], sizes["edge"])
        offset_samples = depths(rng, sizes["messages"], sizes["offset_uniform"], sizes["offset_edge"])
        with psycopg.connect(dsn, autocommit=True) as conn:
            # Read the whole table and its index once, so no method pays for first reads from disk.
            conn.execute("SELECT count(*), sum(length(content)) FROM chat_messages")
            conn.execute("SELECT count(*) FROM chat_messages WHERE room_id = %s AND seq > 0", (info["room"],))
        with harness.armada_servers(url, scratch) as servers:
            base_url = servers[0].url
            checks = check_pages(base_url, dsn, info, rng)
            with pinned_client():
                http = measure_http(base_url, info, samples, sizes["warmup"])
                sql = measure_sql(dsn, info, samples, offset_samples)
        plans = explain(dsn, info)
    n = sizes["messages"]
    methods = {"http_keyset": http, "sql_keyset": sql["keyset"], "sql_offset": sql["offset"]}
    stats = {m: groups(rows) for m, rows in methods.items()}
    bins = {m: deciles(rows, n) for m, rows in methods.items()}
    return {
        "scenario": NAME,
        "quick": quick,
        "machine": harness.machine(),
        "messages": n,
        "page_size": PAGE,
        "seed": {k: info[k] for k in ("insert_seconds", "seed_seconds", "table_bytes")},
        "requests": {m: len(rows) for m, rows in methods.items()},
        "checks": checks,
        "stats": stats,
        "deciles": bins,
        "deep_shallow_ratio": {m: ratio(b) for m, b in bins.items()},
        "edge_ratio": {m: s["oldest"]["p50"] / s["newest"]["p50"] for m, s in stats.items()},
        "explain": plans,
        "goal": {"p99_ms": GOAL_P99_MS, "ratio": GOAL_RATIO},
        "samples": dict(methods),
        "run_seconds": time.perf_counter() - started,
        # The machine is shared: a busy neighbour shows up here, and in the tail.
        "load_average": {"start": load_before, "end": os.getloadavg()},
    }


# ---- output --------------------------------------------------------------------------------------------------------

LABELS = {"http_keyset": "HTTP, keyset cursor (API)", "sql_keyset": "SQL, keyset", "sql_offset": "SQL, OFFSET"}


def load_note(result: dict[str, Any]) -> str:
    """The machine's 1-minute load average at start and end, when recorded (the machine may be shared)."""
    load = result.get("load_average")
    return f" Load average at start/end: {load['start'][0]:.2f}/{load['end'][0]:.2f}." if load else ""


def verdict(value: float, goal: float, unit: str) -> str:
    """'met' or 'missed by X'."""
    return "met" if value <= goal else f"missed by {value - goal:.2f}{unit}"


def report(result: dict[str, Any]) -> str:
    """The Markdown section of this scenario."""
    n, stats, bins = result["messages"], result["stats"], result["deciles"]
    plans = result["explain"]
    p99 = stats["http_keyset"]["all"]["p99"]
    ratio_http = result["deep_shallow_ratio"]["http_keyset"]
    lines = [
        f"### History pages at depth ({n:,} messages in one room)",
        "",
        f"Method: one group room in PostgreSQL filled with {n:,} text messages by `INSERT ... SELECT FROM "
        f"generate_series` (seq, change_seq and created_at consistent, room counters updated as `send_message` "
        f"does; {result['seed']['insert_seconds']:.1f} s), then `VACUUM (ANALYZE)` and one full read of table "
        f"and index. A page is {result['page_size']} messages. Depth = messages newer than the page: *uniform* over "
        f"the whole history, *newest* = the first page (no cursor), *oldest* = the {EDGE_PAGES} oldest pages. "
        "HTTP: `GET /api/chat/rooms/{id}/messages?before=<cursor>` (cursor from `armada.pagination.encode_cursor`, "
        "checked equal to the API's own `next_cursor` and to the OFFSET page) against gunicorn (gevent, 1 worker) "
        "on core 0, sequential over one keep-alive `requests.Session` pinned to core 1. SQL: the same keyset "
        "query and `ORDER BY seq DESC LIMIT 50 OFFSET n` by psycopg (prepared) at the same depths, interleaved. "
        f"Requests: {result['requests']['http_keyset']:,} HTTP, {result['requests']['sql_keyset']:,} SQL keyset, "
        f"{result['requests']['sql_offset']:,} SQL OFFSET." + load_note(result),
        "",
        "| method | depths | n | p50 ms | p99 ms | p99.9 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for method, label in LABELS.items():
        for group in ("all", "uniform", "newest", "oldest"):
            s = stats[method][group]
            lines.append(f"| {label} | {group} | {s['n']:,} | {s['p50']:.3f} | {s['p99']:.3f} | {s['p99_9']:.3f} |")
    lines += [
        "",
        "p50 ms by depth (uniform samples, tenths of the history, newest first):",
        "",
        "| depth from | " + " | ".join(LABELS.values()) + " |",
        "|---:|" + "---:|" * len(LABELS),
    ]
    for i in range(10):
        cells = [f"{bins[m][i]['p50']:.3f}" if bins[m][i].get("n") else "–" for m in LABELS]
        lines.append(f"| {bins['http_keyset'][i]['from_depth']:,} | " + " | ".join(cells) + " |")
    ratios = ", ".join(f"{LABELS[m]} {r:.2f}" for m, r in result["deep_shallow_ratio"].items() if r is not None)
    edges = ", ".join(f"{LABELS[m]} {r:.2f}" for m, r in result["edge_ratio"].items())
    km, kd, od = plans["keyset_middle"], plans["keyset_deepest"], plans["offset_deepest"]
    lines += [
        "",
        f"Deep/shallow (p50 deepest tenth / p50 shallowest tenth): {ratios}. Oldest/newest pages p50: {edges}.",
        "",
        (
            f"Plan (EXPLAIN ANALYZE, BUFFERS): keyset → `{kd['scan'].strip(' ->')}`, "
            f"{km['execution_ms']} ms / buffers {km['buffers']} (middle page), {kd['execution_ms']} ms / "
            f"{kd['buffers']} (deepest); OFFSET at the deepest page → `{od['scan'].strip(' ->')}` through "
            f"{n - PAGE:,} rows, {od['execution_ms']} ms / {od['buffers']}."
        ),
        "",
        f"**Goal** (history page p99 ≤ {GOAL_P99_MS:g} ms at 1M messages, deep/shallow ≤ {GOAL_RATIO}): "
        f"p99 {p99:.2f} ms: {verdict(p99, GOAL_P99_MS, ' ms')}; deep/shallow {ratio_http:.2f}: "
        f"{verdict(ratio_http, GOAL_RATIO, '')}"
        + ("" if n >= 1_000_000 else f" (quick run: {n:,} messages, not the goal's size)")
        + ".",
    ]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """Latency against depth (every sample, with per-tenth medians), and the percentiles per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    colors = {"http_keyset": "tab:blue", "sql_keyset": "tab:green", "sql_offset": "tab:red"}
    n = result["messages"]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for method, rows in result["samples"].items():
        xs = [r[1] / 1000 for r in rows]
        ax.scatter(xs, [r[2] for r in rows], s=3, alpha=0.25, color=colors[method], label=LABELS[method])
        bins = [b for b in result["deciles"][method] if b.get("n")]
        step = (n - PAGE) / 10 / 1000
        ax.plot(
            [b["from_depth"] / 1000 + step / 2 for b in bins],
            [b["p50"] for b in bins],
            color=colors[method],
            linewidth=2,
        )
    ax.axhline(GOAL_P99_MS, color="gray", linestyle="--", linewidth=1, label=f"goal p99 {GOAL_P99_MS:g} ms")
    ax.set_yscale("log")
    ax.set_xlabel("depth (thousands of newer messages)")
    ax.set_ylabel("page latency, ms (log)")
    ax.set_title(f"History page of {PAGE} at depth, {n:,} messages: keyset vs OFFSET (lines: p50 per tenth)")
    ax.legend(markerscale=4, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    depth_png = out / f"{NAME}_depth.png"
    fig.tight_layout()
    fig.savefig(depth_png, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = ["p50", "p99", "p99_9"]
    width = 0.27
    for i, method in enumerate(LABELS):
        s = result["stats"][method]["all"]
        ax.bar(
            [j + (i - 1) * width for j in range(3)],
            [s[k] for k in names],
            width,
            color=colors[method],
            label=LABELS[method],
        )
    ax.axhline(GOAL_P99_MS, color="gray", linestyle="--", linewidth=1, label=f"goal p99 {GOAL_P99_MS:g} ms")
    ax.set_xticks(range(3), ["p50", "p99", "p99.9"])
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title(f"History page latency, all depths, {n:,} messages")
    ax.legend()
    ax.grid(True, axis="y", which="both", alpha=0.3)
    pct_png = out / f"{NAME}_percentiles.png"
    fig.tight_layout()
    fig.savefig(pct_png, dpi=110)
    plt.close(fig)
    return [depth_png, pct_png]


if __name__ == "__main__":
    from bench.run import standalone

    standalone(sys.modules[__name__])
