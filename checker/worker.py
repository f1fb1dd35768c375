"""One checker process's consumer loop: take received jobs, run checks concurrently, record, acknowledge.

`Worker.step()` does one unit of work and returns; `Worker.run()` only loops; tests call `step()`.

With a remote queue (SQS) the loop never waits on the queue: a receiver thread long-polls (WaitTimeSeconds =
QUEUE_WAIT_SECONDS, up to min(10, free slots) messages) and hands messages over, and an acknowledger thread
deletes in batches (checker/queue_io.py explains why and how). With a local queue (`queue.remote` False: the
database queue) the loop receives and deletes itself, with no threads (checker/queue_inline.py).
This thread owns the engine (libcurl) and the database connection that records results.

Message life cycle (at-least-once, nothing lost):
- malformed body -> deleted (it can never succeed; redelivering it would only feed the dead-letter queue);
- a slot more than FUTURE_SLOT_TOLERANCE_S ahead of this checker's clock -> deleted with a warning;
- `record.load_specs()` (one query per received batch) returns None (monitor deleted/disabled, other
  generation, slot already recorded) -> deleted: the job is moot;
- a job received more than `Settings.pending_expiry_seconds` after its slot (5 minutes by default) is not
  checked: the scheduler has stopped waiting for it and enqueued a fresher one, so it is recorded as a
  skipped slot (the skip counted) and a long outage does not end in a round of hour-old checks. Any
  younger job is checked, however late: under overload the scheduler's backpressure (one pending job per
  monitor) already bounds the queue, and skipping every job older than an interval would turn a queue
  that delivers slower than it fills into zero checks (measured: bench/scale.py on moto_server);
- otherwise the check runs in the engine. Finished checks wait in a buffer (at most RECORD_BATCH, at most
  RECORD_MAX_DELAY) and are committed together by `record.record_results()`; only THEN are their messages
  deleted (the database queue deletes them inside that same transaction). If recording raises (database
  down), the messages are left alone and come back after the visibility timeout; recording is idempotent
  per (monitor, slot), so a redelivery of an already-committed result records nothing.

Stopping (SIGTERM): receiving stops at once and messages received but not started are released; checks in
flight get until SHUTDOWN_GRACE after the stop request; the rest are aborted and released (visible again at
once; on the database queue a release does not count towards dead-lettering). Queued deletes are sent, and
a long poll still in progress is waited for up to the end of the grace (+1 s) and what it brings is released
too (see `QueueIO.shutdown`): 20 s grace + under 5 s. So that it always ends in time, the long-poll wait is
min(QUEUE_WAIT_SECONDS, SHUTDOWN_GRACE).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from checker import record
from checker.queue_inline import InlineQueueIO
from checker.queue_io import QueueIO
from healthmon.backoff import OUTAGE_BACKOFF_MAX, backoff
from healthmon.db import utcnow
from healthmon.domain.verdict import evaluate
from healthmon.queue.base import CheckQueue, ReceivedJob

log = logging.getLogger("healthmon.checker")

POLL_SECONDS = 0.05
"""How long one step drives the engine before looking at the handoff again: a job received while every
check in flight is slow waits at most this long to start."""

IDLE_TAKE_SECONDS = 0.25
"""With nothing in flight, how long one step waits for the receiver (it is woken as soon as jobs arrive)."""

RECORD_BATCH = 200
"""Most results committed in one transaction. Larger batches cost less per result but hold the database's
write lock (SQLite) or the monitors' row locks (PostgreSQL) longer; 200 rows commit in a few ms."""

RECORD_MAX_DELAY = 0.2
"""Longest a finished check waits in the buffer before it is committed: the delay this adds to a state
change and its alert. Also flushed at once whenever the worker is idle."""

FUTURE_SLOT_TOLERANCE_S = 120
"""A job whose slot is further ahead of this checker's clock is dropped with a warning, not checked. Clocks
of NTP-synced hosts differ by well under a second; a job minutes ahead comes from a badly wrong scheduler
clock or a forged message, and recording it would move the monitor's last_slot ahead, so every real job up
to that time would be dropped as stale and the monitor silently unchecked."""

RECORD_RETRY_SECONDS = 1.0
RECORD_RETRY_MAX = OUTAGE_BACKOFF_MAX
"""After a failed commit the buffer is kept and tried again no sooner than 1 s later, doubling up to 15 s while
commits keep failing, each delay jittered (healthmon/backoff.py); receiving pauses meanwhile."""


class Worker:
    """Consumes check jobs from `queue` and runs them on `engine` (a `checker.engine.CheckEngine`).

    `concurrency` (default settings.checker_concurrency) caps checks in flight; the receiver asks only for
    as many messages as there are free slots, so every received message starts at once.
    `receive_wait` is the long-poll wait (default settings.queue_wait_seconds; tests use a short one so the
    receiver thread ends quickly), never more than settings.shutdown_grace: a stopping worker waits for the
    poll in progress to return, and that wait must end within the grace.
    """

    def __init__(
        self,
        settings,
        queue: CheckQueue,
        engine,
        *,
        concurrency: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        receive_wait: float | None = None,
    ):
        self.settings = settings
        self.queue = queue
        self.engine = engine
        self.concurrency = concurrency or settings.checker_concurrency
        self._clock = clock
        self._stop_requested_at: float | None = None
        self._stopped = False
        self._stats_lock = threading.Lock()
        self.stats = {"recorded": 0, "dropped": 0, "skipped": 0, "malformed": 0, "record_errors": 0,
                      "released": 0}
        self._buffer: list[tuple[ReceivedJob, object, object]] = []  # finished, not yet committed
        self._buffer_since: float | None = None
        self._retry_at = 0.0  # after a failed commit, no retry before this (clock time)
        self._record_failures = 0  # consecutive failed commits
        wait = min(settings.queue_wait_seconds if receive_wait is None else receive_wait, settings.shutdown_grace)
        # Threads only for a remote queue (SQS); the database queue's calls are local and fast, and threads
        # would contend with this one for the GIL (checker/queue_inline.py). A queue without `remote` is
        # taken to be remote.
        io_class = QueueIO if getattr(queue, "remote", True) else InlineQueueIO
        self.io = io_class(queue, self.concurrency, wait, clock=clock, on_released=self._count_released)

    # -- control -------------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop_requested_at is not None

    def request_stop(self) -> None:
        """Stop receiving (safe to call from a signal handler: sets flags only). The drain deadline starts now."""
        if self._stop_requested_at is None:
            self._stop_requested_at = self._clock()
        self.io.request_stop()

    # -- one unit of work ----------------------------------------------------------------------------

    def step(self) -> bool:
        """Start the jobs the receiver handed over (unless stopping; waiting up to IDLE_TAKE_SECONDS for some
        when nothing is in flight or buffered), collect finished checks for up to POLL_SECONDS, then commit the
        buffer when it is due (`flush`). Returns True if a job was taken, a check finished or results were
        committed. Starts the queue threads."""
        did_work = False
        if not self.stopping:
            self.io.start()
            idle = not self.engine.in_flight() and not self._buffer
            batch = self.io.take(IDLE_TAKE_SECONDS if idle else 0)
            if batch:
                did_work = True
                self._start_batch(batch)
        if self.engine.in_flight():
            did_work = self._collect(POLL_SECONDS) > 0 or did_work
        did_work = self.flush() > 0 or did_work
        return did_work

    def run(self, should_continue: Callable[[], bool] = lambda: True) -> None:
        """Loop `step()` until a stop is requested or `should_continue()` is false, then drain."""
        while not self.stopping and should_continue():
            self.step()
        self.stop()

    def stop(self, grace: float | None = None) -> int:
        """Drain: stop receiving and release what was received but not started; keep collecting until no check
        is in flight or `grace` (default shutdown_grace) has passed since the stop request, then abort the rest
        and release their messages (visibility 0) so another checker takes them at once; send the queued
        deletes. Returns how many messages were released in all (the `released` stat). Idempotent."""
        self.request_stop()
        if self._stopped:
            return self.stats["released"]
        self._stopped = True
        assert self._stop_requested_at is not None
        self.io.release(self.io.close_intake())
        deadline = self._stop_requested_at + (self.settings.shutdown_grace if grace is None else grace)
        while self.engine.in_flight():
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._collect(min(POLL_SECONDS, remaining))
            self.flush()
        while self._buffer and self.flush(force=True):
            pass
        if self._buffer:  # the database is down: hand them back rather than wait for the visibility timeout
            self.io.release([received for received, _job, _verdict in self._buffer])
            self._buffer = []
        aborted = [received for received, _job, _spec in self.engine.abort_all()]
        self.io.release(aborted)
        self.io.finished(len(aborted))
        self.io.shutdown(grace_left=max(0.0, deadline - self._clock()))
        # One figure for everything handed back: aborted checks, jobs never started, and messages a receive
        # returned after the stop; the same number as the `released` stat in "worker stopped".
        released = self.stats["released"]
        if released:
            log.info("[CHECKER] shutdown: released %d unfinished check(s) back to the queue", released)
        return released

    # -- internals -----------------------------------------------------------------------------------

    def _count_released(self, n: int) -> None:
        # Called from this thread (drain) and from the receiver thread (a receive that returned after the
        # stop), possibly at the same time.
        with self._stats_lock:
            self.stats["released"] += n

    def _start_batch(self, batch: list[ReceivedJob]) -> None:
        """Start what applies of a received batch: malformed and moot messages are deleted, late ones
        recorded as skipped, the rest submitted to the engine."""
        jobs = []
        for received in batch:
            if received.job is None:
                self.stats["malformed"] += 1
                log.warning("[CHECKER] deleting malformed message (%d bytes)", len(received.body or ""))
                self._done(received, delete=True)
            else:
                jobs.append(received)
        if not jobs:
            return
        try:
            plans = record.load_specs([r.job for r in jobs], self.settings)
        except Exception as exc:  # noqa: BLE001 - database error: leave the messages for redelivery
            self.stats["record_errors"] += len(jobs)
            log.warning("[CHECKER] %d job(s) cannot load: %s: %s", len(jobs), exc.__class__.__name__, exc)
            self.io.pause()
            for received in jobs:
                self._done(received, delete=False)
            return
        self.io.recovered()
        now = utcnow()
        for received, spec in zip(jobs, plans, strict=True):
            job = received.job
            ahead = (job.slot - now).total_seconds()
            if ahead > FUTURE_SLOT_TOLERANCE_S:
                self.stats["dropped"] += 1
                log.warning("[CHECKER] monitor=%d slot=%s dropped: %.0f s ahead of this checker's clock (a wrong "
                            "scheduler clock, or a forged job)", job.monitor_id, job.slot.isoformat(), ahead)
                self._done(received, delete=True)
                continue
            if spec is None:
                self.stats["dropped"] += 1
                # INFO, not DEBUG: rare in normal running (a monitor deleted, paused or edited with a job queued,
                # a redelivery), and the only trace of a forged or corrupted job for a monitor that never existed.
                log.info("[CHECKER] monitor=%d slot=%s dropped unchecked (deleted, disabled, edited or already "
                         "recorded)", job.monitor_id, job.slot.isoformat())
                self._done(received, delete=True)
                continue
            if (now - job.slot).total_seconds() > self.settings.pending_expiry_seconds:
                self.io.finished(1)
                self._buffer.append((received, job, record.SKIPPED))
                continue
            if received.receive_count > 1:
                log.info("[CHECKER] monitor=%d slot=%s redelivered (receive %d)",
                         job.monitor_id, job.slot.isoformat(), received.receive_count)
            self.engine.submit(spec, token=(received, job, spec))

    def _collect(self, timeout: float) -> int:
        """Move finished checks to the record buffer (their engine slots are free at once). Returns how many
        checks finished."""
        finished = self.engine.poll(timeout)
        for (received, job, spec), observation in finished:
            self._buffer.append((received, job, evaluate(spec, observation)))
        if finished:
            self.io.finished(len(finished))
        return len(finished)

    def flush(self, force: bool = False) -> int:
        """Commit the buffered results if RECORD_BATCH are waiting, the oldest waited RECORD_MAX_DELAY, nothing
        is in flight, or `force`; then delete their messages. Returns how many were committed (0 on a database
        error: the messages are then left for redelivery and receiving pauses)."""
        if not self._buffer:
            return 0
        now = self._clock()
        if self._buffer_since is None:
            self._buffer_since = now
        due = force or len(self._buffer) >= RECORD_BATCH or not self.engine.in_flight() \
            or now - self._buffer_since >= RECORD_MAX_DELAY
        if not due or (not force and now < self._retry_at):
            return 0
        batch, self._buffer, self._buffer_since = self._buffer[:RECORD_BATCH], self._buffer[RECORD_BATCH:], None
        messages = [received for received, _job, _verdict in batch]
        inline = self.io.deletes_in_transaction
        try:
            outcomes = record.record_results(
                [(job, verdict) for _received, job, verdict in batch], self.settings,
                also=(lambda: self.queue.delete_many(messages)) if inline else None,
            )
        except Exception as exc:  # noqa: BLE001 - not deleted: kept and retried, or redelivered
            self.stats["record_errors"] += len(batch)
            log.warning("[CHECKER] %d result(s) not recorded (%s: %s); retrying, messages not deleted",
                        len(batch), exc.__class__.__name__, exc)
            self.io.pause()
            # Back in the buffer for the next try (after a pause: the database is likely down), or for
            # `stop()` to hand back. If the visibility timeout passes first, another checker may take a
            # message too; whichever commits second records nothing (idempotent per slot).
            self._buffer[:0] = batch
            self._record_failures += 1
            self._retry_at = now + backoff(self._record_failures, RECORD_RETRY_SECONDS, RECORD_RETRY_MAX)
            return 0
        self.io.recovered()
        self._retry_at, self._record_failures = 0.0, 0
        for outcome in outcomes:
            self.stats["recorded" if outcome.recorded else "skipped" if outcome.reason == "skipped"
                       else "dropped"] += 1
        if not inline:
            for received in messages:
                self.io.delete_later(received)
        return len(batch)

    def _done(self, received: ReceivedJob, *, delete: bool) -> None:
        """The loop is done with a message that records nothing: queue its delete (only when it is moot),
        and free its slot for the receiver."""
        if delete:
            self.io.delete_later(received)
        self.io.finished(1)
