"""How Armada's log records look: one JSON object (or one readable line) each, with every secret redacted.

Query strings are never logged (a Socket.IO client may put its token there), media links' tokens are cut from
logged paths, and every formatted record passes through `redact`, gunicorn's own records included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Fields a record may carry besides the basics, in output order.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "user_id", "remote_addr", "event")

_SECRET_NAMES = r"(?:access_token|refresh_token|token|password|passwd|secret|api_key|sid)"
REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JWTs wherever they turn up: base64url header (always `{"` = eyJ), payload and signature.
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    # Query and form parameters: ?token=..., &password=...
    (re.compile(rf"(?i)\b({_SECRET_NAMES})=[^&\s\"'<>]*"), r"\1=[redacted]"),
    # JSON or dict reprs: "password": "...", 'token': '...'
    (re.compile(rf"(?i)([\"']{_SECRET_NAMES}[\"']\s*:\s*[\"'])[^\"']*"), r"\1[redacted]"),
    # Credentials in URLs: redis://:password@host, postgresql://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]+@"), r"\1:[redacted]@"),
    # Media and direct-upload links, whose last path segment is the credential: in any record, because a request
    # that matched no route (a 404 or 405) or failed (Flask's "Exception on <path>") still names its path.
    # (Possessive: a second pass must not take "upload" for a token once the token is gone.)
    # Slashes may be doubled (/api//media//<token> reaches a redirect to the link, and is logged first).
    (re.compile(r"(/+api/+media/+(?:upload/+)?+)[^/?\s\"'<>\[\]]+"), r"\1[redacted]"),
)


def redact(text: str) -> str:
    """`text` with tokens, passwords and URL credentials replaced by placeholders."""
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, then whatever else is known."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or "-"
        text = f"{self.formatTime(record)} {record.levelname} {record.name} [{request_id}] {record.getMessage()}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        return redact(text)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (test runners swap it), never to a stream closed since."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def is_ours(formatter: logging.Formatter | None) -> bool:
    """Whether a formatter is one of the two above (so gunicorn's handlers need no other)."""
    return isinstance(formatter, (JsonFormatter, TextFormatter))


def make_formatter(log_format: str) -> logging.Formatter:
    """The formatter LOG_FORMAT names ("json" or "text")."""
    return JsonFormatter() if log_format == "json" else TextFormatter()
