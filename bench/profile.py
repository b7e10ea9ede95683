"""Profile the Armada worker with py-spy while a deliver workload runs: where the CPU goes on the send path
(`sends`: REST posts, nobody listening) or in a broadcast (`fanout`: one room, every member on a socket).

    python -m bench.profile fanout --room 1000 --rate 20
    python -m bench.profile sends --rate 200

Writes bench/results/profile-<workload>.json (the functions with the most samples, inclusive and self) and
prints the top of both lists. py-spy starts with the sender, so connecting the listeners is not in the profile
unless they take long.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench import harness


def _frame(frame: str) -> str:
    # py-spy's raw frames read "function (path/file.py:line)"; keep the function and the file's name.
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


def top_functions(raw: Path, count: int = 80) -> dict[str, Any]:
    """The functions with the most samples in a py-spy raw (collapsed stacks) file, inclusive and self."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():  # a line py-spy could not attribute (no count at its end)
            continue
        samples = int(n)
        total += samples
        frames = [_frame(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += samples
        own[frames[-1]] += samples
    share = lambda c: [[name, round(100 * n / total, 1)] for name, n in c.most_common(count)]  # noqa: E731
    return {"samples": total, "inclusive": share(inclusive), "self": share(own)}


def profile(
    workload: str, room: int, rate: float, seconds: int, env: dict[str, str], label: str = ""
) -> dict[str, Any]:
    """Run the workload against one Armada process with py-spy recording its worker."""
    spy = shutil.which("py-spy") or str(harness.ROOT / ".venv" / "bin" / "py-spy")
    out = harness.RESULTS / f"profile-{workload}{'-' + label if label else ''}"
    harness.RESULTS.mkdir(exist_ok=True)
    harness.raise_file_limit()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        with harness.database("postgres", scratch, f"profile_{workload}") as url:
            seeder = harness.Seeder(url)
            if workload == "fanout":
                rooms = harness.rooms_of(seeder, seeder.users(room), room, 1)
            else:
                rooms = harness.rooms_of(seeder, seeder.users(100), 2, 50)
            with harness.topology("armada-1", url, scratch, **env) as servers:
                config = harness.deliver_config(
                    servers, rooms, rate, seconds, receivers=workload == "fanout", warmup=0, connect_concurrency=50
                )
                gen = harness.LoadGen(config)
                lines = gen.lines()
                next(line for line in lines if "sending" in line)  # listeners connected and joined
                recorder = subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(servers[0].worker_pid),
                        "--duration",
                        str(seconds),
                        "--rate",
                        "250",
                        "--nonblocking",
                        "--format",
                        "raw",
                        "--output",
                        str(out) + ".raw",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                result = next(line["result"] for line in lines if "result" in line)
                gen.close()
                recorder.wait(timeout=seconds + 30)
    raw = Path(str(out) + ".raw")
    summary = {
        "workload": workload,
        "room": room,
        "rate": rate,
        "seconds": seconds,
        "env": env,
        "load": result,
        **top_functions(raw),
    }
    raw.unlink()
    Path(str(out) + ".json").write_text(json.dumps(summary, indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=("fanout", "sends"))
    parser.add_argument("--room", type=int, default=1000, help="fanout: members listening")
    parser.add_argument("--rate", type=float, default=20, help="messages per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--env", action="append", default=[], help="server environment, NAME=value")
    parser.add_argument("--label", default="", help="suffix of the output file, e.g. deflate")
    args = parser.parse_args()
    env = dict(e.split("=", 1) for e in args.env)
    summary = profile(args.workload, args.room, args.rate, args.seconds, env, args.label)
    print(f"{summary['samples']} samples; load: {json.dumps(summary['load']['delivery'])}")
    for kind in ("inclusive", "self"):
        print(f"--- {kind}")
        for name, pct in summary[kind][:25]:
            print(f"{pct:5.1f}%  {name}")


if __name__ == "__main__":
    main()
