"""The database backend of `CheckQueue`: SQS semantics in the `queue_messages` table.

For running without AWS (the embedded default and `healthmon up`). A received message is invisible
until `visible_at`; it is delivered again unless deleted; a message received `queue_max_receives`
times is dead-lettered (`dead_at` set) instead of being delivered once more; a release (a checker handing a
job back at shutdown) undoes its receive, so deploys never dead-letter healthy jobs. Receipts change on every
receive, so a consumer whose visibility expired and whose message was taken by another consumer can
no longer delete or release it.

Claiming is atomic: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` lets consumers claim disjoint
rows without waiting; on SQLite the IMMEDIATE transaction holds the single write lock.
Uses the process's bound `healthmon.db.database`; `send_jobs` inside an open transaction joins it. Usable
from several threads: peewee gives each thread its own connection, which that thread must close before it ends.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable

from peewee import Case

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
"""Rows per INSERT (and receipts per DELETE/UPDATE): well under SQLite's bound-parameter limit (32,766)."""


def _chunks(items: list) -> list[list]:
    return [items[i : i + INSERT_CHUNK] for i in range(0, len(items), INSERT_CHUNK)]


class DatabaseQueue:
    """`CheckQueue` on the `queue_messages` table of the bound database."""

    remote = False
    """Calls are short local statements: a checker makes them in its loop's thread (checker/queue_inline.py)."""

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
    def _match(received: list[ReceivedJob]):
        """Rows whose latest receipt is one of these. A receipt starts with its row id, so the id narrows
        the search through the primary key and the receipt proves the receive is still the latest."""
        receipts = [r.receipt for r in received]
        ids = {int(head) for head, _, _ in (x.partition(".") for x in receipts) if head.isdigit()}
        return QueueMessage.id.in_(sorted(ids)) & QueueMessage.receipt.in_(receipts)

    def delete(self, received: ReceivedJob) -> None:
        """Delete the message if `received` is still its latest receipt; a stale receipt does nothing."""
        self.delete_many([received])

    def release(self, received: ReceivedJob) -> None:
        """Make the message visible now, if `received` is still its latest receipt (see release_many)."""
        self.release_many([received])

    def delete_many(self, received: list[ReceivedJob]) -> int:
        """One DELETE (per INSERT_CHUNK receipts) for the messages whose latest receipt is given; stale
        receipts are ignored. Returns how many rows were deleted."""
        return sum(QueueMessage.delete().where(self._match(chunk)).execute() for chunk in _chunks(received))

    def release_many(self, received: list[ReceivedJob]) -> int:
        """One UPDATE (per INSERT_CHUNK receipts): visible now, and the receive undone (receive_count - 1,
        never below 0), so messages handed back at shutdown never count towards dead-lettering, however
        often checkers are redeployed. Stale receipts are ignored. Returns how many rows were released."""
        undone = Case(None, [(QueueMessage.receive_count > 0, QueueMessage.receive_count - 1)], 0)
        now = self._clock()
        return sum(
            QueueMessage.update(visible_at=now, receipt=None, receive_count=undone).where(self._match(chunk)).execute()
            for chunk in _chunks(received)
        )

    def dead_letters(self) -> int:
        """How many messages of this queue are dead-lettered (for operators and tests)."""
        return QueueMessage.select().where(
            (QueueMessage.queue == self.name) & QueueMessage.dead_at.is_null(False)
        ).count()

    def close(self) -> None:
        """Nothing to close: the database connection belongs to the process."""
