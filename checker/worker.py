"""One checker process's consumer loop: take received jobs, run checks concurrently, record, acknowledge.

`Worker.step()` does one unit of work and returns; `Worker.run()` only loops; tests call `step()`.

With a remote queue (SQS) the loop never waits on the queue: a receiver thread long-polls (WaitTimeSeconds =
QUEUE_WAIT_SECONDS, up to min(10, free slots) messages) and hands messages over, and an acknowledger thread
deletes in batches (checker/queue_io.py explains why and how). With a local queue (`queue.remote` False: the
database queue) the loop receives and deletes itself, with no threads (checker/queue_inline.py).
This thread owns the engine (libcurl) and the database connection that records results.

Message life cycle (at-least-once, nothing lost):
- malformed body -> deleted (it can never succeed; redelivering it would only feed the dead-letter queue);
- `record.load_spec()` returns None (monitor deleted/disabled, other generation, slot already recorded)
  -> deleted: the job is moot;
- otherwise the check runs in the engine and its result is committed by `record.record_result()`; only
  THEN is its delete queued. If recording raises (database down), the message is left alone and comes
  back after the visibility timeout; `record_result` is idempotent per (monitor, slot), so a redelivery of
  an already-committed result records nothing.

Stopping (SIGTERM): receiving stops at once and messages received but not started are released; checks in
flight get until SHUTDOWN_GRACE after the stop request; the rest are aborted and released (visible again at
once; on the database queue a release does not count towards dead-lettering). Queued deletes are sent, and
the receiver gets up to a second to finish a long poll (see `QueueIO.shutdown`): 20 s grace + under 5 s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from checker import record
from checker.queue_inline import InlineQueueIO
from checker.queue_io import QueueIO
from healthmon.queue.base import CheckQueue, ReceivedJob

log = logging.getLogger("healthmon.checker")

POLL_SECONDS = 0.05
"""How long one step drives the engine before looking at the handoff again: a job received while every
check in flight is slow waits at most this long to start."""

IDLE_TAKE_SECONDS = 0.25
"""With nothing in flight, how long one step waits for the receiver (it is woken as soon as jobs arrive)."""

class Worker:
    """Consumes check jobs from `queue` and runs them on `engine` (a `checker.http.CheckEngine`).

    `concurrency` (default settings.checker_concurrency) caps checks in flight; the receiver asks only for
    as many messages as there are free slots, so every received message starts at once.
    `receive_wait` is the long-poll wait (default settings.queue_wait_seconds; tests use a short one so the
    receiver thread ends quickly).
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
        self.stats = {"recorded": 0, "dropped": 0, "malformed": 0, "record_errors": 0, "released": 0}
        wait = settings.queue_wait_seconds if receive_wait is None else receive_wait
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
        when nothing is in flight), then collect finished checks for up to POLL_SECONDS, record them and queue
        their deletes. Returns True if a job was taken or a check finished. Starts the queue threads."""
        did_work = False
        if not self.stopping:
            self.io.start()
            for received in self.io.take(0 if self.engine.in_flight() else IDLE_TAKE_SECONDS):
                did_work = True
                self._start(received)
        if self.engine.in_flight():
            did_work = self._collect(POLL_SECONDS) > 0 or did_work
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
        aborted = [received for received, _job in self.engine.abort_all()]
        self.io.release(aborted)
        self.io.finished(len(aborted))
        self.io.shutdown()
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

    def _start(self, received: ReceivedJob) -> None:
        job = received.job
        if job is None:
            self.stats["malformed"] += 1
            log.warning("[CHECKER] deleting malformed message (%d bytes)", len(received.body or ""))
            self._done(received, delete=True)
            return
        try:
            spec = record.load_spec(job, self.settings)
        except Exception as exc:  # noqa: BLE001 - database error: leave the message for redelivery
            self.stats["record_errors"] += 1
            log.warning("[CHECKER] monitor=%d cannot load: %s: %s", job.monitor_id, exc.__class__.__name__, exc)
            self.io.pause()
            self._done(received, delete=False)
            return
        self.io.recovered()
        if spec is None:
            self.stats["dropped"] += 1
            log.debug("[CHECKER] monitor=%d slot=%s dropped (gone, disabled or already recorded)",
                      job.monitor_id, job.slot.isoformat())
            self._done(received, delete=True)
            return
        if received.receive_count > 1:
            log.info("[CHECKER] monitor=%d slot=%s redelivered (receive %d)",
                     job.monitor_id, job.slot.isoformat(), received.receive_count)
        self.engine.submit(spec, token=(received, job))

    def _collect(self, timeout: float) -> int:
        """Record each finished check, then queue its delete. Returns how many checks finished."""
        finished = self.engine.poll(timeout)
        for (received, job), result in finished:
            try:
                outcome = record.record_result(job, result, self.settings)
            except Exception as exc:  # noqa: BLE001 - not deleted: the message comes back and is retried
                self.stats["record_errors"] += 1
                log.warning("[CHECKER] monitor=%d result not recorded (%s: %s); message left for redelivery",
                            job.monitor_id, exc.__class__.__name__, exc)
                self.io.pause()
                self._done(received, delete=False)
                continue
            self.io.recovered()
            self.stats["recorded" if outcome.recorded else "dropped"] += 1
            self._done(received, delete=True)
        return len(finished)

    def _done(self, received: ReceivedJob, *, delete: bool) -> None:
        """The loop is done with a message: queue its delete (only after its result is committed or when it
        is moot), and free its slot for the receiver."""
        if delete:
            self.io.delete_later(received)
        self.io.finished(1)
