"""Which monitors are due, and when each is due next.

`next_slot` is pure time arithmetic; `claim_due` locks due monitors and moves them to their next slot
inside the caller's transaction (the caller enqueues their jobs before it commits).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from healthmon.db import for_update
from healthmon.models import Monitor
from healthmon.queue.base import CheckJob


def next_slot(slot: dt.datetime, interval_s: int, now: dt.datetime) -> dt.datetime:
    """The slot after `slot`, on the same phase (slot + k * interval), and later than `now`.

    Normally `slot + interval` (no drift: a late tick does not push the schedule back). After downtime,
    when `slot + interval <= now`, the missed slots are skipped rather than fired in a burst: the job for
    `slot` runs now and the next one is the first future slot on the schedule.
    """
    step = dt.timedelta(seconds=max(1, int(interval_s)))
    if now < slot:
        return slot + step
    return slot + ((now - slot) // step + 1) * step


@dataclass(frozen=True)
class Claimed:
    """A claimed monitor: the job to enqueue for it and where its schedule moves."""

    job: CheckJob
    next_check_at: dt.datetime


def claim_due(now: dt.datetime, limit: int) -> list[Claimed]:
    """Lock up to `limit` enabled monitors due at `now` and set their next_check_at.

    Must run inside a transaction. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent schedulers take
    disjoint monitors, and a row another scheduler already moved no longer matches once re-read. SQLite:
    the IMMEDIATE transaction serialises schedulers. A monitor with next_check_at NULL is due now.
    Returns the claims, oldest slot first; their rows are updated but not committed.
    """
    fields = (Monitor.id, Monitor.next_check_at, Monitor.check_interval, Monitor.generation)
    enabled = Monitor.enabled == True  # noqa: E712 - a SQL expression, not a Python comparison
    # NULLs get their own query: `OR next_check_at IS NULL` would stop PostgreSQL from walking the
    # (enabled, next_check_at) index in order, and NULLs sort differently on the two engines.
    rows = list(
        for_update(Monitor.select(*fields).where(enabled & Monitor.next_check_at.is_null()).limit(limit), True)
    )
    if len(rows) < limit:
        due = (
            Monitor.select(*fields)
            .where(enabled & (Monitor.next_check_at <= now))
            .order_by(Monitor.next_check_at, Monitor.id)
            .limit(limit - len(rows))
        )
        rows.extend(for_update(due, True))
    claims = []
    for row in rows:
        slot = row.next_check_at or now
        claims.append(Claimed(CheckJob(row.id, slot, row.generation), next_slot(slot, row.check_interval, now)))
    if claims:
        # One UPDATE for the whole batch instead of one round trip per monitor.
        new_next = pw.Case(
            Monitor.id, [(c.job.monitor_id, Monitor.next_check_at.to_value(c.next_check_at)) for c in claims]
        )
        Monitor.update(next_check_at=new_next).where(Monitor.id.in_([c.job.monitor_id for c in claims])).execute()
    return claims
