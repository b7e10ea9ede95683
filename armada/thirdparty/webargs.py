"""webargs' internals: FlaskParser's hooks for making a schema and for reading and refusing a JSON body.

webargs builds its parser on `_get_schema`, `_raw_load_json` and `_handle_invalid_json_error`, and says the last two
are "not part of the public API". FlaskParserBase overrides all three and hands each to a named hook.
"""

from __future__ import annotations

from typing import Any, NoReturn

import flask
import marshmallow as ma
from webargs.flaskparser import FlaskParser

from armada.thirdparty import require

SUPPORTED = ">=8.7,<8.8"
require("webargs", SUPPORTED)


class FlaskParserBase(FlaskParser):
    """webargs' FlaskParser, with its internal hooks behind named methods."""

    # Hooks

    def schema_for_class(self, schema_class: type[ma.Schema]) -> ma.Schema:
        """Hook: the schema to load with when given a schema class (as flask-smorest gives them); webargs makes a
        new instance for every request."""
        return schema_class()

    def load_json_body(self, req: flask.Request) -> Any:
        """Hook: the request's JSON body, or webargs.core.missing when there is none; a JSONDecodeError or
        UnicodeDecodeError it raises goes to `invalid_json`."""
        return super()._raw_load_json(req)

    def invalid_json(self, error: Exception, req: flask.Request) -> NoReturn:
        """Hook: refuse a body that is not valid JSON (webargs: a 400 with messages of its own)."""
        super()._handle_invalid_json_error(error, req)  # type: ignore[arg-type]

    # webargs' internals

    def _get_schema(self, argmap: Any, req: flask.Request) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return self.schema_for_class(argmap)
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req: flask.Request) -> Any:
        return self.load_json_body(req)

    def _handle_invalid_json_error(self, error: Any, req: flask.Request, *args: Any, **kwargs: Any) -> NoReturn:
        self.invalid_json(error, req)
