"""Markdown tables, goal lines and matplotlib plots shared by the scenarios' reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt


def fmt(value: Any, digits: int = 1) -> str:
    """A number for a table cell; '—' when missing."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pct(share: float | None) -> str:
    """0.42 -> '42%'."""
    return "—" if share is None else f"{100 * share:.0f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def goal_line(goal: str, measured: str, met: bool, shortfall: str = "") -> str:
    """'- Goal: ... Measured: ... met / missed by <shortfall>'."""
    verdict = "**met**" if met else f"**missed**{' by ' + shortfall if shortfall else ''}"
    return f"- Goal: {goal}. Measured: {measured}. {verdict}."


def times(measured: float | None, target: float) -> str:
    """How far a measurement is from its target, as a factor: '12.3× the target'."""
    return "no result" if not measured else f"{measured / target:,.1f}× the target"


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    return round(a / b, 2) if a is not None and b else None


def plot_lines(
    out: Path,
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    xlabel: str,
    ylabel: str,
    logy: bool = False,
    hline: float | None = None,
) -> Path:
    """One PNG with a line per series (label -> (xs, ys))."""
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    if hline is not None:
        ax.axhline(hline, color="grey", linestyle="--", linewidth=1, label="goal")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
