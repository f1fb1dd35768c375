"""Which monitors are due, and when each is due next.

Every monitor has a fixed phase within its interval (`phase_of`, from its id): its checks run at
EPOCH + phase + k * interval. A crowd of monitors created or edited in the same second therefore gets
one quick first check each, then spreads evenly over the interval instead of firing together for ever.

`next_slot` is pure time arithmetic; `claim_due` locks due monitors and moves them to their next slot
inside the caller's transaction (the caller enqueues their jobs before it commits). It runs fixed SQL
(healthmon/sql.py): building queries with peewee cost more than running them at a thousand rows a tick.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from healthmon import sql
from healthmon.db import is_postgres
from healthmon.domain import lifecycle
from healthmon.domain.status import PAUSED
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


@dataclass(frozen=True)
class DueBatch:
    """What one `claim_due` did: the jobs to enqueue, how many due slots it passed over because the
    monitor's previous job is still pending, and how many rows it looked at in all."""

    claims: list[Claimed]
    skipped: int
    rows: int


def pending_expiry(settings) -> dt.timedelta:
    """How long a monitor's pending job blocks new ones: `Settings.pending_expiry_seconds`. Bounds the queue
    at one message per monitor per expiry even when messages are lost."""
    return dt.timedelta(seconds=settings.pending_expiry_seconds)


_COLUMNS = "id, next_check_at, check_interval, generation, pending_slot"

_CHECKED = f"enabled = ? AND status <> '{PAUSED}'"
"""Which monitors are scheduled at all: enabled and not paused (a paused monitor gets no job; see
healthmon.domain.lifecycle.plan_pause)."""

_NEVER_SCHEDULED = f"SELECT {_COLUMNS} FROM monitors WHERE {_CHECKED} AND next_check_at IS NULL ORDER BY id LIMIT ?"

_AWAITING_FIRST_CHECK = (
    f"SELECT {_COLUMNS} FROM monitors WHERE {_CHECKED} AND next_check_at <= ? AND status = '{lifecycle.NEW.status}' "
    f"AND consecutive_failures = {lifecycle.NEW.failures} AND consecutive_successes = {lifecycle.NEW.successes} "
    "ORDER BY next_check_at, id LIMIT ?"
)
"""Due and `lifecycle.awaiting_first_check`: no verdict recorded since the monitor was created or its check
was changed."""

_DUE = f"SELECT {_COLUMNS} FROM monitors WHERE {_CHECKED} AND next_check_at <= ? ORDER BY next_check_at, id LIMIT ?"

_ENQUEUED = "UPDATE monitors SET next_check_at = ?, pending_slot = ? WHERE id = ?"
_SKIPPED = "UPDATE monitors SET next_check_at = ?, skipped_slots = skipped_slots + ? WHERE id = ?"


def claim_due(now: dt.datetime, limit: int, expiry: dt.timedelta) -> DueBatch:
    """Lock up to `limit` enabled, unpaused monitors due at `now` and move each to its next slot.

    Must run inside a transaction. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent schedulers take
    disjoint monitors, and a row another scheduler already moved no longer matches once re-read. SQLite:
    the IMMEDIATE transaction serialises schedulers. A monitor with next_check_at NULL is due now.

    Backpressure: a monitor whose previous job is still pending (pending_slot set, newer than `expiry`) gets
    no new job; its slot is counted in skipped_slots and it moves on to its next slot, so the queue never
    holds more than one job per monitor and an overloaded system checks each monitor as often as it can
    instead of building a backlog. Every other claimed monitor gets a job and pending_slot = its slot.

    A monitor more than an interval behind (after downtime) gets one job, for its latest on-phase slot (at
    most an interval ago, so the check is fresh), and the slots missed before it count as skipped.

    Order: monitors awaiting their first check (NULL, then new or edited ones, oldest first) come
    before the rest (oldest slot first), so a backlog after downtime does not delay the promised
    first check of a new monitor. Rows are updated, not committed.
    """
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    rows: dict[int, tuple] = {}
    # Separate queries rather than one with OR: each walks the (enabled, next_check_at) index in order and
    # stops at `limit`. The later ones may return rows an earlier one took: fetching `limit` and dropping
    # those still leaves enough.
    for text, params in ((_NEVER_SCHEDULED, (True, limit)), (_AWAITING_FIRST_CHECK, (True, now, limit)),
                         (_DUE, (True, now, limit))):
        if len(rows) >= limit:
            break
        for row in sql.query(text + lock, params):
            if len(rows) < limit:
                rows.setdefault(row[0], row)
    claims, enqueued, skipped = [], [], []
    stale_before = now - expiry
    for monitor_id, next_at, interval, generation, pending in rows.values():
        slot = sql.as_datetime(next_at) or now
        following = next_slot(slot, interval, now, phase_of(monitor_id, interval))
        # Slots missed entirely (the scheduler was down or behind): the job is for the latest slot that has
        # come, not the oldest, so it is fresh; the ones in between are counted as skipped.
        step = dt.timedelta(seconds=max(1, int(interval)))
        latest = following - step
        missed = (latest - slot) // step if latest > slot else 0
        pending = sql.as_datetime(pending)
        if pending is not None and pending > stale_before:
            skipped.append((following, missed + 1, monitor_id))
            continue
        if missed:
            slot = latest
            skipped.append((following, missed, monitor_id))
        claims.append(Claimed(CheckJob(monitor_id, slot, generation), following))
        enqueued.append((following, slot, monitor_id))
    sql.execute_many(_ENQUEUED, enqueued)
    sql.execute_many(_SKIPPED, skipped)
    return DueBatch(claims, sum(n for _, n, _ in skipped), len(rows))
