"""The Worker's queue I/O runs beside the check loop: long polls sized to free slots, batched deletes, and a
stop that hands back whatever a late receive returns."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

from healthmon.models import CheckResult, QueueMessage
from healthmon.queue.database import DatabaseQueue
from tests.checker.worker_support import (  # noqa: F401 - stop_workers is an autouse fixture
    job_for,
    make_monitor,
    make_worker,
    step_until,
    stop_workers,
    wait_until,
)
from tests.conftest import make_settings
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def target():
    with WebhookReceiver(default=Reply(200)) as server:
        yield server


class SpyQueue(DatabaseQueue):
    """The database queue, recording every receive's arguments and every delete_many's size. A receive can be
    held (`hold`) until `go` is set, as a long poll that is still waiting; `delete_delay` slows deletes.
    Marked remote, so the worker uses its receiver and acknowledger threads, as with SQS."""

    remote = True

    def __init__(self, settings, **kwargs):
        super().__init__(settings, **kwargs)
        self.receives: list[tuple[int, float]] = []
        self.deletes: list[int] = []
        self.hold = False
        self.holding = threading.Event()
        self.go = threading.Event()
        self.delete_delay = 0.0

    def receive(self, max_messages, wait_seconds):
        self.receives.append((max_messages, wait_seconds))
        if self.hold:
            self.holding.set()
            self.go.wait(30)
            return super().receive(max_messages, 0)
        return super().receive(max_messages, wait_seconds)

    def delete(self, received):
        raise AssertionError("the worker deletes in batches")

    def delete_many(self, received):
        time.sleep(self.delete_delay)
        self.deletes.append(len(received))
        return super().delete_many(received)


def worker_in_a_long_poll(settings, **kwargs):
    """A worker whose receiver thread is in a receive that returns only once `queue.go` is set."""
    queue = SpyQueue(settings)
    queue.hold = True
    worker = make_worker(settings, queue, **kwargs)
    worker.step()
    assert queue.holding.wait(5)
    return worker, queue


def test_it_long_polls_for_no_more_messages_than_it_has_free_slots(settings, target):
    target.default = Reply(200, delay=0.3)
    queue = SpyQueue(settings)
    queue.send_jobs([job_for(make_monitor(target.url_for(f"/{i}"))) for i in range(7)])
    worker = make_worker(settings, queue, concurrency=3, receive_wait=0.2)
    peak = 0

    def done():
        nonlocal peak
        peak = max(peak, worker.engine.in_flight())
        return QueueMessage.select().count() == 0

    step_until(worker, done)
    assert CheckResult.select().count() == 7 and peak == 3
    assert {wait for _, wait in queue.receives} == {0.2}
    # Never more than the free slots: 3 at first, then only what finished checks gave back.
    assert queue.receives[0][0] == 3
    assert all(1 <= asked <= 3 for asked, _ in queue.receives)


def test_it_deletes_finished_jobs_in_batches_after_recording_them(settings, target):
    queue = SpyQueue(settings)
    queue.delete_delay = 0.3  # a slow round trip: what finishes meanwhile goes in the next call
    queue.send_jobs([job_for(make_monitor(target.url_for(f"/{i}"))) for i in range(10)])
    worker = make_worker(settings, queue)

    step_until(worker, lambda: QueueMessage.select().count() == 0)

    assert CheckResult.select().count() == 10
    assert sum(queue.deletes) == 10 and len(queue.deletes) < 10


def visible_after_one_poll_wait(queue, monitor_id):
    """A job a poll brought after the stop is handed back hidden for one long-poll wait (RECEIVE_WAIT, whole
    seconds: 1 s), so the open polls of the pool's other stopping processes cannot take it; then it is back."""
    assert queue.receive(10, 0) == []
    time.sleep(1.2)
    assert [r.job.monitor_id for r in queue.receive(10, 0)] == [monitor_id]


def test_a_receive_that_returns_after_the_stop_is_handed_back_and_counted(settings, target, caplog):
    worker, queue = worker_in_a_long_poll(settings)

    worker.request_stop()
    monitor = make_monitor(target.url)
    queue.send_jobs([job_for(monitor)])
    queue.go.set()  # the poll returns the job after the stop
    wait_until(lambda: worker.stats["released"] == 1)
    with caplog.at_level(logging.INFO, logger="healthmon.checker"):
        released = worker.stop()

    assert released == 1
    assert "released 1 unfinished check(s)" in caplog.text  # the log line and the stat agree
    assert target.requests == []
    # The receive does not count towards dead-lettering (the database queue; SQS counts every receive).
    assert QueueMessage.get().receive_count == 0
    visible_after_one_poll_wait(queue, monitor.id)


def test_a_receive_in_progress_at_the_stop_is_waited_for_and_what_it_brings_is_handed_back(db_url, target):
    # A poll that returns after the stop must not strand what it brings: if the worker exited first, those
    # messages would stay hidden until their visibility timeout (a just-enqueued job, or one another stopping
    # checker handed back; seen in CI with two stopping processes).
    worker, queue = worker_in_a_long_poll(make_settings(database_url=db_url, shutdown_grace=5))
    monitor = make_monitor(target.url)

    def late_delivery():
        time.sleep(1.5)  # longer than the one second an idle stop used to wait for the receiver
        queue.send_jobs([job_for(monitor)])
        queue.go.set()

    threading.Thread(target=late_delivery).start()
    started = time.monotonic()
    released = worker.stop()
    took = time.monotonic() - started

    assert released == 1 and 1.4 < took < 5
    assert target.requests == [] and CheckResult.select().count() == 0
    visible_after_one_poll_wait(queue, monitor.id)


def test_a_receiver_stalled_beyond_the_grace_is_abandoned_with_a_warning(db_url, caplog):
    worker, queue = worker_in_a_long_poll(make_settings(database_url=db_url, shutdown_grace=1))

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="healthmon.checker"):
        worker.stop()
    took = time.monotonic() - started

    assert 1.5 < took < 3.0  # the 1 s grace + 1 s for a slow round trip
    assert re.search(r"a receive still in progress after \d s is abandoned", caplog.text)
    queue.go.set()  # let the abandoned thread finish (the queue is empty: it gets nothing)
    receiver = worker.io._threads[0]
    receiver.join(5)
    assert not receiver.is_alive() and worker.stats["released"] == 0


@pytest.mark.parametrize(("queue_wait", "grace", "polled"), [(20, 3, 3), (2, 20, 2), (20, 20, 20)])
def test_the_long_poll_never_outlasts_the_shutdown_grace(db_url, queue_wait, grace, polled):
    settings = make_settings(database_url=db_url, queue_wait_seconds=queue_wait, shutdown_grace=grace)
    worker, queue = worker_in_a_long_poll(settings, receive_wait=None)
    queue.go.set()

    assert queue.receives[0][1] == polled
