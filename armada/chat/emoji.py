"""Reaction emoji: exactly one Unicode emoji, in one spelling, checked against the `emoji` library's data."""

from __future__ import annotations

import functools

import emoji as emoji_data

from armada.errors import ValidationFailed

VS16 = "\ufe0f"  # the emoji presentation selector: "❤" and "❤️" are the same reaction
_FULLY_QUALIFIED = emoji_data.STATUS["fully_qualified"]
_COMPONENT = emoji_data.STATUS["component"]


@functools.cache
def _spellings() -> dict[str, str]:
    """Each emoji without its VS16 selectors -> its fully-qualified form."""
    canonical: dict[str, str] = {}
    for text, data in emoji_data.EMOJI_DATA.items():
        if data["status"] == _FULLY_QUALIFIED:
            canonical[text.replace(VS16, "")] = text
    return canonical


def normalize_emoji(text: str) -> str:
    """The one spelling of a single emoji (ZWJ sequences, skin tones and flags included); otherwise 422 on emoji.

    A component alone (a skin tone swatch, a hair part) is a piece of an emoji, not one.
    """
    if not text or len(text) > 32 or not emoji_data.is_emoji(text) or _is_component(text):
        raise ValidationFailed.field("emoji", "Must be exactly one emoji.")
    return _spellings().get(text.replace(VS16, ""), text)


def _is_component(text: str) -> bool:
    return bool(emoji_data.EMOJI_DATA.get(text, {}).get("status") == _COMPONENT)
