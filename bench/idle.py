"""Idle connections: websocket-only Socket.IO clients ramped up on one gevent worker until they fail or the
target is reached, from several 127.0.0.x source addresses; connections held, RSS per connection, idle CPU
and connects/s, beside the Node peer."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.tables import fmt, goal_line, plot_lines, ratio, table

NAME = "idle"
# Each 127.0.0.x source address has ~28,000 ephemeral ports towards one server port.
SOURCES = [f"127.0.0.{i}" for i in range(1, 9)]
# (label, topology, server environment, connections). The file limit stops every run at 19,500 (see report).
VARIANTS = (
    ("armada-1", "armada-1", {}, 40_000),
    ("node-1", "node-1", {}, 40_000),
)
HELD_GOAL = 19_500  # all this sandbox's per-process file limit allows (issue 17's goal)
KB_GOAL = 15


def _measure(
    label: str,
    topology: str,
    env: dict[str, str],
    total: int,
    step: int,
    hold: float,
    url: str,
    scratch: Path,
    tokens: list[str],
) -> dict[str, Any]:
    with harness.topology(topology, url, scratch, WORKER_CONNECTIONS=str(total + 1000), **env) as servers:
        server = servers[0]
        time.sleep(1)
        baseline = harness.rss_bytes(server.worker_pid)
        gen = harness.LoadGen(
            {
                "mode": "idle",
                "url": server.url,
                "tokens": tokens,
                "total": total,
                "step": step,
                "local_addresses": SOURCES,
                "connect_concurrency": 200,
            }
        )
        samples = [{"connections": 0, "rss": baseline}]
        result: dict[str, Any] = {}
        try:
            for line in gen.lines():
                if "step" in line:
                    time.sleep(1)  # let the step's handshakes settle before reading memory
                    rss = harness.rss_bytes(server.worker_pid)
                    samples.append({"connections": line["connected"], "rss": rss, **line})
                    print(
                        f"{NAME}: {label} {line['connected']} connections, RSS {rss / 2**20:.0f} MiB, "
                        f"{line['connects_per_second']} connects/s, {line['failed']} failed",
                        flush=True,
                    )
                    gen.proceed()
                elif "holding" in line:
                    cpu0, t0 = harness.cpu_seconds(server.worker_pid), time.monotonic()
                    time.sleep(hold)
                    idle_cpu = (harness.cpu_seconds(server.worker_pid) - cpu0) / (time.monotonic() - t0)
                    held_rss = harness.rss_bytes(server.worker_pid)
                    gen.proceed()
                elif "result" in line:
                    result = line["result"]
        finally:
            gen.close()
    held = result.get("held", 0)
    return {
        "server": label,
        "target": total,
        "baseline_rss": baseline,
        "held": held,
        "held_rss": held_rss,
        "rss_per_connection": round((held_rss - baseline) / held) if held else None,
        "idle_cpu": round(idle_cpu, 4),
        "hold_seconds": hold,
        "connects_per_second": max((s.get("connects_per_second", 0) for s in samples), default=0),
        "samples": samples,
        **{k: result.get(k) for k in ("failures", "lost", "lost_reasons", "generator_cpu_seconds")},
    }


def fd_ceiling() -> int:
    """Connections one process can hold here: the hard open-file limit, less what a server needs besides."""
    return harness.raise_file_limit() - 500


def run(quick: bool, scratch: Path) -> dict[str, Any]:
    """Each variant in turn on a fresh server process, up to the machine's file-descriptor ceiling."""
    runs = []
    ceiling = fd_ceiling()
    with harness.database("postgres", scratch, NAME) as url:
        tokens = [u.token for u in harness.Seeder(url).users(100)]
        for label, topology, env, total in VARIANTS:
            total = min(total, 2_000 if quick else ceiling)
            step = max(total // 10, 500)
            # Long enough to include an engine.io ping to every socket (every 25 s).
            hold = 5.0 if quick else 30.0
            runs.append(_measure(label, topology, env, total, step, hold, url, scratch, tokens))
    return {"machine": harness.machine(), "runs": runs, "file_limit": ceiling + 500}


def report(result: dict[str, Any]) -> str:
    """The Markdown section."""
    runs = {r["server"]: r for r in result["runs"]}
    rows = [
        [
            r["server"],
            r["target"],
            r["held"],
            r["failures"],
            r["lost"],
            round(r["rss_per_connection"] / 1024, 1) if r["rss_per_connection"] else None,
            round(r["held_rss"] / 2**20),
            f"{100 * r['idle_cpu']:.1f}%",
            r["connects_per_second"],
        ]
        for r in result["runs"]
    ]
    a, n = runs.get("armada-1"), runs.get("node-1")
    per = a and a["rss_per_connection"]
    mem_ratio = ratio(per, n and n["rss_per_connection"])
    held = a["held"] if a else 0
    return "\n\n".join(
        [
            "### Idle connections",
            "Method: websocket-only `socket.io-client` connections (authenticated, no room joined) opened 200 at a "
            "time in steps, from the source addresses 127.0.0.1-8, against one server process (Armada: one gevent "
            "worker with `WORKER_CONNECTIONS` raised; the open-file limit raised as far as allowed); "
            "memory is the worker's "
            "RSS above its idle baseline, divided by the connections held; idle CPU is the worker's over "
            f"{result['runs'][0]['hold_seconds']:.0f} s of holding them all (engine.io pings included). This "
            f"machine's hard open-file limit is {fmt(result.get('file_limit'))} per process and cannot be raised "
            "(the sandbox drops CAP_SYS_RESOURCE), and the load generator holds its own end of every connection "
            "in one process too, so every run stops 500 short of it: that, not the servers, is the ceiling here.",
            table(
                [
                    "server",
                    "target",
                    "held",
                    "failed",
                    "dropped",
                    "KB / connection",
                    "RSS MiB",
                    "idle CPU",
                    "connects/s",
                ],
                rows,
            ),
            f"Armada / Node memory per connection: {fmt(mem_ratio, 2)}×.",
            goal_line(
                f"≥ {fmt(HELD_GOAL)} idle websocket connections on one worker at ≤ {KB_GOAL} KB each",
                f"{fmt(held)} held at {fmt(per and per / 1024, 1)} KB each",
                held >= HELD_GOAL and per is not None and per <= KB_GOAL * 1024,
                (f"{fmt(HELD_GOAL - held)} connections and " if held < HELD_GOAL else "")
                + f"{fmt(per and per / 1024 - KB_GOAL, 1)} KB per connection",
            ),
        ]
    )


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """RSS against connections held."""
    series = {
        r["server"]: ([s["connections"] for s in r["samples"]], [s["rss"] / 2**20 for s in r["samples"]])
        for r in result["runs"]
    }
    return [
        plot_lines(out / f"{NAME}.png", series, "memory vs idle connections (one process)", "connections", "RSS (MiB)")
    ]


if __name__ == "__main__":
    from bench.run import standalone

    standalone(sys.modules[__name__])
