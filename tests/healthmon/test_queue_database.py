"""Database queue behaviour beyond the shared contract: receipts, transactions, concurrent consumers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest

from healthmon.db import database, utcnow
from healthmon.models import QueueMessage
from healthmon.queue import open_queue
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue

pytestmark = pytest.mark.timeout(60)

SLOT = dt.datetime(2026, 1, 20, 10, 30)


def jobs(n: int) -> list[CheckJob]:
    return [CheckJob(i, SLOT, 1) for i in range(1, n + 1)]


class Clock:
    """A settable clock, so visibility expiry needs no sleeping."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


def test_open_queue_gives_the_database_queue_without_sqs_queue_url(settings):
    assert isinstance(open_queue(settings), DatabaseQueue)


def test_a_stale_receipt_neither_deletes_nor_releases_the_message_another_consumer_took(settings):
    clock = Clock()
    queue = DatabaseQueue(settings, clock=clock)
    queue.send_jobs(jobs(1))
    [stale] = queue.receive(10, 0)
    clock.now += dt.timedelta(seconds=settings.queue_visibility_timeout + 1)
    [current] = queue.receive(10, 0)

    queue.delete(stale)
    queue.release(stale)

    row = QueueMessage.get()
    assert row.receipt == current.receipt
    assert row.visible_at > clock.now
    queue.delete(current)
    assert QueueMessage.select().count() == 0


def test_send_jobs_inside_a_transaction_is_rolled_back_with_it(settings):
    queue = DatabaseQueue(settings)
    with database.atomic() as txn:
        queue.send_jobs(jobs(3))
        txn.rollback()
    assert queue.receive(10, 0) == []
    with database.atomic():
        queue.send_jobs(jobs(3))
    assert len(queue.receive(10, 0)) == 3


def test_a_dead_letter_is_kept_with_dead_at_and_never_delivered_again(settings):
    clock = Clock()
    queue = DatabaseQueue(dataclasses.replace(settings, queue_max_receives=1), clock=clock)
    queue.send_jobs(jobs(2))
    first = queue.receive(10, 0)
    assert len(first) == 2
    queue.delete(first[0])
    clock.now += dt.timedelta(seconds=settings.queue_visibility_timeout + 1)
    assert queue.receive(10, 0) == []
    [dead] = QueueMessage.select()
    assert dead.dead_at is not None
    assert dead.body == first[1].body


def test_a_receive_skips_dead_letters_and_still_fills_the_batch(settings):
    clock = Clock()
    queue = DatabaseQueue(dataclasses.replace(settings, queue_max_receives=1), clock=clock)
    queue.send_jobs(jobs(3))
    assert len(queue.receive(10, 0)) == 3  # each received once and never deleted: the next receive dead-letters them
    clock.now += dt.timedelta(seconds=settings.queue_visibility_timeout + 1)
    queue.send_jobs([CheckJob(9, SLOT, 1)])
    got = queue.receive(10, 0)
    assert [r.job.monitor_id for r in got] == [9]
    assert queue.dead_letters() == 3


def test_concurrent_consumers_never_receive_the_same_message(settings):
    queue = DatabaseQueue(settings)
    queue.send_jobs(jobs(200))
    seen: list[list[str]] = [[], [], []]
    start = threading.Barrier(3)

    def consume(out: list[str]) -> None:
        start.wait()
        try:
            while batch := queue.receive(3, 0):
                out.extend(r.body for r in batch)
        finally:
            database.close()

    threads = [threading.Thread(target=consume, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [body for out in seen for body in out]
    assert len(everything) == 200
    assert len(set(everything)) == 200


def test_a_release_does_not_count_towards_dead_lettering(settings):
    # A checker handing jobs back at every deploy must not dead-letter healthy jobs.
    queue = DatabaseQueue(dataclasses.replace(settings, queue_max_receives=2))
    queue.send_jobs(jobs(2))
    for _ in range(5):
        got = queue.receive(10, 0)
        assert len(got) == 2 and {r.receive_count for r in got} == {1}
        assert queue.release_many(got) == 2
    assert queue.dead_letters() == 0
    assert {m.receive_count for m in QueueMessage.select()} == {0}


def test_a_release_never_takes_the_receive_count_below_zero(settings):
    clock = Clock()
    queue = DatabaseQueue(settings, clock=clock)
    queue.send_jobs(jobs(1))
    [received] = queue.receive(10, 0)
    QueueMessage.update(receive_count=0).execute()  # e.g. a row reset by an operator meanwhile
    queue.release(received)
    assert QueueMessage.get().receive_count == 0


def test_delete_many_and_release_many_ignore_stale_receipts(settings):
    clock = Clock()
    queue = DatabaseQueue(settings, clock=clock)
    queue.send_jobs(jobs(2))
    stale = queue.receive(10, 0)
    clock.now += dt.timedelta(seconds=settings.queue_visibility_timeout + 1)
    current = queue.receive(10, 0)

    assert queue.release_many(stale) == 0 and queue.delete_many(stale) == 0
    assert QueueMessage.select().count() == 2
    assert queue.delete_many([current[0], stale[1]]) == 1
    assert [m.receipt for m in QueueMessage.select()] == [current[1].receipt]
