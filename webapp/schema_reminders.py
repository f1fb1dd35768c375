"""API fields of reminders and escalation while DOWN (healthmon.domain.reminders): `reminder_minutes`,
`escalation_minutes` and `escalation_channel`, writable and shown as stored. Whether the channel exists, and
that the escalation's two fields come together, is checked against the stored monitor
(webapp.service.check_escalation)."""

from __future__ import annotations

from marshmallow import fields, validate

from healthmon.domain import reminders


def reminder_field_specs(opt, doc) -> dict[str, fields.Field]:
    """The writable fields of this module for webapp.schemas._field_specs (`opt`/`doc` as there)."""
    return {
        "reminder_minutes": fields.Integer(
            strict=True, allow_none=True,
            validate=validate.Range(min=reminders.MIN_REMINDER_MINUTES, max=reminders.MAX_MINUTES), **opt(None),
            metadata={"example": 60, "description": (
                f"While DOWN, a \"still DOWN\" alert to the monitor's webhook_url and channels every this many "
                f"minutes ({reminders.MIN_REMINDER_MINUTES}-{reminders.MAX_MINUTES}); null (the default): none.")},
        ),
        "escalation_minutes": fields.Integer(
            strict=True, allow_none=True, validate=validate.Range(min=1, max=reminders.MAX_MINUTES), **opt(None),
            metadata={"example": 30, "description": (
                "After this many minutes DOWN, one \"escalated\" alert to escalation_channel, which then also "
                "gets the recovery; null (the default): no escalation. Needs escalation_channel.")},
        ),
        "escalation_channel": fields.Integer(
            strict=True, allow_none=True, validate=validate.Range(min=1), attribute="escalation_channel_id",
            **opt(None), metadata={"example": 2, "description": (
                "Id of the channel (/channels) an escalation goes to; needs escalation_minutes. Deleting the "
                "channel clears it.")},
        ),
    }

