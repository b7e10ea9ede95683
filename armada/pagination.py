"""Keyset pagination: opaque cursors, the page type every list service returns, and the query that fetches one."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select

from armada.errors import ValidationFailed
from armada.extensions import db
from armada.schemas import has_unsafe_text

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list."""

    items: list[T]
    next_cursor: str | None


def keyset_page(stmt: Select[Any], limit: int, next_cursor: Callable[[T], str], *, reverse: bool = False) -> Page[T]:
    """One page of an ordered query: `limit` rows, and the cursor of the last one if more follow.

    One row more than the page is fetched to tell whether another page follows. `reverse` turns the page around
    after the cursor is taken (history: fetched newest first, shown oldest first).
    """
    rows: list[T] = list(db.session.scalars(stmt.limit(limit + 1)))
    items = rows[:limit]
    cursor = next_cursor(items[-1]) if len(rows) > limit else None
    return Page(items[::-1] if reverse else items, cursor)


def encode_cursor(values: list[Any]) -> str:
    """Pack keyset values (str, int, UUID, aware datetime) into an opaque, URL-safe cursor."""
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _convert(value: Any, kind: type) -> Any:
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        # Normalised here so an offset that pushes it outside datetime's range is a bad cursor, not a 500.
        return parsed.astimezone(UTC)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError("wrong type")
    # Values go straight into SQL: keep them inside what BIGINT and text columns accept.
    if isinstance(value, int) and not 0 <= value < 2**63:
        raise ValueError("out of range")
    if isinstance(value, str) and has_unsafe_text(value):
        raise ValueError("unsafe text")
    return value


def decode_cursor(cursor: str, field: str, types: tuple[type, ...]) -> list[Any]:
    """Unpack a cursor made by encode_cursor into values of `types`; a bad one is a 422 on `field`."""
    try:
        # validate=True: a cursor with characters added or changed is refused rather than silently read.
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        return [_convert(v, k) for v, k in zip(values, types, strict=True)]
    except (binascii.Error, ValueError, TypeError, AttributeError, OverflowError):
        raise ValidationFailed.field(field, "Not a valid cursor.") from None
