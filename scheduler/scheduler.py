"""`Scheduler.tick()`: enqueue one check job per due monitor, exactly once per (monitor, slot).

Backpressure: a monitor whose previous job is still queued or in flight gets no second one; its slot is
counted as skipped (scheduler/due.py). The queue holds at most one job per monitor, whatever the load.

Order of operations, for "nothing is lost": claim (lock + move next_check_at), SEND the jobs, then
COMMIT. If sending fails the transaction rolls back and the monitors stay due for the next tick. If the
commit fails after a successful send, the jobs are sent again next tick and the checker drops the
duplicates by (monitor, slot). With the database queue, claim and enqueue are one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from healthmon.db import database, utcnow
from healthmon.queue.base import CheckQueue
from healthmon.queue.database import DatabaseQueue
from healthmon.settings import Settings
from scheduler.due import claim_due, pending_expiry

log = logging.getLogger("healthmon.scheduler")

LOCAL_SUB_BATCH = 500
"""Monitors claimed per transaction with the database queue. Claim and enqueue are one local transaction
(one UPDATE, one INSERT), about 25-50 ms for 500, so the row locks are short even at this size; larger
would lengthen them and the UPDATE for little gain."""

REMOTE_SUB_BATCH = 250
"""Monitors claimed per transaction with a remote queue (SQS). The jobs are sent before the commit, so
the claimed rows (PostgreSQL) or the whole database (SQLite's write lock) stay locked for the sends, all the
while a checker's record_result (SELECT ... FOR UPDATE on the monitor) and the API wait. 250 jobs are 25
SendMessageBatch calls, sent SEND_THREADS (8) at once: ~70-80 ms held with 15 ms calls, less than the 100
sequential calls' ~160 ms before (bench/scheduler_tick.py --sqs-latency-ms 15), and a 1,000-monitor tick
takes ~0.3 s. Larger gains little (500: ~125 ms held for ~15% less tick time). Retries of failed entries
can add up to ~1.4 s; a failed send rolls back at most this many claims."""


MAX_ROWS_PER_JOB = 4
"""A tick looks at most this many due rows per job it may enqueue (skipped rows included), so an overloaded
system's tick stays short while still moving every skipped monitor on to its next slot."""


def sub_batch_for(queue: CheckQueue) -> int:
    """The sub-batch for `queue`: LOCAL_SUB_BATCH for the database queue, else REMOTE_SUB_BATCH (any
    other queue is taken to be remote: the cautious choice)."""
    return LOCAL_SUB_BATCH if isinstance(queue, DatabaseQueue) else REMOTE_SUB_BATCH


class Scheduler:
    """Claims due monitors and enqueues their jobs. Safe to run several at once (see `claim_due`).

    `sub_batch` (monitors per transaction) defaults to `sub_batch_for(queue)`.
    """

    def __init__(
        self,
        settings: Settings,
        queue: CheckQueue,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        sub_batch: int | None = None,
    ):
        self.settings = settings
        self.queue = queue
        self._clock = clock
        self.sub_batch = max(1, sub_batch or sub_batch_for(queue))
        self.expiry = pending_expiry(settings)
        self.skipped = 0
        """Due slots passed over since start because the monitor's previous job was still pending."""

    def tick(self, now: dt.datetime | None = None) -> int:
        """Enqueue the monitors due at `now` (default: the clock), at most `settings.scheduler_batch` jobs,
        passing over (and counting in `skipped`) due monitors whose previous job is still pending.

        Returns the number of jobs enqueued. Raises whatever the database or the queue raised; the
        sub-batch in flight is then rolled back (its monitors stay due), earlier sub-batches stay done.
        """
        now = now or self._clock()
        budget = self.settings.scheduler_batch
        row_cap = budget * MAX_ROWS_PER_JOB
        total = rows = skipped = 0
        while total < budget and rows < row_cap:
            want = min(self.sub_batch, budget - total)
            with database.atomic():
                batch = claim_due(now, want, self.expiry)
                if batch.claims:
                    # Inside the transaction on purpose: see the module docstring.
                    self.queue.send_jobs([c.job for c in batch.claims])
            total += len(batch.claims)
            skipped += batch.skipped
            rows += batch.rows
            if batch.rows < want:
                break
        self.skipped += skipped
        if total or skipped:
            log.debug("[SCHEDULER] enqueued %d check(s), skipped %d", total, skipped)
        return total
