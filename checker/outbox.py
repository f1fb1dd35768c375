"""The outbox's one writer: every alert is written by `enqueue`, one row per destination of its event, in
the transaction that records the event (so an event is never without its alerts, nor alerts without it).

A monitor's destinations are its own `webhook_url` (if set; the guide's Slack message or the generic JSON
event, as before channels existed) plus each Channel linked to it (healthmon.models.MonitorChannel).
Each row's body is rendered here, at record time, for its destination's type and stored: a retry sends the
same bytes. Secrets stay out of channel rows: the sender (checker/delivery.py) reads the channel's address
and secrets when it sends.

Row key (healthmon.models.AlertOutbox): unique (event_id, channel_id), channel_id MONITOR_WEBHOOK (0) for
the monitor's webhook_url; `destination` (`Destination.key`) orders and rate-limits deliveries.

Callers: checker/record.py (state changes, TLS warnings), scheduler/maintenance_reports.py (end-of-window
reports), scheduler/notices.py (reminders, escalations). A new event kind adds its type to `event_key`
and to the renderers (checker/alerts.py, checker/channel_payloads.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from checker import alerts, alerts_maintenance, alerts_reminders, channels
from healthmon import sql
from healthmon.domain.maintenance import MaintenanceChange
from healthmon.domain.reminders import StillDown
from healthmon.domain.status import Transition
from healthmon.domain.tls import TlsWarning
from healthmon.models import AlertOutbox

MONITOR_WEBHOOK = 0
"""channel_id of an alert to the monitor's own webhook_url (channel ids start at 1)."""

Event = Transition | TlsWarning | StillDown | MaintenanceChange


@dataclass(frozen=True)
class Destination:
    """Where one alert of an event goes. `kind` is the body format: "slack" or "json" for the monitor's
    webhook (alerts.resolve_format), else the channel's type; `config` is the channel's (rendering reads
    its non-secret options, such as PagerDuty's severity)."""

    channel_id: int
    kind: str
    webhook_url: str = ""  # the monitor's webhook (MONITOR_WEBHOOK only)
    config: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """The per-destination order and rate key: the webhook URL (as before channels), or `channel:<id>`."""
        return self.webhook_url if self.channel_id == MONITOR_WEBHOOK else f"channel:{self.channel_id}"


def monitor_webhook(webhook_url: str | None, webhook_format: str | None) -> list[Destination]:
    """The monitor's own webhook as a destination list (empty without one)."""
    if not webhook_url:
        return []
    return [Destination(MONITOR_WEBHOOK, alerts.resolve_format(webhook_url, webhook_format), webhook_url)]


_LINKS = ("SELECT l.monitor_id, c.id, c.type, c.config FROM monitor_channels l JOIN channels c ON c.id = l.channel_id "
          "WHERE l.monitor_id IN ({marks}) ORDER BY l.monitor_id, c.id")


def linked_channels(monitor_ids: Sequence[int]) -> dict[int, list[Destination]]:
    """The channels of each monitor in `monitor_ids` (ascending channel id): one query per 500 monitors.
    Monitors without channels are absent."""
    out: dict[int, list[Destination]] = {}
    ids = sorted(set(monitor_ids))
    for chunk in sql.chunks(ids):
        for monitor_id, channel_id, kind, config in sql.query(_LINKS.format(marks=sql.marks(len(chunk))), chunk):
            out.setdefault(monitor_id, []).append(
                Destination(channel_id, kind, config=json.loads(config) if config else {}))
    return out


class Fanout:
    """The destinations of a batch's monitors. The links are read on the first event of the batch, in one
    query for all its monitors; a batch without events reads nothing (the recording hot path)."""

    def __init__(self, monitor_ids: Sequence[int]):
        self._ids = monitor_ids
        self._links: dict[int, list[Destination]] | None = None

    def of(self, monitor_id: int, webhook_url: str | None, webhook_format: str | None) -> list[Destination]:
        if self._links is None:
            self._links = linked_channels(self._ids)
        return monitor_webhook(webhook_url, webhook_format) + self._links.get(monitor_id, [])


_CHANNELS = "SELECT id, type, config FROM channels WHERE id IN ({marks}) ORDER BY id"


def channel_destinations(channel_ids: Sequence[int | None]) -> list[Destination]:
    """The channels with these ids that still exist (an escalation's channel), by id; one query."""
    ids = sorted({cid for cid in channel_ids if cid})
    if not ids:
        return []
    return [Destination(cid, kind, config=json.loads(config) if config else {})
            for cid, kind, config in sql.query(_CHANNELS.format(marks=sql.marks(len(ids))), ids)]


_ESCALATED = ("SELECT m.escalation_channel_id FROM down_notices d JOIN monitors m ON m.id = d.monitor_id "
              "WHERE d.monitor_id = ? AND d.incident_at = ? AND d.kind = 'escalation'")


def escalated_to(monitor_id: int, incident_at: dt.datetime | None) -> list[Destination]:
    """Where the incident that began at `incident_at` was escalated (its channel, if it still exists), so
    its recovery goes there too; empty when it was not. One query: run on recoveries only."""
    if incident_at is None:
        return []
    return channel_destinations([row[0] for row in sql.query(_ESCALATED, (monitor_id, incident_at))])


def destinations_of(monitor_id: int, webhook_url: str | None, webhook_format: str | None) -> list[Destination]:
    """One monitor's destinations (one query): for callers outside a recording batch."""
    return Fanout([monitor_id]).of(monitor_id, webhook_url, webhook_format)


def event_key(event: Event) -> int:
    """The outbox event_id. The ranges never meet: a state change's id (positive); minus a TLS warning's id
    (-1 .. -(2**31 - 1), alerts.tls_event_id); minus (2**31 + id) for a maintenance report
    (alerts_maintenance.report_event_id); minus (2**40 + id) for a reminder or escalation
    (alerts_reminders.notice_event_id)."""
    if isinstance(event, StillDown):
        return alerts_reminders.notice_event_id(event.notice_id)
    if isinstance(event, MaintenanceChange):
        return alerts_maintenance.report_event_id(event.report_id)
    if isinstance(event, TlsWarning):
        return alerts.tls_event_id(event.warning_id)
    if isinstance(event, Transition):
        return event.event_id
    raise TypeError(f"no outbox event id for {type(event).__name__}")


def render(event: Event, destination: Destination) -> str | None:
    """The stored body of `event` for `destination`; None when that channel type sends nothing for it."""
    if destination.channel_id == MONITOR_WEBHOOK:
        return alerts.render(event, destination.kind)
    return channels.render(destination.kind, event, destination.config)


def enqueue(monitor_id: int, event: Event, destinations: Sequence[Destination], at: dt.datetime) -> int:
    """Insert one pending alert per destination of `event` (a Transition or a TlsWarning of `monitor_id`),
    due at `at`, except where the destination's type sends nothing for it (PagerDuty and a new monitor's
    UNKNOWN -> UP); returns how many. Call inside the transaction that records the event. Raises
    peewee.IntegrityError if `event` already has an alert for one of the destinations (and then, as the
    transaction rolls back, nothing of it is kept)."""
    if not destinations:
        return 0
    event_id = event_key(event)
    rows = [{"event_id": event_id, "channel_id": d.channel_id, "monitor_id": monitor_id, "destination": d.key,
             "webhook_url": d.webhook_url, "webhook_format": d.kind, "payload": body, "created_at": at,
             "next_attempt_at": at} for d in destinations if (body := render(event, d)) is not None]
    if rows:
        AlertOutbox.insert_many(rows).execute()
    return len(rows)
