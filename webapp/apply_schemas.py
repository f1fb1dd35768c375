"""marshmallow schemas of POST /apply: the desired set of monitors in, the plan out."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from healthmon import defaults
from webapp.schemas import (
    BoundedList,
    ItemListInput,
    MonitorReplaceSchema,
    StrictBoolean,
    any_key_rules,
)


class ApplyMonitorSchema(MonitorReplaceSchema):
    """One desired monitor: what PUT /monitors/{id} takes (omitted fields take their defaults, masked secrets
    keep the stored ones), with a required key; `monitor-<id>` names the monitor with that id."""

    key = fields.String(required=True, validate=any_key_rules(), metadata={
        "description": "Matched on the stored monitors' key; `monitor-<id>` matches the monitor "
                       "with that id (it must have no key of its own).", "example": "api-health"})


class ApplyRequestSchema(ItemListInput):
    """POST /apply: every monitor wanted, and whether to delete the others (`prune`) or only plan (`dry_run`)."""

    monitors = BoundedList(
        fields.Nested(ApplyMonitorSchema), required=True,
        validate=validate.Length(max=defaults.MAX_APPLY_MONITORS),
        metadata={"description": f"The desired monitors, at most {defaults.MAX_APPLY_MONITORS}, keys distinct."})
    prune = StrictBoolean(load_default=False, metadata={
        "description": "Delete every stored monitor the request does not name (with its history)."})
    dry_run = StrictBoolean(load_default=False, metadata={"description": "Only plan: change nothing."})


class FieldChangeSchema(ma.Schema):
    field = fields.String(required=True, metadata={"example": "check_interval"})
    old = fields.Raw(allow_none=True, metadata={"description": "As GET shows it (secrets masked); absent when "
                                                               "secret is true.", "example": 60})
    new = fields.Raw(allow_none=True, metadata={"example": 30})
    secret = fields.Boolean(required=True, metadata={
        "description": "A write-only value (webhook_url, auth, a secret header) changed: neither value is shown."})


class PlannedChangeSchema(ma.Schema):
    action = fields.String(required=True, validate=validate.OneOf(["create", "change", "delete"]))
    key = fields.String(required=True, metadata={"description": "The key given (for a delete: the stored key, "
                                                                "or monitor-<id>)."})
    id = fields.Integer(allow_none=True, required=True, metadata={"description": "null for a create in a dry run."})
    name = fields.String(required=True)
    index = fields.Integer(allow_none=True, required=True, metadata={
        "description": "The position of the monitor in the request; null for a delete."})
    fields_ = fields.List(fields.Nested(FieldChangeSchema), data_key="fields", attribute="fields", required=True,
                          metadata={"description": "What a change changes (empty for a create or a delete)."})


class ApplySummarySchema(ma.Schema):
    create = fields.Integer(required=True)
    change = fields.Integer(required=True)
    delete = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)


class ApplyResultSchema(ma.Schema):
    """The plan, applied unless dry_run."""

    dry_run = fields.Boolean(required=True)
    changes = fields.List(fields.Nested(PlannedChangeSchema), required=True, metadata={
        "description": "Creates and changes in request order, then deletes by id."})
    summary = fields.Nested(ApplySummarySchema, required=True)
