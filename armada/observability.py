"""Request ids and structured logs: one line per request, every record tagged with its request, no secrets.

Every HTTP request (REST, the docs, the web client, Socket.IO polling and websocket connections) gets an id: the
caller's `X-Request-ID` when it looks like an id, otherwise a new one. It is echoed in the response header and
carried by every log record made while the request runs; Socket.IO events carry the id of their connection's
handshake. With LOG_FORMAT=json (production's default) each record is one JSON object per line on stderr.

What a record looks like, and what it never shows, is armada.log_format's.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, has_request_context, request
from flask.logging import default_handler
from flask_jwt_extended import get_jwt

from armada.extensions import socketio
from armada.log_format import StderrHandler, is_ours, make_formatter, redact

REQUEST_ID_HEADER = "X-Request-ID"
ENVIRON_NOTES = "armada.request_notes"
REQUEST_LOGGER = "armada.request"

# A caller's id is kept only when it looks like one (a UUID, Heroku's or a proxy's ids): never anything that could
# forge a text log line or carry markup into a log viewer.
INCOMING_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,200}")
MAX_LOGGED_PATH = 512

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("armada_request_id", default=None)


@dataclass
class RequestNotes:
    """What the request log needs to know of a request, filled in while it runs.

    Kept in the WSGI environ as one shared object: Flask-SocketIO hands Flask a copy of the environ, so keys set
    there would never reach the middleware, but the copy holds this same object.
    """

    request_id: str
    user_id: str | None = None
    log_path: str | None = None


def _notes() -> RequestNotes | None:
    notes = request.environ.get(ENVIRON_NOTES)
    return notes if isinstance(notes, RequestNotes) else None


def incoming_request_id(value: str | None) -> str | None:
    """The caller's X-Request-ID if it is a sane id, else None."""
    if value and INCOMING_REQUEST_ID.fullmatch(value):
        return value
    return None


def current_request_id() -> str | None:
    """The id of the request (or Socket.IO connection) being handled, if any."""
    found = _request_id.get()
    if found is None and has_request_context():
        # Socket.IO events run in their own greenlets, inside a request context built from the handshake's environ.
        notes = _notes()
        found = notes.request_id if notes else None
    return found


def current_user_id() -> str | None:
    """The user the current request or socket event acts for, once its token has been checked."""
    if not has_request_context():
        return None
    notes = _notes()
    if notes and notes.user_id:
        return notes.user_id
    try:
        subject = get_jwt().get("sub")
    except RuntimeError:  # no token was verified in this request (yet)
        subject = None
    socket_id = getattr(request, "sid", None)  # set by Flask-SocketIO in a socket event
    if subject is None and socket_id:
        subject = _socket_user_id(socket_id)
    return str(subject) if subject else None


def _socket_user_id(sid: str) -> str | None:
    try:
        identity = socketio.server.get_session(sid).get("identity")
    except (KeyError, AttributeError, TypeError):  # the socket is gone, or the server not set up
        return None
    user_id = getattr(identity, "user_id", None)
    return str(user_id) if user_id else None


class RequestContextFilter(logging.Filter):
    """Tags each record with the current request id, user id and Socket.IO event (handler filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        if getattr(record, "user_id", None) is None:
            user_id = current_user_id()
            if user_id:
                record.user_id = user_id
        if getattr(record, "event", None) is None and has_request_context():
            event = getattr(request, "event", None)
            if isinstance(event, dict) and isinstance(event.get("message"), str):
                record.event = event["message"]
        return True


def configure_logging(log_format: str, level: str) -> None:
    """Send every record to stderr through one handler of ours: formatted, tagged and redacted.

    Idempotent: creating a second app replaces the handler instead of adding another.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(RequestContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    # python-engineio and python-socketio give their loggers a bare handler of their own; records reach ours
    # through the root logger instead, formatted and tagged like the rest.
    for name in ("engineio.server", "socketio.server", "socketio.client", "engineio.client"):
        library = logging.getLogger(name)
        for bare in [h for h in library.handlers if type(h) is logging.StreamHandler]:
            library.removeHandler(bare)
    # gunicorn's loggers do not propagate: format and redact through their own handlers (its error log names
    # the URI, query string included, of a request that failed; its access log, if turned on, every URI).
    for name in ("gunicorn.error", "gunicorn.access"):
        for gunicorn_handler in logging.getLogger(name).handlers:
            if not is_ours(gunicorn_handler.formatter):
                gunicorn_handler.setFormatter(make_formatter(log_format))
            if not any(isinstance(f, RequestContextFilter) for f in gunicorn_handler.filters):
                gunicorn_handler.addFilter(RequestContextFilter())


def _wsgi_path(environ: dict[str, Any]) -> str:
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    # WSGI hands paths over as latin-1 decoded bytes; clients send UTF-8.
    path = str(raw).encode("latin-1", "replace").decode("utf-8", "replace")
    return path[:MAX_LOGGED_PATH]


StartResponse = Callable[..., Any]


class RequestLogMiddleware:
    """WSGI middleware: assigns the request id, echoes it, and logs one line per request when it is answered."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.logger = logging.getLogger(REQUEST_LOGGER)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = incoming_request_id(environ.get("HTTP_X_REQUEST_ID")) or uuid.uuid4().hex
        notes = environ[ENVIRON_NOTES] = RequestNotes(request_id)
        context = _request_id.set(request_id)
        started = time.perf_counter()
        answered: list[int] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered[:] = [int(status.split(" ", 1)[0])]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        except BaseException:
            # simple-websocket ends a websocket's request by raising (StopIteration under gunicorn, ConnectionError
            # under werkzeug) once the connection it took over has closed: that request was answered with a 101.
            upgraded = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
            answered[:] = answered or [101 if upgraded else 500]
            raise
        finally:
            self._log(environ, notes, answered[0] if answered else 500, started)
            _request_id.reset(context)

    def _log(self, environ: dict[str, Any], notes: RequestNotes, status: int, started: float) -> None:
        method = str(environ.get("REQUEST_METHOD", ""))[:16]
        path = redact(notes.log_path or _wsgi_path(environ))
        extra = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "user_id": notes.user_id,
            "remote_addr": environ.get("REMOTE_ADDR"),
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        self.logger.log(level, "%s %s %s", method, path, status, extra=extra)


def _note_request(_error: BaseException | None) -> None:
    """Leave what the request log needs in its notes before the request context goes."""
    notes = _notes()
    if notes is None:
        return
    notes.user_id = current_user_id()
    # A media link's path is its credential (/api/media/<token>): log the route's shape instead.
    token = (request.view_args or {}).get("token")
    if isinstance(token, str) and token:
        notes.log_path = request.path.replace(token, "[redacted]")[:MAX_LOGGED_PATH]


def init_app(app: Flask) -> None:
    """Configure logging from LOG_FORMAT/LOG_LEVEL and wrap the whole WSGI app (Socket.IO too): bind it last."""
    configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    app.logger.removeHandler(default_handler)  # records reach our handler through the root logger
    app.teardown_request(_note_request)
    app.wsgi_app = RequestLogMiddleware(app.wsgi_app)  # type: ignore[method-assign]
