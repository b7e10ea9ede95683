"""Connect storm: N websocket clients connect (JWT in the CONNECT auth payload) and emit join_room, 50 at a time,
against one Armada worker; the wall time and the worker's CPU per connect + join.

    python -m bench.connect --sockets 300 [--room-size 300] [--profile] [--env NAME=value]

CPU is the worker's process CPU time (/proc) from the generator's start to its last join acknowledgement, so
other load on the machine does not count. A room of N members makes every join a `user_joined` broadcast to
the sockets already in the room (N²/2 deliveries in all); small rooms (--room-size 10) leave only the per-socket
work. With --profile, py-spy records the worker during the storm (bench/results/profile-connect.json).
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench import harness
from bench.profile import top_functions
from bench.tables import fmt, goal_line, table


def _package(frame: str) -> str:
    where = frame.partition(" (")[2].split(":")[0]
    if "site-packages/" in where:
        return where.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if "/armada/" in where:
        return "armada/" + where.split("/armada/")[1].split("/")[0].removesuffix(".py")
    return "stdlib" if where else "native"


def self_by_package(raw: Path) -> list[list[Any]]:
    """Self samples per package (armada per subpackage), in % of all: which library the CPU is spent in."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        counts[_package(stack.split(";")[-1])] += int(n)
    total = sum(counts.values()) or 1
    return [[name, round(100 * n / total, 1)] for name, n in counts.most_common(25)]


def storm(
    sockets: int, room_size: int, env: dict[str, str], profile: bool = False, server: str = "armada-1"
) -> dict[str, Any]:
    """Connect and join `sockets` clients spread over rooms of `room_size`; the wall time and worker CPU."""
    harness.raise_file_limit()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        with harness.database("postgres", scratch, "connect") as url:
            seeder = harness.Seeder(url)
            users = seeder.users(sockets)
            rooms = harness.rooms_of(seeder, users, room_size, max(1, sockets // room_size))
            with harness.topology(server, url, scratch, **env) as servers:
                worker = servers[0].worker_pid
                config = harness.deliver_config(servers, rooms, 1, 1, warmup=0, connect_concurrency=50)
                recorder = None
                raw = harness.RESULTS / "profile-connect.raw"
                if profile:
                    harness.RESULTS.mkdir(exist_ok=True)
                    spy = shutil.which("py-spy") or str(harness.ROOT / ".venv" / "bin" / "py-spy")
                    command = [spy, "record", "--pid", str(worker), "--rate", "250", "--nonblocking"]
                    command += ["--full-filenames"]
                    recorder = subprocess.Popen(
                        [*command, "--format", "raw", "--output", str(raw)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                before = harness.cpu_seconds(worker)
                gen = harness.LoadGen(config)
                try:
                    joined = next(line for line in gen.lines() if "joined" in line or "error" in line)
                    cpu = harness.cpu_seconds(worker) - before
                finally:
                    if recorder is not None:
                        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                        recorder.wait(timeout=60)
                    gen.close()
    if "error" in joined:
        raise RuntimeError(f"loadgen: {joined['error']}")
    result: dict[str, Any] = {
        "server": server,
        "sockets": joined["joined"],
        "room_size": room_size,
        "connect_ms": joined["connect_ms"],
        "worker_cpu_s": round(cpu, 3),
        "cpu_ms_per_socket": round(1000 * cpu / joined["joined"], 2),
    }
    if profile:
        result["profile"] = {**top_functions(raw), "self_by_package": self_by_package(raw)}
        raw.unlink()
        (harness.RESULTS / "profile-connect.json").write_text(json.dumps(result, indent=1))
    return result


NAME = "connect"
SOCKETS = 1000
GOAL_SECONDS = 1.5
# (server, members per room): rooms of 10 leave the per-socket work; one room of all makes every join a
# `user_joined` broadcast to the sockets already in it (N²/2 deliveries), on both servers alike.
CASES = (("armada-1", 10), ("node-1", 10), ("armada-1", SOCKETS), ("node-1", SOCKETS))


def run(quick: bool, scratch: Path) -> dict[str, Any]:
    """`make bench connect`: each case twice (the second run's numbers are kept, the first warms the machine)."""
    sockets = 200 if quick else SOCKETS
    storms = []
    for server, room in CASES:
        for _attempt in range(2):
            result = storm(sockets, min(room, sockets), {}, server=server)
            print(f"{NAME}: {server} rooms of {room}: {json.dumps(result)}", flush=True)
        storms.append(result)
    return {"machine": harness.machine(), "sockets": sockets, "storms": storms}


def report(result: dict[str, Any]) -> str:
    """The Markdown section."""
    rows = [
        [s["server"], s["room_size"], s["sockets"], s["connect_ms"], s["cpu_ms_per_socket"]] for s in result["storms"]
    ]
    by = {(s["server"], s["room_size"]): s for s in result["storms"]}
    small = min(10, result["sockets"])
    armada, node = by.get(("armada-1", small)), by.get(("node-1", small))
    seconds = armada["connect_ms"] / 1000 if armada else None
    return "\n\n".join(
        [
            "### Connect storms",
            f"Method: {fmt(result['sockets'])} websocket clients (the official socket.io-client, the JWT in the "
            "CONNECT auth payload) connect and emit `join_room`, 50 at a time, against one worker; *ms* is the wall "
            "time to the last join's acknowledgement, *CPU* the worker's own CPU time over the storm (/proc) per "
            "socket. Rooms of 10 leave the per-socket work; one room of all makes each join a `user_joined` to the "
            "sockets already there (N²/2 deliveries; the Node peer announces joins the same way). Each case ran "
            "twice; the second is shown. `python -m bench.connect --profile` profiles one.",
            table(["server", "room", "sockets", "ms", "CPU ms / socket"], rows),
            goal_line(
                f"{fmt(result['sockets'])} sockets connect + join in ≤ {GOAL_SECONDS} s (rooms of 10)",
                f"{fmt(seconds, 2)} s, {fmt(armada and armada['cpu_ms_per_socket'], 2)} ms of worker CPU per socket "
                f"(Node {fmt(node and node['connect_ms'] / 1000, 2)} s, "
                f"{fmt(node and node['cpu_ms_per_socket'], 2)} ms)",
                seconds is not None and seconds <= GOAL_SECONDS,
                f"{fmt(seconds and seconds - GOAL_SECONDS, 2)} s",
            ),
        ]
    )


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """No picture: the table says it all."""
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=300)
    parser.add_argument("--room-size", type=int, default=0, help="members per room (default: one room of all)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--server", default="armada-1", help="armada-1, or node-1 (the Node peer, for comparison)")
    parser.add_argument("--env", action="append", default=[], help="server environment, NAME=value")
    args = parser.parse_args()
    env = dict(e.split("=", 1) for e in args.env)
    result = storm(args.sockets, args.room_size or args.sockets, env, args.profile, args.server)
    summary = {k: v for k, v in result.items() if k != "profile"}
    print(json.dumps(summary))
    if "profile" in result:
        for kind in ("inclusive", "self", "self_by_package"):
            print(f"--- {kind}")
            for name, pct in result["profile"][kind][:30]:
                print(f"{pct:5.1f}%  {name}")


if __name__ == "__main__":
    main()
