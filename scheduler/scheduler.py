"""`Scheduler.tick()`: enqueue one check job per due monitor, exactly once per (monitor, slot).

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
from healthmon.settings import Settings
from scheduler.due import claim_due

log = logging.getLogger("healthmon.scheduler")

SUB_BATCH = 500
"""Monitors claimed per transaction: bounds lock time and the size of one UPDATE, and keeps a failed
send from rolling back more than this many claims."""


class Scheduler:
    """Claims due monitors and enqueues their jobs. Safe to run several at once (see `claim_due`)."""

    def __init__(
        self,
        settings: Settings,
        queue: CheckQueue,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        sub_batch: int = SUB_BATCH,
    ):
        self.settings = settings
        self.queue = queue
        self._clock = clock
        self.sub_batch = max(1, sub_batch)

    def tick(self, now: dt.datetime | None = None) -> int:
        """Enqueue the monitors due at `now` (default: the clock), at most `settings.scheduler_batch`.

        Returns the number of jobs enqueued. Raises whatever the database or the queue raised; the
        sub-batch in flight is then rolled back (its monitors stay due), earlier sub-batches stay done.
        """
        now = now or self._clock()
        budget = self.settings.scheduler_batch
        total = 0
        while total < budget:
            want = min(self.sub_batch, budget - total)
            with database.atomic():
                claims = claim_due(now, want)
                if claims:
                    # Inside the transaction on purpose: see the module docstring.
                    self.queue.send_jobs([c.job for c in claims])
            total += len(claims)
            if len(claims) < want:
                break
        if total:
            log.debug("[SCHEDULER] enqueued %d check(s)", total)
        return total
