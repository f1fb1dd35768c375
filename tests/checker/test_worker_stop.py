"""Stopping a Worker (first SIGTERM): stop receiving, finish what fits in the grace period, release the rest."""

from __future__ import annotations

import time

import pytest

from healthmon.models import CheckResult, QueueMessage
from tests.checker.worker_support import job_for, make_monitor, make_worker, step_until, stop_workers  # noqa: F401
from tests.conftest import make_settings
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def target():
    with WebhookReceiver() as server:
        yield server


def test_stopping_finishes_a_check_that_fits_in_the_grace_period(settings, target):
    target.default = Reply(200, delay=0.5)
    monitor = make_monitor(target.url, timeout=5)
    worker = make_worker(settings)
    worker.queue.send_jobs([job_for(monitor)])
    step_until(worker, lambda: worker.engine.in_flight() == 1)

    released = worker.stop()

    assert released == 0
    assert CheckResult.select().count() == 1
    assert QueueMessage.select().count() == 0


def test_stopping_releases_checks_still_running_when_the_grace_period_ends(db_url, target):
    settings = make_settings(database_url=db_url, shutdown_grace=1)
    target.default = Reply(200, delay=4)
    monitors = [make_monitor(target.url_for(f"/{i}"), timeout=5) for i in range(3)]
    worker = make_worker(settings)
    worker.queue.send_jobs([job_for(m) for m in monitors])
    step_until(worker, lambda: worker.engine.in_flight() == 3)

    started = time.monotonic()
    released = worker.stop()

    assert time.monotonic() - started < 3  # grace is 1 s; the checks would need 4
    assert released == 3 and worker.engine.in_flight() == 0
    assert CheckResult.select().count() == 0
    # Released means visible again right now, for another checker to take at once.
    again = worker.queue.receive(10, 0)
    assert sorted(r.job.monitor_id for r in again) == sorted(m.id for m in monitors)


def test_a_stopping_worker_receives_nothing_more(settings, target):
    monitor = make_monitor(target.url)
    worker = make_worker(settings)
    worker.queue.send_jobs([job_for(monitor)])

    worker.request_stop()
    for _ in range(3):
        worker.step()

    assert target.requests == []
    assert QueueMessage.get().receive_count == 0


def test_run_returns_after_a_stop_request_and_drains(settings, target):
    target.default = Reply(200, delay=0.3)
    monitor = make_monitor(target.url)
    worker = make_worker(settings)
    worker.queue.send_jobs([job_for(monitor)])
    steps = 0

    def keep_going():
        nonlocal steps
        steps += 1
        if worker.engine.in_flight():
            worker.request_stop()  # as the SIGTERM handler does, mid-check
        return steps < 1000

    worker.run(keep_going)

    assert CheckResult.select().count() == 1
    assert QueueMessage.select().count() == 0
