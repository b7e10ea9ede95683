"""The words of search text, the parsed query and the highlights of a match: pure functions, no database."""

from __future__ import annotations

import itertools
import string

import pytest

from armada.chat.search import fts5_query, postgresql_tsquery
from armada.chat.search_text import Phrase, fold, highlights, parse_query, words
from armada.errors import ValidationFailed


def test_words_are_runs_of_letters_digits_and_marks_at_code_point_offsets() -> None:
    text = "👍 Cafe\u0301, foo_bar v1.2 «naïve»"
    assert list(words(text)) == [
        (2, 7, "Cafe\u0301"),
        (9, 12, "foo"),
        (13, 16, "bar"),
        (17, 19, "v1"),
        (20, 21, "2"),
        (23, 28, "naïve"),
    ]


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        *[("Café", "cafe"), ("CAFE\u0301", "cafe"), ("Straße", "strasse"), ("ΣΟΦΊΑ", "σοφια")],
        # Letters with a stroke and ligatures have no decomposition, yet PostgreSQL's unaccent spells them out.
        *[("Łódź", "lodz"), ("Ørsted", "orsted"), ("Đakovo", "dakovo"), ("Æble", "aeble"), ("Œuvre", "oeuvre")],
    ],
)
def test_fold_drops_accents_and_case(word: str, folded: str) -> None:
    assert fold(word) == folded


def test_the_last_word_is_a_prefix_unless_a_closed_phrase_ends_the_query() -> None:
    assert parse_query("release notes").phrases == (Phrase(("release",)), Phrase(("notes",), prefix=True))
    assert parse_query('"release notes"').phrases == (Phrase(("release", "notes")),)
    assert parse_query('"release notes" plan').phrases[-1] == Phrase(("plan",), prefix=True)
    assert parse_query('plan "release no').phrases == (Phrase(("plan",)), Phrase(("release", "no"), prefix=True))


def test_operators_are_words_and_repeats_count_once() -> None:
    assert parse_query("OR NOT -x AND x").phrases == (
        Phrase(("OR",)),
        Phrase(("NOT",)),
        Phrase(("x",)),
        Phrase(("AND",)),
        Phrase(("x",), prefix=True),
    )
    assert parse_query("a a a").phrases == (Phrase(("a",)), Phrase(("a",), prefix=True))


@pytest.mark.parametrize("text", ["", " ", '""', "-*:%", "👍", "x" * 257])
def test_a_query_without_words_or_too_long_is_refused_on_q(text: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_query(text)
    assert set(raised.value.details) == {"q"}


def test_both_engines_get_quoted_words_only() -> None:
    query = parse_query('it\'s "NEAR(x" OR de*pl')
    assert postgresql_tsquery(query) == "'it' & 's' & 'NEAR' <-> 'x' & 'OR' & 'de' & 'pl':*"
    assert fts5_query(query) == '"it" "s" "NEAR x" "OR" "de" "pl"*'


def test_highlights_mark_whole_words_phrases_in_order_and_the_prefix() -> None:
    content = "Deploy notes: the deployment notes, notes deploy"
    spans = highlights(content, parse_query('"deploy notes" depl'))
    assert [content[a:b] for a, b in spans] == ["Deploy", "notes", "deployment", "deploy"]
    assert highlights(None, parse_query("x")) == []


def test_highlights_of_the_longest_query_on_the_longest_message() -> None:
    # The most a request can ask: 85 words (256 characters) against a 10,000-character message holding them all,
    # up to 100 such messages a page. (Trying every phrase at every word took ~60 ms a message, 6 s a page; now
    # ~7 ms. Speed is the benchmarks' business, not a test's: this checks the answer at that size.)
    query_words = ["".join(pair) for pair in itertools.product(string.ascii_lowercase, repeat=2)][:85]
    content = " ".join(itertools.islice(itertools.cycle(query_words), 3333))[:10_000]
    query = parse_query(" ".join(query_words))
    spans = highlights(content, query)
    assert len(spans) == 3333 and all(content[a:b] in query_words for a, b in spans)
