"""Search text: words as both indexes see them, the parsed query, and the highlights of a match.

A word is a run of letters, digits and marks (but emoji variation selectors) with at least one letter or digit;
everything else (punctuation, emoji, spaces) separates words, as in SQLite's unicode61 tokenizer (given the
categories L* N* M* and those selectors as separators) and in PostgreSQL's column (which reads ASCII punctuation
as spaces).
Words compare case- and accent-insensitively. The query is only ever turned into words: it reaches the index
as quoted word literals, never as syntax of its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from armada.errors import ValidationFailed

MAX_QUERY_CHARS = 256


# Variation selectors (U+FE00..U+FE0F: ❤️ is ❤ and U+FE0F) are marks that choose a glyph, no part of a word.
VARIATION_SELECTORS = "".join(map(chr, range(0xFE00, 0xFE10)))


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM" and char not in VARIATION_SELECTORS


def words(text: str) -> Iterator[tuple[int, int, str]]:
    """`(start, end, word)` for each word of `text`, offsets in code points (Python string indices).

    A run of marks alone (a keycap's U+20E3 after `#`) is no word: neither index finds anything by it.
    """
    start = None
    for index, char in enumerate([*text, " "]):
        if _is_word_char(char):
            if start is None:
                start = index
        elif start is not None:
            if any(unicodedata.category(c)[0] in "LN" for c in text[start:index]):
                yield start, index, text[start:index]
            start = None


# Latin letters with no decomposition that PostgreSQL's unaccent still spells out (`Łódź` is found by `lodz`), so
# what it finds is highlighted too. SQLite keeps them as they are, and so finds them only as typed: fine for both.
_SPELLED_OUT = str.maketrans({"æ": "ae", "œ": "oe", "þ": "th"} | dict(zip("ðđħıĸŀłøŧ", "ddhiqllot", strict=True)))


def fold(word: str) -> str:
    """A word as the indexes compare it: accents removed, case folded."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().translate(_SPELLED_OUT))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Phrase:
    """Words that must appear in this order (a single word is a phrase of one); `prefix`: the last may be cut."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class SearchQuery:
    """Every phrase must match."""

    phrases: tuple[Phrase, ...]


def parse_query(text: str) -> SearchQuery:
    """The phrases of a query: `"quoted words"` in order, the others one by one, the last word also a prefix.

    Operators are words (`OR`, `NOT`, `-x` is x); an unclosed quote runs to the end. 422 on `q` when the text is
    longer than MAX_QUERY_CHARS or has no word.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationFailed.field("q", f"At most {MAX_QUERY_CHARS} characters.")
    phrases: list[Phrase] = []
    for index, part in enumerate(text.split('"')):
        found = tuple(word for _, _, word in words(part))
        if not found:
            continue
        if index % 2:  # between quotes
            phrases.append(Phrase(found))
        else:
            phrases.extend(Phrase((word,)) for word in found)
    if not phrases:
        raise ValidationFailed.field("q", "Search for at least one word (letters or digits).")
    # As you type: the last word, if it ends the text (not a closed phrase), also matches longer words.
    if not text.rstrip().endswith('"') or text.count('"') % 2:
        phrases[-1] = Phrase(phrases[-1].words, prefix=True)
    unique = dict.fromkeys(phrases)  # a repeated word adds nothing but work
    return SearchQuery(tuple(unique))


def highlights(content: str | None, query: SearchQuery) -> list[list[int]]:
    """`[[start, end], ...]`: the code-point spans of the words of `content` that `query` matched, in order."""
    if not content:
        return []
    found = list(words(content))
    folds = {word: fold(word) for word in {word for _, _, word in found}}  # each distinct word once
    folded = [folds[word] for _, _, word in found]
    # Where each word is: a phrase is tried only where its first word is, so a long query on a long message costs
    # its words' occurrences, not (phrases x words) steps.
    places: dict[str, list[int]] = {}
    for at, word in enumerate(folded):
        places.setdefault(word, []).append(at)
    marked = [False] * len(found)
    for phrase in query.phrases:
        wanted = [fold(word) for word in phrase.words]
        size = len(wanted)
        starts = range(len(found)) if size == 1 and phrase.prefix else places.get(wanted[0], [])
        for at in starts:
            if at + size > len(found):
                break
            head, last = folded[at : at + size - 1], folded[at + size - 1]
            if head == wanted[:-1] and (last == wanted[-1] or (phrase.prefix and last.startswith(wanted[-1]))):
                marked[at : at + size] = [True] * size
    return [[start, end] for (start, end, _), hit in zip(found, marked, strict=True) if hit]
