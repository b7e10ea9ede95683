"""GET /api/health: is the process up and can it reach its database."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields
from sqlalchemy.exc import SQLAlchemyError

from armada.api import ArmadaBlueprint
from armada.errors import ServiceUnavailable
from armada.extensions import api, db
from armada.schema_state import UPGRADE_COMMAND, note, schema_status

blp = ArmadaBlueprint("health", __name__, url_prefix="/api", description="Liveness and readiness.")


class HealthSchema(ma.Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    database = fields.String(required=True, metadata={"example": "ok"})


@blp.route("/health")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(
    503,
    description=(
        "Not ready. `database_unavailable`: the database cannot be reached (transient: retry). "
        f"`schema_not_migrated`: the database was never migrated, or is behind this release; run `{UPGRADE_COMMAND}`"
        " (the server recovers without a restart). `schema_ahead`: a newer release migrated the database; deploy"
        " that release. Both schema answers give `details.database_revision` and `details.release_revision`."
    ),
)
def health() -> dict[str, Any]:
    """Whether the service answers, reaches its database, and finds it migrated to this release (no
    authentication)."""
    try:
        status = schema_status(db.session.connection())
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(
            "The database is unreachable.", code="database_unavailable", details={"database": type(exc).__name__}
        ) from None
    note(status)
    if status.state != "current":
        raise ServiceUnavailable.schema(status)
    return {"status": "ok", "database": "ok"}


def init_app(_app: object) -> None:
    """Register the health endpoint."""
    api.register_blueprint(blp)
