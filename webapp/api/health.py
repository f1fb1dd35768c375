"""GET /health: liveness for the load balancer. Open (no API key) and touches no database, so a slow
database does not take every task out of the target group at once."""

from __future__ import annotations

from flask.views import MethodView

from webapp.api import Blueprint
from webapp.schemas import HealthSchema

blp = Blueprint("health", __name__, description="Liveness probe for load balancers (no API key needed).")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    def get(self):
        """Liveness: the process answers HTTP."""
        return {"status": "ok"}
