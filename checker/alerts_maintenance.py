"""Alert bodies of an end-of-maintenance report (healthmon.domain.maintenance.MaintenanceChange): the Slack
message and the generic JSON event, rendered once when the report is claimed (scheduler.maintenance_reports).

One message per monitor whose status differs between the window's start and its end; its outbox event_id
is minus (2**31 + the report's id) (`report_event_id`), below every TLS warning's.
"""

from __future__ import annotations

import datetime as dt

from checker.alerts import SLACK_FIELD_MAX, clip, display_url, format_time, slack_escape
from healthmon.domain.maintenance import MaintenanceChange

REPORT_JSON_EVENT = "monitor.maintenance_report"
REPORT_SLACK_TITLE = "🛠️ Changed during maintenance"
REPORT_SLACK_TEXT = REPORT_SLACK_TITLE + "\nName: {name}\nURL: {url}\n{summary}\nTime: {time}"
REPORT_EVENT_BASE = 2**31
"""Report event ids start below -REPORT_EVENT_BASE; TLS warnings use -1 .. -(2**31 - 1)."""


def report_event_id(report_id: int) -> int:
    return -(REPORT_EVENT_BASE + report_id)


def window_span(start: dt.datetime, end: dt.datetime) -> str:
    """`2026-03-29 02:00-03:00 UTC`, or with both dates when the window spans midnight (UTC)."""
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M} UTC"


def summary(change: MaintenanceChange) -> str:
    """`UP -> DOWN during maintenance 'db upgrade' (2026-03-29 02:00-03:00 UTC)`."""
    return (f"{change.from_status} -> {change.to_status} during maintenance '{change.window_name}' "
            f"({window_span(change.starts_at, change.ends_at)})")


def report_slack_payload(change: MaintenanceChange) -> dict:
    text = REPORT_SLACK_TEXT.format(name=slack_escape(change.name), url=slack_escape(display_url(change.url)),
                                    summary=slack_escape(summary(change)), time=format_time(change.at))
    changes = f"{change.changes} state change{'s' if change.changes != 1 else ''} recorded during the window"
    return {"text": text, "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": REPORT_SLACK_TITLE, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(
            f"*{slack_escape(change.name)}* ({slack_escape(display_url(change.url))})\n"
            f"{slack_escape(summary(change))}", SLACK_FIELD_MAX)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": changes + "; their alerts were held back."}]},
    ]}


def report_json_payload(change: MaintenanceChange) -> dict:
    return {
        "event": REPORT_JSON_EVENT,
        "report_id": change.report_id,
        "monitor": {"id": change.monitor_id, "name": change.name, "url": display_url(change.url)},
        "maintenance": {"id": change.window_id, "name": change.window_name,
                        "starts_at": format_time(change.starts_at), "ends_at": format_time(change.ends_at)},
        "old": change.from_status,
        "new": change.to_status,
        "changes": change.changes,
        "time": format_time(change.at),
        "summary": summary(change),
    }
