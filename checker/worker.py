"""One checker process's consumer loop: receive jobs, run checks concurrently, record, acknowledge.

`Worker.step()` does one unit of work and returns; `Worker.run()` only loops; tests call `step()`.

Message life cycle (at-least-once, nothing lost):
- malformed body -> deleted (it can never succeed; redelivering it would only feed the dead-letter queue);
- `record.load_spec()` returns None (monitor deleted/disabled, other generation, slot already recorded)
  -> deleted: the job is moot;
- otherwise the check runs in the engine and its result is committed by `record.record_result()`; only
  THEN is the message deleted. If recording raises (database down), the message is left alone and comes
  back after the visibility timeout; `record_result` is idempotent per (monitor, slot), so a redelivery of
  an already-committed result records nothing.

Receiving: in this thread, between engine polls. With checks in flight the receive does not wait (wait 0)
so finished checks are collected promptly; when idle it long-polls for `IDLE_WAIT_SECONDS`. We chose this
over a receiver thread that long-polls 20 s into a local buffer because (1) a buffer holds messages no
check is running for (celery#8875: a warm shutdown stranded prefetched SQS messages until their visibility
timeout), (2) one thread means one owner of the DB connection and of the curl multi handle, and (3) stop
stays prompt: a SIGTERM is acted on within IDLE_WAIT_SECONDS. The price is SQS requests: one empty
receive every 2 s per idle process is ~1.3 M requests a month, about $0.50 (first million free).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from checker import record
from healthmon import defaults
from healthmon.queue.base import CheckJob, CheckQueue, ReceivedJob

log = logging.getLogger("healthmon.checker")

IDLE_WAIT_SECONDS = 2.0
"""Long-poll wait when no check is in flight: short enough that a stop request is seen within it."""

POLL_SECONDS = 0.1
"""How long one step waits on the engine for finished checks before receiving more work."""

ERROR_BACKOFF_MIN = 1.0
ERROR_BACKOFF_MAX = 30.0
"""After a failed receive or a database error the worker stops receiving for 1 s, doubling up to 30 s
while errors continue. Checks already in flight are still collected. Not receiving during a database
outage keeps messages in the queue untouched, instead of receiving each every visibility timeout until
`queue_max_receives` sends it to the dead-letter queue."""

Token = tuple[ReceivedJob, CheckJob]


class Worker:
    """Consumes check jobs from `queue` and runs them on `engine` (a `checker.http.CheckEngine`).

    `concurrency` (default settings.checker_concurrency) caps checks in flight; the worker receives only
    as many messages as it has room for, so every received message is being checked.
    """

    def __init__(
        self,
        settings,
        queue: CheckQueue,
        engine,
        *,
        concurrency: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        idle_wait: float | None = None,
    ):
        self.settings = settings
        self.queue = queue
        self.engine = engine
        self.concurrency = concurrency or settings.checker_concurrency
        self.idle_wait = min(IDLE_WAIT_SECONDS, settings.queue_wait_seconds) if idle_wait is None else idle_wait
        self._clock = clock
        self._sleep = sleep
        self._stop_requested_at: float | None = None
        self._paused_until = 0.0
        self._backoff = 0.0
        self.stats = {"recorded": 0, "dropped": 0, "malformed": 0, "record_errors": 0, "released": 0}

    # -- control -------------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop_requested_at is not None

    def request_stop(self) -> None:
        """Stop receiving (safe to call from a signal handler). The drain deadline starts now."""
        if self._stop_requested_at is None:
            self._stop_requested_at = self._clock()

    # -- one unit of work ----------------------------------------------------------------------------

    def step(self) -> bool:
        """Receive what fits (unless stopping), then collect finished checks. Returns True if a message
        was received or a check finished."""
        did_work = False
        in_flight = self.engine.in_flight()
        room = self.concurrency - in_flight
        paused_for = self._paused_until - self._clock()
        if not self.stopping and room > 0 and paused_for <= 0:
            wait = 0 if in_flight else self.idle_wait
            for received in self._receive(min(room, defaults.MAX_BATCH_SIZE), wait):
                did_work = True
                self._start(received)
        if self.engine.in_flight():
            did_work = self._collect(POLL_SECONDS) > 0 or did_work
        elif not did_work and not self.stopping and (paused_for > 0 or self.idle_wait == 0):
            # Backing off after an error, or QUEUE_WAIT_SECONDS=0: do not spin.
            self._sleep(min(max(paused_for, POLL_SECONDS), IDLE_WAIT_SECONDS))
        return did_work

    def run(self, should_continue: Callable[[], bool] = lambda: True) -> None:
        """Loop `step()` until a stop is requested or `should_continue()` is false, then drain."""
        while not self.stopping and should_continue():
            self.step()
        self.stop()

    def stop(self) -> int:
        """Drain: stop receiving, keep collecting until no check is in flight or shutdown_grace has passed
        since the stop request, then abort the rest and release their messages (visibility 0) so another
        checker takes them at once. Returns how many messages were released."""
        self.request_stop()
        assert self._stop_requested_at is not None
        deadline = self._stop_requested_at + self.settings.shutdown_grace
        while self.engine.in_flight():
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._collect(min(POLL_SECONDS, remaining))
        released = 0
        for received, _job in self.engine.abort_all():
            released += self._release(received)
        if released:
            log.info("[CHECKER] shutdown: released %d unfinished check(s) back to the queue", released)
        return released

    # -- internals -----------------------------------------------------------------------------------

    def _receive(self, max_messages: int, wait: float) -> list[ReceivedJob]:
        try:
            batch = self.queue.receive(max_messages, wait)
        except Exception as exc:  # noqa: BLE001 - a queue outage must not kill the process
            log.warning("[CHECKER] receive failed: %s: %s", exc.__class__.__name__, exc)
            self._pause()
            return []
        if self.stopping and batch:
            # The stop arrived while we were long-polling: hand these straight back.
            for received in batch:
                self._release(received)
            return []
        return batch

    def _start(self, received: ReceivedJob) -> None:
        job = received.job
        if job is None:
            self.stats["malformed"] += 1
            log.warning("[CHECKER] deleting malformed message (%d bytes)", len(received.body or ""))
            self._delete(received)
            return
        try:
            spec = record.load_spec(job, self.settings)
        except Exception as exc:  # noqa: BLE001 - database error: leave the message for redelivery
            self.stats["record_errors"] += 1
            log.warning("[CHECKER] monitor=%d cannot load: %s: %s", job.monitor_id, exc.__class__.__name__, exc)
            self._pause()
            return
        self._backoff = 0.0
        if spec is None:
            self.stats["dropped"] += 1
            log.debug("[CHECKER] monitor=%d slot=%s dropped (gone, disabled or already recorded)",
                      job.monitor_id, job.slot.isoformat())
            self._delete(received)
            return
        if received.receive_count > 1:
            log.info("[CHECKER] monitor=%d slot=%s redelivered (receive %d)",
                     job.monitor_id, job.slot.isoformat(), received.receive_count)
        self.engine.submit(spec, token=(received, job))

    def _collect(self, timeout: float) -> int:
        """Record each finished check, then delete its message. Returns how many checks finished."""
        finished = self.engine.poll(timeout)
        for (received, job), result in finished:
            try:
                outcome = record.record_result(job, result, self.settings)
            except Exception as exc:  # noqa: BLE001 - not deleted: the message comes back and is retried
                self.stats["record_errors"] += 1
                log.warning("[CHECKER] monitor=%d result not recorded (%s: %s); message left for redelivery",
                            job.monitor_id, exc.__class__.__name__, exc)
                self._pause()
                continue
            self._backoff = 0.0
            self.stats["recorded" if outcome.recorded else "dropped"] += 1
            self._delete(received)
        return len(finished)

    def _pause(self) -> None:
        """Stop receiving for a while (see ERROR_BACKOFF_MIN); consecutive errors double the pause."""
        self._backoff = min(ERROR_BACKOFF_MAX, max(ERROR_BACKOFF_MIN, self._backoff * 2))
        self._paused_until = self._clock() + self._backoff

    def _delete(self, received: ReceivedJob) -> None:
        try:
            self.queue.delete(received)
        except Exception as exc:  # noqa: BLE001 - redelivery is harmless: recording is idempotent
            log.warning("[CHECKER] delete failed (%s: %s); the message will be redelivered and dropped",
                        exc.__class__.__name__, exc)

    def _release(self, received: ReceivedJob) -> int:
        try:
            self.queue.release(received)
        except Exception as exc:  # noqa: BLE001 - it still returns after its visibility timeout
            log.warning("[CHECKER] release failed (%s: %s); it returns after the visibility timeout",
                        exc.__class__.__name__, exc)
            return 0
        self.stats["released"] += 1
        return 1
