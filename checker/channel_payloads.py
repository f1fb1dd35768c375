"""Alert bodies for Discord, Microsoft Teams, PagerDuty and e-mail, of a Transition or a TlsWarning.

Pure functions, no I/O: like checker/alerts.py (Slack and the generic JSON event), a body is rendered once
when the event is recorded and stored, so a retry sends the same bytes. The facts and their wording are
the Slack message's (alerts.py helpers); docs/alerts.md shows every body. Anything a monitor's owner
typed (name, URL, a server's error text) is data, never markup that reaches anyone: Discord mentions are
off, e-mail subjects carry no line breaks.

PagerDuty's routing key is a secret, so `pagerduty_body` renders everything but it (storable) and
`with_routing_key` adds it at send time; `pagerduty_payload` is the two composed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from checker import alerts_maintenance, alerts_reminders
from checker.alerts import (
    SLACK_TEXT,
    SLACK_TITLE,
    TLS_JSON_EVENT,
    TLS_SLACK_TEXT,
    TLS_SLACK_TITLE,
    clip,
    display_url,
    expires_in,
    format_time,
    human_duration,
    json_payload,
    reason_detail,
    tls_json_payload,
    tls_level_note,
)
from healthmon.domain.maintenance import MaintenanceChange
from healthmon.domain.reminders import StillDown
from healthmon.domain.status import DEGRADED, DOWN, UP, Transition
from healthmon.domain.tls import FINGERPRINT_SHOWN, TlsWarning

Event = Transition | TlsWarning | StillDown | MaintenanceChange

DISCORD_CONTENT_MAX, DISCORD_TITLE_MAX, DISCORD_FIELD_MAX, DISCORD_TOTAL_MAX = 2000, 256, 1024, 6000
"""Discord's limits: message content, embed title, field value, and all of an embed's text together. An
embed here is at most 4 clipped fields (name, URL, reason, first error) plus short ones, about 4,300
characters: the total cannot be exceeded, so nothing is cut for it."""
DISCORD_COLOURS = {DOWN: 0xD32F2F, UP: 0x2E7D32, DEGRADED: 0xFFA000}
DISCORD_TLS_COLOUR, DISCORD_OTHER_COLOUR = 0xFFA000, 0x9E9E9E
TEAMS_COLOURS = {DOWN: "Attention", UP: "Good", DEGRADED: "Warning"}
TEAMS_FACT_MAX = 1024
"""A fact's value is clipped like a Discord field: a Teams message must stay under about 28 KB."""

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
PAGERDUTY_SUMMARY_MAX = 1024
EMAIL_SUBJECT_PREFIX = "[healthmon] "
EMAIL_SUBJECT_MAX = 250

_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_DISCORD_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
_DISCORD_FREE_TEXT = ("Name", "Reason", "First error", "Last error")
"""Facts whose values someone typed or a server sent: escaped for Discord (a URL or a time is not)."""


def one_line(text: str) -> str:
    """`text` with every run of control characters and line separators (CR, LF, NEL, U+2028 ...) made one
    space: what goes into a header or a one-line fact cannot start a new header or forge a line."""
    return _LINE_BREAKS.sub(" ", text).strip()


def headline(event: Event) -> str:
    """`DOWN: Google Homepage`, or `TLS certificate expires in 13 days: Shop`: the e-mail subject without
    its prefix, Discord's content and Teams' title."""
    if isinstance(event, StillDown):
        return one_line(alerts_reminders.headline(event))
    if isinstance(event, MaintenanceChange):
        return one_line(f"{event.to_status} after maintenance: {event.name}")
    if isinstance(event, TlsWarning):
        return one_line(f"TLS certificate expires {expires_in(event.seconds_left)}: {event.name}")
    return one_line(f"{event.to_status}: {event.name}")


def facts(event: Event) -> list[tuple[str, str]]:
    """(label, value) pairs every format shows: the Slack blocks' facts, values on one line."""
    if isinstance(event, StillDown):
        rows = alerts_reminders.facts(event)
    elif isinstance(event, MaintenanceChange):
        rows = [("Name", event.name), ("URL", display_url(event.url)),
                ("Change", f"{event.from_status} -> {event.to_status}"), ("Time", format_time(event.at)),
                ("Reason", alerts_maintenance.summary(event))]
    elif isinstance(event, TlsWarning):
        rows = [
            ("Name", event.name),
            ("URL", display_url(event.url)),
            ("Expires", f"{format_time(event.expires_at)} ({expires_in(event.seconds_left)})"),
            ("Certificate (SHA-256)", f"{event.fingerprint_sha256[:FINGERPRINT_SHOWN]}…"),
            ("Time", format_time(event.at)),
        ]
    else:
        rows = [
            ("Name", event.name),
            ("URL", display_url(event.url)),
            ("Change", f"{event.from_status} -> {event.to_status}"),
            ("Time", format_time(event.at)),
            ("Reason", reason_detail(event)),
        ]
        if event.down_for_seconds is not None:
            rows.append(("Down for", human_duration(event.down_for_seconds)))
            if event.first_error:
                rows.append(("First error", event.first_error))
    return [(label, one_line(value) or "-") for label, value in rows]


def _title(event: Event) -> str:
    if isinstance(event, StillDown):
        return alerts_reminders.title(event)
    if isinstance(event, MaintenanceChange):
        return alerts_maintenance.REPORT_SLACK_TITLE
    return TLS_SLACK_TITLE if isinstance(event, TlsWarning) else SLACK_TITLE


def _status(event: Transition | StillDown) -> str:
    """The status a message is coloured by: the new one, or DOWN for a notice about an open incident."""
    return DOWN if isinstance(event, StillDown) else event.to_status


# ---- Discord -------------------------------------------------------------------------------------------


def _discord_text(text: str) -> str:
    """Markdown escaped (a name cannot render as a masked link), and a zero-width space after every @, so
    even a client ignoring allowed_mentions shows `@everyone` instead of pinging."""
    return _DISCORD_MARKDOWN.sub(r"\\\1", text).replace("@", "@\u200b")


def discord_payload(event: Event) -> dict:
    """An execute-webhook body: `content` (the headline, for notifications), one embed with the facts as
    fields, coloured by the new status (DOWN red, UP green, DEGRADED and TLS warnings amber), and
    `allowed_mentions: {"parse": []}` so nothing in it pings anyone."""
    tls = isinstance(event, TlsWarning)
    inline = {"Change", "Time", "Down for", "Down since", "Expires", "Certificate (SHA-256)"}
    fields = [{"name": label, "value": clip(_discord_text(value) if label in _DISCORD_FREE_TEXT else value,
                                            DISCORD_FIELD_MAX), "inline": label in inline}
              for label, value in facts(event)]
    embed: dict = {
        "title": clip(_title(event), DISCORD_TITLE_MAX),
        "color": DISCORD_TLS_COLOUR if tls else DISCORD_COLOURS.get(_status(event), DISCORD_OTHER_COLOUR),
        "timestamp": format_time(event.at),
        "fields": fields,
    }
    if tls:
        embed["footer"] = {"text": tls_level_note(event)}
    return {"content": clip(_discord_text(headline(event)), DISCORD_CONTENT_MAX), "embeds": [embed],
            "allowed_mentions": {"parse": []}}


# ---- Microsoft Teams -----------------------------------------------------------------------------------


def teams_payload(event: Event) -> dict:
    """A body for a Teams workflow webhook ("Post to a channel when a webhook request is received"): one
    Adaptive Card 1.4 attachment, the headline as a coloured TextBlock, the facts as a FactSet (and for a
    TLS warning which warning it is)."""
    tls = isinstance(event, TlsWarning)
    body: list[dict] = [
        {"type": "TextBlock", "text": headline(event), "weight": "Bolder", "size": "Medium", "wrap": True,
         "color": "Warning" if tls else TEAMS_COLOURS.get(_status(event), "Default")},
        {"type": "FactSet", "facts": [{"title": label, "value": clip(value, TEAMS_FACT_MAX)}
                                      for label, value in facts(event)]},
    ]
    if tls:
        body.append({"type": "TextBlock", "text": tls_level_note(event), "isSubtle": True, "wrap": True})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


# ---- PagerDuty -----------------------------------------------------------------------------------------


def pagerduty_dedup_key(event: Event) -> str:
    """One PagerDuty alert per monitor (a DOWN and its recovery meet in it), one per certificate."""
    if isinstance(event, TlsWarning):
        return f"healthmon-tls-{event.monitor_id}-{event.fingerprint_sha256[:FINGERPRINT_SHOWN]}"
    return f"healthmon-monitor-{event.monitor_id}"


def pagerduty_body(event: Event, severity: str = "critical") -> dict | None:
    """An Events API v2 event without its routing_key, or None when PagerDuty should hear nothing.

    To DOWN: trigger with `severity`; to DEGRADED: trigger with "warning"; to UP from any other status:
    resolve, UNKNOWN -> UP included: after a resume or an edit (both reset the state to UNKNOWN) the
    monitor's incident may still be open, and PagerDuty ignores a resolve for a dedup key it has no open
    alert for (a new monitor's first UP). Any change to UNKNOWN: None, nothing to send. A
    TLS warning: trigger with "warning" under the certificate's own dedup_key (never resolved by healthmon:
    a renewed certificate is a new fingerprint, so resolve that alert in PagerDuty). A reminder: None; an
    escalation: trigger with `severity` under the monitor's dedup_key (the incident's DOWN, if PagerDuty had
    it, is the same alert), resolved by the recovery. Raises ValueError for a
    severity PagerDuty does not know.
    """
    if severity not in PAGERDUTY_SEVERITIES:
        raise ValueError(f"unknown PagerDuty severity {severity!r}")
    if isinstance(event, MaintenanceChange):  # what PagerDuty missed during the window, as that change
        event = Transition(event_id=0, monitor_id=event.monitor_id, name=event.name, url=event.url,
                           from_status=event.from_status, to_status=event.to_status, at=event.at,
                           reason=alerts_maintenance.summary(event))
    key = pagerduty_dedup_key(event)
    if isinstance(event, StillDown):
        if not event.escalated:  # PagerDuty re-notifies by its own escalation policy, not by our reminders
            return None
        summary, details, event_class = headline(event), alerts_reminders.json_payload(event), "monitor.escalated"
    elif isinstance(event, TlsWarning):
        summary, severity, details = headline(event), "warning", tls_json_payload(event)
        event_class = TLS_JSON_EVENT
    elif event.to_status == UP:
        if event.from_status == UP:
            return None
        return {"event_action": "resolve", "dedup_key": key}
    elif event.to_status in (DOWN, DEGRADED):
        summary = f"{headline(event)} ({one_line(reason_detail(event))})"
        severity = severity if event.to_status == DOWN else "warning"
        details, event_class = json_payload(event), f"monitor.{event.to_status.lower()}"
    else:
        return None
    source = urlsplit(display_url(event.url)).hostname or display_url(event.url)
    return {
        "event_action": "trigger",
        "dedup_key": key,
        "client": "healthmon",
        "payload": {
            "summary": clip(summary, PAGERDUTY_SUMMARY_MAX),
            "source": source,
            "severity": severity,
            "timestamp": format_time(event.at),
            "component": clip(one_line(event.name), 255),
            "class": event_class,
            "custom_details": details,
        },
    }


def with_routing_key(body: dict, routing_key: str) -> dict:
    """`body` (from pagerduty_body) with the integration's routing key, ready to POST to PAGERDUTY_URL."""
    return {"routing_key": routing_key, **body}


def pagerduty_payload(event: Event, routing_key: str, severity: str = "critical") -> dict | None:
    """pagerduty_body with the routing key; None when nothing should be sent."""
    body = pagerduty_body(event, severity)
    return None if body is None else with_routing_key(body, routing_key)


# ---- E-mail --------------------------------------------------------------------------------------------


def email_message(event: Event) -> tuple[str, str]:
    """(subject, plain-text body). Subject `[healthmon] DOWN: <name>`, no line breaks in it; the body is the
    guide's Slack text (unescaped) with the reason and, on a recovery, how long it was down."""
    subject = clip(EMAIL_SUBJECT_PREFIX + headline(event), EMAIL_SUBJECT_MAX)
    values = dict(facts(event))
    if isinstance(event, StillDown | MaintenanceChange):
        lines = [_title(event)] + [f"{label}: {value}" for label, value in facts(event)]
    elif isinstance(event, TlsWarning):
        lines = [TLS_SLACK_TEXT.format(name=values["Name"], url=values["URL"],
                                       expires=format_time(event.expires_at), left=expires_in(event.seconds_left),
                                       time=values["Time"]),
                 f"Certificate (SHA-256): {values['Certificate (SHA-256)']}", "", tls_level_note(event)]
    else:
        lines = [SLACK_TEXT.format(name=values["Name"], url=values["URL"], old=event.from_status,
                                   new=event.to_status, time=values["Time"]),
                 f"Reason: {values['Reason']}"]
        lines += [f"{label}: {values[label]}" for label in ("Down for", "First error") if label in values]
    return subject, "\n".join(lines) + "\n"
