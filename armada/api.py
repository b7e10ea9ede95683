"""flask-smorest glue: the Api and Blueprint classes whose validation errors speak the contract."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import flask
import marshmallow as ma
import swagger_ui_bundle
from flask import Flask, Response, send_from_directory
from flask_smorest import Api, Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from armada.errors import BadRequest, ValidationFailed, http_exception_response
from armada.schemas import ErrorSchema


def flatten_messages(messages: Mapping[str, Any] | list[Any]) -> dict[str, Any]:
    """Drop webargs' location level: {"json": {"name": [...]}} -> {"name": [...]}."""
    if isinstance(messages, list):
        return {"_schema": messages}
    flat: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, Mapping):
            flat.update(errors)
        else:
            flat[location] = errors
    return flat


class ArmadaParser(FlaskParser):
    """Parses request bodies strictly: JSON objects only, and errors in the contract's format."""

    # Unknown fields are ignored everywhere, so a client can never mass-assign `sender_id` or `is_admin`.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        location: ma.EXCLUDE for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION
    }

    def _raw_load_json(self, req: flask.Request) -> Any:
        body = req.get_data(cache=True)
        if not body:
            return core.missing
        if not req.is_json:
            raise BadRequest(
                "The request body must be JSON, sent with Content-Type: application/json.",
                code="unsupported_content_type",
            )
        data = core.parse_json(body)
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.", code="malformed_json")
        return data

    def _handle_invalid_json_error(self, error: Exception, req: flask.Request, *args: Any, **kwargs: Any) -> NoReturn:
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


class ArmadaApi(Api):
    """The API object: contract-shaped errors, bearer auth in the spec, offline Swagger UI."""

    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        self.spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        )
        assets = Path(swagger_ui_bundle.swagger_ui_path)

        @app.route("/api/docs/assets/<path:filename>")
        def swagger_ui_assets(filename: str) -> Response:
            return send_from_directory(assets, filename)

    def handle_http_exception(self, error: HTTPException) -> tuple[Response, int]:  # type: ignore[override]
        """Every HTTPException, smorest's own included, in the contract's error format."""
        return http_exception_response(error)
