"""Backpressure: at most one pending job per monitor; slots passed over are counted, never silently lost."""

from __future__ import annotations

import datetime as dt

from healthmon.models import Monitor
from scheduler.due import pending_expiry
from scheduler.scheduler import Scheduler
from tests.scheduler.support import RecordingQueue, add_monitors, put_on_phase, settle

S = dt.timedelta(seconds=1)


def monitor(mid: int) -> Monitor:
    return Monitor.get_by_id(mid)


def test_a_monitor_whose_job_is_still_pending_gets_no_second_job_and_the_slot_is_counted(settings):
    [mid] = add_monitors(1, interval=10)
    first = put_on_phase([mid], 10)[mid]
    queue = RecordingQueue(checked=False)
    scheduler = Scheduler(settings, queue)

    assert scheduler.tick(now=first) == 1
    assert monitor(mid).pending_slot == first
    assert scheduler.tick(now=first + 10 * S) == 0  # the first job is not checked yet
    assert scheduler.tick(now=first + 20 * S) == 0

    m = monitor(mid)
    assert (m.skipped_slots, scheduler.skipped) == (2, 2)
    assert m.next_check_at == first + 30 * S  # still on its phase
    assert [j.slot for j in queue.sent] == [first]


def test_once_the_pending_job_is_recorded_the_next_slot_is_enqueued_on_phase(settings):
    [mid] = add_monitors(1, interval=10)
    first = put_on_phase([mid], 10)[mid]
    queue = RecordingQueue(checked=False)
    scheduler = Scheduler(settings, queue)
    scheduler.tick(now=first)
    scheduler.tick(now=first + 10 * S)  # skipped: pending

    settle(queue.sent)  # a checker recorded it
    assert scheduler.tick(now=first + 20 * S) == 1
    assert [j.slot for j in queue.sent] == [first, first + 20 * S]
    assert monitor(mid).skipped_slots == 1


def test_a_pending_job_older_than_the_expiry_no_longer_blocks_the_monitor(settings):
    [mid] = add_monitors(1, interval=60)
    first = put_on_phase([mid], 60)[mid]
    queue = RecordingQueue(checked=False)
    scheduler = Scheduler(settings, queue)
    scheduler.tick(now=first)

    expiry = pending_expiry(settings)
    # Every slot before the expiry is skipped; the first one at it gets a new job (the old message was
    # dead-lettered or lost by then).
    enqueued = [scheduler.tick(now=first + k * 60 * S) for k in range(1, expiry // (60 * S) + 1)]
    assert enqueued[:-1] == [0] * (len(enqueued) - 1) and enqueued[-1] == 1
    assert len(queue.sent) == 2 and queue.sent[1].slot == first + expiry


def test_an_overloaded_scheduler_never_queues_more_jobs_than_monitors(settings):
    ids = add_monitors(300, interval=10)
    put_on_phase(ids, 10)
    queue = RecordingQueue(checked=False)  # nothing is ever checked
    scheduler = Scheduler(settings, queue)
    start = min(m.next_check_at for m in Monitor.select())
    for k in range(60):
        scheduler.tick(now=start + k * S)

    assert len(queue.sent) == 300
    assert len({j.monitor_id for j in queue.sent}) == 300
    skipped = sum(m.skipped_slots for m in Monitor.select())
    assert skipped == scheduler.skipped and skipped >= 300 * 4  # ~5 slots each passed over in 60 s
