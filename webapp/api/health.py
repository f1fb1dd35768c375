"""GET /health: liveness for the load balancer. Open (no API key) and touches no database, so a slow
database does not take every task out of the target group at once.

GET /health/ready: readiness. Also open; runs `SELECT 1` on its own short-lived connection and answers 503
while the database cannot be reached (for an orchestrator's readiness probe, or a person asking "is it
me or the database?")."""

from __future__ import annotations

from flask.views import MethodView

from healthmon.db import database
from webapp.api import Blueprint
from webapp.errors import DATABASE_DOWN
from webapp.schemas import HealthSchema, ReadinessSchema

blp = Blueprint("health", __name__, description="Liveness probe for load balancers (no API key needed).")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    def get(self):
        """Liveness: the process answers HTTP."""
        return {"status": "ok"}


@blp.route("/health/ready")
class Ready(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ReadinessSchema, description="The database cannot be reached.")
    def get(self):
        """Readiness: the process answers and the database accepts a query (503 while it does not)."""
        try:
            with database.connection_context():
                database.execute_sql("SELECT 1")
        except DATABASE_DOWN as exc:
            return {"status": "unavailable", "database": f"unreachable ({exc.__class__.__name__})"}, 503
        return {"status": "ok", "database": "ok"}
