"""POST /monitors/{id}/pause and /monitors/{id}/resume (webapp.pausing). A blueprint of its own: these take
no body, while /monitors' writes require a JSON one. Read-write key; 200 with the monitor, also when it
was already paused (or running): both are idempotent."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort

from webapp import pausing
from webapp.api import Blueprint, error_docs
from webapp.auth import require_api_key
from webapp.schemas import MonitorSchema

blp = Blueprint("pause", __name__, url_prefix="/monitors", description=(
    "Pause and resume a monitor. A paused monitor is not checked, its status is PAUSED and its counters stop; "
    "resuming starts it afresh (UNKNOWN, checked at once). Neither sends an alert."))
blp.before_request(require_api_key)


_documents = error_docs(blp, {401: "Missing, invalid or revoked API key.", 403: "The API key is read-only.",
                              404: "No monitor with this id."})
_errors = _documents(401, 403, 404)


def _found(monitor, monitor_id: int):
    if monitor is None:
        abort(404, message=f"Monitor {monitor_id} not found.")
    return monitor


@blp.route("/<int:monitor_id>/pause")
class Pause(MethodView):
    @_errors
    @blp.response(200, MonitorSchema)
    def post(self, monitor_id):
        """Pause a monitor: no more checks, status PAUSED, counters stopped (a queued check is dropped).
        Already paused: 200, nothing changes. No alert is sent."""
        return _found(pausing.pause_monitor(monitor_id), monitor_id)


@blp.route("/<int:monitor_id>/resume")
class Resume(MethodView):
    @_errors
    @blp.response(200, MonitorSchema)
    def post(self, monitor_id):
        """Resume a paused monitor: status UNKNOWN, counters 0, checked at once; its first real transition
        alerts as usual. Not paused: 200, nothing changes. No alert is sent for the resume itself."""
        return _found(pausing.resume_monitor(monitor_id), monitor_id)
