"""Reaction emoji: exactly one emoji, one spelling whatever the presentation selectors."""

from __future__ import annotations

import emoji as emoji_data
import pytest
from hypothesis import given
from hypothesis import strategies as st

from armada.chat.emoji import VS16, normalize_emoji
from armada.errors import ValidationFailed

EVERY_EMOJI = sorted(emoji_data.EMOJI_DATA)
WHOLE_EMOJI = [e for e in EVERY_EMOJI if emoji_data.EMOJI_DATA[e]["status"] != emoji_data.STATUS["component"]]


@pytest.mark.parametrize(
    "text",
    [
        "\N{THUMBS UP SIGN}",
        "\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}",  # skin tone
        "\N{REGIONAL INDICATOR SYMBOL LETTER F}\N{REGIONAL INDICATOR SYMBOL LETTER R}",  # flag
        "\N{MAN}\u200d\N{WOMAN}\u200d\N{GIRL}",  # ZWJ family
        "1\ufe0f\u20e3",  # keycap
        "\N{WAVING WHITE FLAG}\ufe0f\u200d\N{RAINBOW}",
    ],
)
def test_one_emoji_of_any_kind_is_accepted(text: str) -> None:
    assert normalize_emoji(text) == text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("\u2764", "\u2764\ufe0f"),  # heart without and with the presentation selector
        ("\u263a", "\u263a\ufe0f"),
        ("\N{WAVING WHITE FLAG}\u200d\N{RAINBOW}", "\N{WAVING WHITE FLAG}\ufe0f\u200d\N{RAINBOW}"),
    ],
)
def test_the_same_emoji_without_its_selector_is_stored_fully_qualified(typed: str, stored: str) -> None:
    assert normalize_emoji(typed) == normalize_emoji(stored) == stored


@given(st.sampled_from(WHOLE_EMOJI))
def test_every_emoji_has_one_spelling_with_or_without_selectors(text: str) -> None:
    spelled = normalize_emoji(text)
    assert emoji_data.is_emoji(spelled)
    bare = text.replace(VS16, "")
    if emoji_data.is_emoji(bare):  # typed without its selectors, it is the same reaction
        assert normalize_emoji(bare) == spelled
    assert normalize_emoji(spelled) == spelled


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        ":thumbsup:",
        "\N{THUMBS UP SIGN}\N{THUMBS UP SIGN}",
        "x\N{THUMBS UP SIGN}",
        "\x00",
        VS16,
        "\u200d",
        "#",
        "\N{THUMBS UP SIGN} ",
    ],
)
def test_anything_but_exactly_one_emoji_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        normalize_emoji(text)
    assert refused.value.details == {"emoji": ["Must be exactly one emoji."]}


COMPONENT = emoji_data.STATUS["component"]
# Mostly pieces of emoji (whole ones, components, selectors, joiners), sometimes other text: strings that are one
# emoji as often as strings that are not.
pieces = st.one_of(
    st.sampled_from(EVERY_EMOJI), st.sampled_from([VS16, "\u200d", "\u20e3", " ", "a"]), st.text(max_size=2)
)


@given(st.lists(pieces, min_size=1, max_size=3).map("".join))
def test_any_text_is_one_emoji_or_a_422(text: str) -> None:
    data = emoji_data.EMOJI_DATA.get(text)
    try:
        spelled = normalize_emoji(text)
    except ValidationFailed:
        assert data is None or data["status"] == COMPONENT, text  # only what is no whole emoji is refused
        return
    assert emoji_data.is_emoji(spelled) and spelled.replace(VS16, "") == text.replace(VS16, "")
    assert emoji_data.EMOJI_DATA[spelled]["status"] != COMPONENT
