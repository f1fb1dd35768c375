"""GET /stats: the pipeline's health in numbers (overload, pending checks, skipped slots, queue depth).

Needs an API key (read-only is enough): the figures say how many monitors exist and how they fare.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from healthmon.settings import Settings
from healthmon.stats import pipeline_stats
from webapp.api import Blueprint
from webapp.auth import require_api_key
from webapp.schemas import StatsSchema


def create_blueprint(settings: Settings) -> Blueprint:
    blp = Blueprint("stats", __name__, description="Is every monitor checked on time? (read-only keys allowed)")
    blp.before_request(require_api_key)

    @blp.route("/stats")
    class Stats(MethodView):
        @blp.response(200, StatsSchema)
        @blp.alt_response(401, schema=ErrorSchema, description="Missing, invalid or revoked API key.")
        def get(self):
            """Pipeline health: overload, schedule lag, pending checks, skipped slots, queue depth.

            `overloaded` is true while some monitor's pending check is older than its interval (checkers
            cannot keep up, or are down) or the scheduler is behind; skipped slots are counted, never lost
            silently, and the flag clears by itself once the load drops."""
            return pipeline_stats(settings.queue_backend)

    return blp
