"""The one error family of the domain, mapped once to HTTP responses and once to socket acknowledgements."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from armada.schema_state import UPGRADE_COMMAND, SchemaStatus, names_a_missing_object, schema_problem

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises; carries the API error's code, message and details."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(
        self, message: str | None = None, *, code: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        self.message = message or self.default_message
        self.error_code = code or self.code
        self.details = dict(details) if details else None
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The API's error body."""
        return error_body(self.error_code, self.message, self.details)

    def ack(self) -> dict[str, Any]:
        """The acknowledgement of a refused socket event: `{"ok": false, "error": {code, message, details?}}`."""
        return {"ok": False, **self.to_dict()}


class BadRequest(DomainError):
    status, code, default_message = 400, "bad_request", "The request body is malformed."


class Unauthorized(DomainError):
    status, code, default_message = 401, "unauthorized", "Authentication is required."


class Forbidden(DomainError):
    status, code, default_message = 403, "forbidden", "You are not allowed to do this."


class NotFound(DomainError):
    status, code, default_message = 404, "not_found", "Not found."


class Conflict(DomainError):
    status, code, default_message = 409, "conflict", "The request conflicts with the current state."


class PayloadTooLarge(DomainError):
    status, code, default_message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(DomainError):
    status, code, default_message = 415, "unsupported_media_type", "This media type is not supported."


class ValidationFailed(DomainError):
    status, code, default_message = 422, "validation_failed", "The request did not pass validation."

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        """A validation failure of one field."""
        return cls(f"{name}: {message}", details={name: [message]})


class TooManyRequests(DomainError):
    status, code, default_message = 429, "rate_limited", "Too many requests; slow down."

    def __init__(self, retry_after: int, limit: str, what: str = "requests") -> None:
        # Seconds until the limit's window resets: the Retry-After header and `details.retry_after`.
        self.retry_after = max(1, retry_after)
        seconds = "1 second" if self.retry_after == 1 else f"{self.retry_after} seconds"
        super().__init__(
            f"Too many {what}; try again in {seconds}.",
            details={"retry_after": self.retry_after, "limit": limit},
        )


class ServiceUnavailable(DomainError):
    status, code, default_message = 503, "service_unavailable", "The service is temporarily unavailable."

    # Seconds a client should wait before retrying (the Retry-After header): about a database restart.
    retry_after: ClassVar[int] = 5

    @classmethod
    def database(cls) -> ServiceUnavailable:
        """The one answer to a request made while the database cannot be reached."""
        return cls("The database is unavailable; try again shortly.", code="database_unavailable")

    @classmethod
    def schema(cls, status: SchemaStatus) -> ServiceUnavailable:
        """The answer while the database's schema is not this release's: an operator must act, retrying won't do."""
        if status.state == "ahead":
            return cls(
                "The database's schema is newer than this server's release: deploy the release that migrated it.",
                code="schema_ahead",
                details={"database_revision": list(status.database), "release_revision": list(status.migrations)},
            )
        return cls(
            f"The database's schema is not migrated to this release: the operator must run `{UPGRADE_COMMAND}`.",
            code="schema_not_migrated",
            details={"database_revision": list(status.database), "release_revision": list(status.migrations)},
        )


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build `{"error": {code, message, details?}}`."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = dict(details)
    return {"error": error}


def error_response(error: DomainError) -> tuple[Response, int]:
    """Serialize a DomainError as an HTTP response."""
    response = jsonify(error.to_dict())
    if isinstance(error, (TooManyRequests, ServiceUnavailable)):
        response.headers["Retry-After"] = str(error.retry_after)
    return response, error.status


# Werkzeug's own errors (unknown route, wrong method, body over MAX_CONTENT_LENGTH, ...) in the API's error format.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}
_HTTP_MESSAGES = {
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
}


def http_exception_response(exc: HTTPException) -> tuple[Response, int]:
    """Render any werkzeug HTTPException in the API's error format."""
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    message = _HTTP_MESSAGES.get(status) or (exc.description or exc.name)
    response = jsonify(error_body(code, message))
    for key, value in exc.get_headers() if status == 405 else []:
        if key.lower() == "allow":
            response.headers[key] = value
    return response, status


# What a request or socket event can fail with that is the client's answer rather than a bug of ours.
ANSWERABLE = (DomainError, DBAPIError, PoolTimeout)


def domain_error(exc: BaseException, where: str = "request") -> DomainError | None:
    """The DomainError a client gets for `exc`: itself, or the 503 of a database outage; None for a bug (a 500)."""
    if isinstance(exc, DomainError):
        return exc
    # Before outages: SQLite's "no such table" is an OperationalError too. Logged once by schema_problem.
    schema = schema_problem(exc)
    if schema is not None:
        return ServiceUnavailable.schema(schema)
    outage = database_outage(exc)
    if outage is not None:
        what = "database connection pool exhausted" if isinstance(exc, PoolTimeout) else "database unavailable"
        log.warning("%s in %s: %s", what, where, getattr(exc, "orig", None) or exc)
    return outage


def database_outage(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 a client gets when the database cannot be reached; None for any other database error (a bug)."""
    # PoolTimeout: every pooled connection stayed busy for pool_timeout seconds (a stalled database).
    if isinstance(exc, PoolTimeout) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return ServiceUnavailable.database()
    # SQLite's "no such table" is an OperationalError, but no outage: with the schema at the head, a bug of ours.
    if names_a_missing_object(exc):
        return None
    # OperationalError is the DB-API's class for failures outside the program's control: refused, dropped or
    # terminated connections (psycopg's AdminShutdown, CannotConnectNow... are subclasses; SQLAlchemy wraps each
    # in its own OperationalError), too many connections, SQLite's "database is locked". Its deadlocks and
    # serialization failures (SQLSTATE class 40) are bugs of ours, though: they stay 500s, with a traceback.
    if isinstance(exc, OperationalError) and not str(getattr(exc.orig, "sqlstate", None) or "").startswith("40"):
        return ServiceUnavailable.database()
    return None


def _answer(exc: Exception) -> tuple[Response, int]:
    # The session is rolled back when Flask-SQLAlchemy removes it at teardown.
    error = domain_error(exc)
    if error is None:
        raise exc
    return error_response(error)


def init_app(app: Flask) -> None:
    """Map DomainError and database outages to responses (HTTPExceptions: see ArmadaApi)."""
    for kind in ANSWERABLE:
        app.register_error_handler(kind, _answer)
