"""Reminders and escalation while DOWN (healthmon.domain.reminders): `notice_step(now)` writes the notices
due, each with its alerts, and the scheduler calls it every NOTICE_EVERY_S.

Exactly once: a notice is a DownNotice row, unique per (monitor, incident, kind, number), inserted in the
transaction that writes its outbox rows and that holds the monitor's row lock (FOR UPDATE on PostgreSQL,
SQLite's write lock), after checking that the monitor is still DOWN in the same incident. Two schedulers
racing, or a step repeated after a crash, find the row and send nothing more; a recovery recorded meanwhile
is seen under the lock, so no "still DOWN" follows an UP.
"""

from __future__ import annotations

import datetime as dt
import logging

import peewee as pw

from checker import outbox
from healthmon import maintenance
from healthmon.db import database, for_update, utcnow
from healthmon.domain.maintenance import alerts_suppressed
from healthmon.domain.reminders import ESCALATION, StillDown, notices_due
from healthmon.domain.status import DOWN
from healthmon.models import DownNotice, Monitor

log = logging.getLogger("healthmon.scheduler")

NOTICE_EVERY_S = 15.0
"""How often the scheduler looks for due notices: a reminder or escalation is at most this late."""

_FIELDS = (Monitor.id, Monitor.name, Monitor.url, Monitor.status_changed_at, Monitor.reminder_minutes,
           Monitor.escalation_minutes, Monitor.escalation_channel_id, Monitor.webhook_url, Monitor.webhook_format,
           Monitor.last_error, Monitor.status)


def notice_step(now: dt.datetime | None = None) -> int:
    """Write every reminder and escalation due at `now` that is not written yet; returns how many. Only the
    newest reminder of an incident is due (healthmon.domain.reminders); none while a maintenance window
    covers the monitor (a paused monitor is not DOWN). Raises on database errors."""
    now = now or utcnow()
    # Read in full before writing: on SQLite a cursor still open keeps a read snapshot, and upgrading it to a
    # write after another scheduler wrote fails at once ("database is locked") instead of waiting.
    candidates = list(Monitor.select(*_FIELDS)
                      .where((Monitor.status == DOWN) & Monitor.enabled & Monitor.status_changed_at.is_null(False)
                             & (Monitor.reminder_minutes.is_null(False) | Monitor.escalation_minutes.is_null(False))))
    active = maintenance.active_now(now) if candidates else []
    written = 0
    for m in candidates:
        if alerts_suppressed(active, m.id):  # in maintenance: DOWN is expected, nobody is reminded
            continue
        due = notices_due(m.status_changed_at, now, m.reminder_minutes, m.escalation_minutes,
                          m.escalation_channel_id)
        if not due:
            continue
        sent = set(DownNotice.select(DownNotice.kind, DownNotice.number)
                   .where((DownNotice.monitor == m.id) & (DownNotice.incident_at == m.status_changed_at)).tuples())
        for kind, number in due:
            if (kind, number) not in sent and _write(m, kind, number, now):
                written += 1
    return written


def _write(m: Monitor, kind: str, number: int, now: dt.datetime) -> bool:
    """One notice and its alerts, if the monitor is still in the incident and nobody wrote it first."""
    try:
        with database.atomic():
            current = for_update(Monitor.select(*_FIELDS).where(Monitor.id == m.id)).first()
            if current is None or current.status != DOWN or current.status_changed_at != m.status_changed_at:
                return False  # recovered, deleted or edited since the candidates were read
            row = DownNotice.create(monitor=m.id, incident_at=m.status_changed_at, kind=kind, number=number,
                                    created_at=now)
            notice = StillDown(notice_id=row.id, monitor_id=m.id, name=current.name, url=current.url, kind=kind,
                               number=number, down_since=m.status_changed_at, at=now,
                               reason=current.last_error or "")
            if kind == ESCALATION:
                destinations = outbox.channel_destinations([current.escalation_channel_id])
            else:
                destinations = outbox.destinations_of(m.id, current.webhook_url, current.webhook_format)
            outbox.enqueue(m.id, notice, destinations, now)
    except pw.IntegrityError:
        return False  # another scheduler wrote this notice first
    log.info("[NOTICE] %s monitor=%d number=%d down_for=%ds", kind, m.id, number, notice.down_for_seconds)
    return True
