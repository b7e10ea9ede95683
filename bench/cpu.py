"""CPU per request of the hot paths, in-process (Flask test client, PostgreSQL): a send, a history page of 50 and
the first room-list page of a user in 500 rooms.

    python -m bench.cpu seed /tmp/cpu.json          # make and migrate a database, seed it, write ids and tokens
    python -m bench.cpu measure /tmp/cpu.json       # process CPU ms per request, several alternating rounds
    python -m bench.cpu measure /tmp/cpu.json --profile history   # cProfile of one path, top functions
    python -m bench.cpu drop /tmp/cpu.json          # DROP DATABASE

Process CPU time (time.process_time), not wall time: the machine is shared, and CPU per request is what bounds
requests per second on one process. The database is kept between `seed` and `drop` so that two checkouts of
the code can be measured against the same rows, alternately.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

HISTORY_MESSAGES = 120
ROOMLIST_ROOMS = 500


def _admin_dsn(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False), str(
        parsed.database
    )


def seed(out: Path) -> None:
    """A new migrated PostgreSQL database with a send room, a history room and a 500-room user."""
    import os
    import secrets

    from bench import harness
    from tests.helpers.servers import migrate

    # The tokens must verify in the measuring process too: fixed secrets, written to the info file.
    keys = {"SECRET_KEY": secrets.token_urlsafe(48), "JWT_SECRET_KEY": secrets.token_urlsafe(48)}
    harness.SECRETS.update(keys)
    os.environ.update(keys)
    name = f"armada_bench_cpu_{uuid.uuid4().hex[:8]}"
    admin, _ = _admin_dsn(harness.PG_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(harness.PG_URL).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    start = time.perf_counter()
    seeder = harness.Seeder(url)
    main, *others = seeder.users(4, prefix="roomlist")
    _fill_rooms(seeder, main, others)
    alice, bob = seeder.users(2, prefix="cpu")
    room = seeder.group(alice, [bob], name="history")
    send_room = seeder.group(alice, [bob], name="sends")
    _fill_history(seeder, alice, bob, room)
    out.write_text(
        json.dumps(
            {
                "url": url,
                "secrets": keys,
                "main_token": main.token,
                "alice": alice.token,
                "history_room": room,
                "send_room": send_room,
            }
        )
    )
    print(f"seeded {name} in {time.perf_counter() - start:.0f} s -> {out}")


def _fill_rooms(seeder: Any, main: Any, others: list[Any]) -> None:
    """`main` in 500 groups of 4 with 1-5 messages each (as bench/roomlist.py seeds them), every third read."""
    from armada.chat.receipts import mark_read
    from armada.chat.sending import send_message
    from armada.extensions import db
    from armada.models import User

    made = [seeder.group(main, others, name=f"room {i}") for i in range(ROOMLIST_ROOMS)]
    with seeder.app.app_context():
        users = [db.session.get(User, uuid.UUID(u.id)) for u in (*others, main)]
        for i, room_id in enumerate(made):
            first = last = None
            for j in range(1 + i % 5):
                reply = first.id if first is not None and i % 7 == 0 and j == i % 5 else None
                last, _ = send_message(
                    users[(i + j) % len(users)], uuid.UUID(room_id), content=f"m {j} in {i}", reply_to_id=reply
                )
                first = first or last
            if i % 3 == 0 and last is not None:
                mark_read(users[-1], uuid.UUID(room_id), up_to=last.id)


def _fill_history(seeder: Any, alice: Any, bob: Any, room_id: str) -> None:
    """Varied messages: replies, reactions, an edit, a deletion, mentions, a thread."""
    from armada.chat.editing import delete_message, edit_message
    from armada.chat.reactions import add_reaction
    from armada.chat.sending import send_message
    from armada.extensions import db
    from armada.models import User

    with seeder.app.app_context():
        a = db.session.get(User, uuid.UUID(alice.id))
        b = db.session.get(User, uuid.UUID(bob.id))
        rid = uuid.UUID(room_id)
        sent = []
        for i in range(HISTORY_MESSAGES):
            who = (a, b)[i % 2]
            reply = sent[i - 3].id if i % 9 == 0 and i >= 3 else None
            mentions = [b.id] if i % 11 == 0 else None
            message, _ = send_message(
                who, rid, content=f"history message {i} " + "x" * (i % 40), reply_to_id=reply, mentions=mentions
            )
            sent.append(message)
            if i % 4 == 0:
                add_reaction(b, message.id, "\N{THUMBS UP SIGN}")
            if i % 13 == 0:
                edit_message(who, message.id, content=f"edited {i}")
            if i % 17 == 5:
                delete_message(who, message.id)


def drop(info_path: Path) -> None:
    """Drop the seeded database."""
    info = json.loads(info_path.read_text())
    admin, name = _admin_dsn(info["url"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped {name}")


def measure(info_path: Path, rounds: int, n: int, profile: str | None, only: list[str]) -> None:
    """Process CPU ms per request for each path, `rounds` rounds of `n` requests, paths interleaved."""
    from armada import create_app
    from config import ProductionConfig

    info = json.loads(info_path.read_text())
    # The send limit is raised, not switched off, so its check stays in what is measured.
    limits = {"RATE_LIMIT_SEND_MESSAGE": "1000000/10 seconds"}
    app = create_app(ProductionConfig({**info["secrets"], **limits, "DATABASE_URL": info["url"]}))
    client = app.test_client()
    history_url = f"/api/chat/rooms/{info['history_room']}/messages"
    counter = iter(range(10**9))
    paths = {
        "send": lambda: client.post(
            "/api/chat/messages",
            json={
                "room_id": info["send_room"],
                "content": "a message of ordinary length",
                "client_id": uuid.uuid4().hex,
            },
            headers={"Authorization": f"Bearer {info['alice']}"},
        ),
        "history": lambda: client.get(history_url, headers={"Authorization": f"Bearer {info['alice']}"}),
        "roomlist": lambda: client.get("/api/chat/rooms", headers={"Authorization": f"Bearer {info['main_token']}"}),
    }
    expected = {"send": 201, "history": 200, "roomlist": 200}
    for name, call in paths.items():  # warm up: connections, caches, first-use imports
        for _ in range(20):
            response = call()
            assert response.status_code == expected[name], response.get_data(as_text=True)[:300]
    next(counter)
    if profile:
        profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the database's time is not ours
        profiler.enable()
        for _ in range(n):
            paths[profile]()
        profiler.disable()
        profiler.dump_stats(f"/tmp/cpu-{profile}.prof")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return
    paths = {name: call for name, call in paths.items() if name in only or name == profile}
    results: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, call in paths.items():
            start = time.process_time()
            for _ in range(n):
                call()
            results[name].append((time.process_time() - start) * 1000 / n)
    for name, per_round in results.items():
        print(
            f"{name:9s} CPU ms/request: median {statistics.median(per_round):.3f}  min {min(per_round):.3f}  "
            f"rounds {' '.join(f'{x:.3f}' for x in per_round)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("seed", "measure", "drop"))
    parser.add_argument("info", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-n", type=int, default=200, help="requests per path per round")
    parser.add_argument("--profile", choices=("send", "history", "roomlist"))
    parser.add_argument("--paths", default="send,history,roomlist", help="which paths to measure, comma-separated")
    args = parser.parse_args()
    if args.action == "seed":
        seed(args.info)
    elif args.action == "drop":
        drop(args.info)
    else:
        measure(args.info, args.rounds, args.n, args.profile, args.paths.split(","))


if __name__ == "__main__":
    main()
