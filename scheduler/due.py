"""Which monitors are due, and when each is due next.

Every monitor has a fixed phase within its interval (`phase_of`, from its id): its checks run at
EPOCH + phase + k * interval. A crowd of monitors created or edited in the same second therefore gets
one quick first check each, then spreads evenly over the interval instead of firing together for ever.

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

EPOCH = dt.datetime(1970, 1, 1)
"""Phases count from the Unix epoch (naive UTC like every timestamp), so they do not depend on when a
monitor was created or on which scheduler computes them."""

GOLDEN_MULTIPLIER = 2_654_435_761
"""Knuth's multiplicative hash (about 2**32 / golden ratio): consecutive ids, as a bulk insert makes,
land as evenly as possible over the interval (Fibonacci hashing), not in a clump."""

_US = dt.timedelta(microseconds=1)


def phase_of(monitor_id: int, interval_s: int) -> dt.timedelta:
    """The monitor's offset within its interval, whole milliseconds in [0, interval). Pure and stable."""
    interval_ms = max(1, int(interval_s)) * 1000
    mixed = (int(monitor_id) * GOLDEN_MULTIPLIER) % 2**32
    return dt.timedelta(milliseconds=(mixed * interval_ms) >> 32)


def next_slot(slot: dt.datetime, interval_s: int, now: dt.datetime, phase: dt.timedelta) -> dt.datetime:
    """The slot after `slot`: the first on-phase time (EPOCH + phase + k * interval) that is at least one
    interval after `slot` and later than `now`.

    On phase (the normal case) this is `slot + interval`: no drift, a late tick does not push the
    schedule back. After downtime, when `slot + interval <= now`, the missed slots are skipped rather
    than fired in a burst: the job for `slot` runs now and the next one is the first future slot.
    Off phase (the first slot after a create or an edit is the API's "now") it moves the monitor onto
    its phase, between one and two intervals later: never sooner than one interval, so consecutive
    scheduled checks are never closer than the interval (an edit itself asks for one extra check now).
    """
    step = max(1, int(interval_s)) * 1_000_000
    phase_us = phase // _US
    earliest = max((slot - EPOCH) // _US + step, (now - EPOCH) // _US + 1)
    k = -((phase_us - earliest) // step)  # ceil((earliest - phase) / step)
    return EPOCH + (phase_us + k * step) * _US


@dataclass(frozen=True)
class Claimed:
    """A claimed monitor: the job to enqueue for it and where its schedule moves."""

    job: CheckJob
    next_check_at: dt.datetime


_FIELDS = (Monitor.id, Monitor.next_check_at, Monitor.check_interval, Monitor.generation)

_ENABLED = Monitor.enabled == True  # noqa: E712 - a SQL expression, not a Python comparison

_AWAITING_FIRST_CHECK = (
    (Monitor.status == "UNKNOWN") & (Monitor.consecutive_failures == 0) & (Monitor.consecutive_successes == 0)
)
"""No result recorded since the monitor was created or its check was changed (an edit of the url or the
expectation resets it to UNKNOWN 0/0; every recorded result makes one counter at least 1)."""


def _claim(where, limit: int, taken: list) -> None:
    """Lock up to `limit` rows matching `where`, oldest slot first, skipping ids already in `taken`."""
    if limit <= len(taken):
        return
    query = Monitor.select(*_FIELDS).where(where)
    if taken:
        query = query.where(Monitor.id.not_in([row.id for row in taken]))
    query = query.order_by(Monitor.next_check_at, Monitor.id).limit(limit - len(taken))
    taken.extend(for_update(query, True))


def claim_due(now: dt.datetime, limit: int) -> list[Claimed]:
    """Lock up to `limit` enabled monitors due at `now` and set their next_check_at.

    Must run inside a transaction. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent schedulers take
    disjoint monitors, and a row another scheduler already moved no longer matches once re-read. SQLite:
    the IMMEDIATE transaction serialises schedulers. A monitor with next_check_at NULL is due now.

    Order: monitors awaiting their first check (NULL, then new or edited ones, oldest first) come
    before the rest (oldest slot first), so a backlog after downtime does not delay the promised
    first check of a new monitor. Returns the claims; their rows are updated but not committed.
    """
    rows: list = []
    # Separate queries rather than one with OR: each walks the (enabled, next_check_at) index in order
    # and stops at `limit`, and NULLs sort differently on the two engines.
    _claim(_ENABLED & Monitor.next_check_at.is_null(), limit, rows)
    _claim(_ENABLED & (Monitor.next_check_at <= now) & _AWAITING_FIRST_CHECK, limit, rows)
    _claim(_ENABLED & (Monitor.next_check_at <= now), limit, rows)
    claims = []
    for row in rows:
        slot = row.next_check_at or now
        following = next_slot(slot, row.check_interval, now, phase_of(row.id, row.check_interval))
        claims.append(Claimed(CheckJob(row.id, slot, row.generation), following))
    if claims:
        # One UPDATE for the whole batch instead of one round trip per monitor.
        new_next = pw.Case(
            Monitor.id, [(c.job.monitor_id, Monitor.next_check_at.to_value(c.next_check_at)) for c in claims]
        )
        Monitor.update(next_check_at=new_next).where(Monitor.id.in_([c.job.monitor_id for c in claims])).execute()
    return claims
