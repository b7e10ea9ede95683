"""The search benchmark's Markdown section and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.history import load_note
from bench.search import GOAL_P99_MS, GOAL_SEND_GROWTH, KINDS, LIMIT, NAME
from bench.tables import fmt, goal_line, table

LABELS = {"postgres": "PostgreSQL", "sqlite": "SQLite"}


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _frequency(q: dict[str, Any], messages: int) -> str:
    share = (
        f"{q['messages']:,} messages ({100 * q['messages'] / messages:.2g}%), {q['visible']:,} in the searcher's rooms"
    )
    if "exact" in q:
        share += f" (as a prefix; the word itself in {q['exact']:,})"
    if "word_messages" in q:
        share += f"; its words alone in {q['word_messages'][0]:,} and {q['word_messages'][1]:,}"
    if "vocabulary_words" in q:
        share += f"; {q['vocabulary_words']} words of the vocabulary start with it"
    return share


def database_section(kind: str, d: dict[str, Any]) -> list[str]:
    """One database: its data, the query table, the index and the send cost."""
    n, stats, queries = d["messages"], d["stats"], d["queries"]
    load = d["load"]
    how = (
        "COPY (psycopg 3; the generated column and GIN index filled as rows arrive)"
        if kind == "postgres"
        else "SQLAlchemy Core executemany, 20,000 a batch (the FTS5 triggers index each row)"
    )
    lines = [
        f"#### {LABELS[kind]}: {n:,} messages in {d['rooms']:,} rooms, the searcher in {d['member_of']}",
        "",
        f"Loaded by {how} in {load['copy_seconds']:.0f} s, {load['load_seconds']:.0f} s with the rooms' counters and "
        + ("`VACUUM (ANALYZE)`" if kind == "postgres" else "`ANALYZE`")
        + f"; users and rooms through the services in {load['users_rooms_seconds']:.0f} s. Vocabulary "
        f"{d['vocabulary']:,} words.",
        "",
        "| query | q | holds it | n | p50 ms | p99 ms | p99.9 ms | results (of 20) | statements |",
        "|---|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for k, label in KINDS.items():
        s, q = stats[k], queries[k]
        results = "/".join(str(r) for r in d["results_per_page"][k])
        lines.append(
            f"| {label} | `{q['q']}` | {_frequency(q, n)} | {s['n']:,} | {s['p50']:.2f} | {s['p99']:.2f} | "
            f"{s['p99_9']:.2f} | {results} | {d['statements'][k]} |"
        )
    idx = d["index"]
    if kind == "postgres":
        size = (
            f"GIN index `ix_chat_messages_search_vector` {mib(idx['index'])}; the `search_vector` column holds "
            f"{mib(idx['column'])} (sum of `pg_column_size`) in a heap of {mib(idx['heap'])} (message text "
            f"{mib(idx['content'])}); together {(idx['index'] + idx['column']) / idx['content']:.2f}× the text."
        )
    else:
        shadow = ", ".join(f"`{k}` {mib(v)}" for k, v in sorted(idx["shadow_tables"].items()))
        size = (
            f"FTS5 shadow tables (dbstat) {mib(idx['index'])}: {shadow}; `chat_messages` {mib(idx['heap'])} "
            f"(message text {mib(idx['content'])}), file {mib(idx['file'])}; the index is "
            f"{idx['index'] / idx['content']:.2f}× the text."
        )
    w, wo = d["sends"]["with"], d["sends"]["without"]
    lines += [
        "",
        f"Index: {size}",
        "",
        table(
            ["send", "n", "p50 ms", "p99 ms", "statements"],
            [
                ["with search", w["n"], f"{w['p50']:.2f}", f"{w['p99']:.2f}", d["send_statements"]["with"]],
                ["without search", wo["n"], f"{wo['p50']:.2f}", f"{wo['p99']:.2f}", d["send_statements"]["without"]],
            ],
        ),
        "",
        f"Send p50 with search / without: {w['p50'] / wo['p50']:.3f}. *Without* is a copy of the same database "
        f"after `{'; '.join(d['without_search'])}`, served by a second gunicorn at the same time; the sends "
        "alternate between the two servers, one at a time.",
    ]
    return lines


def plan_section(kind: str, d: dict[str, Any], only_slow: bool) -> list[str]:
    """The service's search statement's plan per query kind (on PostgreSQL, those over the goal)."""
    out = []
    for k, label in KINDS.items():
        if only_slow and d["stats"][k]["p99"] <= GOAL_P99_MS:
            continue
        plan = d["plans"][k]
        out += [
            f"{LABELS[kind]}, {label} (`{d['queries'][k]['q']}`), the service's statement:",
            "",
            "```sql",
            plan["statement"].strip(),
            "```",
            "",
            "```",
            *plan["plan"],
            "```",
            "",
        ]
    return out


def report(result: dict[str, Any]) -> str:
    """The Markdown section of this scenario."""
    dbs, plan = result["databases"], result["plan"]
    lines = [
        "### Message search",
        "",
        "Method: group rooms of 8 and their members made through Armada's services; messages bulk-loaded with "
        "seq/change_seq per room, the rooms' counters set as `send_message` leaves them, created_at spread over "
        "the last year in order. Text: 1-60 words (lognormal, mean about 11) drawn by a Zipf-Mandelbrot law "
        "(s 1.25, q 2.7) over the words of Python's documentation (`pydoc_data`) and its standard library's "
        "comments, ranked by their frequency there, "
        "with accented words (café, naïve, résumé, jalapeño, façade, zürich, crème, brûlée) and emoji at fixed "
        "ranks; room activity skewed (1/(rank+5)). Queries picked from the generated counts: *common* = the most "
        "frequent word of four letters or more that is no English stop word; *rare* = the word in closest to 50 "
        "messages that no other word of the vocabulary starts with; *phrase* = the most frequent adjacent pair "
        "of such words, quoted; *prefix* = the 3-letter "
        "prefix shared by most words of the vocabulary. An unquoted last word also matches as a prefix, so the "
        "common and rare words are prefix searches too. "
        f"`GET /api/chat/search?q=...&limit={LIMIT}` over HTTP: gunicorn (gevent, 1 worker) on core 0, sequential "
        f"requests over one keep-alive `requests.Session` on core 1, the kinds shuffled together after "
        f"{plan['warmup']} warm-up requests: {plan['requests']} per kind, or as many as {plan['budget']} s allow "
        "(*n* in the tables). *Statements*: "
        "in-process, the app's test client." + load_note(result),
        "",
    ]
    for kind, d in dbs.items():
        lines += [*database_section(kind, d), ""]
    pg = dbs["postgres"]
    worst = max(KINDS, key=lambda k: pg["stats"][k]["p99"])
    p99 = pg["stats"][worst]["p99"]
    slow = plan_section("postgres", pg, only_slow=True)
    if slow:
        lines += ["Plans of the PostgreSQL queries over the goal (EXPLAIN (ANALYZE, BUFFERS)):", "", *slow]
    growth = pg["sends"]["with"]["p50"] / pg["sends"]["without"]["p50"] - 1
    short = "" if pg["messages"] >= 1_000_000 else f" (quick run: {pg['messages']:,} messages, not the goal's size)"
    lines += [
        goal_line(
            f"search p99 ≤ {GOAL_P99_MS:g} ms for every query kind on PostgreSQL at 1M messages",
            "p99 " + ", ".join(f"{KINDS[k]} {pg['stats'][k]['p99']:.1f} ms" for k in KINDS) + short,
            p99 <= GOAL_P99_MS,
            f"{p99 - GOAL_P99_MS:.1f} ms ({KINDS[worst]})",
        ),
        goal_line(
            f"a send's p50 grows ≤ {100 * GOAL_SEND_GROWTH:g}% with search (PostgreSQL)",
            f"{fmt(pg['sends']['without']['p50'], 2)} → {fmt(pg['sends']['with']['p50'], 2)} ms ({100 * growth:+.1f}%)",
            growth <= GOAL_SEND_GROWTH,
            f"{100 * (growth - GOAL_SEND_GROWTH):.1f} points",
        ),
    ]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """p50/p99 per query kind, a bar pair per database; and a send's p50/p99 with and without search."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    dbs = result["databases"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bars = [(kind, key) for kind in dbs for key in ("p50", "p99")]
    width = 0.8 / len(bars)
    for i, (kind, key) in enumerate(bars):
        xs = [j + (i - (len(bars) - 1) / 2) * width for j in range(len(KINDS))]
        label = f"{LABELS[kind]} {dbs[kind]['messages']:,} msgs, {key}"
        ax.bar(xs, [dbs[kind]["stats"][k][key] for k in KINDS], width, label=label, alpha=1 if key == "p99" else 0.6)
    ax.axhline(GOAL_P99_MS, color="gray", linestyle="--", linewidth=1, label=f"goal p99 {GOAL_P99_MS:g} ms")
    # The query words are picked per database; PostgreSQL's first.
    words = [" / ".join(dict.fromkeys(d["queries"][k]["q"] for d in dbs.values())) for k in KINDS]
    ax.set_xticks(range(len(KINDS)), [f"{v}\n{w}" for v, w in zip(KINDS.values(), words, strict=True)], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title(f"GET /api/chat/search (limit {LIMIT}) latency per query kind")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    queries_png = out / f"{NAME}.png"
    fig.tight_layout()
    fig.savefig(queries_png, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    groups = [(kind, key) for kind in dbs for key in ("p50", "p99")]
    for i, variant in enumerate(("without", "with")):
        xs = [j + (i - 0.5) * 0.38 for j in range(len(groups))]
        ax.bar(xs, [dbs[kind]["sends"][variant][key] for kind, key in groups], 0.38, label=f"{variant} search")
    ax.set_xticks(range(len(groups)), [f"{LABELS[k]}\n{key}" for k, key in groups])
    ax.set_ylabel("ms")
    ax.set_title("POST /api/chat/messages with and without the search index")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    sends_png = out / f"{NAME}_sends.png"
    fig.tight_layout()
    fig.savefig(sends_png, dpi=110)
    plt.close(fig)
    return [queries_png, sends_png]
