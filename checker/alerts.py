"""Alert bodies: the Slack message and the generic JSON event of a Transition, or of a TLS certificate expiry
warning (healthmon.domain.tls.TlsWarning), rendered when it is recorded.

The body is rendered once, in the recording transaction, and stored in the outbox: a retry sends
byte-for-byte the same message, and later edits to the monitor do not rewrite history. The Slack text
is the reference deployment guide's (STEP 11) exactly; the JSON shape is documented in docs/alerts.md.
A TLS warning is not a status change, so it has its own Slack text (TLS_SLACK_TEXT) and JSON event
(TLS_JSON_EVENT); its outbox event_id is minus the warning's id (`tls_event_id`).
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit, urlunsplit

from healthmon.domain.maintenance import MaintenanceChange
from healthmon.domain.reminders import StillDown
from healthmon.domain.status import Transition
from healthmon.domain.tls import FINGERPRINT_SHOWN, TlsWarning

SLACK_HOST = "hooks.slack.com"
FORMATS = ("slack", "json")
JSON_EVENT = "monitor.state_changed"

SLACK_TITLE = "🔔 API Status Changed"
SLACK_TEXT = SLACK_TITLE + "\nName: {name}\nURL: {url}\nOld: {old} -> New: {new}\nTime: {time}"
"""The guide's message, line for line; `text` is also the notification/fallback text of the blocks."""

TLS_JSON_EVENT = "monitor.tls_expiring"
TLS_SLACK_TITLE = "🔒 TLS certificate expires soon"
TLS_SLACK_TEXT = TLS_SLACK_TITLE + "\nName: {name}\nURL: {url}\nExpires: {expires} ({left})\nTime: {time}"

SLACK_FIELD_MAX = 1900
"""Slack rejects a section field longer than 2000 characters (invalid_blocks); stay under it."""


def resolve_format(webhook_url: str, configured: str | None) -> str:
    """The body format for a webhook: the monitor's explicit choice, else "slack" for hooks.slack.com."""
    if configured in FORMATS:
        return configured
    try:
        host = (urlsplit(webhook_url).hostname or "").lower().rstrip(".")
    except ValueError:
        host = ""
    return "slack" if host == SLACK_HOST else "json"


def display_url(url: str) -> str:
    """The monitor URL without userinfo: `https://user:pw@host/x` -> `https://host/x`."""
    try:
        parts = urlsplit(url)
        if "@" not in parts.netloc:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
    except ValueError:
        return url
    return urlunsplit(parts._replace(netloc=host))


def format_time(at: dt.datetime) -> str:
    """UTC with milliseconds and Z, as in the guide: 2026-01-20T10:30:00.000Z."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def human_duration(seconds: float) -> str:
    """Two most significant units: 45s, 3m 12s, 1h 5m, 2d 3h."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    while len(units) > 1 and units[0][0] == 0:
        units.pop(0)
    return " ".join(f"{n}{u}" for n, u in units[:2])


def slack_escape(text: str) -> str:
    """Slack parses &, < and > as markup in text (`<!channel>` pings everyone); escape them as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text`, or its first `limit` - 1 characters and an ellipsis when longer than `limit`."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_text(transition: Transition) -> str:
    """The guide's notification text for `transition`."""
    return SLACK_TEXT.format(
        name=slack_escape(transition.name),
        url=slack_escape(display_url(transition.url)),
        old=transition.from_status,
        new=transition.to_status,
        time=format_time(transition.at),
    )


def reason_detail(transition: Transition) -> str:
    """The reason of a change with the latency of its check (`status 503, latency 12 ms`), as alerts show it."""
    parts = [transition.reason]
    if transition.latency_ms is not None and "ms" not in transition.reason:
        parts.append(f"latency {transition.latency_ms:.0f} ms")
    return ", ".join(parts)


def slack_payload(transition: Transition) -> dict:
    """`{"text": <guide text>, "blocks": [...]}`: the blocks repeat the facts and add the reason and,
    on recovery, how long the monitor was down and the incident's first error."""
    field = lambda label, value: {"type": "mrkdwn", "text": clip(f"*{label}:*\n{value}", SLACK_FIELD_MAX)}  # noqa: E731
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": SLACK_TITLE, "emoji": True}},
        {
            "type": "section",
            "fields": [
                field("Name", slack_escape(transition.name)),
                field("URL", slack_escape(display_url(transition.url))),
                field("Change", f"{transition.from_status} -> {transition.to_status}"),
                field("Time", format_time(transition.at)),
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(
            f"*Reason:* {slack_escape(reason_detail(transition))}", SLACK_FIELD_MAX)}},
    ]
    if transition.down_for_seconds is not None:
        text = f"Down for {human_duration(transition.down_for_seconds)}"
        if transition.first_error:
            text += f"; first error: {slack_escape(transition.first_error)}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SLACK_FIELD_MAX)}]})
    return {"text": slack_text(transition), "blocks": blocks}


def json_payload(transition: Transition) -> dict:
    """The generic receiver's event (docs/alerts.md)."""
    return {
        "event": JSON_EVENT,
        "event_id": transition.event_id,
        "monitor": {"id": transition.monitor_id, "name": transition.name, "url": display_url(transition.url)},
        "old": transition.from_status,
        "new": transition.to_status,
        "time": format_time(transition.at),
        "reason": transition.reason,
        "status_code": transition.status_code,
        "latency_ms": None if transition.latency_ms is None else round(transition.latency_ms, 1),
        "down_for_seconds": transition.down_for_seconds,
        "first_error": transition.first_error,
    }


def render(event: Transition | TlsWarning | MaintenanceChange | StillDown, webhook_format: str) -> str:
    """The JSON body to POST for `webhook_format` ("slack" or "json"). Raises ValueError otherwise."""
    # Imported here: they build on this module's helpers.
    from checker import alerts_maintenance, alerts_reminders

    if webhook_format not in FORMATS:
        raise ValueError(f"unknown webhook format {webhook_format!r}")
    if isinstance(event, StillDown):
        slack, generic = alerts_reminders.slack_payload, alerts_reminders.json_payload
    elif isinstance(event, MaintenanceChange):
        slack, generic = alerts_maintenance.report_slack_payload, alerts_maintenance.report_json_payload
    elif isinstance(event, TlsWarning):
        slack, generic = tls_slack_payload, tls_json_payload
    else:
        slack, generic = slack_payload, json_payload
    body = slack(event) if webhook_format == "slack" else generic(event)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


# ---- TLS certificate expiry warnings ------------------------------------------------------------------


def tls_event_id(warning_id: int) -> int:
    """The outbox event_id of a TLS warning: minus its id, so it never meets a state change's (positive) id."""
    return -warning_id


def idempotency_key(event_id: int) -> str:
    """The Idempotency-Key header of an outbox row: one value per state change, TLS warning, maintenance
    report, reminder or escalation, never shared (the ranges: checker/outbox.py `event_key`)."""
    from checker.alerts_maintenance import REPORT_EVENT_BASE
    from checker.alerts_reminders import NOTICE_EVENT_BASE

    if event_id <= -NOTICE_EVENT_BASE:
        return f"healthmon-notice-{-event_id - NOTICE_EVENT_BASE}"
    if event_id <= -REPORT_EVENT_BASE:
        return f"healthmon-maintenance-report-{-event_id - REPORT_EVENT_BASE}"
    if event_id < 0:
        return f"healthmon-tls-warning-{-event_id}"
    return f"healthmon-event-{event_id}"


def expires_in(seconds: float) -> str:
    """`in 13 days` (whole days, rounded down) from 2 days on; below that the two largest units (`in 1d 23h`,
    `in 5h 12m`), so a certificate 47 hours from expiry is not said to expire "in 1 day"."""
    days = int(seconds // 86_400)
    if days >= 2:
        return f"in {days} days"
    return f"in {human_duration(seconds)}"


def tls_level_note(warning: TlsWarning) -> str:
    """Which warning this is: `Warning for expiry within 3 days; a renewed certificate ends the warnings.`"""
    days = warning.threshold_days
    return f"Warning for expiry within {days} day{'s' if days != 1 else ''}; a renewed certificate ends the warnings."


def tls_slack_text(warning: TlsWarning) -> str:
    return TLS_SLACK_TEXT.format(
        name=slack_escape(warning.name),
        url=slack_escape(display_url(warning.url)),
        expires=format_time(warning.expires_at),
        left=expires_in(warning.seconds_left),
        time=format_time(warning.at),
    )


def tls_slack_payload(warning: TlsWarning) -> dict:
    """`{"text": <TLS_SLACK_TEXT>, "blocks": [...]}`: the facts, the certificate's fingerprint prefix and
    which warning this is."""
    field = lambda label, value: {"type": "mrkdwn", "text": clip(f"*{label}:*\n{value}", SLACK_FIELD_MAX)}  # noqa: E731
    return {
        "text": tls_slack_text(warning),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": TLS_SLACK_TITLE, "emoji": True}},
            {"type": "section", "fields": [
                field("Name", slack_escape(warning.name)),
                field("URL", slack_escape(display_url(warning.url))),
                field("Expires", f"{format_time(warning.expires_at)} ({expires_in(warning.seconds_left)})"),
                field("Certificate (SHA-256)", f"`{warning.fingerprint_sha256[:FINGERPRINT_SHOWN]}…`"),
            ]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": tls_level_note(warning)}]},
        ],
    }


def tls_json_payload(warning: TlsWarning) -> dict:
    """The generic receiver's TLS event (docs/alerts.md)."""
    return {
        "event": TLS_JSON_EVENT,
        "warning_id": warning.warning_id,
        "monitor": {"id": warning.monitor_id, "name": warning.name, "url": display_url(warning.url)},
        "time": format_time(warning.at),
        "expires_at": format_time(warning.expires_at),
        "days_left": int(warning.seconds_left // 86_400),
        "threshold_days": warning.threshold_days,
        "fingerprint_sha256": warning.fingerprint_sha256,
    }
