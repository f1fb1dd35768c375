"""Each monitor keeps a phase within its interval: a crowd created at once spreads out after its first
check, schedules never drift, and a new monitor's first check is not starved by a backlog."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import random

import pytest

from healthmon.models import Monitor
from scheduler.due import EPOCH, phase_of
from scheduler.scheduler import Scheduler
from tests.scheduler.support import T0, RecordingQueue, add_monitors, is_on_phase, mark_checked, on_phase

pytestmark = pytest.mark.timeout(120)

S = dt.timedelta(seconds=1)


def next_check_at(monitor_id: int) -> dt.datetime:
    return Monitor.get_by_id(monitor_id).next_check_at


def test_ten_thousand_monitors_created_at_once_spread_over_the_interval_after_their_first_check(settings):
    ids = add_monitors(10_000, next_check_at=T0, interval=60)
    queue = RecordingQueue()
    scheduler = Scheduler(settings, queue)  # SCHEDULER_BATCH 1000: the first checks take ten ticks

    first_round = [scheduler.tick(now=T0 + k * S) for k in range(1, 12)]
    assert first_round == [1000] * 10 + [0]
    assert sorted(j.monitor_id for j in queue.sent) == ids

    # The second checks: one tick a second over the next interval, as the service runs.
    queue.sent.clear()
    # Ticks up to just before T0+120s: every second slot is earlier, every third one is not.
    ticks = [T0 + k * S for k in range(12, 120)] + [T0 + 120 * S - dt.timedelta(microseconds=1)]
    per_tick = [scheduler.tick(now=now) for now in ticks]
    assert sorted(j.monitor_id for j in queue.sent) == ids
    assert max(per_tick) <= 400  # an even spread is ~167 a second
    assert sum(1 for n in per_tick if n) >= 55
    seconds = collections.Counter(j.slot.replace(microsecond=0) for j in queue.sent)
    assert max(seconds.values()) <= 400 and len(seconds) >= 55
    # Each second check is at least an interval after the first and less than two.
    assert all(T0 + 60 * S <= j.slot < T0 + 120 * S for j in queue.sent)


def test_on_phase_slots_advance_by_exactly_the_interval_however_late_the_ticks(settings):
    [mid] = add_monitors(1, next_check_at=T0 + 0.123 * S, interval=7)  # created off phase
    queue = RecordingQueue()
    scheduler = Scheduler(settings, queue)
    rng = random.Random(7)
    now = T0 + 0.5 * S
    for _ in range(400):
        scheduler.tick(now=now)
        now += dt.timedelta(seconds=rng.uniform(0.2, 1.0))
    slots = [j.slot for j in queue.sent]
    assert len(slots) > 20
    assert slots[0] == T0 + 0.123 * S
    assert all(b - a == 7 * S for a, b in zip(slots[1:-1], slots[2:], strict=True))
    assert 7 * S <= slots[1] - slots[0] < 14 * S
    assert all(is_on_phase(mid, 7, s) for s in slots[1:])


def test_a_monitors_phase_is_the_same_whenever_it_was_created_or_edited(settings):
    [mid] = add_monitors(1, next_check_at=None, interval=60)
    scheduler = Scheduler(settings, RecordingQueue())
    landed = []
    # Created/edited (next_check_at = now, as the API sets it) at several unrelated moments.
    for created in (T0, T0 + 13.7 * S, T0 + dt.timedelta(days=3, seconds=41.005), T0 - 59.999 * S):
        Monitor.update(next_check_at=created).where(Monitor.id == mid).execute()
        scheduler.tick(now=created + 0.4 * S)
        landed.append((next_check_at(mid) - EPOCH) % (60 * S))
        for _ in range(3):  # and it stays there across ticks
            scheduler.tick(now=next_check_at(mid) + 0.9 * S)
            landed.append((next_check_at(mid) - EPOCH) % (60 * S))
    assert set(landed) == {phase_of(mid, 60)}


def test_phases_of_consecutive_ids_are_even_over_the_interval():
    for interval in (10, 60, 300, 3600):
        phases = [phase_of(m, interval) for m in range(1, 1001)]
        assert all(dt.timedelta(0) <= p < interval * S for p in phases)
        per_tenth = collections.Counter(int(p / (interval * S) * 10) for p in phases)
        assert min(per_tenth.values()) >= 90  # 100 each if perfectly even


def test_a_new_monitor_is_enqueued_in_the_first_tick_despite_a_backlog_of_due_monitors(settings):
    # A backlog (after downtime): 5,000 checked monitors due since a minute ago, more than one tick takes.
    settings = dataclasses.replace(settings, scheduler_batch=1000)
    backlog = add_monitors(5000, next_check_at=T0 - 60 * S)
    mark_checked(backlog)
    created = T0 + 0.3 * S
    [new] = add_monitors(1, next_check_at=created)
    [edited] = add_monitors(1, next_check_at=created)  # url edited: UNKNOWN 0/0 again, checked before
    Monitor.update(last_slot=T0 - 50 * S, generation=2).where(Monitor.id == edited).execute()
    queue = RecordingQueue()

    assert Scheduler(settings, queue).tick(now=T0 + S) == 1000
    sent = {j.monitor_id: j.slot for j in queue.sent}
    assert sent[new] == created and sent[edited] == created
    # The rest of the tick is the backlog, oldest slot first; its next slots are on phase.
    assert len(set(sent) & set(backlog)) == 998
    assert all(next_check_at(m) == on_phase(m, 60, T0 + S) for m in sent if m in backlog)
