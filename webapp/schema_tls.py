"""API field of TLS certificate expiry (healthmon.domain.tls): the writable `tls_expiry_days`. The read-only
`tls` (the certificate last seen) is webapp.schemas.TlsSchema."""

from __future__ import annotations

from marshmallow import fields, validate

from healthmon.domain import tls

TLS_EXPIRY_DESCRIPTION = (
    f"Warn (an alert to webhook_url, not a status change) when the https certificate expires within this many "
    f"days ({tls.MIN_EXPIRY_DAYS}-{tls.MAX_EXPIRY_DAYS}); once per certificate, again within 3 days and within 1 "
    "day; a renewed certificate starts afresh. null: no warnings. The certificate is read at the first check and "
    "then at most once an hour. An expired certificate is not warned about: the check itself fails."
)


def tls_field_specs(opt, doc) -> dict[str, fields.Field]:
    """The writable fields of this module for webapp.schemas._field_specs (`opt`/`doc` as there)."""
    return {
        "tls_expiry_days": fields.Integer(
            strict=True, allow_none=True, validate=validate.Range(min=tls.MIN_EXPIRY_DAYS, max=tls.MAX_EXPIRY_DAYS),
            **opt(tls.DEFAULT_EXPIRY_DAYS), metadata={"description": TLS_EXPIRY_DESCRIPTION, "example": 14},
        ),
    }
