"""The database backend of `CheckQueue`: SQS semantics in the `queue_messages` table.

For running without AWS (the embedded default and `healthmon up`). A received message is invisible
until `visible_at`; it is delivered again unless deleted; a message received `queue_max_receives`
times is dead-lettered (`dead_at` set) instead of being delivered once more. Receipts change on every
receive, so a consumer whose visibility expired and whose message was taken by another consumer can
no longer delete or release it.

Claiming is atomic: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` lets consumers claim disjoint
rows without waiting; on SQLite the IMMEDIATE transaction holds the single write lock.
Uses the process's bound `healthmon.db.database`; `send_jobs` inside an open transaction joins it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable

from healthmon.db import database, for_update, utcnow
from healthmon.defaults import MAX_BATCH_SIZE
from healthmon.models import QueueMessage
from healthmon.queue.base import CheckJob, ReceivedJob
from healthmon.settings import Settings

DEFAULT_QUEUE_NAME = "checks"

POLL_INTERVAL = 0.2
"""Seconds between looks at an empty queue during a long poll: a new job waits at most this long, and
an idle consumer costs five cheap indexed reads a second."""

INSERT_CHUNK = 500
"""Rows per INSERT: well under SQLite's bound-parameter limit (32,766) with 5 columns a row."""


class DatabaseQueue:
    """`CheckQueue` on the `queue_messages` table of the bound database."""

    def __init__(
        self,
        settings: Settings,
        name: str = DEFAULT_QUEUE_NAME,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        poll_interval: float = POLL_INTERVAL,
    ):
        self.name = name
        self.visibility = dt.timedelta(seconds=settings.queue_visibility_timeout)
        self.max_receives = settings.queue_max_receives
        self._clock = clock
        self._poll_interval = poll_interval

    def send_jobs(self, jobs: list[CheckJob]) -> int:
        """Insert one row per job; visible at once. Joins the caller's transaction if one is open
        (as a savepoint), so a scheduler's claim and its enqueue commit or roll back together."""
        if not jobs:
            return 0
        now = self._clock()
        rows = [{"queue": self.name, "body": j.to_json(), "visible_at": now, "created_at": now} for j in jobs]
        with database.atomic():
            for start in range(0, len(rows), INSERT_CHUNK):
                QueueMessage.insert_many(rows[start : start + INSERT_CHUNK]).as_rowcount().execute()
        return len(jobs)

    def receive(self, max_messages: int, wait_seconds: float) -> list[ReceivedJob]:
        """Claim up to `max_messages` (<= 10) visible messages, polling up to `wait_seconds` for the first."""
        limit = max(1, min(int(max_messages), MAX_BATCH_SIZE))
        deadline = time.monotonic() + max(0.0, float(wait_seconds))
        while True:
            # Look before locking: an idle consumer then never takes SQLite's write lock.
            if self._visible().exists():
                claimed = self._claim(limit)
                if claimed:
                    return claimed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(self._poll_interval, remaining))

    def _visible(self):
        return QueueMessage.select(QueueMessage.id).where(
            (QueueMessage.queue == self.name)
            & QueueMessage.dead_at.is_null()
            & (QueueMessage.visible_at <= self._clock())
        )

    def _claim(self, limit: int) -> list[ReceivedJob]:
        out: list[ReceivedJob] = []
        with database.atomic():
            while len(out) < limit:
                now = self._clock()
                query = (
                    QueueMessage.select(QueueMessage.id, QueueMessage.body, QueueMessage.receive_count)
                    .where(
                        (QueueMessage.queue == self.name)
                        & QueueMessage.dead_at.is_null()
                        & (QueueMessage.visible_at <= now)
                    )
                    .order_by(QueueMessage.visible_at, QueueMessage.id)
                    .limit(limit - len(out))
                )
                rows = list(for_update(query, skip_locked=True))
                if not rows:
                    break
                dead = [r.id for r in rows if r.receive_count >= self.max_receives]
                if dead:
                    # Received max_receives times and never deleted: a poison message. Keep it for
                    # inspection, never deliver it again (SQS moves it to the DLQ at this point).
                    QueueMessage.update(dead_at=now, receipt=None).where(QueueMessage.id.in_(dead)).execute()
                for row in rows:
                    if row.receive_count >= self.max_receives:
                        continue
                    receipt = f"{row.id}.{secrets.token_hex(16)}"
                    QueueMessage.update(
                        visible_at=now + self.visibility,
                        receive_count=QueueMessage.receive_count + 1,
                        receipt=receipt,
                    ).where(QueueMessage.id == row.id).execute()
                    try:
                        job: CheckJob | None = CheckJob.from_json(row.body)
                    except ValueError:
                        job = None
                    out.append(ReceivedJob(job=job, receipt=receipt, receive_count=row.receive_count + 1,
                                           body=row.body))
        return out

    @staticmethod
    def _row_id(receipt: str) -> int | None:
        head, _, _ = receipt.partition(".")
        return int(head) if head.isdigit() else None

    def delete(self, received: ReceivedJob) -> None:
        """Delete the message if `received` is still its latest receipt; a stale receipt does nothing."""
        row_id = self._row_id(received.receipt)
        if row_id is not None:
            QueueMessage.delete().where(
                (QueueMessage.id == row_id) & (QueueMessage.receipt == received.receipt)
            ).execute()

    def release(self, received: ReceivedJob) -> None:
        """Make the message visible now, if `received` is still its latest receipt."""
        row_id = self._row_id(received.receipt)
        if row_id is not None:
            QueueMessage.update(visible_at=self._clock(), receipt=None).where(
                (QueueMessage.id == row_id) & (QueueMessage.receipt == received.receipt)
            ).execute()

    def dead_letters(self) -> int:
        """How many messages of this queue are dead-lettered (for operators and tests)."""
        return QueueMessage.select().where(
            (QueueMessage.queue == self.name) & QueueMessage.dead_at.is_null(False)
        ).count()

    def close(self) -> None:
        """Nothing to close: the database connection belongs to the process."""
