"""What the logs may hold: secrets redacted from any text, and which incoming request ids are kept."""

from __future__ import annotations

import pytest

from armada.log_format import redact
from armada.observability import incoming_request_id


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("GET /socket.io/?EIO=4&token=abc.def.ghi&transport=polling", "abc.def.ghi"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        ("refused eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl at connect", "eyJzdWIiOiIxIn0"),
        ("{'email': 'a@example.com', 'password': 'hunter2 hunter2'}", "hunter2"),
        ('{"refresh_token": "opaque-value"}', "opaque-value"),
        ("Error 111 connecting to redis://:p4ssw0rd@cache:6379/0", "p4ssw0rd"),
        ("postgresql+psycopg://armada:s3cret@db/armada", "s3cret"),
        ("/socket.io/?EIO=4&transport=polling&sid=AbCdEf123&PASSWORD=x1", "AbCdEf123"),
        ("POST /api/media/WyJhYmMiXQ.Zx9aQ.c2ln 405", "WyJhYmMiXQ"),
        ("Exception on /api/media/WyJhYmMiXQ.Zx9aQ.c2ln/ [GET]", "c2ln"),
        ("GET /api/media/upload/WyJ4In0.abc.def?x=1 405", "WyJ4In0"),
        ("GET /api/media//WyJhYmMiXQ.Zx9aQ.c2ln 308", "WyJhYmMiXQ"),
        ("GET //api//media/upload//WyJ4In0.abc.def 405", "WyJ4In0"),
    ],
)
def test_redact_removes_secrets_and_keeps_the_rest(text: str, leaked: str) -> None:
    cleaned = redact(text)
    assert leaked not in cleaned and "[redacted" in cleaned
    assert redact(cleaned) == cleaned


def test_redact_leaves_ordinary_messages_alone() -> None:
    for text in ["GET /api/health 200", "Invalid session abc", "user 3f2a joined room 9", "ünïcode ✓"]:
        assert redact(text) == text


@pytest.mark.parametrize(("value", "kept"), [("abc", True), ("a" * 201, False), ("", False), (None, False)])
def test_incoming_request_id_bounds(value: str | None, kept: bool) -> None:
    assert incoming_request_id(value) == (value if kept else None)
