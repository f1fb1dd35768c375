"""The Worker skips jobs the scheduler has given up on (older than the pending expiry) unchecked, checks every
younger one however late, and commits finished checks in batches together with their deletes.

Real Worker, real DatabaseQueue, a local target (WebhookReceiver), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import peewee
import pytest

from checker import record
from healthmon.models import CheckResult, Monitor, QueueMessage
from tests.checker.worker_support import (  # noqa: F401
    job_for,
    make_monitor,
    make_worker,
    step_until,
    stop_workers,
    wait_until,
)
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def target():
    with WebhookReceiver(default=Reply(200)) as server:
        yield server


@pytest.fixture
def commits(monkeypatch):
    """Every call the Worker makes to record.record_results (delegating to the real one), with what the
    database showed right after it returned: (items, also given, CheckResult count, QueueMessage count)."""
    calls: list[tuple] = []
    real = record.record_results

    def counting(items, settings, also=None):
        outcomes = real(items, settings, also=also)
        calls.append((list(items), also is not None, CheckResult.select().count(), QueueMessage.select().count()))
        return outcomes

    monkeypatch.setattr(record, "record_results", counting)
    return calls


def pending(monitor, job) -> Monitor:
    """As the scheduler leaves a monitor whose job it enqueued: pending_slot is the job's slot."""
    Monitor.update(pending_slot=job.slot).where(Monitor.id == monitor.id).execute()
    return Monitor.get_by_id(monitor.id)


def expired(settings) -> float:
    """Seconds ago for a job past the pending expiry (the scheduler has enqueued a fresher one by then)."""
    return settings.pending_expiry_seconds + 15


def test_the_expiry_is_the_visibility_timeout_times_the_receives():
    from healthmon.settings import Settings

    assert Settings.from_env({}).pending_expiry_seconds == 300
    custom = Settings.from_env({"QUEUE_VISIBILITY_TIMEOUT": "90", "QUEUE_MAX_RECEIVES": "2"})
    assert custom.pending_expiry_seconds == 180


def test_a_job_older_than_the_pending_expiry_is_skipped_unchecked(settings, target, commits):
    monitor = make_monitor(target.url, check_interval=30)
    job = job_for(monitor, seconds_ago=expired(settings))
    pending(monitor, job)
    worker = make_worker(settings)
    worker.queue.send_jobs([job])

    step_until(worker, lambda: QueueMessage.select().count() == 0)

    assert target.requests == []
    assert CheckResult.select().count() == 0
    m = Monitor.get_by_id(monitor.id)
    assert m.skipped_slots == 1 and m.pending_slot is None
    assert (m.status, m.last_slot, m.last_checked_at) == ("UNKNOWN", None, None)
    assert worker.stats["skipped"] == 1 and worker.stats["recorded"] == 0 and worker.stats["dropped"] == 0
    # The skip was recorded, and its message deleted, in one transaction.
    assert [(len(items), also, results, messages) for items, also, results, messages in commits] == [(1, True, 0, 0)]
    assert commits[0][0] == [(job, record.SKIPPED)]


def test_a_job_several_intervals_late_but_inside_the_expiry_is_still_checked(settings, target):
    # Skipping every job older than its interval would turn a queue that delivers slower than it fills into
    # zero checks; backpressure already bounds the queue, so a late job is still worth its check.
    monitor = make_monitor(target.url, check_interval=30)
    job = job_for(monitor, seconds_ago=min(150, settings.pending_expiry_seconds - 10))
    worker = make_worker(settings)
    worker.queue.send_jobs([job])

    step_until(worker, lambda: QueueMessage.select().count() == 0)

    wait_until(lambda: len(target.requests) == 1)  # logged by the target just after it answered
    assert CheckResult.select().count() == 1
    assert Monitor.get_by_id(monitor.id).skipped_slots == 0
    assert worker.stats["recorded"] == 1 and worker.stats["skipped"] == 0


def test_a_fresh_job_is_checked_and_its_message_deleted_by_the_same_commit(settings, target, commits):
    monitor = make_monitor(target.url_for("/health"))
    job = job_for(monitor)
    pending(monitor, job)
    worker = make_worker(settings)
    worker.queue.send_jobs([job])

    step_until(worker, lambda: CheckResult.select().count() == 1)

    # The step that committed the result had already deleted the message: never a result with its message
    # still queued (which a redelivery would check again), never a deleted message without its result.
    assert [(len(items), also, results, messages) for items, also, results, messages in commits] == [(1, True, 1, 0)]
    assert QueueMessage.select().count() == 0
    assert [r.path for r in target.requests] == ["/health"]
    m = Monitor.get_by_id(monitor.id)
    assert m.pending_slot is None and m.skipped_slots == 0 and m.last_slot == job.slot
    assert worker.stats["recorded"] == 1


def test_late_and_fresh_jobs_received_together_are_each_handled(settings, target, commits):
    fresh_monitors = [make_monitor(target.url_for(f"/fresh/{i}")) for i in range(3)]
    late_monitors = [make_monitor(target.url_for(f"/late/{i}")) for i in range(2)]
    jobs = [job_for(m) for m in fresh_monitors] + [job_for(m, seconds_ago=expired(settings)) for m in late_monitors]
    for m, j in zip(fresh_monitors + late_monitors, jobs, strict=True):
        pending(m, j)
    worker = make_worker(settings)
    worker.queue.send_jobs(jobs)

    step_until(worker, lambda: QueueMessage.select().count() == 0 and worker.stats["recorded"] == 3)

    wait_until(lambda: len(target.requests) == 3)
    assert sorted(r.path for r in target.requests) == ["/fresh/0", "/fresh/1", "/fresh/2"]
    assert sorted(r.monitor_id for r in CheckResult.select()) == sorted(m.id for m in fresh_monitors)
    assert worker.stats["skipped"] == 2
    rows = {m.id: m for m in Monitor.select()}
    assert [rows[m.id].skipped_slots for m in late_monitors] == [1, 1]
    assert [rows[m.id].skipped_slots for m in fresh_monitors] == [0, 0, 0]
    assert all(m.pending_slot is None for m in rows.values())


def test_many_checks_finishing_together_are_committed_in_fewer_transactions(settings, target, commits):
    monitors = [make_monitor(target.url_for(f"/{i}")) for i in range(30)]
    jobs = [job_for(m) for m in monitors]
    for m, j in zip(monitors, jobs, strict=True):
        pending(m, j)
    worker = make_worker(settings, concurrency=30)
    worker.queue.send_jobs(jobs)

    step_until(worker, lambda: CheckResult.select().count() == 30)

    # The target logs a request after answering it, so its log may trail the results by a moment.
    wait_until(lambda: len(target.requests) == 30)
    assert sum(len(items) for items, *_ in commits) == 30
    assert 1 <= len(commits) < 30
    assert all(also for _items, also, *_ in commits)
    step_until(worker, lambda: QueueMessage.select().count() == 0)
    assert worker.stats["recorded"] == 30
    assert Monitor.select().where(Monitor.pending_slot.is_null(False)).count() == 0
    assert sorted(r.monitor_id for r in CheckResult.select()) == sorted(m.id for m in monitors)


def test_on_stop_the_results_still_buffered_are_committed(settings, target):
    with WebhookReceiver(default=Reply(200, delay=5)) as slow_target:
        fast = make_monitor(target.url_for("/fast"))
        slow = make_monitor(slow_target.url_for("/slow"), timeout=8)
        fast_job, slow_job = job_for(fast), job_for(slow)
        pending(fast, fast_job)
        pending(slow, slow_job)
        # A clock that never moves: while the slow check is in flight, no step finds the buffer old enough
        # to commit, so the fast result is still buffered when the stop comes.
        worker = make_worker(settings, clock=lambda: 1000.0)
        worker.queue.send_jobs([fast_job, slow_job])
        step_until(worker, lambda: len(target.requests) == 1 and worker.engine.in_flight() == 1)
        for _ in range(3):
            worker.step()
        assert CheckResult.select().count() == 0 and worker.stats["recorded"] == 0

        released = worker.stop(grace=0)

    assert [r.monitor_id for r in CheckResult.select()] == [fast.id]
    assert worker.stats["recorded"] == 1
    assert Monitor.get_by_id(fast.id).pending_slot is None
    # The slow check was aborted and its message handed back (visible, its receive undone); the fast
    # one's message went with its result.
    assert released == 1
    (left,) = QueueMessage.select()
    assert (left.body, left.receive_count) == (slow_job.to_json(), 0)
    assert Monitor.get_by_id(slow.id).pending_slot == slow_job.slot


def test_on_stop_a_buffered_late_job_is_recorded_as_skipped(settings, target):
    target.default = Reply(200, delay=5)
    busy = make_monitor(target.url_for("/busy"), timeout=8)
    late = make_monitor(target.url_for("/late"))
    late_job = job_for(late, seconds_ago=expired(settings))
    pending(late, late_job)
    worker = make_worker(settings, clock=lambda: 1000.0)
    worker.queue.send_jobs([job_for(busy), late_job])
    step_until(worker, lambda: worker.engine.in_flight() == 1)
    for _ in range(3):
        worker.step()
    assert Monitor.get_by_id(late.id).skipped_slots == 0  # still buffered

    worker.stop(grace=0)

    m = Monitor.get_by_id(late.id)
    assert m.skipped_slots == 1 and m.pending_slot is None
    assert worker.stats["skipped"] == 1
    assert [r.path for r in target.requests] == ["/busy"]
    (left,) = QueueMessage.select()
    assert left.receive_count == 0  # the busy job, released


def test_on_stop_with_the_database_failing_buffered_results_are_handed_back(settings, target, monkeypatch):
    with WebhookReceiver(default=Reply(200, delay=5)) as slow_target:
        fast = make_monitor(target.url_for("/fast"))
        slow = make_monitor(slow_target.url_for("/slow"), timeout=8)
        fast_job, slow_job = job_for(fast), job_for(slow)
        worker = make_worker(settings, clock=lambda: 1000.0)
        worker.queue.send_jobs([fast_job, slow_job])
        step_until(worker, lambda: len(target.requests) == 1 and worker.engine.in_flight() == 1)
        assert CheckResult.select().count() == 0

        def database_down(items, settings, also=None):
            raise peewee.OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(record, "record_results", database_down)
        released = worker.stop(grace=0)

    assert CheckResult.select().count() == 0
    assert worker.stats["record_errors"] == 1
    # stop() says it hands buffered results back when they cannot be committed: both messages visible again.
    assert released == 2
    assert sorted(r.job.monitor_id for r in worker.queue.receive(10, 0)) == sorted([fast.id, slow.id])
