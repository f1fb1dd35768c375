"""With the database queue (local, fast calls) the Worker receives and deletes in its own thread: no queue
threads compete with the check loop for the GIL. A remote queue (SQS) keeps its threads."""

from __future__ import annotations

import threading

import pytest

from checker.queue_inline import InlineQueueIO
from checker.queue_io import QueueIO
from healthmon.models import CheckResult, QueueMessage
from healthmon.queue.database import DatabaseQueue
from tests.checker.worker_support import (  # noqa: F401 - stop_workers is an autouse fixture
    job_for,
    make_monitor,
    make_worker,
    stop_workers,
)
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = pytest.mark.timeout(60)


class CountingQueue(DatabaseQueue):
    """The database queue, recording which threads receive and delete and how many deletes each call makes."""

    def __init__(self, settings):
        super().__init__(settings)
        self.threads: set[str] = set()
        self.deletes: list[int] = []

    def receive(self, max_messages, wait_seconds):
        self.threads.add(threading.current_thread().name)
        return super().receive(max_messages, wait_seconds)

    def delete_many(self, received):
        self.threads.add(threading.current_thread().name)
        self.deletes.append(len(received))
        return super().delete_many(received)


def test_it_receives_and_deletes_in_the_loop_thread_with_the_database_queue(settings):
    queue = CountingQueue(settings)
    with WebhookReceiver(default=Reply(200)) as target:
        queue.send_jobs([job_for(make_monitor(target.url_for(f"/{i}"))) for i in range(25)])
        worker = make_worker(settings, queue)
        for _ in range(500):
            worker.step()
            assert not [t for t in threading.enumerate() if t.name.startswith("checker-")]  # no queue thread
            if worker.stats["recorded"] == 25 and not worker.engine.in_flight():
                break
        worker.stop()

    assert isinstance(worker.io, InlineQueueIO)
    assert queue.threads == {threading.current_thread().name}
    assert CheckResult.select().count() == 25
    assert QueueMessage.select().count() == 0 and sum(queue.deletes) == 25 and len(queue.deletes) < 25


def test_it_keeps_its_queue_threads_for_a_remote_queue(settings):
    class RemoteQueue(DatabaseQueue):
        remote = True

    worker = make_worker(settings, RemoteQueue(settings), receive_wait=0.1)
    worker.step()
    assert isinstance(worker.io, QueueIO)
    assert {t.name for t in worker.io._threads} == {"checker-receiver", "checker-acknowledger"}
    worker.stop()
