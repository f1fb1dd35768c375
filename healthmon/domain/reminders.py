"""Reminders and escalation while a monitor stays DOWN: pure rules, no I/O.

A monitor with `reminder_minutes` gets a "still DOWN" alert every that many minutes of one incident (the run
of DOWN that began at `down_since`, its status_changed_at); with `escalation_minutes` and an escalation
channel, one "escalated" alert goes to that channel once the incident is that old (and its recovery then
goes there too). Off by default: both are None.

Each notice has a number within its incident: reminder n is due once the incident is n * reminder_minutes
old; the escalation is number 0. The store keeps one row per (monitor, incident, kind, number) and writes
its alerts in the same transaction, so two schedulers, or one restarted mid-step, never send one twice. A
scheduler that was down for a while sends only the newest reminder due, not the ones it missed: a burst
of "still DOWN" says nothing the newest one does not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

REMINDER, ESCALATION = "reminder", "escalation"

MIN_REMINDER_MINUTES = 5
"""Below five minutes a reminder is noise: the DOWN alert itself is that recent."""
MAX_MINUTES = 7 * 24 * 60
"""A week: longer than any incident anyone waits to be reminded of."""


@dataclass(frozen=True)
class StillDown:
    """A notice about an incident still open: a reminder (`kind` REMINDER, `number` >= 1) or the escalation
    (`kind` ESCALATION, number 0). `notice_id` is the stored DownNotice's id; times are naive UTC."""

    notice_id: int
    monitor_id: int
    name: str
    url: str
    kind: str
    number: int
    down_since: dt.datetime
    at: dt.datetime
    reason: str = ""  # the monitor's latest error

    @property
    def down_for_seconds(self) -> int:
        return max(int((self.at - self.down_since).total_seconds()), 0)

    @property
    def escalated(self) -> bool:
        return self.kind == ESCALATION


def reminder_due(down_since: dt.datetime, now: dt.datetime, every_minutes: int | None) -> int:
    """The number of the newest reminder due at `now` for an incident that began at `down_since`: 0 when
    none is (reminders off, or the incident younger than one period)."""
    if not every_minutes or every_minutes < 1 or now <= down_since:
        return 0
    return int((now - down_since).total_seconds() // (every_minutes * 60))


def escalation_due(down_since: dt.datetime, now: dt.datetime, after_minutes: int | None,
                   channel_id: int | None) -> bool:
    """Whether the incident is old enough to escalate (and there is a channel to escalate to)."""
    if not after_minutes or channel_id is None:
        return False
    return now - down_since >= dt.timedelta(minutes=after_minutes)


def notices_due(down_since: dt.datetime, now: dt.datetime, reminder_minutes: int | None,
                escalation_minutes: int | None, escalation_channel: int | None) -> list[tuple[str, int]]:
    """(kind, number) of every notice due at `now`, escalation first; the store skips those already sent."""
    due = []
    if escalation_due(down_since, now, escalation_minutes, escalation_channel):
        due.append((ESCALATION, 0))
    number = reminder_due(down_since, now, reminder_minutes)
    if number:
        due.append((REMINDER, number))
    return due
