"""marshmallow schemas of /channels. The schema checks the envelope (name, type, that config is an object);
each type's config fields are checked by webapp/channel_config.py, whose errors name the field
(`config.webhook_url: ...`) in a 400."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from healthmon.defaults import MAX_PLANNED_CHANNELS
from healthmon.models import CHANNEL_TYPES
from webapp import channel_config
from webapp.apply_schemas import FieldChangeSchema
from webapp.schemas import BoundedList, DisplayName, ItemListInput, PagedQuerySchema, UtcDateTime

CONFIG_DESCRIPTION = (
    "Type-specific settings. slack, discord, teams: `webhook_url` (secret). webhook: `url` (secret: it may carry "
    "a token), optional `secret` (HMAC-SHA256 key, 16-256 characters, secret). pagerduty: `routing_key` (secret, "
    "32 letters and digits), optional `severity` (critical, error, warning, info; default critical). email: "
    "`host`, optional `port` (default by security), optional `security` (starttls, tls or none; default "
    "starttls), optional `username` and `password` (secret) together, `from`, `to` (1-20 addresses). Secrets are "
    "write-only: responses mask them (a URL as scheme, host and `****`, others as `****`), and the masked value "
    "sent back on PUT or PATCH keeps the stored secret. A field that breaks its type's rules is a 400 naming it: "
    "`config.webhook_url: ...`. Webhook and SMTP hosts must pass the address guard (400)."
)
CREATE_EXAMPLE = {"name": "ops-slack", "type": "slack",
                  "config": {"webhook_url": "https://hooks.slack.com/services/T000/B000/XXXXXXXX"}}


def _specs(patch: bool) -> dict:
    return {
        "name": DisplayName(required=not patch, validate=validate.Length(min=1, max=100), metadata={
            "description": "Unique display name (1-100 characters, surrounding spaces removed).",
            "example": "ops-slack"}),
        "type": fields.String(required=not patch, validate=validate.OneOf(CHANNEL_TYPES), metadata={
            "description": "Where alerts go: " + ", ".join(CHANNEL_TYPES) + ".", "example": "slack"}),
        "config": fields.Dict(keys=fields.String(), required=not patch, metadata={
            "description": CONFIG_DESCRIPTION + (" PATCH replaces the whole config; with a new type but no config "
                                                 "the stored config must suit the new type." if patch else ""),
            "example": CREATE_EXAMPLE["config"]}),
    }


class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


ChannelCreateSchema = _Strict.from_dict(_specs(patch=False), name="ChannelCreateSchema")
"""POST and PUT /channels: name, type and config, all required."""
ChannelPatchSchema = _Strict.from_dict(_specs(patch=True), name="ChannelPatchSchema")
"""PATCH /channels/{id}: any of them."""


class ChannelQuerySchema(PagedQuerySchema):
    type = fields.String(validate=validate.OneOf(CHANNEL_TYPES), metadata={"description": "Only this type."})


class MaskedConfig(fields.Dict):
    """A channel's config with its secrets masked (channel_config.mask), per the channel's type."""

    def _serialize(self, value, attr, obj, **kwargs):
        return channel_config.mask(obj.type, value or {})


class ChannelSchema(ma.Schema):
    """A stored channel as the API shows it: secrets masked."""

    id = fields.Integer(required=True, metadata={"description": "Never given to another channel, even after delete."})
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(CHANNEL_TYPES))
    config = MaskedConfig(required=True, metadata={"description": "As sent, defaults filled in, secrets masked."})
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class ChannelTestSchema(ma.Schema):
    """What POST /channels/{id}/test got."""

    ok = fields.Boolean(required=True, metadata={"description": "The destination accepted the test message."})
    status = fields.Integer(allow_none=True, required=True, metadata={
        "description": "The HTTP status answered; null for e-mail or when no answer came."})
    error = fields.String(allow_none=True, required=True, metadata={
        "description": "Why it failed (status, a known error code, the transport error; never the address or "
                       "a secret); null when ok."})


class ChannelPlanRequestSchema(ItemListInput):
    """POST /channels/plan: channels as a config file declares them."""

    channels = BoundedList(fields.Nested(ChannelCreateSchema), required=True,
                           validate=validate.Length(max=MAX_PLANNED_CHANNELS), metadata={
                               "description": f"At most {MAX_PLANNED_CHANNELS}, matched by name (each name once); "
                                              "secrets in full, or masked as the API shows them (keep)."})


class PlannedChannelSchema(ma.Schema):
    name = fields.String(required=True)
    id = fields.Integer(allow_none=True, required=True, metadata={"description": "null: no channel has this name."})
    action = fields.String(required=True, validate=validate.OneOf(["create", "change", "unchanged"]))
    fields_ = fields.List(fields.Nested(FieldChangeSchema), data_key="fields", attribute="fields", required=True,
                          metadata={"description": "What a save would change: `type` or `config.<name>`; a secret's "
                                                   "values are never shown (`secret`: true)."})


class ChannelPlanSchema(ma.Schema):
    """What saving each declared channel would do, in request order."""

    channels = fields.List(fields.Nested(PlannedChannelSchema), required=True)
