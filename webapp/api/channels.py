"""/channels: named alert destinations (Slack, a signed JSON webhook, Discord, Microsoft Teams, PagerDuty,
e-mail) that monitors link to by id (a monitor's `channels`); and a test send.

The conventions of /monitors (webapp/api/monitors.py): `Authorization: Bearer <key>` on every endpoint,
a read-write key for writes, one success status per view, lists as JSON arrays with X-Pagination, errors
naming the field. Secrets in `config` are write-only (webapp/channel_config.py).
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE

from healthmon import defaults
from healthmon.netguard import AddressGuard
from healthmon.settings import Settings
from webapp import channel_service, service
from webapp.api import Blueprint, error_docs
from webapp.api.monitors import MAX_PAGE_SIZE, PAGE_SIZE, _field_problem, require_json_body
from webapp.auth import require_api_key
from webapp.channel_schemas import (
    CREATE_EXAMPLE,
    ChannelCreateSchema,
    ChannelPatchSchema,
    ChannelPlanRequestSchema,
    ChannelPlanSchema,
    ChannelQuerySchema,
    ChannelSchema,
    ChannelTestSchema,
)

DESCRIPTION = (
    "Alert destinations monitors link to by id (a monitor's `channels`). Requires `Authorization: Bearer <key>`; "
    "writes (and the test send) need a read-write key. Secrets in `config` are write-only: responses mask them, "
    "and the masked value sent back on PUT or PATCH keeps the stored secret. Lists are JSON arrays; pagination "
    "metadata is in the X-Pagination header."
)

ERROR_DESCRIPTIONS = {
    400: "Bad request: a config field breaks its type's rules (`config.webhook_url: ...`), a webhook or SMTP host "
         "is a blocked address, or the body is not JSON.",
    401: "Missing, invalid or revoked API key.",
    403: "The API key is read-only.",
    404: "No channel with this id.",
    409: "Another channel has this name, or a masked secret is not this channel's.",
}


def _json_body_unless_test() -> None:
    """Writes carry a JSON body (require_json_body), except the test send, which has none."""
    if request.endpoint != "channels.ChannelTest":
        require_json_body()


def create_blueprint(settings: Settings) -> Blueprint:
    """The /channels blueprint for an app configured with `settings`."""
    blp = Blueprint("channels", __name__, url_prefix="/channels", description=DESCRIPTION)
    blp.before_request(require_api_key)
    blp.before_request(_json_body_unless_test)
    guard = AddressGuard(settings.allowed_private_cidrs)

    documents = error_docs(blp, ERROR_DESCRIPTIONS)

    def existing(channel_id: int):
        channel = channel_service.get_channel(channel_id)
        if channel is None:
            abort(404, message=f"Channel {channel_id} not found.")
        return channel

    def update(channel_id: int, data: dict):
        existing(channel_id)
        try:
            channel = channel_service.update_channel(guard, channel_id, data)
        except service.FieldProblem as problem:
            _field_problem(problem)
        if channel is None:
            abort(404, message=f"Channel {channel_id} not found.")
        return channel

    @blp.route("", strict_slashes=False)
    class Channels(MethodView):
        @documents(401)
        @blp.arguments(ChannelQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
        @blp.response(200, ChannelSchema(many=True))
        @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
        def get(self, pagination_parameters, type=None):  # noqa: A002 - the query parameter's name
            """List channels (by id), optionally of one type."""
            p = pagination_parameters
            rows, p.item_count = channel_service.list_channels(type, p.first_item, p.page_size)
            return rows

        @documents(400, 401, 403, 409)
        @blp.arguments(ChannelCreateSchema, example=CREATE_EXAMPLE)
        @blp.response(201, ChannelSchema)
        def post(self, data):
            """Create a channel. Its config is checked by its type's rules and its addresses by the guard."""
            try:
                return channel_service.create_channel(guard, data)
            except service.FieldProblem as problem:
                _field_problem(problem)

    @blp.route("/plan")
    class ChannelPlan(MethodView):
        max_request_bytes = defaults.MAX_CHANNEL_PLAN_REQUEST_BYTES  # read by webapp.app's body limit

        @documents(400, 401, 403, 409)
        @blp.arguments(ChannelPlanRequestSchema, example={"channels": [CREATE_EXAMPLE]})
        @blp.response(200, ChannelPlanSchema)
        def post(self, data):
            """Say what saving each given channel (matched by name) would change, secrets included; change
            nothing. For `healthmon apply`: a secret the API shows masked is compared here, where it is
            stored, and only the names of the fields that differ come back, never a secret's value. Each
            channel is checked as PUT checks it; errors name it: `channels.2.config.routing_key`."""
            try:
                return {"channels": channel_service.plan_channels(guard, data["channels"])}
            except service.FieldProblem as problem:
                _field_problem(problem.within("channels"))

    @blp.route("/<int:channel_id>")
    class ChannelById(MethodView):
        @documents(401, 404)
        @blp.response(200, ChannelSchema)
        def get(self, channel_id):
            """Get one channel (secrets masked)."""
            return existing(channel_id)

        @documents(400, 401, 403, 404, 409)
        @blp.arguments(ChannelCreateSchema)
        @blp.response(200, ChannelSchema)
        def put(self, data, channel_id):
            """Replace a channel: name, type and config. A masked secret as the API returned it keeps it."""
            return update(channel_id, data)

        @documents(400, 401, 403, 404, 409)
        @blp.arguments(ChannelPatchSchema)
        @blp.response(200, ChannelSchema)
        def patch(self, data, channel_id):
            """Change some of name, type and config (config is replaced whole; masked secrets keep theirs)."""
            return update(channel_id, data)

        @documents(401, 403, 404)
        @blp.response(204)
        def delete(self, channel_id):
            """Delete a channel and its links to monitors. Its alerts still pending fail (the channel is gone)."""
            if not channel_service.delete_channel(channel_id):
                abort(404, message=f"Channel {channel_id} not found.")

    @blp.route("/<int:channel_id>/test")
    class ChannelTest(MethodView):
        @documents(401, 403, 404)
        @blp.response(200, ChannelTestSchema)
        def post(self, channel_id):
            """Send a test message through the channel now (the address guard applies; at most 10 s) and say
            whether the destination accepted it. A refusal is still a 200: `ok` false and the reason."""
            return channel_service.send_test(existing(channel_id), settings, guard)

    return blp
