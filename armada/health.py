"""GET /api/health: is the process up and can it reach its database."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from armada.api import ArmadaBlueprint
from armada.errors import ServiceUnavailable
from armada.extensions import api, db

blp = ArmadaBlueprint("health", __name__, url_prefix="/api", description="Liveness and readiness.")


class HealthSchema(ma.Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    database = fields.String(required=True, metadata={"example": "ok"})


@blp.route("/health")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(503, description="The database cannot be reached.")
def health() -> dict[str, Any]:
    """Whether the service and its database answer (no authentication)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(
            "The database is unreachable.", code="database_unavailable", details={"database": type(exc).__name__}
        ) from None
    return {"status": "ok", "database": "ok"}


def init_app(_app: object) -> None:
    """Register the health endpoint."""
    api.register_blueprint(blp)
