"""marshmallow schemas of the REST API: what a request may contain and what a response shows.

Input is strict: integers must be JSON integers (not strings, floats or booleans), booleans must be JSON
booleans, unknown fields are refused (marshmallow RAISE), and every bound is declared on the field so
it also appears in the OpenAPI document. Output masks the webhook URL (it is a bearer credential) and
writes timestamps as ISO 8601 UTC with a `Z`.
"""

from __future__ import annotations

import datetime as dt
import re

import marshmallow as ma
from marshmallow import fields, validate
from marshmallow.exceptions import SCHEMA

from healthmon import defaults
from healthmon.domain import tags as tag_rules
from healthmon.domain.status import STORED_STATUSES
from healthmon.redact import mask_webhook_url, redact_text
from webapp.request_schemas import RequestOptionsOutput, request_field_specs
from webapp.schema_checks import ASSERTION_EXAMPLES, check_field_specs
from webapp.schema_reminders import reminder_field_specs
from webapp.schema_tls import tls_field_specs
from webapp.urls import UrlProblem, normalise_url

URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+"
"""Documented in the schema so clients (and schemathesis) know only http(s) URLs are accepted."""

MASK_MARK = "****"
"""mask_webhook_url ends every masked URL with this; a stored webhook never legitimately does."""

UNMASKED_URL_PATTERN = r"^(?!.*\*{4}$)" + URL_PATTERN[1:]
"""URL_PATTERN for a webhook_url that may not be a masked value (POST): it does not end in MASK_MARK."""

WEBHOOK_FORMATS = ("slack", "json")


# ---- fields -------------------------------------------------------------------------------------------


class StrictInteger(fields.Integer):
    """A JSON integer. marshmallow's Number already refuses booleans; strict refuses "5" and 5.0."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class StrictBoolean(fields.Boolean):
    """Only JSON `true` / `false`; marshmallow's Boolean would also take 1, "yes" and "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


NAME_PATTERN = r"^ *[^\u0000-\u0020\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
"""Display text: at least one character that is not a space, and no control characters (C0, DEL, C1: NUL,
newlines, escapes): PostgreSQL refuses NUL in text, and the others would break log lines and Slack
messages. Surrounding spaces are dropped; nothing else is changed, so what the pattern allows is stored."""
_NAME = re.compile(NAME_PATTERN)


class DisplayName(fields.String):
    """A name as NAME_PATTERN (stated in the OpenAPI document) allows it, stored without surrounding spaces."""

    default_error_messages = {"pattern": "Must have a visible character and no control characters (such as NUL, "
                                         "a newline or U+0085)."}

    def __init__(self, **kwargs):
        metadata = {"pattern": NAME_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _NAME.fullmatch(text):
            raise self.make_error("pattern")
        for check in self.validators:  # the document's maxLength counts what was sent, spaces included
            check(text)
        return text.strip(" ")


class HttpUrl(fields.String):
    """An absolute http(s) IRI with a host, stored as a URI (webapp.urls.normalise_url: the host in IDNA
    ASCII form, other non-ASCII characters percent-encoded), at most 2048 characters once normalised.

    Deliberately not marshmallow's URL validator: that one refuses hosts like `127.1` or `2130706433`
    with "Not a valid URL", while we want the address guard to refuse them with the real reason.
    `masked_ok=False` (a webhook_url on create) also refuses a value ending in MASK_MARK, as the
    documented pattern says: it is a masked URL copied from a response, not a webhook.
    """

    default_error_messages = {
        "scheme": "Must be an http:// or https:// URL.",
        "host": "The URL has no host.",
        "malformed": "Not a valid URL.",
        "spaces": "Not a valid URL: it starts or ends with whitespace.",
        "idna": "The host is not a valid internationalised domain name ({detail}).",
        "masked": "Looks like a masked webhook URL (it ends in ****); send the full URL, or null.",
    }

    def __init__(self, *, masked_ok: bool = True, **kwargs):
        kwargs.setdefault("validate", validate.Length(max=defaults.MAX_URL_LENGTH))
        pattern = URL_PATTERN if masked_ok else UNMASKED_URL_PATTERN
        metadata = {"format": "iri", "pattern": pattern, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.masked_ok = masked_ok

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > defaults.MAX_URL_LENGTH:
            return text  # the Length validator names the limit
        if text != text.strip():
            raise self.make_error("spaces")  # not trimmed: the OpenAPI format (iri) does not allow them either
        try:
            text = normalise_url(text)
        except UrlProblem as problem:
            raise self.make_error(problem.key, detail=problem.detail) from None
        if not self.masked_ok and text.endswith(MASK_MARK):
            raise self.make_error("masked")
        return text


class UtcDateTime(fields.DateTime):
    """Naive-UTC database timestamps written as `2026-01-31T12:00:00.123Z`."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"


class MaskedWebhookUrl(fields.String):
    """Write-only secret: responses show scheme, host and a short path prefix, then `****`."""

    def _serialize(self, value, attr, obj, **kwargs):
        return mask_webhook_url(value)


class RedactedText(fields.String):
    """Stored error text, scrubbed once more on the way out in case a credential slipped into it."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else redact_text(str(value))


TAG_INPUT_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
"""A tag as sent (it is stored lower-cased, so upper-case letters are accepted)."""


class TagList(fields.List):
    """Tags as healthmon.domain.tags states them: each lower-cased, duplicates dropped, at most MAX_TAGS."""

    default_error_messages = {"tags": "{reason}."}

    def __init__(self, **kwargs):
        item = fields.String(metadata={"pattern": TAG_INPUT_PATTERN, "maxLength": tag_rules.MAX_TAG_LENGTH,
                                       "minLength": 1})
        metadata = {"maxItems": tag_rules.MAX_TAGS, "example": ["prod", "eu"], **kwargs.pop("metadata", {})}
        super().__init__(item, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        values = super()._deserialize(value, attr, data, **kwargs)
        try:
            return tag_rules.normalise_tags(values)
        except tag_rules.TagProblem as problem:
            raise self.make_error("tags", reason=str(problem)) from None


class MonitorKey(fields.String):
    """A monitor's stable key (healthmon.domain.tags.key_problem)."""

    default_error_messages = {"key": "{reason}."}

    def __init__(self, **kwargs):
        metadata = {"pattern": tag_rules.KEY_PATTERN, "maxLength": tag_rules.MAX_KEY_LENGTH, "minLength": 1,
                    "example": "api-health", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        reason = tag_rules.key_problem(text)
        if reason:
            raise self.make_error("key", reason=reason[0].upper() + reason[1:])
        return text


TAGS_DESCRIPTION = (
    f"Labels to group and filter by (GET /monitors?tag=, /status, /summary): at most {tag_rules.MAX_TAGS}, each 1-"
    f"{tag_rules.MAX_TAG_LENGTH} characters of a-z, 0-9, _ . : - starting with a letter or digit; stored "
    "lower-cased, duplicates dropped, order kept.")
KEY_DESCRIPTION = (
    f"A stable name for the monitor (config as code: `healthmon apply` matches on it): 1-{tag_rules.MAX_KEY_LENGTH} "
    "characters of A-Z, a-z, 0-9, _ . - starting with a letter or digit, unique (409 naming key), case-sensitive, "
    "changeable; `monitor-<digits>` is reserved (it names the monitor with that id in a config file). null: none.")


# ---- input --------------------------------------------------------------------------------------------


def timeout_error(timeout: int, check_interval: int) -> str | None:
    """The message for a timeout that is not below the interval, else None (a check must end before the next)."""
    if timeout >= check_interval:
        return f"Must be less than check_interval ({check_interval})."
    return None


WEBHOOK_DESCRIPTION = (
    "Slack (or JSON) webhook for alerts, an http(s) IRI like url. Write-only: responses show it masked "
    "(ending in ****). On POST a value ending in **** is refused (422). On PUT and PATCH the masked value "
    "exactly as the API returned it keeps the stored URL, and any other value ending in **** is a 409 "
    "(it is not this monitor's webhook); on PATCH, omitting it keeps it; on PUT, omitting it or null removes it."
)
URL_DESCRIPTION = (
    "The http(s) URL to check, at most 2048 characters once normalised. An internationalised host "
    "(bücher.de) must be a valid IDNA 2008 name and is stored in ASCII form (xn--bcher-kva.de); other "
    "non-ASCII characters are stored percent-encoded. Private addresses are refused (400)."
)


def webhook_url_field(patch: bool, masked_ok: bool) -> HttpUrl:
    """The webhook_url field; `masked_ok` where the masked value means "keep" (PUT, PATCH)."""
    return HttpUrl(allow_none=True, masked_ok=masked_ok, metadata={"description": WEBHOOK_DESCRIPTION},
                   **({} if patch else {"load_default": None}))


MAX_MONITOR_CHANNELS = 20


def _unique_ids(ids: list[int]) -> None:
    if len(set(ids)) != len(ids):
        raise ma.ValidationError("Must name each channel once.")


def channels_field(patch: bool) -> fields.List:
    """`channels`: ids of /channels the monitor's alerts also go to (besides webhook_url)."""
    return fields.List(
        StrictInteger(validate=validate.Range(min=1)),
        validate=[validate.Length(max=MAX_MONITOR_CHANNELS), _unique_ids],
        metadata={"description": (
            f"Ids of channels (/channels) that get this monitor's alerts, each once, at most "
            f"{MAX_MONITOR_CHANNELS}; in addition to webhook_url. An id no channel has is a 400 naming it, and "
            "nothing is stored. On PUT omitted means none; on PATCH omitted keeps them."), "uniqueItems": True},
        **({} if patch else {"load_default": list}),
    )


def _field_specs(patch: bool) -> dict[str, fields.Field]:
    """The writable monitor fields. For PATCH nothing is required and nothing has a default."""

    def opt(default):
        return {} if patch else {"load_default": default}

    def doc(text: str) -> dict:
        return {"metadata": {"description": text}}

    return {
        "name": DisplayName(
            required=not patch, validate=validate.Length(min=1, max=200),
            **doc("Display name (1-200 characters, surrounding spaces removed)."),
        ),
        "url": HttpUrl(required=not patch, **doc(URL_DESCRIPTION)),
        "check_interval": StrictInteger(
            validate=validate.Range(min=defaults.DEFAULT_MIN_CHECK_INTERVAL, max=defaults.MAX_CHECK_INTERVAL),
            **opt(defaults.DEFAULT_CHECK_INTERVAL), **doc("Seconds between checks."),
        ),
        "timeout": StrictInteger(
            validate=validate.Range(min=defaults.MIN_CHECK_TIMEOUT, max=defaults.MAX_CHECK_TIMEOUT),
            **opt(defaults.DEFAULT_CHECK_TIMEOUT), **doc(
                "Seconds a check may take; less than check_interval (422). On PATCH, a timeout not below the "
                "stored check_interval, or a check_interval not above the stored timeout, is a 409."),
        ),
        "expected_status_code": StrictInteger(
            validate=validate.Range(min=100, max=599),
            **opt(defaults.DEFAULT_EXPECTED_STATUS), **doc("The HTTP status a healthy endpoint answers."),
        ),
        "webhook_url": webhook_url_field(patch, masked_ok=patch),
        "webhook_format": fields.String(
            allow_none=True, validate=validate.OneOf(WEBHOOK_FORMATS), **opt(None),
            **doc("Alert body: slack, json, or null to choose by the webhook's host."),
        ),
        "enabled": StrictBoolean(**opt(True), **doc("Whether the monitor is checked.")),
        "fail_threshold": StrictInteger(
            allow_none=True, validate=validate.Range(min=1, max=defaults.MAX_THRESHOLD), **opt(None),
            **doc("Consecutive failures before DOWN; null uses FAIL_THRESHOLD."),
        ),
        "success_threshold": StrictInteger(
            allow_none=True, validate=validate.Range(min=1, max=defaults.MAX_THRESHOLD), **opt(None),
            **doc("Consecutive successes before UP; null uses SUCCESS_THRESHOLD."),
        ),
        "key": MonitorKey(allow_none=True, **opt(None), **doc(KEY_DESCRIPTION)),
        "tags": TagList(**opt(list), **doc(TAGS_DESCRIPTION)),
        "channels": channels_field(patch),
        **check_field_specs(opt, doc),
        **request_field_specs(patch, StrictBoolean),
        **tls_field_specs(opt, doc),
        **reminder_field_specs(opt, doc),
    }


class _MonitorInput(ma.Schema):
    """Shared behaviour: the lowest check_interval comes from MIN_CHECK_INTERVAL at run time."""

    class Meta:
        unknown = ma.RAISE

    def __init__(self, *, min_check_interval: int = defaults.DEFAULT_MIN_CHECK_INTERVAL, **kwargs):
        super().__init__(**kwargs)
        self.min_check_interval = min_check_interval
        interval = self.fields["check_interval"]
        # Per instance, so the bound is enforced and documented as configured.
        interval.validators = [validate.Range(min=min_check_interval, max=defaults.MAX_CHECK_INTERVAL)]
        if interval.load_default is not ma.missing:
            interval.load_default = max(defaults.DEFAULT_CHECK_INTERVAL, min_check_interval)

    @ma.validates_schema
    def _timeout_below_interval(self, data, **kwargs):
        """A body's own timeout and check_interval (POST and PUT always have both, by their defaults)."""
        if "timeout" in data and "check_interval" in data:
            message = timeout_error(data["timeout"], data["check_interval"])
            if message:
                raise ma.ValidationError(message, field_name="timeout")


class MonitorCreateSchema(_MonitorInput.from_dict(_field_specs(patch=False), name="MonitorCreateFields")):
    """POST /monitors (and each item of the bulk create): name and url required, the rest defaulted."""


class MonitorReplaceSchema(MonitorCreateSchema):
    """PUT /monitors/{id}: as POST, except that webhook_url may be the masked value (= keep the stored one)."""

    webhook_url = webhook_url_field(patch=False, masked_ok=True)


class MonitorPatchSchema(_MonitorInput.from_dict(_field_specs(patch=True), name="MonitorPatchFields")):
    """PATCH /monitors/{id}: any subset of the fields. A timeout and check_interval sent together are
    checked here (422); one of them against the stored other by service.update_monitor (409)."""


class BoundedList(fields.List):
    """A List whose length validators run before its items are deserialized, so a body of 30,000 tiny
    items is refused for its count without parsing each one first."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            self._validate(value)
        return super()._deserialize(value, attr, data, **kwargs)


def flatten_errors(messages: dict, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested errors as one level of dotted paths, in the order they were found:
    `{"monitors": {3: {"url": [...]}}}` becomes `{"monitors.3.url": [...]}`. An item's own error (not a
    dict, say) is named by the item's path: `monitors.3`."""
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        path = prefix if key == SCHEMA and prefix else f"{prefix}{'.' if prefix else ''}{key}"
        if isinstance(value, dict):
            out.update(flatten_errors(value, path))
        else:
            out.setdefault(path, []).extend(value if isinstance(value, list) else [value])
    return out


class ItemListInput(ma.Schema):
    """A request body holding a list of items: monitors under `monitors` (the bulk create, /apply; the item
    schema is the app's, it carries MIN_CHECK_INTERVAL), or channels (/channels/plan). Errors are flattened
    to one level (`monitors.3.url`), and the 422's message names the first of them (`summarise_errors`,
    read by webapp.errors)."""

    class Meta:
        unknown = ma.RAISE

    def __init__(self, *, item_schema: ma.Schema | None = None, **kwargs):
        """`item_schema`: the app's schema of one item."""
        super().__init__(**kwargs)
        if item_schema is not None:
            self.fields["monitors"].inner.nested = item_schema

    def handle_error(self, error, data, *, many, **kwargs):
        raise ma.ValidationError(flatten_errors(error.messages)) from None

    @staticmethod
    def summarise_errors(messages: dict) -> str:
        """The message of a 422: the first problem, and how many more there are."""
        problems = [(path, reason) for location in messages.values() for path, reasons in location.items()
                    for reason in reasons]
        path, reason = problems[0]
        more = len(problems) - 1
        return f"{path}: {reason}" + (f" (and {more} more; see errors)" if more else "")


class MonitorBulkCreateSchema(ItemListInput):
    """POST /monitors/bulk: `{"monitors": [...]}`, each item exactly what POST /monitors accepts.

    Errors name the item by its index (`monitors.3.url`), one level deep under errors.json, and the
    422's message names the first of them (`summarise_errors`, read by webapp.errors).
    """

    monitors = BoundedList(
        fields.Nested(MonitorCreateSchema), required=True,
        validate=validate.Length(
            min=1, max=defaults.MAX_BULK_MONITORS,
            error="Must hold {min} to {max} monitors; send a larger set as several requests.",
        ),
        metadata={"description": f"1 to {defaults.MAX_BULK_MONITORS} monitors, created all or nothing."},
    )


PAGINATION_ARGS = ("page", "page_size")


class PagedQuerySchema(ma.Schema):
    """Query string of a paginated list: an unknown parameter (a typo like `?enabeld=true`) is a 422,
    not silently ignored. page and page_size are parsed and documented by flask-smorest's pagination."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _drop_pagination(self, data, **kwargs):
        return {k: v for k, v in data.items() if k not in PAGINATION_ARGS}


def TagFilter() -> fields.List:  # noqa: N802 - a field factory, read like a field class
    """`?tag=prod&tag=eu`: only monitors carrying every tag given (matched lower-cased). Each a tag as
    TAG_INPUT_PATTERN allows (what no tag can be is a 422, not an empty list): ASCII, so the longest filter
    (20 tags of 50 characters) stays far below the server's request-line limit (gunicorn: 4094 bytes), where
    a percent-encoded non-ASCII tag could pass it and be answered 414."""
    item = fields.String(validate=[
        validate.Length(min=1, max=tag_rules.MAX_TAG_LENGTH),
        validate.Regexp(TAG_INPUT_PATTERN, error="A tag starts with a letter or digit and has only a-z, 0-9, _ . : -."),
    ])
    return fields.List(item, validate=validate.Length(max=tag_rules.MAX_TAGS), metadata={
        "description": "Only monitors with every one of these tags (repeat the parameter: `?tag=prod&tag=eu`); "
                       "matched lower-cased."})


def any_key_rules() -> list[validate.Validator]:
    """A key as a request may name one (healthmon.domain.tags.ANY_KEY_PATTERN: stored keys and the reserved
    `monitor-<id>`), stated in the OpenAPI document as minLength, maxLength and pattern."""
    return [validate.Length(min=1, max=tag_rules.MAX_KEY_LENGTH),
            validate.Regexp(tag_rules.ANY_KEY_PATTERN,
                            error="A key starts with a letter or digit and has only A-Z, a-z, 0-9, _ . -.")]


class MonitorQuerySchema(PagedQuerySchema):
    """Filters of GET /monitors."""

    enabled = fields.Boolean(metadata={"description": "Only enabled (true) or disabled (false) monitors."})
    status = fields.String(
        validate=validate.OneOf(STORED_STATUSES), metadata={"description": "Only monitors in this state."}
    )
    tag = TagFilter()
    key = fields.String(validate=any_key_rules(), metadata={
        "description": "Only the monitor with this key (an empty list when none has it)."})


# ---- output -------------------------------------------------------------------------------------------


class TlsSchema(ma.Schema):
    """The leaf certificate an https check of the monitor was last served (healthmon.domain.tls)."""

    expires_at = UtcDateTime(required=True, metadata={"description": "The certificate's notAfter."})
    days_left = fields.Integer(required=True, metadata={
        "description": "Whole days until expires_at at the time of the request, rounded down; negative once expired."})
    fingerprint_sha256 = fields.String(required=True, metadata={
        "description": "SHA-256 of the certificate (DER form), 64 lowercase hex digits.",
        "example": "aa311baf4e556271d7c9ba5b8befb95ecf6639ddeb512c17a1672cfff54fdf7e"})
    observed_at = UtcDateTime(required=True, metadata={
        "description": "When a check last read it (the first check, then at most once an hour)."})
    warned_days = fields.Integer(allow_none=True, required=True, metadata={
        "description": "The lowest threshold (days) already warned about for this certificate (tls_expiry_days, 3 "
                       "or 1); null: not warned."})
    warned_at = UtcDateTime(allow_none=True, required=True, metadata={"description": "When that warning was recorded."})


class MaintenanceNowSchema(ma.Schema):
    """The maintenance window occurrence covering a monitor now."""

    id = fields.Integer(required=True, metadata={"description": "The window's id (GET /maintenance/{id})."})
    name = fields.String(required=True)
    starts_at = UtcDateTime(required=True)
    ends_at = UtcDateTime(required=True)


class MonitorSchema(RequestOptionsOutput):
    """A stored monitor as the API shows it (with its request options, secrets masked)."""

    id = fields.Integer(required=True)
    key = fields.String(allow_none=True, required=True, metadata={"description": "The stable key, or null."})
    tags = fields.List(fields.String(), required=True, metadata={"example": ["prod", "eu"]})
    name = fields.String(required=True)
    url = fields.String(required=True)
    check_interval = fields.Integer(required=True)
    timeout = fields.Integer(required=True)
    expected_status_code = fields.Integer(required=True)
    expected_status_codes = fields.List(fields.Raw(), allow_none=True, required=True, metadata={
        "description": "Accepted status codes and ranges, or null (expected_status_code decides).",
        "example": ["200-299", 301]})
    assertions = fields.List(fields.Dict(), allow_none=True, required=True, metadata={"example": ASSERTION_EXAMPLES})
    max_response_time_ms = fields.Integer(allow_none=True, required=True)
    tls_expiry_days = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Days before the certificate's expiry to warn; null: no warnings."})
    tls = fields.Nested(TlsSchema, allow_none=True, required=True, metadata={
        "description": "The certificate an https check last saw; null for http monitors and before the first "
                       "https check reached the TLS handshake."})
    webhook_url = MaskedWebhookUrl(
        allow_none=True, required=True, metadata={"description": "Masked; the full URL is never returned."}
    )
    webhook_format = fields.String(allow_none=True, required=True, validate=validate.OneOf(WEBHOOK_FORMATS))
    channels = fields.List(fields.Integer(), required=True, attribute="channel_ids", metadata={
        "description": "Ids of the channels that get this monitor's alerts (ascending)."})
    reminder_minutes = fields.Integer(allow_none=True, required=True)
    escalation_minutes = fields.Integer(allow_none=True, required=True)
    escalation_channel = fields.Integer(allow_none=True, required=True, attribute="escalation_channel_id")
    enabled = fields.Boolean(required=True)
    fail_threshold = fields.Integer(allow_none=True, required=True)
    success_threshold = fields.Integer(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(STORED_STATUSES), metadata={
        "description": "The recorded status; PAUSED while paused. A maintenance window does not change it: see "
                       "`maintenance` (the status page and /stats show such a monitor as MAINTENANCE)."})
    paused = fields.Boolean(required=True, metadata={
        "description": "Paused with POST /monitors/{id}/pause (status PAUSED): not checked until resumed."})
    maintenance = fields.Nested(MaintenanceNowSchema, allow_none=True, required=True, metadata={
        "description": "The maintenance window covering the monitor now (no alerts are sent), or null."})
    consecutive_failures = fields.Integer(required=True)
    consecutive_successes = fields.Integer(required=True)
    consecutive_slow = fields.Integer(required=True, metadata={
        "description": "Among the consecutive passed checks, the current run of slow ones (max_response_time_ms)."})
    consecutive_fast = fields.Integer(required=True, metadata={"description": "... or of fast ones."})
    status_changed_at = UtcDateTime(allow_none=True, required=True)
    last_checked_at = UtcDateTime(allow_none=True, required=True)
    last_status_code = fields.Integer(allow_none=True, required=True)
    last_latency_ms = fields.Float(allow_none=True, required=True)
    last_error = RedactedText(allow_none=True, required=True)
    last_alert_error = RedactedText(allow_none=True, required=True)
    next_check_at = UtcDateTime(allow_none=True, required=True, metadata={"description": "When the next check is due."})
    skipped_slots = fields.Integer(required=True, metadata={
        "description": "Scheduled checks not run: the previous one was still pending (checkers overloaded or "
                       "down), or healthmon was not running. Counted, never silently lost."})
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class StateChangeSchema(ma.Schema):
    """One status transition of a monitor."""

    id = fields.Integer(required=True)
    from_status = fields.String(required=True, validate=validate.OneOf(STORED_STATUSES))
    to_status = fields.String(required=True, validate=validate.OneOf(STORED_STATUSES))
    reason = RedactedText(required=True)
    created_at = UtcDateTime(required=True)


class CheckResultSchema(ma.Schema):
    """One performed check."""

    id = fields.Integer(required=True)
    slot = UtcDateTime(required=True, metadata={"description": "The scheduled time this check was for."})
    checked_at = UtcDateTime(required=True)
    ok = fields.Boolean(required=True)
    status_code = fields.Integer(allow_none=True, required=True)
    latency_ms = fields.Float(allow_none=True, required=True)
    error_kind = fields.String(allow_none=True, required=True)
    error = RedactedText(allow_none=True, required=True)
    dns_ms = fields.Float(allow_none=True, required=True)
    connect_ms = fields.Float(allow_none=True, required=True)
    tls_ms = fields.Float(allow_none=True, required=True)
    first_byte_ms = fields.Float(allow_none=True, required=True)


class HealthSchema(ma.Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class ReadinessSchema(ma.Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    database = fields.String(required=True, metadata={"description": "`ok`, or why it cannot be reached."})


class StatsMonitorsSchema(ma.Schema):
    total = fields.Integer(required=True, metadata={"description": "Monitors stored."})
    enabled = fields.Integer(required=True)
    up = fields.Integer(required=True, metadata={"description": "Enabled monitors UP."})
    degraded = fields.Integer(required=True, metadata={"description": "Enabled monitors DEGRADED (up but slow)."})
    down = fields.Integer(required=True, metadata={"description": "Enabled monitors DOWN."})
    unknown = fields.Integer(required=True, metadata={"description": "Enabled monitors not decided yet."})
    paused = fields.Integer(required=True, metadata={"description": "Enabled monitors paused."})
    maintenance = fields.Integer(required=True, metadata={
        "description": "Enabled monitors a maintenance window covers now (not counted under their status)."})


class StatsScheduleSchema(ma.Schema):
    overdue = fields.Integer(required=True, metadata={
        "description": "Due monitors the scheduler has not enqueued 5 s after their slot (it is behind)."})
    oldest_overdue_seconds = fields.Float(allow_none=True, required=True)
    pending_checks = fields.Integer(required=True, metadata={
        "description": "Monitors with a check queued or in flight (never more than one each)."})
    oldest_pending_seconds = fields.Float(allow_none=True, required=True)
    behind = fields.Integer(required=True, metadata={
        "description": "Monitors whose pending check is older than their interval: they are skipping slots."})
    skipped_slots_total = fields.Integer(required=True, metadata={
        "description": "Slots passed over (previous check still pending, or missed while down), all monitors."})


class StatsResultsSchema(ma.Schema):
    last_minute = fields.Integer(required=True, metadata={"description": "Checks recorded in the last 60 s."})
    last_result_age_seconds = fields.Float(allow_none=True, required=True)


class StatsQueueSchema(ma.Schema):
    backend = fields.String(required=True, validate=validate.OneOf(["database", "sqs"]))
    depth = fields.Integer(metadata={"description": "Messages queued or in flight (database queue only)."})
    dead_letters = fields.Integer(metadata={"description": "Dead-lettered messages (database queue only)."})


class StatsSchema(ma.Schema):
    """GET /stats: whether every monitor is checked on time (healthmon/stats.py)."""

    overloaded = fields.Boolean(required=True, metadata={
        "description": "True while monitors are skipping slots or the scheduler is behind; clears by itself."})
    monitors = fields.Nested(StatsMonitorsSchema, required=True)
    schedule = fields.Nested(StatsScheduleSchema, required=True)
    results = fields.Nested(StatsResultsSchema, required=True)
    queue = fields.Nested(StatsQueueSchema, required=True)


# ---- history: time ranges, uptime, incidents, summary ---------------------------------------------------


EARLIEST_QUERY_TIME = dt.datetime(1970, 1, 1)
LATEST_QUERY_TIME = dt.datetime(9999, 12, 30)
"""The range a query time is clamped to: nothing is stored outside it, and the database stores naive UTC."""

_RFC3339_PARTS = re.compile(r"^(\d{4})-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:(\d{2})")


class QueryDateTime(fields.DateTime):
    """An ISO 8601 timestamp in a query string (`2026-01-31T12:00:00Z`; no offset means UTC), as naive UTC.

    Every RFC 3339 date-time the OpenAPI document allows is accepted: one before 1970 (year 0000 too) or
    after 9999-12-30, or that an offset pushes out of Python's years, is clamped to that range (the answer
    is the same: nothing is stored outside it); a leap second (`23:59:60`) is read as `23:59:59`."""

    def __init__(self, **kwargs):
        metadata = {"format": "date-time", **kwargs.pop("metadata", {})}
        super().__init__(format="iso", metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parts = _RFC3339_PARTS.match(value) if isinstance(value, str) else None
        if parts and int(parts[1]) == 0:
            return EARLIEST_QUERY_TIME  # year 0000: valid RFC 3339, not a Python datetime
        if parts and parts[2] == "60":
            value = value[:parts.start(2)] + "59" + value[parts.end(2):]
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            return EARLIEST_QUERY_TIME if moment.year < LATEST_QUERY_TIME.year // 2 else LATEST_QUERY_TIME
        return min(max(moment, EARLIEST_QUERY_TIME), LATEST_QUERY_TIME)


class TimeRangeQuerySchema(PagedQuerySchema):
    """`since` (inclusive) and `until` (exclusive) of GET /monitors/{id}/events and /results. An `until`
    at or before `since` is an empty range, not an error: the schema cannot state an order between two
    parameters, and the answer (no items) is what the half-open range holds."""

    since = QueryDateTime(metadata={"description": "Only items at or after this time (ISO 8601; no offset: UTC)."})
    until = QueryDateTime(metadata={"description": (
        "Only items before this time (ISO 8601; no offset: UTC). At or before since: an empty page.")})


UPTIME_WINDOWS = ("24h", "7d", "30d", "90d", "365d")


class UptimeQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    window = fields.String(load_default="24h", validate=validate.OneOf(UPTIME_WINDOWS), metadata={
        "description": "24h and 7d read hourly rollups (the start is the hour), 30d, 90d and 365d daily ones "
                       "(the start is the UTC day)."})


class LatencySchema(ma.Schema):
    avg = fields.Float(allow_none=True, required=True)
    min = fields.Float(allow_none=True, required=True)
    max = fields.Float(allow_none=True, required=True)
    p50 = fields.Float(allow_none=True, required=True)
    p95 = fields.Float(allow_none=True, required=True)
    p99 = fields.Float(allow_none=True, required=True)


class UptimeSchema(ma.Schema):
    """GET /monitors/{id}/uptime."""

    monitor_id = fields.Integer(required=True)
    window = fields.String(required=True, validate=validate.OneOf(UPTIME_WINDOWS))
    from_ = UtcDateTime(required=True, data_key="from", attribute="from",
                        metadata={"description": "Start of the window (floored to the hour or the UTC day)."})
    to = UtcDateTime(required=True)
    uptime_percent = fields.Float(allow_none=True, required=True, metadata={
        "description": "Successful checks / checks x 100; null without checks in the window."})
    checks = fields.Integer(required=True)
    failures = fields.Integer(required=True)
    downtime_seconds = fields.Integer(required=True, metadata={"description": "Time spent DOWN in the window."})
    latency_ms = fields.Nested(LatencySchema, required=True, metadata={
        "description": "Latency of successful checks; percentiles from a fixed-bucket histogram."})


class IncidentSchema(ma.Schema):
    """One DOWN period."""

    started_at = UtcDateTime(required=True)
    ended_at = UtcDateTime(allow_none=True, required=True, metadata={"description": "null while still DOWN."})
    ongoing = fields.Boolean(required=True)
    duration_seconds = fields.Integer(required=True, metadata={"description": "Until now while ongoing."})
    first_error = RedactedText(required=True)


SummaryMonitorsSchema = ma.Schema.from_dict(
    {name: fields.Integer(required=True)
     for name in ("total", "up", "degraded", "down", "unknown", "paused", "maintenance", "disabled")},
    name="SummaryMonitorsSchema")


class DownNowSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    since = UtcDateTime(allow_none=True, required=True)
    down_for_seconds = fields.Integer(allow_none=True, required=True)


class WorstUptimeSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    uptime_percent = fields.Float(required=True)
    checks = fields.Integer(required=True)


class SummaryQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    tag = TagFilter()


class SummarySchema(ma.Schema):
    """GET /summary."""

    monitors = fields.Nested(SummaryMonitorsSchema, required=True, metadata={
        "description": "Enabled monitors by status, and the disabled ones."})
    down_now = fields.List(fields.Nested(DownNowSchema), required=True)
    worst_uptime_24h = fields.List(fields.Nested(WorstUptimeSchema), required=True, metadata={
        "description": "The five monitors with the lowest uptime over 24 h (those with checks)."})
    generated_at = UtcDateTime(required=True)
