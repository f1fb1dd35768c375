"""GET /metrics: Prometheus' text format, every figure read from the database at scrape time
(healthmon.metrics), so each gunicorn worker answers the same and nothing is counted twice.

Access by METRICS (webapp.access): `private` (default) takes any API key, as Prometheus sends it with
`authorization: {credentials: <key>}` (Bearer) or `basic_auth: {password: <key>}`; `public`; `off` (404).
"""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from healthmon import metrics
from healthmon.settings import Settings
from webapp import access


def create_blueprint(settings: Settings) -> Blueprint:
    blp = Blueprint("metrics", __name__)
    blp.before_request(access.guard(settings.metrics, "healthmon metrics"))
    registry = metrics.registry(settings.queue_backend)

    @blp.get("/metrics")
    def scrape():
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                            "Cache-Control": "no-store"})

    return blp
