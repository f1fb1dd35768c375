"""`InlineQueueIO`: `QueueIO`'s interface with no threads, for queues whose calls are local and fast
(`queue.remote` is False: the database queue). The loop's thread receives and deletes itself.

Why: with the database queue a receive or a delete is one short local statement, so a thread gains nothing,
while two more Python threads contend for the GIL with the thread driving libcurl (and each polls the
database on its own connection). Measured on 2 cores (bench/worker_throughput.py): the threads made one
process 10-25% slower and inflated a fast target's reported latency (p50 ~60 ms, max ~180 ms); inline it
is 580-660 checks/s at p50 15-17 ms, max 23-33 ms (bench/README.md).
A remote queue (SQS: tens of ms a call, 20 s long polls) keeps the threads (checker/queue_io.py).

Receiving: each `take(timeout)` makes one receive of min(queue.max_receive, free slots), waiting up to `timeout` (the
worker's idle wait, never the 20 s long poll; 0 while checks are in flight).
Deleting: recorded messages are deleted by the worker inside the recording transaction
(`deletes_in_transaction`). Moot ones (malformed, monitor gone) go through `delete_later`, which queues the
receipt; the queue is flushed in one `delete_many` at the next `take`, when ACK_BATCH pile up, and at
`shutdown`. Errors pause receiving as in
`QueueIO`. Everything runs in the loop's thread and its database connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from checker.queue_io import ACK_BATCH, ERROR_BACKOFF_MAX, ERROR_BACKOFF_MIN, delete_logged, release_logged
from healthmon.backoff import jittered
from healthmon.queue.base import CheckQueue, ReceivedJob

log = logging.getLogger("healthmon.checker")


class InlineQueueIO:
    """Same methods and meaning as `checker.queue_io.QueueIO`, all in the caller's thread."""

    def __init__(self, queue: CheckQueue, capacity: int, wait_seconds: float, *,
                 clock: Callable[[], float] = time.monotonic, on_released: Callable[[int], None] = lambda n: None):
        self.queue = queue
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self._clock = clock
        self._on_released = on_released
        self.stop_requested = False  # set from a signal handler: a plain attribute
        self._reserved = 0  # slots of messages taken and not yet finished
        self._paused_until = 0.0
        self._backoff = 0.0
        self._acks: list[ReceivedJob] = []

    deletes_in_transaction = True
    """The worker deletes recorded messages inside the recording transaction (same connection, same thread)."""

    receiving = False
    """Never true between calls: a receive happens only inside `take`."""

    def start(self) -> None:
        """Nothing to start."""

    def take(self, timeout: float) -> list[ReceivedJob]:
        """Send the queued deletes, then receive once, up to min(queue.max_receive, free slots) messages,
        waiting up to min(timeout, wait_seconds) for the first. Each message returned holds a slot until
        `finished()`. One receive a call: a step takes one batch, then collects and records."""
        self._flush_acks()
        if self.stop_requested:
            return []
        wait = max(0.0, min(timeout, self.wait_seconds))
        free = self.capacity - self._reserved
        paused_for = self._paused_until - self._clock()
        if free <= 0 or paused_for > 0:
            if paused_for > 0 and wait > 0:
                time.sleep(min(wait, paused_for))  # idle and paused: no busy loop
            return []
        try:
            batch = self.queue.receive(min(self.queue.max_receive, free), wait)
        except Exception as exc:  # noqa: BLE001 - a queue outage must not kill the process
            log.warning("[CHECKER] receive failed: %s: %s; next receive in %.1fs", exc.__class__.__name__, exc,
                        self.pause())
            return []
        self._reserved += len(batch)
        return batch

    def finished(self, n: int = 1) -> None:
        self._reserved -= n

    def delete_later(self, received: ReceivedJob) -> None:
        """Queue a delete, sent at the next `take` (or at once when ACK_BATCH are queued)."""
        self._acks.append(received)
        if len(self._acks) >= ACK_BATCH:
            self._flush_acks()

    def pause(self) -> float:
        self._backoff = min(ERROR_BACKOFF_MAX, max(ERROR_BACKOFF_MIN, self._backoff * 2))
        pause = jittered(self._backoff)
        self._paused_until = self._clock() + pause
        return pause

    def recovered(self) -> None:
        self._backoff = 0.0

    def request_stop(self) -> None:
        self.stop_requested = True

    def close_intake(self) -> list[ReceivedJob]:
        """Stop receiving. Nothing is ever held between calls, so there is nothing to hand back."""
        self.stop_requested = True
        return []

    def shutdown(self, grace_left: float = 0.0) -> None:
        """Send the queued deletes. (No receive is ever in progress here: `grace_left` is not needed.)"""
        self.close_intake()
        self._flush_acks()

    def release(self, received: list[ReceivedJob], delay: int = 0) -> int:
        """release_many (visible after `delay` s); counts them through `on_released`. Returns how many."""
        count = release_logged(self.queue, received, delay)
        if count:
            self._on_released(count)
        return count

    def _flush_acks(self) -> None:
        batch, self._acks = self._acks, []
        if not batch:
            return
        delete_logged(self.queue, batch)
