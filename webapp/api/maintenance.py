"""/maintenance: maintenance windows (webapp.maintenance_service). While a window covers a monitor its
checks are recorded as usual but no alert goes out; when it ends, a monitor whose status changed gets one
report (scheduler.maintenance_reports). Read-write key for writes; one success status per view."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE

from webapp import maintenance_service as service
from webapp.api import Blueprint, error_docs
from webapp.api.monitors import _field_problem, require_json_body
from webapp.auth import require_api_key
from webapp.maintenance_schemas import (
    CREATE_EXAMPLE,
    MaintenanceInputSchema,
    MaintenancePatchSchema,
    MaintenanceSchema,
)
from webapp.schemas import PagedQuerySchema

blp = Blueprint("maintenance", __name__, url_prefix="/maintenance", description=(
    "Maintenance windows: one-off or recurring (weekly or cron, in an IANA time zone) periods when the monitors "
    "they cover send no alerts; what changed is reported once when the window ends."))
blp.before_request(require_api_key)
blp.before_request(require_json_body)

_ERRORS = {401: "Missing, invalid or revoked API key.", 403: "The API key is read-only.",
           404: "No maintenance window with this id."}


_documents = error_docs(blp, _ERRORS)


def _saved(call, *args):
    try:
        window = call(*args)
    except service.FieldProblem as problem:
        _field_problem(problem)
    if window is None:
        abort(404, message=f"Maintenance window {args[0]} not found.")
    return service.view(window)


@blp.route("", strict_slashes=False)
class Windows(MethodView):
    @_documents(401)
    @blp.arguments(PagedQuerySchema, location="query", unknown=RAISE)  # a typo (?pagesize=) is a 422
    @blp.response(200, MaintenanceSchema(many=True))
    @blp.paginate(page_size=100, max_page_size=1000)
    def get(self, _query, pagination_parameters):
        """List maintenance windows (by id)."""
        p = pagination_parameters
        rows, p.item_count = service.list_windows(p.first_item, p.page_size)
        return [service.view(w) for w in rows]

    @_documents(401, 403)
    @blp.arguments(MaintenanceInputSchema, example=CREATE_EXAMPLE)
    @blp.response(201, MaintenanceSchema)
    def post(self, data):
        """Create a window: `name`; `monitor_ids` or `all: true`; `starts_at` and `ends_at`, or `recurrence`
        (with `timezone`). A 422 names the field at fault (unknown monitor id, bad cron, unknown zone, ends
        before it starts)."""
        try:
            return service.view(service.create_window(data))
        except service.FieldProblem as problem:
            _field_problem(problem)


@blp.route("/<int:window_id>")
class WindowById(MethodView):
    @_documents(401, 404)
    @blp.response(200, MaintenanceSchema)
    def get(self, window_id):
        """Get one window, with whether it is on and its next occurrences."""
        window = service.get_window(window_id)
        if window is None:
            abort(404, message=f"Maintenance window {window_id} not found.")
        return service.view(window)

    @_documents(401, 403, 404)
    @blp.arguments(MaintenanceInputSchema)
    @blp.response(200, MaintenanceSchema)
    def put(self, data, window_id):
        """Replace a window (the same rules as POST)."""
        return _saved(service.update_window, window_id, data, True)

    @_documents(401, 403, 404)
    @blp.arguments(MaintenancePatchSchema)
    @blp.response(200, MaintenanceSchema)
    def patch(self, data, window_id):
        """Change some fields; sending one form of the time (recurrence, or starts_at/ends_at) or of the
        monitors (all, or monitor_ids) replaces the other."""
        return _saved(service.update_window, window_id, data, False)

    @_documents(401, 403, 404)
    @blp.response(204)
    def delete(self, window_id):
        """Delete a window. An occurrence on now ends at once, with no report."""
        if not service.delete_window(window_id):
            abort(404, message=f"Maintenance window {window_id} not found.")
