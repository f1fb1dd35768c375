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

from healthmon import sql
from healthmon.db import database, is_postgres, utcnow
from healthmon.models import QueueMessage
from healthmon.queue.base import CheckJob, ReceivedJob
from healthmon.settings import Settings

DEFAULT_QUEUE_NAME = "checks"

POLL_INTERVAL = 0.2
"""Seconds between looks at an empty queue during a long poll: a new job waits at most this long, and
an idle consumer costs five cheap indexed reads a second."""

DB_RECEIVE_MAX = 50
"""Most messages one receive claims. Not SQS's 10: a receive here is a write transaction (on SQLite the one
write lock of the file), so fewer, larger receives leave more of the lock to result recording."""

_SEND_COLUMNS = ("queue", "body", "visible_at", "receive_count", "created_at")
_ANY_VISIBLE = "SELECT id FROM queue_messages WHERE queue = ? AND dead_at IS NULL AND visible_at <= ? LIMIT 1"
_CLAIM = ("SELECT id, body, receive_count FROM queue_messages WHERE queue = ? AND dead_at IS NULL AND visible_at <= ? "
          "ORDER BY visible_at, id LIMIT ?")


class DatabaseQueue:
    """`CheckQueue` on the `queue_messages` table of the bound database."""

    max_receive = DB_RECEIVE_MAX

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
        rows = [(self.name, j.to_json(), now, 0, now) for j in jobs]
        with database.atomic():
            sql.insert_rows("queue_messages", _SEND_COLUMNS, rows)
        return len(jobs)

    def receive(self, max_messages: int, wait_seconds: float) -> list[ReceivedJob]:
        """Claim up to `max_messages` (<= `max_receive`) visible messages, polling up to `wait_seconds` for
        the first."""
        limit = max(1, min(int(max_messages), self.max_receive))
        deadline = time.monotonic() + max(0.0, float(wait_seconds))
        while True:
            # Look before locking: an idle consumer then never takes SQLite's write lock.
            if sql.query(_ANY_VISIBLE, (self.name, self._clock())):
                claimed = self._claim(limit)
                if claimed:
                    return claimed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(self._poll_interval, remaining))

    def _claim(self, limit: int) -> list[ReceivedJob]:
        """One SELECT (SKIP LOCKED on PostgreSQL) and one UPDATE for the whole batch; every receipt is the
        row id plus one fresh token for this receive."""
        out: list[ReceivedJob] = []
        lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
        with database.atomic():
            while len(out) < limit:
                now = self._clock()
                rows = sql.query(_CLAIM + lock, (self.name, now, limit - len(out)))
                if not rows:
                    break
                dead = [r[0] for r in rows if r[2] >= self.max_receives]
                if dead:
                    # Received max_receives times and never deleted: a poison message. Keep it for
                    # inspection, never deliver it again (SQS moves it to the DLQ at this point).
                    sql.execute(
                        f"UPDATE queue_messages SET dead_at = ?, receipt = NULL WHERE id IN ({sql.marks(len(dead))})",
                        (now, *dead),
                    )
                live = [r for r in rows if r[2] < self.max_receives]
                if not live:
                    continue
                tail = "." + secrets.token_hex(16)
                sql.execute(
                    "UPDATE queue_messages SET visible_at = ?, receive_count = receive_count + 1, "
                    f"receipt = CAST(id AS TEXT) || ? WHERE id IN ({sql.marks(len(live))})",
                    (now + self.visibility, tail, *(r[0] for r in live)),
                )
                for row_id, body, count in live:
                    try:
                        job: CheckJob | None = CheckJob.from_json(body)
                    except ValueError:
                        job = None
                    out.append(ReceivedJob(job=job, receipt=f"{row_id}{tail}", receive_count=count + 1, body=body))
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
        """One DELETE (per 500 receipts, `sql.chunks`) for the messages whose latest receipt is given; stale
        receipts are ignored. Returns how many rows were deleted."""
        return sum(QueueMessage.delete().where(self._match(chunk)).execute() for chunk in sql.chunks(received))

    def release_many(self, received: list[ReceivedJob], delay: int = 0) -> int:
        """One UPDATE (per 500 receipts, `sql.chunks`): visible after `delay` seconds (0: now), and the receive
        undone (receive_count - 1, never below 0), so messages handed back at shutdown never count towards
        dead-lettering, however often checkers are redeployed. Stale receipts are ignored. Returns how many
        rows were released."""
        undone = Case(None, [(QueueMessage.receive_count > 0, QueueMessage.receive_count - 1)], 0)
        now = self._clock() + dt.timedelta(seconds=delay)
        return sum(
            QueueMessage.update(visible_at=now, receipt=None, receive_count=undone).where(self._match(chunk)).execute()
            for chunk in sql.chunks(received)
        )

    def dead_letters(self) -> int:
        """How many messages of this queue are dead-lettered (for operators and tests)."""
        return QueueMessage.select().where(
            (QueueMessage.queue == self.name) & QueueMessage.dead_at.is_null(False)
        ).count()

    def close(self) -> None:
        """Nothing to close: the database connection belongs to the process."""
