"""`make bench`: run the scenarios (all, or those named), save bench/results/<name>.json and the plots, and
write BENCHMARKS.md from every result on disk."""

from __future__ import annotations

import argparse
import importlib
import json
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import harness

SCENARIOS = (
    "latency",
    "fanout",
    "connect",
    "idle",
    "history",
    "roomlist",
    "reactions",
    "sends",
    "delivery",
    "search",
)
# Run only when named (`make soak`): ten minutes of steady traffic rather than a measurement of speed.
ON_REQUEST = ("soak",)
DOCUMENT = harness.ROOT / "BENCHMARKS.md"
NOTES = harness.BENCH / "NOTES.md"


def scenario(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")


def run(names: list[str], quick: bool) -> None:
    """Run each scenario on fresh servers and databases; results replace the previous ones."""
    harness.raise_file_limit()
    for name in names:
        module = scenario(name)
        started = time.monotonic()
        print(f"bench: {name}{' (quick)' if quick else ''}", flush=True)
        with tempfile.TemporaryDirectory() as scratch:
            result = module.run(quick, Path(scratch))
        result["seconds"] = round(time.monotonic() - started)
        result["quick"] = quick
        harness.save(name, result)
        module.plot(result, harness.RESULTS)


def standalone(module: ModuleType) -> None:
    """`python -m bench.<scenario> [--quick]`: run one scenario, save its result and plots, print its report."""
    parser = argparse.ArgumentParser(description=(module.__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, to check the harness")
    args = parser.parse_args()
    run([module.NAME], args.quick)
    print(module.report(json.loads((harness.RESULTS / f"{module.NAME}.json").read_text())))


def _machine_section(machines: list[dict[str, Any]]) -> str:
    m = machines[0]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    node = ", ".join(f"{k} {v}" for k, v in m["node_packages"].items())
    return "\n".join(
        [
            f"- CPU: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Linux {m['kernel']}",
            f"- Python {m['python']}: {packages}",
            f"- Node {m['node']}: {node}",
            f"- {m['postgresql']}; {m['redis']}",
        ]
    )


def write_document() -> Path:
    """BENCHMARKS.md from the results on disk and the hand-written notes (method, profile, fixes)."""
    results = {}
    for name in (*SCENARIOS, *ON_REQUEST):
        path = harness.RESULTS / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    sections = [
        "# Benchmarks",
        "Made by `make bench` (`bench/run.py`); every number below comes from `bench/results/*.json` of the "
        "last run, which this page is rebuilt from. Goals are reported, never asserted in tests.",
        "## Machine",
        _machine_section([r["machine"] for r in results.values() if "machine" in r] or [harness.machine()]),
    ]
    reports = {name: scenario(name).report(result) for name, result in results.items()}
    # Every scenario's report has one goal line ("- Goal: ..." or "**Goal** ..."): gathered here first.
    goals = [line.removeprefix("- ") for text in reports.values() for line in text.splitlines() if "Goal" in line[:10]]
    sections += ["## Goals at a glance", "\n".join(f"- {g}" for g in goals)]
    if NOTES.exists():
        sections.append(NOTES.read_text().strip())
    sections.append("## Results")
    for name, result in results.items():
        when = f"_Measured {result['measured_at']}, {result.get('seconds', '?')} s"
        when += ", quick mode (short runs: indicative only)._" if result.get("quick") else "._"
        pictures = [p.name for p in scenario(name).plot(result, harness.RESULTS)]
        sections.append(reports[name] + "\n\n" + when)
        sections += [f"![{p}](bench/results/{p})" for p in pictures]
    DOCUMENT.write_text("\n\n".join(sections) + "\n")
    return DOCUMENT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"any of {', '.join((*SCENARIOS, *ON_REQUEST))}; default: all but soak",
    )
    parser.add_argument("--quick", action="store_true", help="short runs, to check the harness")
    parser.add_argument("--report-only", action="store_true", help="rebuild BENCHMARKS.md from saved results")
    args = parser.parse_args()
    if unknown := set(args.scenarios) - {*SCENARIOS, *ON_REQUEST}:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if not args.report_only:
        run(args.scenarios or list(SCENARIOS), args.quick)
    print(f"bench: wrote {write_document()}")


if __name__ == "__main__":
    main()
