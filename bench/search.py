"""Benchmark: message search (GET /api/chat/search) on PostgreSQL at 1,000,000 messages and SQLite at 100,000.

Users and rooms through Armada's services, the messages bulk-loaded (COPY on PostgreSQL, SQLAlchemy Core on
SQLite) from a Zipf vocabulary; then four query kinds over HTTP from a real gunicorn server, the index's size,
and the write cost search adds to a send (against a copy of the same database without the index).
"""

from __future__ import annotations

import itertools
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import event

from bench import harness, search_db
from bench import search_data as data
from bench.history import libpq_url, pinned_client, summary, timed
from tests.helpers.support import QueryCounter

NAME = "search"
LIMIT = 20
MEMBER_OF = 50
GOAL_P99_MS = 30.0
GOAL_SEND_GROWTH = 0.10
KINDS = {
    "common": "common word",
    "rare": "rare word",
    "phrase": '"quoted phrase" (two words)',
    "prefix": "3-letter prefix",
}
# (messages, rooms) per database; requests per query kind, unless the time budget (s) for all of them ends
# first (slow queries would otherwise take an hour); sends per variant.
SIZES = {
    False: {
        "postgres": (1_000_000, 1000),
        "sqlite": (100_000, 100),
        "requests": 500,
        "budget": 300,
        "sends": 600,
        "warmup": 40,
    },
    True: {
        "postgres": (20_000, 200),
        "sqlite": (20_000, 100),
        "requests": 100,
        "budget": 60,
        "sends": 60,
        "warmup": 20,
    },
}


def in_process(seeder: harness.Seeder, requests_of: list[tuple[str, str, dict[str, Any]]], token: str) -> list[Any]:
    """Each (method, path, body-or-query) through the app's test client: its statements, parameters and answer."""
    from armada.extensions import db

    counter = QueryCounter()
    with seeder.app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter.on_execute)
    client = seeder.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    try:
        client.get("/api/users/me", headers=headers)  # connection set-up is not the request's
        for method, path, args in requests_of:
            with counter:
                if method == "GET":
                    response = client.get(path, headers=headers, query_string=args)
                else:
                    response = client.post(path, headers=headers, json=args)
            assert response.status_code in (200, 201), response.get_data(as_text=True)[:300]
            out.append((list(counter.statements), list(counter.parameters), response.get_json()))
    finally:
        event.remove(engine, "before_cursor_execute", counter.on_execute)
    return out


def measure_searches(base_url: str, token: str, queries: dict[str, Any], sizes: dict[str, int]) -> dict[str, Any]:
    """Latency and result count per query kind over one keep-alive connection, the kinds shuffled together (so
    when the time budget ends every kind has about as many samples)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    tasks = [kind for kind in KINDS for _ in range(sizes["requests"])]
    random.Random(16).shuffle(tasks)
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    counts: dict[str, set[int]] = {kind: set() for kind in KINDS}
    deadline = None
    for i, kind in enumerate(tasks[: sizes["warmup"]] + tasks):
        if i == sizes["warmup"]:
            deadline = time.monotonic() + sizes["budget"]
        elif deadline is not None and time.monotonic() > deadline:
            break
        params = {"q": queries[kind]["q"], "limit": LIMIT}
        ms, response = timed(lambda p=params: session.get(f"{base_url}/api/chat/search", params=p))
        if response.status_code != 200:
            raise RuntimeError(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
        if i >= sizes["warmup"]:
            samples[kind].append(ms)
            counts[kind].add(len(response.json()["items"]))
    session.close()
    return {"samples": samples, "results": {k: sorted(v) for k, v in counts.items()}}


def measure_sends(urls: dict[str, str], token: str, rooms: list[str], texts: list[str], n: int) -> dict[str, Any]:
    """POST /api/chat/messages alternately to each server (one per database copy), one keep-alive session each."""
    sessions = {}
    for name in urls:
        sessions[name] = requests.Session()
        sessions[name].headers["Authorization"] = f"Bearer {token}"
    samples: dict[str, list[float]] = {name: [] for name in urls}
    room_cycle, text_cycle = itertools.cycle(rooms), itertools.cycle(texts)
    warmup = max(10, n // 10)
    for i in range(warmup + n):
        body = {"room_id": next(room_cycle), "content": next(text_cycle)}
        order = list(urls) if i % 2 == 0 else list(reversed(urls))  # neither always goes first
        for name in order:
            ms, response = timed(
                lambda u=urls[name], s=sessions[name], b=body: s.post(f"{u}/api/chat/messages", json=b)
            )
            if response.status_code != 201:
                raise RuntimeError(f"send to {name}: HTTP {response.status_code} {response.text[:200]}")
            if i >= warmup:
                samples[name].append(ms)
    for s in sessions.values():
        s.close()
    return samples


def run_database(kind: str, quick: bool, scratch: Path) -> dict[str, Any]:
    """Seed one database, measure its searches, its index and a send with and without search."""
    from armada.extensions import db

    sizes = SIZES[quick]
    messages, rooms = sizes[kind]
    started = time.perf_counter()
    with harness.database(kind, scratch, f"{NAME}_{kind}") as url:
        seeder = harness.Seeder(url)
        world = data.seed_world(seeder, rooms, MEMBER_OF)
        corpus = data.generate(messages, rooms)
        stopwords = data.english_stopwords(libpq_url(harness.PG_URL), corpus.words)
        queries = data.choose_queries(corpus, stopwords, world.member_rooms)
        seeded = time.perf_counter() - started
        print(f"{NAME}: {kind} seeded users and rooms, generated {messages:,} messages ({seeded:.0f} s)", flush=True)
        if kind == "postgres":
            load = data.load_postgres(libpq_url(url), corpus, world)
        else:
            load = data.load_sqlite(seeder, corpus, world)
        print(f"{NAME}: {kind} loaded in {load['load_seconds']:.0f} s; queries {queries}", flush=True)
        sizes_db = search_db.index_size(kind, url)
        searches = [("GET", "/api/chat/search", {"q": q["q"], "limit": LIMIT}) for q in queries.values()]
        token = world.searcher.token
        seen = in_process(seeder, searches, token)
        statements, plans = {}, {}
        for kind_name, (stmts, params, body) in zip(KINDS, seen, strict=True):
            statements[kind_name] = len(stmts)
            queries[kind_name]["first_page"] = len(body["items"])
            statement, parameters = search_db.search_statement(stmts, params)
            plans[kind_name] = {"statement": statement, **search_db.explain(kind, url, statement, parameters)}
        with harness.armada_servers(url, scratch) as servers, pinned_client():
            http = measure_searches(servers[0].url, token, queries, sizes)
        send_rooms = [world.rooms[r] for r in range(rooms) if world.sender.id in world.members[r]][:10]
        texts = corpus.texts[:500]
        one_send = [("POST", "/api/chat/messages", {"room_id": send_rooms[0], "content": texts[0]})]
        send_statements = {"with": len(in_process(seeder, one_send, world.sender.token)[0][0])}
        with seeder.app.app_context():
            db.engine.dispose()  # CREATE DATABASE ... TEMPLATE needs the source to have no connection
        with search_db.copy_of(kind, url, scratch) as bare:
            stripped = search_db.strip_search(kind, bare)
            bare_seeder = harness.Seeder(bare)
            send_statements["without"] = len(in_process(bare_seeder, one_send, world.sender.token)[0][0])
            with seeder.app.app_context():
                db.engine.dispose()
            with bare_seeder.app.app_context():
                db.engine.dispose()
            logs = scratch / "sends"
            logs.mkdir(exist_ok=True)
            with (
                harness.armada_servers(url, scratch) as with_search,
                harness.armada_servers(bare, logs) as without,
                pinned_client(),
            ):
                urls = {"with": with_search[0].url, "without": without[0].url}
                sends = measure_sends(urls, world.sender.token, send_rooms, texts, sizes["sends"])
    return {
        "messages": messages,
        "rooms": rooms,
        "member_of": MEMBER_OF,
        "vocabulary": len(corpus.words),
        "load": {"users_rooms_seconds": seeded, **load},
        "queries": queries,
        "stats": {k: summary(v) for k, v in http["samples"].items()},
        "results_per_page": http["results"],
        "statements": statements,
        "plans": plans,
        "index": sizes_db,
        "sends": {k: summary(v) for k, v in sends.items()},
        "send_statements": send_statements,
        "without_search": stripped,
        "samples": {k: [round(ms, 4) for ms in v] for k, v in http["samples"].items()},
    }


def run(quick: bool, scratch: Path) -> dict[str, Any]:
    """Both databases, one after the other."""
    load_before = os.getloadavg()
    databases = {}
    for kind in ("postgres", "sqlite"):
        (scratch / kind).mkdir()
        databases[kind] = run_database(kind, quick, scratch / kind)
    return {
        "scenario": NAME,
        "quick": quick,
        "machine": harness.machine(),
        "databases": databases,
        "goal": {"p99_ms": GOAL_P99_MS, "send_growth": GOAL_SEND_GROWTH},
        "plan": {k: SIZES[quick][k] for k in ("requests", "budget", "warmup", "sends")},
        "load_average": {"start": load_before, "end": os.getloadavg()},
    }


# ---- output (bench/search_report.py) ---------------------------------------------------------------------------------


def report(result: dict[str, Any]) -> str:
    """The Markdown section of this scenario."""
    from bench.search_report import report as markdown

    return markdown(result)


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """Latency per query kind per database, and a send with and without search."""
    from bench.search_report import plot as draw

    return draw(result, out)


if __name__ == "__main__":
    from bench.run import standalone

    standalone(sys.modules[__name__])
