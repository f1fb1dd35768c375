"""A monitor's history and the summary of all: GET /monitors/{id}/uptime, /monitors/{id}/incidents and
/summary. Read-only keys are enough. Figures come from the rollups and the state changes
(healthmon.history), so a year of uptime reads a few hundred rows, not a year of raw results.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema
from marshmallow import RAISE

from healthmon import history
from healthmon.db import utcnow
from webapp import service
from webapp.api import Blueprint
from webapp.auth import require_api_key
from webapp.schemas import (
    IncidentSchema,
    PagedQuerySchema,
    SummaryQuerySchema,
    SummarySchema,
    UptimeQuerySchema,
    UptimeSchema,
)

INCIDENT_PAGE_SIZE = 50
INCIDENT_MAX_PAGE_SIZE = 500

UNAUTHORIZED = "Missing, invalid or revoked API key."


def _existing(monitor_id: int) -> None:
    if service.get_monitor(monitor_id) is None:
        abort(404, message=f"Monitor {monitor_id} not found.")


def create_blueprint() -> Blueprint:
    blp = Blueprint("history", __name__, description=(
        "Uptime, latency and incidents over time, from hourly and daily rollups (read-only keys allowed)."))
    blp.before_request(require_api_key)

    def documents(view):
        view = blp.alt_response(401, schema=ErrorSchema, description=UNAUTHORIZED)(view)
        return blp.alt_response(404, schema=ErrorSchema, description="No monitor with this id.")(view)

    @blp.route("/monitors/<int:monitor_id>/uptime")
    class MonitorUptime(MethodView):
        @documents
        @blp.arguments(UptimeQuerySchema, location="query", unknown=RAISE)
        @blp.response(200, UptimeSchema)
        def get(self, query, monitor_id):
            """Uptime %, checks, failures, downtime and latency (avg, p50, p95, p99) over a window.

            24h and 7d read hourly rollups, 30d, 90d and 365d daily ones, plus the raw results of the last
            minutes the rollup job has not folded yet."""
            _existing(monitor_id)
            return history.uptime(monitor_id, query["window"])

    @blp.route("/monitors/<int:monitor_id>/incidents")
    class MonitorIncidents(MethodView):
        @documents
        @blp.response(200, IncidentSchema(many=True))
        @blp.arguments(PagedQuerySchema, location="query", unknown=RAISE)
        @blp.paginate(page_size=INCIDENT_PAGE_SIZE, max_page_size=INCIDENT_MAX_PAGE_SIZE)
        def get(self, _query, monitor_id, pagination_parameters):
            """The monitor's DOWN periods, newest first: start, end (null while ongoing), duration, and
            the first failed check's error."""
            _existing(monitor_id)
            p = pagination_parameters
            rows, p.item_count = history.incident_page(monitor_id, p.first_item, p.page_size)
            now = utcnow()
            return [{"started_at": i.started_at, "ended_at": i.ended_at, "ongoing": i.ended_at is None,
                     "duration_seconds": i.duration_seconds(now), "first_error": i.first_error} for i in rows]

    @blp.route("/summary")
    class Summary(MethodView):
        @blp.arguments(SummaryQuerySchema, location="query", unknown=RAISE)
        @blp.response(200, SummarySchema)
        @blp.alt_response(401, schema=ErrorSchema, description=UNAUTHORIZED)
        def get(self, query):
            """Monitors by status, the monitors DOWN now and since when, the five worst uptimes over 24 h;
            `?tag=prod&tag=eu`: of the monitors carrying every one of those tags only."""
            return history.summary(tags=query.get("tag"))

    return blp
