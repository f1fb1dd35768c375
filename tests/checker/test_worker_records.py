"""The Worker records each check's result and only then deletes the message."""

from __future__ import annotations

import time

import peewee
import pytest

from checker import record
from healthmon.models import CheckResult, Monitor, QueueMessage, StateChange
from tests.checker.worker_support import job_for, make_monitor, make_worker, step_until, stop_workers, wait_until  # noqa: F401, E501
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def target():
    with WebhookReceiver(default=Reply(200)) as server:
        yield server


def test_it_records_a_check_and_deletes_its_message(settings, target):
    monitor = make_monitor(target.url_for("/health"))
    worker = make_worker(settings)
    worker.queue.send_jobs([job_for(monitor)])

    step_until(worker, lambda: QueueMessage.select().count() == 0)

    rows = list(CheckResult.select())
    assert len(rows) == 1 and rows[0].ok and rows[0].status_code == 200
    assert len(target.requests) == 1 and target.requests[0].path == "/health"
    assert Monitor.get_by_id(monitor.id).consecutive_successes == 1


def test_it_moves_a_monitor_up_after_two_good_checks(settings, target):
    monitor = make_monitor(target.url)
    worker = make_worker(settings)
    # One after the other: checked at once, the newer slot could commit first and the older result would
    # then (rightly) be dropped as stale.
    worker.queue.send_jobs([job_for(monitor, seconds_ago=2)])
    step_until(worker, lambda: CheckResult.select().count() == 1)
    worker.queue.send_jobs([job_for(monitor, seconds_ago=1)])
    step_until(worker, lambda: CheckResult.select().count() == 2)

    assert Monitor.get_by_id(monitor.id).status == "UP"
    assert [(c.from_status, c.to_status) for c in StateChange.select()] == [("UNKNOWN", "UP")]


def test_it_runs_checks_concurrently(settings, target):
    target.default = Reply(200, delay=0.5)
    monitors = [make_monitor(target.url_for(f"/{i}")) for i in range(8)]
    worker = make_worker(settings, concurrency=8)
    worker.queue.send_jobs([job_for(m) for m in monitors])

    started = time.monotonic()
    step_until(worker, lambda: CheckResult.select().count() == 8)
    # Sequentially this takes 4 s; concurrently about 0.5 s plus one receive round per batch.
    assert time.monotonic() - started < 3.0
    step_until(worker, lambda: QueueMessage.select().count() == 0)  # each deleted after its result


def test_it_never_has_more_checks_in_flight_than_its_concurrency(settings, target):
    target.default = Reply(200, delay=0.3)
    monitors = [make_monitor(target.url_for(f"/{i}")) for i in range(6)]
    worker = make_worker(settings, concurrency=2)
    worker.queue.send_jobs([job_for(m) for m in monitors])

    peak = 0

    def done():
        nonlocal peak
        peak = max(peak, worker.engine.in_flight())
        return CheckResult.select().count() == 6

    step_until(worker, done)
    assert peak == 2
    step_until(worker, lambda: QueueMessage.select().count() == 0)


def test_it_leaves_the_message_when_the_result_cannot_be_committed(settings, target, monkeypatch):
    monitor = make_monitor(target.url)
    worker = make_worker(settings)
    worker.queue.send_jobs([job_for(monitor)])

    def database_down(items, settings, also=None):
        raise peewee.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(record, "record_results", database_down)
    step_until(worker, lambda: worker.stats["record_errors"] == 1)

    assert CheckResult.select().count() == 0
    message = QueueMessage.get()
    assert message.receive_count == 1 and message.dead_at is None  # still there, invisible until it times out
    assert worker.queue.receive(10, 0) == []

    # Redelivered (visibility made 0 here instead of waiting 60 s), it is recorded once the database is back.
    monkeypatch.undo()
    QueueMessage.update(visible_at=QueueMessage.created_at).execute()
    step_until(worker, lambda: QueueMessage.select().count() == 0)
    assert CheckResult.select().count() == 1


def test_a_redelivered_message_records_nothing_twice(settings, target):
    monitor = make_monitor(target.url)
    job = job_for(monitor)
    worker = make_worker(settings)
    worker.queue.send_jobs([job, job])  # SQS is at-least-once: the same job twice

    step_until(worker, lambda: QueueMessage.select().count() == 0)

    assert CheckResult.select().count() == 1
    assert worker.stats["recorded"] == 1 and worker.stats["dropped"] == 1


def test_it_stops_receiving_for_a_while_when_the_database_fails(settings, target, monkeypatch):
    monitor = make_monitor(target.url)
    now = [1000.0]
    worker = make_worker(settings, clock=lambda: now[0])
    worker.queue.send_jobs([job_for(monitor, seconds_ago=1)])

    def database_down(jobs, settings):
        raise peewee.OperationalError("could not connect to server")

    monkeypatch.setattr(record, "load_specs", database_down)
    step_until(worker, lambda: worker.stats["record_errors"] == 1)
    wait_until(lambda: not worker.io.receiving)  # a long poll that began before the error has ended
    worker.queue.send_jobs([job_for(monitor)])
    for _ in range(5):
        worker.step()
    # The second message is untouched: receiving it now would only count towards the dead-letter queue.
    assert QueueMessage.select().where(QueueMessage.receive_count == 0).count() == 1

    monkeypatch.undo()
    now[0] += 1.0  # the first pause is one second
    step_until(worker, lambda: CheckResult.select().count() == 1)
    assert target.requests and worker.stats["record_errors"] == 1
