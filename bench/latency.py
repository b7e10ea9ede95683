"""send→receive latency: REST `POST /api/chat/messages` until `new_message` reaches every Socket.IO member,
for rooms of 10 and 100 at 50/200/1,000 msg/s, on one process and on two (Redis + PostgreSQL), beside the Node
socket.io peer in the same topologies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench import harness
from bench.tables import fmt, goal_line, pct, plot_lines, ratio, table, times

NAME = "latency"
SIZES = (10, 100)
RATES = (50, 200, 1000)
# Sockets in all: rooms of 10 come ten at a time, so both sizes have 100 members listening.
LISTENERS = 100
TOPOLOGIES = ("armada-1", "armada-2", "node-1", "node-2")


def run(quick: bool, scratch: Path) -> dict[str, Any]:
    """Every topology × room size × rate, each an open-loop run of `duration` seconds after a warm-up."""
    duration = 3 if quick else 10
    runs = []
    with harness.database("postgres", scratch, NAME) as url:
        seeder = harness.Seeder(url)
        users = seeder.users(LISTENERS)
        rooms = {size: harness.rooms_of(seeder, users, size, LISTENERS // size) for size in SIZES}
        for name in TOPOLOGIES:
            with harness.topology(name, url, scratch) as servers:
                for size in SIZES:
                    for rate in RATES:
                        config = harness.deliver_config(servers, rooms[size], rate, duration)
                        result = harness.run_load(config)
                        runs.append({"topology": name, "room_size": size, **result})
                        print(f"{NAME}: {name} room {size} {rate}/s -> {summary(result)}", flush=True)
    return {"machine": harness.machine(), "duration": duration, "runs": runs}


def summary(r: dict[str, Any]) -> str:
    d = r["delivery"]
    return (
        f"p50 {d.get('p50')} p99 {d.get('p99')} ms, {r['deliveries_per_second']}/s delivered, "
        f"{r['deliveries_missing']} missing, statuses {r['statuses']}, generator cpu {r['generator_cpu']}"
    )


def _find(result: dict[str, Any], topology: str, size: int, rate: int) -> dict[str, Any] | None:
    return next(
        (r for r in result["runs"] if r["topology"] == topology and r["room_size"] == size and r["rate"] == rate), None
    )


def report(result: dict[str, Any]) -> str:
    """The Markdown section."""
    rows = []
    for r in result["runs"]:
        d = r["delivery"]
        answered = sum(r["statuses"].values())
        rows.append(
            [
                r["topology"],
                r["room_size"],
                r["rate"],
                d.get("p50"),
                d.get("p99"),
                d.get("p999"),
                r["deliveries_per_second"],
                r["deliveries_missing"],
                r["http"].get("p99"),
                f"{answered}/{r['messages']}" + ("" if set(r["statuses"]) <= {"201"} else f" ({r['statuses']})"),
                pct(r["generator_cpu"]),
            ]
        )
    ratios = []
    for size in SIZES:
        for rate in RATES:
            for n in (1, 2):
                a, b = _find(result, f"armada-{n}", size, rate), _find(result, f"node-{n}", size, rate)
                if a and b:
                    ratios.append(
                        [
                            f"{n} process{'es' if n > 1 else ''}",
                            size,
                            rate,
                            fmt(ratio(a["delivery"].get("p50"), b["delivery"].get("p50")), 2),
                            fmt(ratio(a["delivery"].get("p99"), b["delivery"].get("p99")), 2),
                        ]
                    )
    target = _find(result, "armada-1", 100, 200)
    d = target["delivery"] if target else {}
    met = bool(d) and d.get("p50", 1e9) <= 5 and d.get("p99", 1e9) <= 20 and target["deliveries_missing"] == 0
    return "\n\n".join(
        [
            "### send→receive latency",
            "Method: one open-loop sender POSTs `/api/chat/messages` at a fixed rate (latency counts from each "
            "message's *scheduled* send time, so a slow server cannot hide its queue), every member of the room "
            f"listens on its own websocket (`socket.io-client`, {LISTENERS} sockets in all: ten rooms of 10, or one "
            f"of 100) and times `new_message`. {result['duration']} s measured per cell after a 2 s warm-up. "
            "Two-process topologies spread senders and listeners over both processes, so most deliveries cross "
            "Redis. Latencies in ms; *gen CPU* is the load generator's share of its core.",
            "A cell with no p50 and deliveries *missing* is overloaded: the server answered only *answered* of the "
            "posts (all 201) before the drain timeout, none of them from the measured window.",
            table(
                [
                    "topology",
                    "room",
                    "msg/s",
                    "p50",
                    "p99",
                    "p99.9",
                    "deliveries/s",
                    "missing",
                    "HTTP p99",
                    "answered",
                    "gen CPU",
                ],
                rows,
            ),
            "Armada / Node (lower is better for Armada; 1.0 = as fast as the peer):",
            table(["processes", "room", "msg/s", "p50 ratio", "p99 ratio"], ratios),
            goal_line(
                "p50 ≤ 5 ms and p99 ≤ 20 ms at 200 msg/s in a room of 100 (one process)",
                f"p50 {fmt(d.get('p50'))} ms, p99 {fmt(d.get('p99'))} ms",
                met,
                f"p50 {times(d.get('p50'), 5)}, p99 {times(d.get('p99'), 20)}",
            ),
        ]
    )


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """p50 and p99 against the send rate, one line per topology and room size."""
    series = {}
    for name in TOPOLOGIES:
        for size in SIZES:
            runs = sorted(
                (r for r in result["runs"] if r["topology"] == name and r["room_size"] == size), key=lambda r: r["rate"]
            )
            if runs:
                series[f"{name}, room {size}, p99"] = (
                    [r["rate"] for r in runs],
                    [r["delivery"].get("p99") or 0 for r in runs],
                )
    return [
        plot_lines(
            out / f"{NAME}.png",
            series,
            "send→receive p99 latency vs rate",
            "messages/s",
            "p99 latency (ms, log)",
            logy=True,
            hline=20,
        )
    ]


if __name__ == "__main__":
    from bench.run import standalone

    standalone(sys.modules[__name__])
