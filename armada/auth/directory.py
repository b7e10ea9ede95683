"""The user directory: who can be found, and how (a prefix of a word of the display name, or the whole email)."""

from __future__ import annotations

import re
import unicodedata
import uuid

from sqlalchemy import delete, or_, select, union

from armada.errors import ValidationFailed
from armada.extensions import db
from armada.models import User, UserNameKey
from armada.pagination import Page, decode_cursor, encode_cursor, keyset_page

# Keys are cut to this many characters (the column's size): a longer search matches on its first KEY_CHARS.
KEY_CHARS = 100
MIN_QUERY_CHARS = 2
# A word starts the name, follows whitespace, or is a letter or digit after something that is not one
# ("Anna-Maria", "(Bob)", "snake_case").
_WORD_START = re.compile(r"(?:^|(?<=\s)|(?<![^\W_])(?=[^\W_]))\S")
_LAST_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively."""
    return email.strip().lower()


def fold(text: str) -> str:
    """Text as the directory compares it: compatibility-normalised, case-folded, single spaces."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def name_keys(display_name: str) -> set[str]:
    """The folded name from the start of each of its words on ("Anna Bolt": "anna bolt", "bolt")."""
    name = fold(display_name)
    return {name[match.start() :][:KEY_CHARS] for match in _WORD_START.finditer(name)}


def index_name(user: User) -> None:
    """(Re)write the directory keys of a user's display name; part of the caller's unit of work."""
    db.session.execute(delete(UserNameKey).where(UserNameKey.user_id == user.id))
    db.session.add_all(UserNameKey(user_id=user.id, key=key) for key in name_keys(user.display_name))


def _after_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with prefix (None: there is none)."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if code in _SURROGATES:
            code = _SURROGATES.stop
        if code <= _LAST_CODE_POINT:
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]
    return None


def search_users(query: str, limit: int, cursor: str | None) -> Page[User]:
    """Users with a display-name word starting with `query`, or whose email is `query`; ordered by name.

    Keys are compared bytewise (see UserNameKey), so "starts with" is the index range [prefix, _after_prefix):
    no LIKE, so %, _ and \\ in a query are plain characters.
    """
    prefix = fold(query)[:KEY_CHARS]
    if len(prefix) < MIN_QUERY_CHARS:
        raise ValidationFailed.field("q", f"Shorter than minimum length {MIN_QUERY_CHARS}.")
    upper = _after_prefix(prefix)
    by_name = select(UserNameKey.user_id).where(UserNameKey.key >= prefix)
    if upper is not None:
        by_name = by_name.where(UserNameKey.key < upper)
    by_email = select(User.id).where(User.email == normalize_email(query))
    # A UNION, not `id IN (...) OR email = ...`: PostgreSQL answers that OR by scanning every user.
    stmt = select(User).where(User.id.in_(union(by_name, by_email)))
    if cursor:
        name, after_id = decode_cursor(cursor, "cursor", (str, uuid.UUID))
        stmt = stmt.where(or_(User.display_name > name, (User.display_name == name) & (User.id > after_id)))
    ordered = stmt.order_by(User.display_name, User.id)
    return keyset_page(ordered, limit, lambda user: encode_cursor([user.display_name, user.id]))
