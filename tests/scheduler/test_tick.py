"""Scheduler.tick(): what is claimed, the schedule it keeps, and that nothing is lost on failure."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from healthmon.models import Monitor, QueueMessage
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue
from healthmon.queue.sqs import SqsQueue
from scheduler.due import next_slot, phase_of
from scheduler.scheduler import REMOTE_SUB_BATCH, Scheduler
from tests.scheduler.support import (
    T0,
    FailingQueue,
    RecordingQueue,
    add_monitors,
    is_on_phase,
    mark_checked,
    put_on_phase,
)

pytestmark = pytest.mark.timeout(120)

S = dt.timedelta(seconds=1)


def next_check_at(monitor_id: int) -> dt.datetime:
    return Monitor.get_by_id(monitor_id).next_check_at


def test_it_enqueues_a_due_monitor_once_and_moves_it_to_its_next_slot(settings):
    [mid] = add_monitors(1, interval=30)
    slot = put_on_phase([mid], 30)[mid]
    Monitor.update(generation=4).execute()
    queue = RecordingQueue()
    scheduler = Scheduler(settings, queue)

    assert scheduler.tick(now=slot + 0.5 * S) == 1
    assert queue.sent == [CheckJob(mid, slot, 4)]
    assert next_check_at(mid) == slot + 30 * S
    assert scheduler.tick(now=slot + 0.5 * S) == 0
    assert len(queue.sent) == 1


def test_it_leaves_monitors_that_are_not_due_untouched(settings):
    [mid] = add_monitors(1, next_check_at=T0 + 5 * S)
    queue = RecordingQueue()
    assert Scheduler(settings, queue).tick(now=T0) == 0
    assert queue.sent == []
    assert next_check_at(mid) == T0 + 5 * S


def test_it_skips_disabled_monitors(settings):
    [mid] = add_monitors(1, next_check_at=T0, enabled=False)
    queue = RecordingQueue()
    assert Scheduler(settings, queue).tick(now=T0 + S) == 0
    assert next_check_at(mid) == T0


def test_it_treats_a_monitor_without_next_check_at_as_due_now(settings):
    [mid] = add_monitors(1, next_check_at=None, interval=60)
    queue = RecordingQueue()
    now = T0 + 0.25 * S
    assert Scheduler(settings, queue).tick(now=now) == 1
    assert queue.sent == [CheckJob(mid, now, 1)]
    assert next_check_at(mid) == next_slot(now, 60, now, phase_of(mid, 60))
    assert is_on_phase(mid, 60, next_check_at(mid))


def test_it_keeps_the_schedule_without_drift_when_ticks_are_late(settings):
    [mid] = add_monitors(1, interval=10)
    first = put_on_phase([mid], 10)[mid]
    queue = RecordingQueue()
    scheduler = Scheduler(settings, queue)
    for late in (0.7, 10.9, 20.3, 30.99, 40.0, 50.5):
        scheduler.tick(now=first + late * S)
    assert [j.slot for j in queue.sent] == [first + k * 10 * S for k in range(6)]
    assert next_check_at(mid) == first + 60 * S


def test_after_downtime_it_checks_once_then_resumes_on_the_same_phase(settings):
    [mid] = add_monitors(1, interval=60)
    first = put_on_phase([mid], 60)[mid]
    queue = RecordingQueue()
    scheduler = Scheduler(settings, queue)
    back = first + dt.timedelta(hours=1, seconds=3)

    assert scheduler.tick(now=back) == 1
    assert scheduler.tick(now=back + S) == 0
    assert next_check_at(mid) == first + dt.timedelta(minutes=61)
    assert scheduler.tick(now=first + dt.timedelta(minutes=61)) == 1
    # The one check after downtime is for the latest slot that had come (fresh, not an hour old); the
    # 60 slots before it were missed and are counted.
    assert [j.slot for j in queue.sent] == [first + dt.timedelta(minutes=60), first + dt.timedelta(minutes=61)]
    assert Monitor.get_by_id(mid).skipped_slots == 60


def test_next_slot_of_an_on_phase_slot_is_the_phase_after_now():
    # T0 is a whole minute: on phase for a 60 s interval with phase 0.
    zero = dt.timedelta(0)
    assert next_slot(T0, 60, T0, zero) == T0 + 60 * S
    assert next_slot(T0, 60, T0 + 59.9 * S, zero) == T0 + 60 * S
    assert next_slot(T0, 60, T0 + 60 * S, zero) == T0 + 120 * S
    assert next_slot(T0, 60, T0 + 3601 * S, zero) == T0 + 3660 * S
    assert next_slot(T0, 60, T0 - 5 * S, zero) == T0 + 60 * S


def test_next_slot_of_an_off_phase_slot_is_the_first_phase_at_least_an_interval_later():
    phase = dt.timedelta(seconds=20)  # slots at hh:mm:20
    assert next_slot(T0 + 5 * S, 60, T0 + 5.5 * S, phase) == T0 + 80 * S  # 75 s later
    assert next_slot(T0 + 20.5 * S, 60, T0 + 21 * S, phase) == T0 + 140 * S  # :20 next minute is 59.5 s later
    assert next_slot(T0 + 45 * S, 60, T0 + 45.5 * S, phase) == T0 + 140 * S  # 95 s later
    # Checked late (downtime): still the first phase after now, never a slot in the past.
    assert next_slot(T0 + 5 * S, 60, T0 + 1000 * S, phase) == T0 + 1040 * S


def test_the_batch_cap_spreads_a_crowd_of_due_monitors_over_several_ticks(settings):
    settings = dataclasses.replace(settings, scheduler_batch=1000)
    ids = add_monitors(2500, next_check_at=T0)
    queue = RecordingQueue()
    scheduler = Scheduler(settings, queue, sub_batch=300)
    now = T0 + S

    assert [scheduler.tick(now=now) for _ in range(4)] == [1000, 1000, 500, 0]
    assert sorted(j.monitor_id for j in queue.sent) == ids


def test_the_oldest_slots_are_claimed_first(settings):
    settings = dataclasses.replace(settings, scheduler_batch=2)
    late = add_monitors(2, next_check_at=T0)
    early = add_monitors(2, next_check_at=T0 - 30 * S)
    mark_checked(late + early)
    queue = RecordingQueue()
    Scheduler(settings, queue).tick(now=T0 + S)
    assert sorted(j.monitor_id for j in queue.sent) == early
    assert all(next_check_at(m) == T0 for m in late)


def test_a_failed_send_leaves_every_monitor_due_so_nothing_is_lost(settings):
    ids = add_monitors(20, next_check_at=T0)
    with pytest.raises(ConnectionError):
        Scheduler(settings, FailingQueue()).tick(now=T0 + S)
    assert all(next_check_at(m) == T0 for m in ids)

    queue = RecordingQueue()
    assert Scheduler(settings, queue).tick(now=T0 + 2 * S) == 20
    assert {j.slot for j in queue.sent} == {T0}


class BrokenAfterInsertQueue(DatabaseQueue):
    """Inserts the jobs, then fails (as if the commit failed): nothing may remain of either."""

    def send_jobs(self, jobs):
        super().send_jobs(jobs)
        raise RuntimeError("boom after insert")


def test_with_the_database_queue_claim_and_enqueue_commit_or_roll_back_together(settings):
    ids = add_monitors(5, next_check_at=T0)
    with pytest.raises(RuntimeError):
        Scheduler(settings, BrokenAfterInsertQueue(settings)).tick(now=T0 + S)
    assert QueueMessage.select().count() == 0
    assert all(next_check_at(m) == T0 for m in ids)

    queue = DatabaseQueue(settings)
    assert Scheduler(settings, queue).tick(now=T0 + S) == 5
    received = queue.receive(10, 0)
    assert sorted((r.job.monitor_id, r.job.slot) for r in received) == [(m, T0) for m in ids]
    assert all(next_check_at(m) == next_slot(T0, 60, T0 + S, phase_of(m, 60)) for m in ids)


def test_scheduler_batch_comes_from_the_environment_and_is_bounded():
    from healthmon.settings import Settings, SettingsError

    assert Settings.from_env({}).scheduler_batch == 1000
    assert Settings.from_env({"SCHEDULER_BATCH": "250"}).scheduler_batch == 250
    with pytest.raises(SettingsError, match="SCHEDULER_BATCH"):
        Settings.from_env({"SCHEDULER_BATCH": "0"})


class SizesSqsQueue(SqsQueue):
    """An SqsQueue that records the size of each send instead of calling SQS."""

    def __init__(self, settings):
        super().__init__(settings, "https://sqs.us-east-1.amazonaws.invalid/000000000000/q",
                         client_factory=lambda s: None)
        self.sizes: list[int] = []

    def send_jobs(self, jobs):
        self.sizes.append(len(jobs))
        return len(jobs)


class SizesDatabaseQueue(DatabaseQueue):
    def __init__(self, settings):
        super().__init__(settings)
        self.sizes: list[int] = []

    def send_jobs(self, jobs):
        self.sizes.append(len(jobs))
        return super().send_jobs(jobs)


def test_with_sqs_it_claims_in_small_transactions_so_row_locks_are_not_held_through_many_sends(settings):
    add_monitors(650, next_check_at=T0)
    queue = SizesSqsQueue(settings)
    assert Scheduler(settings, queue).tick(now=T0 + S) == 650
    assert REMOTE_SUB_BATCH == 250 and queue.sizes == [250, 250, 150]


def test_with_the_database_queue_it_claims_in_larger_local_transactions(settings):
    add_monitors(650, next_check_at=T0)
    queue = SizesDatabaseQueue(settings)
    assert Scheduler(settings, queue).tick(now=T0 + S) == 650
    assert queue.sizes == [500, 150]
