"""Messages that can never be useful are deleted without running a check."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from checker.worker import FUTURE_SLOT_TOLERANCE_S
from healthmon.models import CheckResult, Monitor, QueueMessage
from tests.checker.worker_support import job_for, make_monitor, make_worker, step_until, stop_workers  # noqa: F401
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def target():
    with WebhookReceiver() as server:
        yield server


def test_it_deletes_a_malformed_message(settings):
    QueueMessage.create(body='{"monitor": "not a job"}')
    worker = make_worker(settings)

    step_until(worker, lambda: QueueMessage.select().count() == 0)

    assert worker.stats["malformed"] == 1
    assert CheckResult.select().count() == 0


@pytest.mark.parametrize("change", ["deleted", "disabled", "reconfigured"])
def test_it_deletes_a_job_for_a_monitor_that_changed_without_checking(settings, target, change):
    monitor = make_monitor(target.url)
    job = job_for(monitor)
    if change == "deleted":
        monitor.delete_instance()
    elif change == "disabled":
        Monitor.update(enabled=False).where(Monitor.id == monitor.id).execute()
    else:
        Monitor.update(generation=Monitor.generation + 1).where(Monitor.id == monitor.id).execute()
    worker = make_worker(settings)
    worker.queue.send_jobs([job])

    step_until(worker, lambda: QueueMessage.select().count() == 0)

    assert target.requests == []
    assert CheckResult.select().count() == 0
    assert worker.stats["dropped"] == 1


def test_a_job_far_in_the_future_is_dropped_with_a_warning_and_does_not_hide_the_real_checks(settings, target,
                                                                                             caplog):
    monitor = make_monitor(target.url)
    ahead = job_for(monitor)
    ahead = type(ahead)(ahead.monitor_id, ahead.slot + dt.timedelta(seconds=FUTURE_SLOT_TOLERANCE_S + 3600),
                        ahead.generation)
    worker = make_worker(settings)
    worker.queue.send_jobs([ahead])
    with caplog.at_level(logging.WARNING, logger="healthmon.checker"):
        step_until(worker, lambda: QueueMessage.select().count() == 0)
    assert "ahead of this checker's clock" in caplog.text and not target.requests
    assert Monitor.get_by_id(monitor.id).last_slot is None

    worker.queue.send_jobs([job_for(monitor)])  # the real job now is checked and recorded
    step_until(worker, lambda: CheckResult.select().count() == 1)
    assert len(target.requests) == 1
