"""marshmallow schemas of /maintenance. Field types and bounds live here; the rules between fields (exactly
one of monitor_ids / all, one-off times or recurrence, a known time zone, a valid cron) are checked by
webapp.maintenance_service.normalise, whose 422 names the field the same way."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from marshmallow import fields, validate

from webapp.schemas import DisplayName, StrictBoolean, StrictInteger, UtcDateTime
from webapp.service import MAX_ID

MAX_WINDOW_MONITORS = 1000
"""Most monitor ids one window lists (more: `all: true`). So many ids of up to 10 digits fit in the API's
body limit (healthmon.defaults.MAX_REQUEST_BYTES, 64 KiB) with room to spare, and a longer list is refused
for its length (422) rather than for its size (413)."""

RECURRENCE_DESCRIPTION = (
    'Recurring window, read in `timezone`: {"weekly": {"days": ["mon", ...], "start": "HH:MM", '
    '"duration_minutes": n}} or {"cron": "<minute hour day-of-month month day-of-week>", "duration_minutes": n} '
    "(1-10080 minutes). A start time skipped by a DST change is read with the offset before the jump (02:30 on a "
    "spring-forward night starts at 03:30); one that happens twice starts once, at the first. Exclusive with "
    "starts_at/ends_at.")
CREATE_EXAMPLE = {"name": "db upgrade", "monitor_ids": [1, 2], "recurrence": {
    "weekly": {"days": ["sun"], "start": "02:00", "duration_minutes": 60}}, "timezone": "Europe/Berlin"}


class OffsetDateTime(fields.AwareDateTime):
    """ISO 8601 with a UTC offset (`2026-03-29T02:00:00+02:00` or `...Z`), stored as naive UTC."""

    default_error_messages = {"naive": "Must include a UTC offset (such as Z or +02:00)."}

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(dt.UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise self.make_error("invalid", input=value, obj_type="datetime") from None


def _specs(patch: bool) -> dict[str, fields.Field]:
    def doc(text: str, **more) -> dict:
        return {"metadata": {"description": text, **more}}

    return {
        "name": DisplayName(required=not patch, validate=validate.Length(min=1, max=200),
                            **doc("Shown in the end-of-window report.", example="db upgrade")),
        "monitor_ids": fields.List(
            StrictInteger(validate=validate.Range(min=1, max=MAX_ID)), allow_none=True,
            validate=validate.Length(max=MAX_WINDOW_MONITORS), **doc(
                f"The monitors the window covers (ids of existing monitors, at most {MAX_WINDOW_MONITORS}); "
                "exclusive with all.", example=[1, 2])),
        "all": StrictBoolean(**doc("true: the window covers every monitor, present and future.")),
        "starts_at": OffsetDateTime(allow_none=True, **doc("One-off window: its start, with an offset.",
                                                           example="2026-03-29T02:00:00+02:00")),
        "ends_at": OffsetDateTime(allow_none=True, **doc("One-off window: its end (after starts_at).",
                                                         example="2026-03-29T03:00:00+02:00")),
        "recurrence": fields.Dict(allow_none=True, **doc(RECURRENCE_DESCRIPTION, example=CREATE_EXAMPLE["recurrence"])),
        "timezone": fields.String(allow_none=True, validate=validate.Length(max=64), **doc(
            "IANA time zone of a recurrence (default UTC).", example="Europe/Berlin")),
    }


class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


MaintenanceInputSchema = _Strict.from_dict(_specs(patch=False), name="MaintenanceInputSchema")
MaintenancePatchSchema = _Strict.from_dict(_specs(patch=True), name="MaintenancePatchSchema")


class OccurrenceSchema(ma.Schema):
    starts_at = UtcDateTime(required=True)
    ends_at = UtcDateTime(required=True)


class MaintenanceSchema(ma.Schema):
    """A stored maintenance window."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    monitor_ids = fields.List(fields.Integer(), allow_none=True, required=True)
    all = fields.Boolean(required=True)
    starts_at = UtcDateTime(allow_none=True, required=True)
    ends_at = UtcDateTime(allow_none=True, required=True)
    recurrence = fields.Dict(allow_none=True, required=True, metadata={"description": RECURRENCE_DESCRIPTION})
    timezone = fields.String(required=True)
    active = fields.Boolean(required=True, metadata={"description": "On now."})
    next_occurrences = fields.List(fields.Nested(OccurrenceSchema), required=True, metadata={
        "description": "The current occurrence (if on) and the next ones, up to 3 in all, in UTC."})
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
