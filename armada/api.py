"""flask-smorest glue: the Api and Blueprint classes, their errors in the API's one format, and the document."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import flask
import marshmallow as ma
import swagger_ui_bundle
from apispec import BasePlugin
from flask import Flask, Response, send_from_directory
from flask_smorest import Blueprint
from flask_smorest.utils import prepare_response
from webargs import core
from werkzeug.exceptions import HTTPException

from armada.errors import BadRequest, ValidationFailed, http_exception_response
from armada.openapi_docs import DESCRIPTION, EXAMPLES
from armada.schemas import ErrorSchema
from armada.thirdparty.flask_smorest import ApiBase
from armada.thirdparty.webargs import FlaskParserBase


def message_list(errors: Any, path: str = "") -> list[str]:
    """Nested marshmallow errors as flat strings: {"0": ["Not a valid UUID."]} -> ["0: Not a valid UUID."]."""
    if isinstance(errors, Mapping):
        return [
            text for key, value in errors.items() for text in message_list(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(errors, list):
        return [text for item in errors for text in message_list(item, path)]
    return [f"{path}: {errors}" if path else str(errors)]


def validation_messages(error: ma.ValidationError) -> dict[str, Any]:
    """A ValidationError's messages keyed by field (marshmallow's normalized_messages, which carries no types)."""
    messages: dict[str, Any] = error.normalized_messages()  # type: ignore[no-untyped-call]
    return messages


def flatten_messages(messages: Mapping[str, Any] | list[Any]) -> dict[str, list[str]]:
    """Drop webargs' location level and nesting: {"json": {"ids": {"0": [...]}}} -> {"ids": ["0: ..."]}."""
    if isinstance(messages, list):
        return {"_schema": message_list(messages)}
    flat: dict[str, list[str]] = {}
    for location, errors in messages.items():
        # A 422's details map each field to a list of messages, list items and nested objects included.
        if isinstance(errors, Mapping):
            for name, field_errors in errors.items():
                flat[str(name)] = message_list(field_errors)
        else:
            flat[location] = message_list(errors)
    return flat


def _reject_constant(name: str) -> NoReturn:
    """NaN and Infinity are not JSON (RFC 8259), though Python's decoder accepts them."""
    raise ValueError(f"{name} is not valid JSON")


@functools.cache
def _shared_schema(schema_class: type[ma.Schema]) -> ma.Schema:
    return schema_class()


class ArmadaParser(FlaskParserBase):
    """Parses request bodies strictly: JSON objects only, and errors in the API's error format."""

    # Unknown fields are ignored everywhere, so a client can never mass-assign `sender_id` or `is_admin`.
    DEFAULT_UNKNOWN_BY_LOCATION = dict.fromkeys(FlaskParserBase.DEFAULT_UNKNOWN_BY_LOCATION, ma.EXCLUDE)

    def schema_for_class(self, schema_class: type[ma.Schema]) -> ma.Schema:
        """One shared instance per class (marshmallow keeps no state between loads), not one per request."""
        return _shared_schema(schema_class)

    def load_json_body(self, req: flask.Request) -> Any:
        """The body, which must be a JSON object sent as application/json; core.missing when empty."""
        body = req.get_data(cache=True)
        if not body:
            return core.missing
        if not req.is_json:
            raise BadRequest(
                "The request body must be JSON, sent with Content-Type: application/json.",
                code="unsupported_content_type",
            )
        try:
            data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            # ValueError covers bad UTF-8, bad syntax, NaN/Infinity and over-long integers; RecursionError
            # deep nesting like [[[[...]]]]. All are the client's malformed body, never a 500.
            raise BadRequest("The request body is not valid JSON.", code="malformed_json") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.", code="malformed_json")
        return data

    def invalid_json(self, error: Exception, req: flask.Request) -> NoReturn:
        """A body that is not valid JSON, in the API's error format."""
        raise BadRequest("The request body is not valid JSON.", code="malformed_json")

    def handle_error(
        self,
        error: ma.ValidationError,
        req: flask.Request,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> NoReturn:
        details = flatten_messages(error.messages)
        fields = ", ".join(sorted(details))
        raise ValidationFailed(f"Invalid or missing fields: {fields}.", details=details)


class ArmadaBlueprint(Blueprint):
    """A flask-smorest Blueprint using ArmadaParser."""

    ARGUMENTS_PARSER = ArmadaParser()

    def alt_response(self, status_code: int, response: Any = None, **kwargs: Any) -> Any:
        """Document an alternative response; an error one without a schema gets the error envelope."""
        if response is None and kwargs.get("schema") is None and int(status_code) >= 400:
            kwargs["schema"] = ErrorSchema
        return super().alt_response(status_code, response, **kwargs)


# Error responses that whole kinds of operation share, documented once here instead of on every route.
# status -> (component name, description).
COMMON_RESPONSES: dict[int, tuple[str, str]] = {
    400: ("MalformedBody", "The body is not a JSON object, or not sent as `application/json`."),
    401: ("Unauthorized", "Missing, malformed, expired or revoked bearer token (`error.code` says which)."),
    404: ("NotFound", "No such object, or one the caller may not see: the same answer for both."),
    413: ("BodyTooLarge", "The request body is over MAX_REQUEST_BYTES (1 MiB by default)."),
}


def common_statuses(path: str, operation: Mapping[str, Any]) -> list[int]:
    """The COMMON_RESPONSES statuses an operation can answer, from its shape alone."""
    statuses = []
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        statuses += [400, 413]  # ArmadaParser's malformed_json / unsupported_content_type; MAX_CONTENT_LENGTH
    if operation.get("security") != []:
        statuses.append(401)  # public operations opt out of the global bearerAuth with `security: []`
    if "{" in path:
        statuses.append(404)  # an unknown id, a non-member's id, or a path value the route does not accept
    return statuses


class CommonResponsesPlugin(BasePlugin):
    """Adds the COMMON_RESPONSES an operation can answer to its documented responses, unless a route did."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Called by apispec for every path a blueprint registers."""
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict) or method not in ("get", "put", "post", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            declared = {str(status) for status in responses}
            for status in common_statuses(path or "", operation):
                if str(status) not in declared:
                    responses[str(status)] = COMMON_RESPONSES[status][0]


class ExamplesPlugin(BasePlugin):
    """Gives each component schema named in openapi_docs.EXAMPLES its example."""

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        """Called by apispec for every schema the document registers."""
        return {"example": EXAMPLES[name]} if name in EXAMPLES else None


class ArmadaApi(ApiBase):
    """The API object: errors in one format, bearer auth in the spec, examples, offline Swagger UI."""

    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        # Every operation needs a bearer token unless it opts out with `@blp.doc(security=[])`.
        spec_kwargs = {"security": [{"bearerAuth": []}], "info": {"description": DESCRIPTION}, **(spec_kwargs or {})}
        plugins = [CommonResponsesPlugin(), ExamplesPlugin()]
        spec_kwargs["extra_plugins"] = [*spec_kwargs.get("extra_plugins", ()), *plugins]
        super().init_app(app, spec_kwargs=spec_kwargs)
        for name, description in COMMON_RESPONSES.values():
            response = {"description": description, "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(name, response, lazy=True)
        self.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
        assets = Path(swagger_ui_bundle.swagger_ui_path)

        @app.route("/api/docs/assets/<path:filename>")
        def swagger_ui_assets(filename: str) -> Response:
            return send_from_directory(assets, filename)

    def handle_http_exception(self, error: HTTPException) -> tuple[Response, int]:
        """Every HTTPException, smorest's own included, in the API's error format."""
        return http_exception_response(error)
