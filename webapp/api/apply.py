"""POST /apply: config as code. The desired monitors in, the plan out (and applied unless dry_run), one
transaction (webapp.apply_service). `healthmon apply` is its client."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from healthmon import defaults
from healthmon.netguard import AddressGuard
from healthmon.settings import Settings
from webapp import apply_service, service
from webapp.api import Blueprint
from webapp.api.monitors import _field_problem, require_json_body
from webapp.apply_schemas import ApplyMonitorSchema, ApplyRequestSchema, ApplyResultSchema
from webapp.auth import require_api_key

EXAMPLE = {"monitors": [{"key": "api-health", "name": "API health", "url": "https://api.example.com/health",
                         "check_interval": 30, "tags": ["prod", "eu"]}], "prune": False, "dry_run": True}


def create_blueprint(settings: Settings) -> Blueprint:
    blp = Blueprint("apply", __name__, description=(
        "Config as code: make the stored monitors what a file declares (`healthmon apply`). Read-write key."))
    blp.before_request(require_api_key)
    blp.before_request(require_json_body)
    guard = AddressGuard(settings.allowed_private_cidrs)
    schema = ApplyRequestSchema(item_schema=ApplyMonitorSchema(min_check_interval=settings.min_check_interval))

    @blp.route("/apply")
    class Apply(MethodView):
        max_request_bytes = defaults.MAX_APPLY_REQUEST_BYTES  # read by webapp.app's body limit

        @blp.arguments(schema, example=EXAMPLE)
        @blp.response(200, ApplyResultSchema)
        @blp.alt_response(400, schema=ErrorSchema, description="A new or changed url or webhook_url points at a "
                                                               "blocked address.")
        @blp.alt_response(401, schema=ErrorSchema, description="Missing, invalid or revoked API key.")
        @blp.alt_response(403, schema=ErrorSchema, description="The API key is read-only.")
        @blp.alt_response(409, schema=ErrorSchema, description="A masked webhook_url that is not the matched "
                                                               "monitor's, a key taken meanwhile, or monitors "
                                                               "that kept changing while the apply ran.")
        @blp.alt_response(413, schema=ErrorSchema, description="The body is over 32 MiB.")
        def post(self, data):
            """Create, change and (prune) delete monitors so that the stored ones are those given, matched by
            key; or (dry_run) only say what that would do. All or nothing.

            Each monitor is a full replace, as PUT /monitors/{id} (omitted fields take their defaults; a masked
            secret keeps the stored one) with a required `key`; `monitor-<id>` names the monitor of that id.
            A changed monitor keeps its id and history. Errors name the item: `monitors.3.check_interval`."""
            try:
                return apply_service.apply(guard, data["monitors"], data["prune"], data["dry_run"])
            except service.FieldProblem as problem:
                _field_problem(problem.within("monitors"))

    return blp
