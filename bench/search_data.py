"""The search benchmark's data: chat-like text from a Zipf vocabulary, rooms and memberships, bulk loading.

The vocabulary is the words of Python's own documentation (`pydoc_data.topics`, shipped with every Python),
ranked by how often they occur there, plus accented words and emoji at fixed ranks; messages draw words by a
Zipf-Mandelbrot law over that rank, so a few words are in a large share of messages and most are rare.
"""

from __future__ import annotations

import json
import re
import sysconfig
import time
import uuid
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from bench import harness

SPAN = timedelta(days=365)  # messages spread over the year that ends now
ZIPF_S, ZIPF_Q = 1.25, 2.7  # p(rank r) ∝ 1 / (r + q)^s
MEAN_WORDS = 11
# Rank -> word: what a multilingual chat carries besides English, frequent enough to be found.
EXTRA = {
    40: "café",
    90: "🎉",
    150: "naïve",
    300: "résumé",
    500: "👍",
    700: "jalapeño",
    1000: "façade",
    1500: "zürich",
    2000: "🚀",
    2500: "crème",
    3000: "brûlée",
}
RARE_TARGET = 50  # the "rare" word: the one whose message count is closest to this


def vocabulary() -> list[str]:
    """Words ranked by frequency in Python's documentation and its standard library's comments, with EXTRA
    inserted at their ranks."""
    import pydoc_data.topics

    counts = Counter(w.lower() for w in re.findall(r"\b[A-Za-z]{2,14}\b", " ".join(pydoc_data.topics.topics.values())))
    # The comments add the long tail a few thousand words of documentation lack (words, not identifiers).
    for source in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        for line in source.read_text(errors="ignore").splitlines():
            if (line := line.strip()).startswith("# "):
                counts.update(w.lower() for w in re.findall(r"(?<![\w.])[A-Za-z]{3,14}(?![\w.(])", line[2:]))
    words = [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    for rank in sorted(EXTRA):
        words.insert(min(rank, len(words)), EXTRA[rank])
    return words


@dataclass
class Corpus:
    """Generated messages (in time order) and the word statistics the queries are chosen from."""

    words: list[str]
    texts: list[str]
    rooms: np.ndarray  # room index of each message
    doc_freq: np.ndarray  # messages containing each word
    tokens: np.ndarray  # every message's word ids, concatenated
    starts: np.ndarray  # where each message starts in tokens


def generate(messages: int, rooms: int, seed: int = 16) -> Corpus:
    """`messages` texts of 1-60 words (mean ~11) spread over `rooms` rooms, some rooms busier than others."""
    rng = np.random.default_rng(seed)
    words = vocabulary()
    ranks = np.arange(len(words))
    p = 1.0 / (ranks + 1 + ZIPF_Q) ** ZIPF_S
    lengths = np.clip(rng.lognormal(np.log(MEAN_WORDS) - 0.3, 0.75, messages).astype(np.int64), 1, 60)
    tokens = rng.choice(len(words), size=int(lengths.sum()), p=p / p.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)])
    vocab = np.array(words, dtype=object)
    enders = np.array([".", "", "", "?", "!", ""], dtype=object)[rng.integers(0, 6, messages)]
    texts = [
        " ".join(vocab[tokens[starts[i] : starts[i + 1]]]).capitalize() + enders[i]  # type: ignore[operator]
        for i in range(messages)
    ]
    # Room activity is skewed too (a few busy rooms, many quiet ones), but every room gets messages.
    weights = 1.0 / (np.arange(rooms) + 5.0)
    room_of = rng.permutation(
        np.concatenate([np.arange(rooms), rng.choice(rooms, messages - rooms, p=weights / weights.sum())])
    )
    message_of = np.repeat(np.arange(messages), lengths)
    pairs = np.unique(message_of * len(words) + tokens)
    doc_freq = np.bincount(pairs % len(words), minlength=len(words))
    return Corpus(words, texts, room_of, doc_freq, tokens, starts)


def choose_queries(corpus: Corpus, stopwords: set[str], member_rooms: set[int]) -> dict[str, dict[str, Any]]:
    """The four query kinds, picked from the generated distribution: the most common content word, the word
    nearest RARE_TARGET messages that no other word starts with, the most frequent adjacent pair of content
    words, a 3-letter prefix; with how many messages they match (an unquoted last word is also a prefix), in
    all and in the searcher's rooms."""
    words, df = corpus.words, corpus.doc_freq
    content = [i for i, w in enumerate(words) if w.isalpha() and w.isascii() and len(w) >= 4 and w not in stopwords]
    ordered = sorted(words)
    index = {w: i for i, w in enumerate(words)}

    def starting(prefix: str) -> list[int]:
        return [index[w] for w in ordered[bisect_left(ordered, prefix) : bisect_left(ordered, prefix + "\uffff")]]

    common = max(content, key=lambda i: df[i])
    alone = [i for i in content if len(starting(words[i])) == 1]
    rare = min(alone, key=lambda i: (abs(int(df[i]) - RARE_TARGET), i))
    message_of = np.repeat(np.arange(len(corpus.texts)), np.diff(corpus.starts))
    a, b = corpus.tokens[:-1], corpus.tokens[1:]
    same = message_of[:-1] == message_of[1:]  # a pair across two messages is no phrase
    allowed = np.zeros(len(words), dtype=bool)
    allowed[content] = True
    codes = np.where(same & allowed[a] & allowed[b] & (a != b), a * len(words) + b, -1)
    values, counts = np.unique(codes[codes >= 0], return_counts=True)
    best = int(values[counts.argmax()])
    first, second = divmod(best, len(words))
    prefixes = Counter(words[i][:3] for i in content if len(words[i]) > 4)
    prefix = max((p for p in prefixes if p not in words), key=lambda p: (prefixes[p], p))
    kinds = {
        "common": (words[common], containing(corpus, message_of, starting(words[common])), {"exact": int(df[common])}),
        "rare": (words[rare], containing(corpus, message_of, [rare]), {}),
        "phrase": (
            f'"{words[first]} {words[second]}"',
            np.unique(message_of[:-1][codes == best]),
            {"word_messages": [int(df[first]), int(df[second])]},
        ),
        "prefix": (
            prefix,
            containing(corpus, message_of, starting(prefix)),
            {"vocabulary_words": len(starting(prefix))},
        ),
    }
    in_rooms = list(member_rooms)
    return {
        kind: {"q": q, "messages": len(hits), "visible": int(np.isin(corpus.rooms[hits], in_rooms).sum()), **extra}
        for kind, (q, hits, extra) in kinds.items()
    }


def containing(corpus: Corpus, message_of: np.ndarray, word_ids: list[int]) -> np.ndarray:
    """Indexes of the messages that contain any of `word_ids`."""
    return np.unique(message_of[np.isin(corpus.tokens, word_ids)])


def english_stopwords(dsn: str, words: list[str]) -> set[str]:
    """The words PostgreSQL's english configuration drops (so a query of them would find nothing)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT w FROM unnest(%s::text[]) AS w WHERE to_tsvector('english', w) = ''", (words,))
        return {r[0] for r in rows}


# ---- users, rooms, messages -----------------------------------------------------------------------------------------


@dataclass
class World:
    """What was seeded: the searcher, a sender, room ids (index = the corpus's room index), who is where."""

    searcher: harness.SeedUser
    sender: harness.SeedUser
    rooms: list[str]
    member_rooms: set[int]
    members: list[list[str]]


def seed_world(seeder: harness.Seeder, rooms: int, member_of: int, room_size: int = 8) -> World:
    """Users and group rooms through Armada's services; the searcher in `member_of` rooms spread over all."""
    pool = seeder.users(max(room_size * 4, rooms // 4), prefix="search")
    searcher, others = pool[0], pool[1:]
    step = rooms // member_of
    mine = {i * step for i in range(member_of)}
    ids, members = [], []
    for r in range(rooms):
        people = [others[(r * 7 + k) % len(others)] for k in range(room_size - 1)]
        people = [searcher, *people[1:]] if r in mine else people
        ids.append(seeder.group(people[0], people[1:], name=f"search {r}"))
        members.append([p.id for p in people])
    sender = others[0]  # a member of rooms the searcher is not in, and of some it is in
    return World(searcher, sender, ids, mine, members)


def message_rows(corpus: Corpus, world: World) -> tuple[list[tuple[Any, ...]], dict[int, tuple[int, datetime]]]:
    """One row per message (time order, seq per room) and each room's (last seq, last time)."""
    n = len(corpus.texts)
    now = datetime.now(UTC)
    step = SPAN / n
    rng = np.random.default_rng(17)
    pick = rng.integers(0, 1 << 30, n)
    seqs = [0] * len(world.rooms)
    rows, last = [], {}
    room_uuids = [uuid.UUID(r) for r in world.rooms]
    member_uuids = [[uuid.UUID(m) for m in ms] for ms in world.members]
    for i in range(n):
        r = int(corpus.rooms[i])
        seqs[r] += 1
        at = now - SPAN + step * i
        people = member_uuids[r]
        rows.append((uuid.uuid4(), room_uuids[r], people[pick[i] % len(people)], seqs[r], corpus.texts[i], at))
        last[r] = (seqs[r], at)
    return rows, last


COLUMNS = "id, room_id, sender_id, seq, change_seq, content, created_at"
FIXED = {  # every other NOT NULL column, as send_message writes it for a plain text message
    "message_type": "text",
    "is_edited": False,
    "is_deleted": False,
    "thread_level": 0,
    "thread_reply_count": 0,
    "thread_participant_ids": [],
    "reaction_summary": [],
    "mention_ids": [],
    "mentions_room": False,
}


def load_postgres(dsn: str, corpus: Corpus, world: World) -> dict[str, float]:
    """COPY the messages in, set each room's counters as send_message would, VACUUM ANALYZE."""
    rows, last = message_rows(corpus, world)
    start = time.perf_counter()
    fixed = list(FIXED)
    cols = f"{COLUMNS}, {', '.join(fixed)}"
    extra = tuple(json.dumps(v) if isinstance(v, list) else v for v in FIXED.values())
    with psycopg.connect(dsn) as conn:
        with conn.cursor().copy(f"COPY chat_messages ({cols}) FROM STDIN") as copy:
            for i, s, u, seq, text, at in rows:
                copy.write_row((i, s, u, seq, seq, text, at, *extra))
        copied = time.perf_counter() - start
        update_rooms(conn, world, last)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) chat_messages")
    return {"copy_seconds": copied, "load_seconds": time.perf_counter() - start}


def update_rooms(conn: psycopg.Connection[Any], world: World, last: dict[int, tuple[int, datetime]]) -> None:
    """Room counters and activity time as the sends would have left them; rooms made before their messages."""
    params = [(seq, seq, at, world.rooms[r]) for r, (seq, at) in last.items()]
    sql = "UPDATE chat_rooms SET last_seq = %s, last_message_seq = %s, last_activity_at = %s WHERE id = %s"
    conn.cursor().executemany(sql, params)
    conn.execute("UPDATE chat_rooms SET created_at = %s", (datetime.now(UTC) - SPAN - timedelta(days=1),))


def load_sqlite(seeder: harness.Seeder, corpus: Corpus, world: World) -> dict[str, float]:
    """The messages through SQLAlchemy Core (the app's own column types), in batches; ANALYZE."""
    from sqlalchemy import insert, text, update

    from armada.extensions import db
    from armada.models import ChatMessage, ChatRoom

    rows, last = message_rows(corpus, world)
    start = time.perf_counter()
    with seeder.app.app_context():
        table = ChatMessage.__table__
        for b in range(0, len(rows), 20_000):
            batch = [
                {"id": i, "room_id": r, "sender_id": u, "seq": s, "change_seq": s, "content": t, "created_at": at}
                | FIXED
                for i, r, u, s, t, at in rows[b : b + 20_000]
            ]
            db.session.execute(insert(table), batch)
        for r, (seq, at) in last.items():
            db.session.execute(
                update(ChatRoom)
                .where(ChatRoom.id == uuid.UUID(world.rooms[r]))
                .values(last_seq=seq, last_message_seq=seq, last_activity_at=at)
            )
        db.session.commit()
        copied = time.perf_counter() - start
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return {"copy_seconds": copied, "load_seconds": time.perf_counter() - start}
