"""`make soak`: 1,000 Socket.IO clients across two Armada processes (Redis + PostgreSQL) for ten minutes,
sending over their sockets and reading: zero errors, every message delivered exactly once to every online
member, and each worker's RSS flat within 10%."""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.tables import fmt, goal_line, plot_lines, table

NAME = "soak"
CLIENTS = 1000
ROOM_SIZE = 10
RATE = 50.0  # messages/s in all: each client sends one every 20 s; 500 deliveries/s
SAMPLE_SECONDS = 10
RSS_TOLERANCE = 0.10
# Memory is compared from this point on: connecting 1,000 clients and the first minute's caches come first.
SETTLE_SECONDS = 60


def run(quick: bool, scratch: Path, minutes: float = 10.0) -> dict[str, Any]:
    """Run the soak; memory is sampled from both workers while the generator sends and listens."""
    clients = 200 if quick else CLIENTS
    duration = 60 if quick else minutes * 60
    with harness.database("postgres", scratch, NAME) as url:
        seeder = harness.Seeder(url)
        users = seeder.users(clients)
        rooms = harness.rooms_of(seeder, users, ROOM_SIZE, clients // ROOM_SIZE)
        # Two processes on both cores, as deployed behind a sticky proxy (not a speed test).
        # As deployed: rate limits on (a client sends one message every 20 s, well inside them).
        with harness.topology("armada-2", url, scratch, cpus=None, RATE_LIMIT_ENABLED="true") as servers:
            config = harness.deliver_config(
                servers,
                rooms,
                RATE if not quick else RATE / 5,
                duration,
                warmup=0,
                send_via="socket",
                progress_every=SAMPLE_SECONDS,
                drain=30,
                connect_concurrency=50,
            )
            samples: list[dict[str, Any]] = []
            stop = threading.Event()

            def sample() -> None:
                started = time.monotonic()
                while not stop.wait(SAMPLE_SECONDS):
                    samples.append(
                        {
                            "t": round(time.monotonic() - started),
                            "rss": [harness.rss_bytes(s.worker_pid) for s in servers],
                        }
                    )

            gen = harness.LoadGen(config)
            sampler: threading.Thread | None = None
            result: dict[str, Any] = {}
            progress = []
            try:
                for line in gen.lines():
                    if "sending" in line and sampler is None:
                        sampler = threading.Thread(target=sample, daemon=True)
                        sampler.start()
                    elif "progress" in line:
                        progress.append(line)
                        print(f"{NAME}: {line}", flush=True)
                    elif "result" in line:
                        result = line["result"]
                    elif "error" in line:
                        raise RuntimeError(f"loadgen: {line['error']}")
            finally:
                stop.set()
                gen.close()
            logs = [s.server.output() for s in servers]
    return {
        "machine": harness.machine(),
        "clients": clients,
        "duration": duration,
        "rate": config["rate"],
        "load": result,
        "samples": samples,
        "progress": progress,
        "server_errors": [line for log in logs for line in log.splitlines() if "Traceback" in line or " 500 " in line],
    }


def rss_drift(result: dict[str, Any]) -> list[float | None]:
    """Per worker: (last RSS - RSS once settled) / RSS once settled."""
    settled = [s for s in result["samples"] if s["t"] >= min(SETTLE_SECONDS, result["duration"] / 2)]
    if len(settled) < 2:
        return []
    first, last = settled[0]["rss"], settled[-1]["rss"]
    return [round((b - a) / a, 3) if a else None for a, b in zip(first, last, strict=True)]


def report(result: dict[str, Any]) -> str:
    """The Markdown section."""
    load = result["load"]
    drift = rss_drift(result)
    errors = {k: v for k, v in load["statuses"].items() if k != "ack:ok"}
    rows = [
        [
            f"process {i + 1}",
            round(result["samples"][0]["rss"][i] / 2**20) if result["samples"] else None,
            round(max(s["rss"][i] for s in result["samples"]) / 2**20) if result["samples"] else None,
            round(result["samples"][-1]["rss"][i] / 2**20) if result["samples"] else None,
            f"{100 * d:+.1f}%" if d is not None else None,
        ]
        for i, d in enumerate(drift)
    ]
    flat = bool(drift) and all(d is not None and abs(d) <= RSS_TOLERANCE for d in drift)
    exact = load["deliveries_missing"] == 0 and load["duplicates"] == 0 and load["strays"] == 0
    clean = not errors and load["disconnects"] == 0 and not result["server_errors"]
    return "\n\n".join(
        [
            "### Soak",
            f"Method: {fmt(result['clients'])} `socket.io-client` sockets (one per user; rooms of {ROOM_SIZE}) spread "
            f"over two Armada processes sharing Redis and PostgreSQL, for {result['duration'] / 60:.0f} minutes; "
            f"three members of each room take turns sending "
            f"`send_message` over their sockets ({result['rate']:g} messages/s in all, with "
            "`client_id`s) and every socket checks it gets each message of its room exactly once. Worker RSS is "
            f"sampled every {SAMPLE_SECONDS} s; drift compares the first sample after {SETTLE_SECONDS} s "
            "with the last.",
            table(
                [
                    "",
                    "messages",
                    "acks ok",
                    "errors",
                    "deliveries expected",
                    "received",
                    "missing",
                    "duplicates",
                    "disconnects",
                    "send→deliver p50 / p99 ms",
                ],
                [
                    [
                        "",
                        load["messages"],
                        load["statuses"].get("ack:ok", 0),
                        errors or 0,
                        load["deliveries_expected"],
                        load["deliveries_received"],
                        load["deliveries_missing"],
                        load["duplicates"],
                        load["disconnects"],
                        f"{fmt(load['delivery'].get('p50'))} / {fmt(load['delivery'].get('p99'))}",
                    ]
                ],
            ),
            table(["worker", "RSS at start MiB", "max MiB", "end MiB", "drift"], rows),
            goal_line(
                "1,000 clients, 10 minutes, two processes: zero errors, every message exactly once, RSS flat "
                "within 10%",
                f"{len(errors)} error kinds, {load['deliveries_missing']} missing, "
                f"{load['duplicates']} duplicates, RSS drift "
                f"{', '.join(f'{100 * d:+.1f}%' for d in drift if d is not None)}",
                flat and exact and clean,
            ),
        ]
    )


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """Each worker's RSS over the soak."""
    series = {
        f"process {i + 1}": ([s["t"] for s in result["samples"]], [s["rss"][i] / 2**20 for s in result["samples"]])
        for i in range(len(result["samples"][0]["rss"]) if result["samples"] else 0)
    }
    return [plot_lines(out / f"{NAME}.png", series, "soak: worker memory", "seconds", "RSS (MiB)")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 clients for one minute")
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    harness.raise_file_limit()
    with tempfile.TemporaryDirectory() as scratch:
        result = run(args.quick, Path(scratch), args.minutes)
    harness.save(NAME, result)
    plot(result, harness.RESULTS)
    print(report(result))


if __name__ == "__main__":
    main()
