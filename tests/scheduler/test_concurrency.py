"""Several schedulers at once enqueue each (monitor, slot) exactly once and skip none."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading

import pytest

from healthmon.db import database
from healthmon.models import QueueMessage
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue
from scheduler.scheduler import Scheduler
from tests.scheduler.support import T0, add_monitors, put_on_phase, settle

pytestmark = pytest.mark.timeout(120)

SCHEDULERS = 3


class CheckedDatabaseQueue(DatabaseQueue):
    """The database queue, with each job counted as checked at once (its monitor's pending job settled in
    the same transaction), so a monitor's next slot is enqueued as soon as it is due."""

    def send_jobs(self, jobs):
        sent = super().send_jobs(jobs)
        settle(jobs)
        return sent


def test_concurrent_schedulers_enqueue_each_monitor_slot_exactly_once(settings):
    # Small batches so the schedulers interleave many times over the same due monitors.
    settings = dataclasses.replace(settings, scheduler_batch=40)
    ids = add_monitors(600, next_check_at=T0, interval=10)
    first = put_on_phase(ids, 10)  # each at its own phase in [T0, T0 + 10 s)
    database.close()
    start = threading.Barrier(SCHEDULERS)
    errors: list[BaseException] = []

    def run_scheduler() -> None:
        scheduler = Scheduler(settings, CheckedDatabaseQueue(settings), sub_batch=10)
        try:
            start.wait()
            # Two rounds of slots: the first (all due at T0+10s) and the next (all due at T0+20s).
            for now in (T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(seconds=20)):
                while scheduler.tick(now=now):
                    pass
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=run_scheduler) for _ in range(SCHEDULERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    jobs = [CheckJob.from_json(m.body) for m in QueueMessage.select()]
    counts = collections.Counter((j.monitor_id, j.slot) for j in jobs)
    expected = {(m, first[m] + dt.timedelta(seconds=s)) for m in ids for s in (0, 10)}
    assert set(counts) == expected
    assert max(counts.values()) == 1
