"""Alert bodies of a reminder or an escalation while a monitor stays DOWN (healthmon.domain.reminders.StillDown):
the Slack message and the generic JSON event; checker/channel_payloads.py builds the other formats from the
same headline and facts. Rendered once when the notice is recorded, like every alert (checker/alerts.py).

Its outbox event_id is `notice_event_id(id)`: negative like a TLS warning's, below every other range
(docs/alerts.md "Event ids"), so it never meets another event's id.
"""

from __future__ import annotations

from checker.alerts import SLACK_FIELD_MAX, clip, display_url, format_time, human_duration, slack_escape
from healthmon.domain.reminders import StillDown

REMINDER_JSON_EVENT = "monitor.still_down"
ESCALATION_JSON_EVENT = "monitor.escalated"
REMINDER_SLACK_TITLE = "⏰ Still DOWN"
ESCALATION_SLACK_TITLE = "🚨 Escalated: still DOWN"
STILL_DOWN_SLACK_TEXT = "{title}\nName: {name}\nURL: {url}\nDown for: {down_for} (since {since})\nTime: {time}"

NOTICE_EVENT_BASE = 2**40
"""Notices' outbox event ids are -(NOTICE_EVENT_BASE + id): TLS warnings use -id and maintenance reports
-(2**31 + id); ids of either never reach 2**31, let alone this."""


def notice_event_id(notice_id: int) -> int:
    return -(NOTICE_EVENT_BASE + notice_id)


def is_notice_event(event_id: int) -> bool:
    return event_id <= -NOTICE_EVENT_BASE


def title(notice: StillDown) -> str:
    return ESCALATION_SLACK_TITLE if notice.escalated else REMINDER_SLACK_TITLE


def headline(notice: StillDown) -> str:
    """`Still DOWN for 1h 5m: Shop`, or `Escalated, DOWN for 30m: Shop`: e-mail subject, Discord content."""
    lead = "Escalated, DOWN" if notice.escalated else "Still DOWN"
    return f"{lead} for {human_duration(notice.down_for_seconds)}: {notice.name}"


def facts(notice: StillDown) -> list[tuple[str, str]]:
    rows = [("Name", notice.name), ("URL", display_url(notice.url)),
            ("Down for", human_duration(notice.down_for_seconds)), ("Down since", format_time(notice.down_since)),
            ("Time", format_time(notice.at))]
    if notice.reason:
        rows.append(("Last error", notice.reason))
    return rows


def slack_text(notice: StillDown) -> str:
    return STILL_DOWN_SLACK_TEXT.format(
        title=title(notice), name=slack_escape(notice.name), url=slack_escape(display_url(notice.url)),
        down_for=human_duration(notice.down_for_seconds), since=format_time(notice.down_since),
        time=format_time(notice.at))


def slack_payload(notice: StillDown) -> dict:
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(notice), "emoji": True}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": clip(f"*{label}:*\n{slack_escape(value)}", SLACK_FIELD_MAX)}
            for label, value in facts(notice)[:4]]},
    ]
    if notice.reason:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(
            f"*Last error:* {slack_escape(notice.reason)}", SLACK_FIELD_MAX)}})
    return {"text": slack_text(notice), "blocks": blocks}


def json_payload(notice: StillDown) -> dict:
    """The generic receiver's event (docs/alerts.md "Reminders and escalation")."""
    return {
        "event": ESCALATION_JSON_EVENT if notice.escalated else REMINDER_JSON_EVENT,
        "notice_id": notice.notice_id,
        "monitor": {"id": notice.monitor_id, "name": notice.name, "url": display_url(notice.url)},
        "status": "DOWN",
        "reminder": notice.number if not notice.escalated else None,
        "down_since": format_time(notice.down_since),
        "down_for_seconds": notice.down_for_seconds,
        "time": format_time(notice.at),
        "last_error": notice.reason or None,
    }
