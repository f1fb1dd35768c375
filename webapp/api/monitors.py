"""/monitors: create, list, read, replace, patch and delete monitors; read their events and results.

Every endpoint needs `Authorization: Bearer <key>` (webapp.auth); writes need a read-write key. Each view
has one success status; every other outcome is `abort(code, message=...)`. Lists are plain JSON arrays
(so `curl $API_URL/monitors | jq` shows the monitors) with pagination metadata in the `X-Pagination`
header: `{"total": 42, "total_pages": 1, "first_page": 1, "last_page": 1, "page": 1}`.
The blueprint is built per app because the lowest check_interval comes from the settings.
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE

from healthmon import defaults
from healthmon.netguard import AddressGuard
from healthmon.settings import Settings
from webapp import service
from webapp.api import Blueprint, error_docs
from webapp.auth import require_api_key
from webapp.request_schemas import CREATE_EXAMPLE
from webapp.schemas import (
    CheckResultSchema,
    MonitorBulkCreateSchema,
    MonitorCreateSchema,
    MonitorPatchSchema,
    MonitorQuerySchema,
    MonitorReplaceSchema,
    MonitorSchema,
    StateChangeSchema,
    TimeRangeQuerySchema,
)

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
"""Monitors per page: one page shows a typical deployment; the cap keeps one response bounded."""

HISTORY_PAGE_SIZE = 50
HISTORY_MAX_PAGE_SIZE = 500
"""Events and results are many and mostly read newest first; smaller pages."""

DESCRIPTION = (
    "HTTP(S) endpoints to check. Requires `Authorization: Bearer <key>`; writes need a read-write key "
    "(hmw_...). `webhook_url` is write-only: responses mask it, and a PUT or PATCH that sends the masked value "
    "back keeps the stored URL; `auth` and secret header values are write-only the same way (`****`). Lists are "
    "JSON arrays; pagination metadata is in the X-Pagination header."
)

ERROR_DESCRIPTIONS = {
    400: "Bad request: url or webhook_url points at a blocked address, a channels id names no channel, or the "
         "body is not JSON.",
    401: "Missing, invalid or revoked API key.",
    403: "The API key is read-only.",
    404: "No monitor with this id.",
    409: "Conflicts with the stored monitors: a key another monitor has, a webhook_url ending in **** that is "
         "not this monitor's masked webhook, or (PATCH) a timeout not below the stored check_interval, or the reverse.",
    413: f"The body is over the limit ({defaults.MAX_BULK_REQUEST_BYTES} bytes for a bulk create).",
}


def _field_problem(problem: service.FieldProblem):
    """Abort with the same body shape as a schema error: the field named under errors.json."""
    abort(problem.status, message=f"{problem.field}: {problem.reason}",
          errors={"json": {problem.field: [problem.reason]}})


def require_json_body() -> None:
    """before_request hook: a write must carry a JSON body. Without this, a form-encoded PATCH would
    parse as an empty change and answer 200 while changing nothing."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if not request.is_json or not request.get_data(cache=True).strip():
        abort(400, message="The request body must be a JSON object (Content-Type: application/json).",
              errors={"json": {"_schema": ["Expected a JSON object with Content-Type: application/json."]}})


def _existing(monitor_id: int):
    monitor = service.get_monitor(monitor_id)
    if monitor is None:
        abort(404, message=f"Monitor {monitor_id} not found.")
    return monitor


def create_blueprint(settings: Settings) -> Blueprint:
    """The /monitors blueprint for an app configured with `settings`."""
    blp = Blueprint("monitors", __name__, url_prefix="/monitors", description=DESCRIPTION)
    blp.before_request(require_api_key)
    blp.before_request(require_json_body)
    guard = AddressGuard(settings.allowed_private_cidrs)
    create_schema = MonitorCreateSchema(min_check_interval=settings.min_check_interval)
    replace_schema = MonitorReplaceSchema(min_check_interval=settings.min_check_interval)
    patch_schema = MonitorPatchSchema(min_check_interval=settings.min_check_interval)
    bulk_schema = MonitorBulkCreateSchema(item_schema=create_schema)

    documents = error_docs(blp, ERROR_DESCRIPTIONS)

    def _update(monitor_id: int, data: dict):
        current = _existing(monitor_id)
        try:
            changes = service.resolve_request_secrets(current, service.resolve_webhook(current, data))
            service.check_addresses(guard, changes)
            monitor = service.update_monitor(monitor_id, changes)
        except service.FieldProblem as problem:
            _field_problem(problem)
        if monitor is None:
            abort(404, message=f"Monitor {monitor_id} not found.")
        return monitor

    @blp.route("", strict_slashes=False)
    class Monitors(MethodView):
        @documents(401)
        @blp.arguments(MonitorQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
        @blp.response(200, MonitorSchema(many=True))
        @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
        def get(self, pagination_parameters, enabled=None, status=None, tag=None, key=None):
            """List monitors (by id), optionally filtered by enabled, status, key and tags (every tag given)."""
            p = pagination_parameters
            rows, p.item_count = service.list_monitors(enabled, status, p.first_item, p.page_size, tag, key)
            return rows

        @documents(400, 401, 403, 409)
        @blp.arguments(create_schema, example=CREATE_EXAMPLE)
        @blp.response(201, MonitorSchema)
        def post(self, data):
            """Create a monitor. Its status is UNKNOWN and its first check is due at once.

            400 when url or webhook_url points at a private, loopback, link-local or metadata address.
            """
            try:
                service.check_addresses(guard, data)
                return service.create_monitor(data)
            except service.FieldProblem as problem:
                _field_problem(problem)

    # Before /<int:monitor_id> (which could never match "bulk" anyway: the converter takes digits only).
    @blp.route("/bulk")
    class MonitorsBulk(MethodView):
        max_request_bytes = defaults.MAX_BULK_REQUEST_BYTES  # read by webapp.app's body limit

        @documents(400, 401, 403, 409, 413)
        @blp.arguments(bulk_schema)
        @blp.response(201, MonitorSchema(many=True))
        def post(self, data):
            """Create 1 to 1000 monitors at once, all or nothing; they are returned in the order sent.

            Each item is what POST /monitors accepts and is checked by the same rules. If any item is
            refused, nothing is stored and the error names it by index: `monitors.3.url`. 400 when an
            item's url or webhook_url points at a blocked address; 413 for a body over 1 MiB.
            """
            items = data["monitors"]
            try:
                service.check_addresses_of_each(guard, items)
                return service.create_monitors(items)
            except service.FieldProblem as problem:
                _field_problem(problem.within("monitors"))

    @blp.route("/<int:monitor_id>")
    class MonitorById(MethodView):
        @documents(401, 404)
        @blp.response(200, MonitorSchema)
        def get(self, monitor_id):
            """Get one monitor."""
            return _existing(monitor_id)

        @documents(400, 401, 403, 404, 409)
        @blp.arguments(replace_schema)
        @blp.response(200, MonitorSchema)
        def put(self, data, monitor_id):
            """Replace a monitor. Omitted optional fields take their defaults (omitted webhook_url removes
            it; the masked value keeps it; `****` in auth or a secret header keeps that secret). Changing url,
            expected_status_code, method, headers, body, auth, follow_redirects or verify_tls resets the
            status to UNKNOWN and the counters to 0; changing check_interval or re-enabling checks it at once."""
            return _update(monitor_id, data)

        @documents(400, 401, 403, 404, 409)
        @blp.arguments(patch_schema)
        @blp.response(200, MonitorSchema)
        def patch(self, data, monitor_id):
            """Change some fields of a monitor; omitted fields (webhook_url included) are kept.
            Same reset rules as PUT."""
            return _update(monitor_id, data)

        @documents(401, 403, 404)
        @blp.response(204)
        def delete(self, monitor_id):
            """Delete a monitor with its results and events."""
            if not service.delete_monitor(monitor_id):
                abort(404, message=f"Monitor {monitor_id} not found.")

    @blp.route("/<int:monitor_id>/events")
    class MonitorEvents(MethodView):
        @documents(401, 404)
        @blp.response(200, StateChangeSchema(many=True))
        @blp.arguments(TimeRangeQuerySchema, location="query", unknown=RAISE)
        @blp.paginate(page_size=HISTORY_PAGE_SIZE, max_page_size=HISTORY_MAX_PAGE_SIZE)
        def get(self, query, monitor_id, pagination_parameters):
            """Status changes of a monitor, newest first; `since`/`until` bound their time."""
            _existing(monitor_id)
            p = pagination_parameters
            rows, p.item_count = service.list_events(monitor_id, p.first_item, p.page_size,
                                                     query.get("since"), query.get("until"))
            return rows

    @blp.route("/<int:monitor_id>/results")
    class MonitorResults(MethodView):
        @documents(401, 404)
        @blp.response(200, CheckResultSchema(many=True))
        @blp.arguments(TimeRangeQuerySchema, location="query", unknown=RAISE)
        @blp.paginate(page_size=HISTORY_PAGE_SIZE, max_page_size=HISTORY_MAX_PAGE_SIZE)
        def get(self, query, monitor_id, pagination_parameters):
            """Check results of a monitor, newest first; `since`/`until` bound their checked_at."""
            _existing(monitor_id)
            p = pagination_parameters
            rows, p.item_count = service.list_results(monitor_id, p.first_item, p.page_size,
                                                      query.get("since"), query.get("until"))
            return rows

    return blp
