"""Persisted sends/s: the highest rate of `POST /api/chat/messages` with p99 under 100 ms, on one process
and on two sharing Redis and PostgreSQL; every accepted message is checked to be in the database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import harness
from bench.tables import fmt, goal_line, pct, plot_lines, table

NAME = "sends"
RATES = (50, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1250, 1500, 2000)
P99_LIMIT_MS = 100.0
ROOMS = 50  # senders spread over many rooms, as in a real deployment (each room serializes its own sends)
# (label, topology, cpus): one process pinned to core 0 (the generator has core 1); two processes may use
# both cores, shared with the generator and PostgreSQL.
VARIANTS = (("armada-1", "armada-1", harness.SERVER_CPUS), ("armada-2", "armada-2", None))


def _stored(url: str) -> int:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM chat_messages").fetchone()[0])


def _ok(r: dict[str, Any]) -> bool:
    return set(r["statuses"]) == {"201"} and (r["http"].get("p99") or 1e9) < P99_LIMIT_MS


def run(quick: bool, scratch: Path) -> dict[str, Any]:
    """Step the rate up on each topology until p99 reaches the limit or a request fails."""
    duration = 3 if quick else 10
    runs = []
    for label, topology, cpus in VARIANTS:
        with harness.database("postgres", scratch, f"{NAME}_{label.replace('-', '_')}") as url:
            seeder = harness.Seeder(url)
            rooms = harness.rooms_of(seeder, seeder.users(ROOMS * 2), 2, ROOMS)
            with harness.topology(topology, url, scratch, cpus=cpus) as servers:
                for rate in RATES:
                    before = _stored(url)
                    cpu_before = sum(harness.cpu_seconds(s.worker_pid) for s in servers)
                    config = harness.deliver_config(
                        servers, rooms, rate, duration, receivers=False, http_connections=128, drain=15
                    )
                    result = harness.run_load(config)
                    result["stored"] = _stored(url) - before
                    # The workers' CPU over the step (their idle ticks included: a little above the send's own).
                    cpu = sum(harness.cpu_seconds(s.worker_pid) for s in servers) - cpu_before
                    result["cpu_ms_per_send"] = round(1000 * cpu / result["stored"], 2) if result["stored"] else None
                    runs.append({"topology": label, **result})
                    print(
                        f"{NAME}: {label} {rate}/s -> HTTP p50 {result['http'].get('p50')} p99 "
                        f"{result['http'].get('p99')} ms, statuses {result['statuses']}, stored "
                        f"{result['stored']}, worker CPU {result['cpu_ms_per_send']} ms/send, generator cpu "
                        f"{result['generator_cpu']}",
                        flush=True,
                    )
                    if not _ok(result):
                        break
    return {"machine": harness.machine(), "duration": duration, "runs": runs}


def report(result: dict[str, Any]) -> str:
    """The Markdown section."""
    rows = [
        [
            r["topology"],
            r["rate"],
            r["achieved_rate"],
            r["http"].get("p50"),
            r["http"].get("p99"),
            r["http"].get("p999"),
            ", ".join(f"{k}: {v}" for k, v in r["statuses"].items()),
            r["stored"],
            r.get("cpu_ms_per_send"),
            pct(r["generator_cpu"]),
        ]
        for r in result["runs"]
    ]
    best = {}
    for r in result["runs"]:
        if _ok(r):
            best[r["topology"]] = max(best.get(r["topology"], 0), r["rate"])
    lost = sum(r["statuses"].get("201", 0) - r["stored"] for r in result["runs"])
    one = best.get("armada-1", 0)
    # CPU per send at the highest passing step of one process (a busy worker: idle ticks count least there).
    top_step = next((r for r in result["runs"] if r["topology"] == "armada-1" and r["rate"] == one), None)
    cpu = top_step and top_step.get("cpu_ms_per_send")
    return "\n\n".join(
        [
            "### Persisted sends",
            "Method: open-loop `POST /api/chat/messages` (JSON text messages, keep-alive connections, latency from "
            f"the scheduled send time) spread over {ROOMS} rooms of two members, no sockets listening; the rate "
            f"steps up until p99 reaches {P99_LIMIT_MS:.0f} ms or a request fails; {result['duration']} s per "
            "step. *stored* counts the rows that reached PostgreSQL during the step (every 201 must be there). "
            "One process is pinned to core 0 (the generator to core 1); two processes share both cores with the "
            "generator and PostgreSQL. *worker CPU ms/send* is the workers' CPU time over the step divided by the "
            "messages stored.",
            table(
                [
                    "topology",
                    "msg/s",
                    "achieved",
                    "p50 ms",
                    "p99 ms",
                    "p99.9 ms",
                    "statuses",
                    "stored",
                    "worker CPU ms/send",
                    "gen CPU",
                ],
                rows,
            ),
            "Highest passing rate: "
            + ", ".join(f"{k} {fmt(v)}/s" for k, v in best.items())
            + f". Accepted but not stored: {lost}.",
            goal_line(
                "≥ 600 persisted sends/s on one process with PostgreSQL (worker CPU ≤ 1.5 ms per send)",
                f"{fmt(one)}/s, {fmt(cpu, 2)} ms of worker CPU per send at that step; two processes "
                f"{fmt(best.get('armada-2', 0))}/s",
                one >= 600 and cpu is not None and cpu <= 1.5,
                f"{fmt(600 - one)}/s ({fmt(one / 600, 2)}× the target)",
            ),
        ]
    )


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """p99 against the send rate, per topology."""
    series: dict[str, tuple[list[float], list[float]]] = {}
    for r in result["runs"]:
        xs, ys = series.setdefault(r["topology"], ([], []))
        xs.append(r["rate"])
        ys.append(r["http"].get("p99") or 0)
    return [
        plot_lines(
            out / f"{NAME}.png",
            series,
            "persisted sends: p99 vs rate",
            "POST /api/chat/messages per s",
            "p99 latency (ms, log)",
            logy=True,
            hline=P99_LIMIT_MS,
        )
    ]


if __name__ == "__main__":
    from bench.run import standalone

    standalone(sys.modules[__name__])
