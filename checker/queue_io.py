"""A checker process's queue I/O, off the check loop: a receiver thread that long-polls and an acknowledger
thread that deletes in batches. The check loop (checker/worker.py) never waits on the queue. Used for remote
queues (`queue.remote`, SQS); the database queue's local calls are made inline (checker/queue_inline.py).

Why threads: every queue call is a network round trip (tens of ms to SQS). Made from the thread that drives
libcurl, each one delays collecting finished checks and starting new ones; measured with 20 ms per call, one
process fell from 313 to 39 checks/s and a 200 ms target's latency rose to 468 ms max (bench/worker_throughput.py).

Receiver: whenever the worker has free check slots it reserves min(10, free) of them and long-polls
(WaitTimeSeconds = QUEUE_WAIT_SECONDS, 20 by default: an idle process makes 3 requests a minute; never longer
than SHUTDOWN_GRACE, see the Worker). What comes back goes into the handoff. Slots are reserved before the
poll, so the handoff never holds more messages than the loop can start at once: nothing waits in a local
buffer for a slot (celery#8875: prefetched SQS messages stranded by a warm shutdown until their visibility
timeout), and a stop releases the few in the handoff at once.

Acknowledger: the loop commits a result, then queues the receipt here; this thread deletes what is queued with
`delete_many` (DeleteMessageBatch, 10 a call; one statement on the database queue). Whatever piles up while a
call is in flight goes in the next one, so batches grow with load and an idle worker deletes at once.
A delete lost to a crash only redelivers a job whose slot is recorded: `record_result` drops it.

Database connections: peewee keeps one connection per thread. With the database queue both threads use the
database through their own connection, opened on first use and closed when the thread ends; with SQS they never
touch it. Result recording stays in the loop's thread, which owns the process's main connection.

Thread safety: `request_stop()` only sets a flag (it is called from a signal handler, which must not take a
lock the interrupted thread may hold); everything else shared is guarded by `_cond`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from healthmon import db
from healthmon.backoff import OUTAGE_BACKOFF_MAX, jittered
from healthmon.defaults import MAX_BATCH_SIZE
from healthmon.queue.base import CheckQueue, ReceivedJob

log = logging.getLogger("healthmon.checker")

RECHECK_SECONDS = 0.2
"""Longest sleep of the receiver while it waits for free slots or a pause to end: it notices a stop within it."""

MIN_EMPTY_RECEIVE_SECONDS = 0.1
"""An empty receive that returned faster than this (QUEUE_WAIT_SECONDS=0) is followed by a pause of the rest:
at most 10 empty receives a second instead of a busy loop."""

ACK_BATCH = 100
"""Most receipts per delete_many call (SQS splits it into calls of 10)."""

ACK_FLUSH_SECONDS = 2.0
"""At shutdown: how long to wait for queued deletes to be sent."""

RECEIVER_JOIN_SECONDS = 1.0
"""At shutdown: how long beyond the end of the grace period to wait for a receive still in progress (a slow
network round trip). A long poll is never longer than the grace (the Worker caps QUEUE_WAIT_SECONDS at
SHUTDOWN_GRACE), so one started before the stop has returned by then. With the deletes' flush this fits in
the 5 s the pool parent allows beyond SHUTDOWN_GRACE."""

ERROR_BACKOFF_MIN = 1.0
ERROR_BACKOFF_MAX = OUTAGE_BACKOFF_MAX
"""After a failed receive or a database error no receive starts for 1 s, doubling up to 15 s while errors
continue, each pause jittered (healthmon/backoff.py) so a fleet of checkers does not retry in step. Not
receiving during a database outage leaves messages in the queue untouched, instead of receiving each every
visibility timeout until `queue_max_receives` dead-letters it."""


class QueueIO:
    """Receiver + acknowledger threads around `queue` for a loop that runs at most `capacity` checks.

    Loop side: `start()`, `take(timeout)`, `finished(n)`, `delete_later(received)`, `pause()`, `recovered()`,
    then `close_intake()` and `shutdown()` when stopping. `request_stop()` may come from a signal handler.
    """

    def __init__(self, queue: CheckQueue, capacity: int, wait_seconds: float, *,
                 clock: Callable[[], float] = time.monotonic, on_released: Callable[[int], None] = lambda n: None):
        self.queue = queue
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self._clock = clock
        self._on_released = on_released
        self.stop_requested = False  # set from a signal handler: a plain attribute, no lock
        self._cond = threading.Condition()
        self._ready: deque[ReceivedJob] = deque()
        self._reserved = 0  # slots taken: in the handoff, being checked, or asked for by a receive in progress
        self._receiving = False
        self._closed = False  # intake closed: nothing more goes into the handoff
        self._abandoned = False  # shutdown stopped waiting for the receiver
        self._paused_until = 0.0
        self._backoff = 0.0
        self._acks: deque[ReceivedJob] = deque()
        self._acks_closed = False
        self._threads: list[threading.Thread] = []

    deletes_in_transaction = False
    """Recorded messages are deleted through `delete_later` after the commit (the queue is remote)."""

    # -- loop side -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start both threads (once; later calls do nothing)."""
        if self._threads or self.stop_requested:
            return
        for name, target in (("receiver", self._receive_loop), ("acknowledger", self._ack_loop)):
            thread = threading.Thread(target=target, name=f"checker-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def receiving(self) -> bool:
        """True while a receive is in progress (or about to start)."""
        with self._cond:
            return self._receiving

    def take(self, timeout: float) -> list[ReceivedJob]:
        """Everything in the handoff, waiting up to `timeout` seconds for something when it is empty.
        Each message taken holds a slot until `finished()` is called for it."""
        with self._cond:
            if not self._ready and timeout > 0:
                self._cond.wait(timeout)
            out = list(self._ready)
            self._ready.clear()
        return out

    def finished(self, n: int = 1) -> None:
        """`n` taken messages are done with (deleted, dropped, left for redelivery or released): free their slots."""
        with self._cond:
            self._reserved -= n
            self._cond.notify_all()

    def delete_later(self, received: ReceivedJob) -> None:
        """Queue a delete for the acknowledger. Call only once the job's result is committed (or moot)."""
        with self._cond:
            self._acks.append(received)
            self._cond.notify_all()

    def pause(self) -> float:
        """No receive starts for a while (ERROR_BACKOFF_MIN, doubled by each consecutive error, jittered).
        Returns the pause in seconds."""
        with self._cond:
            self._backoff = min(ERROR_BACKOFF_MAX, max(ERROR_BACKOFF_MIN, self._backoff * 2))
            pause = jittered(self._backoff)
            self._paused_until = self._clock() + pause
            return pause

    def recovered(self) -> None:
        """A database call succeeded: the next error pauses for the minimum again."""
        self._backoff = 0.0

    def request_stop(self) -> None:
        """Stop asking for messages. Safe in a signal handler."""
        self.stop_requested = True

    def close_intake(self) -> list[ReceivedJob]:
        """Stop receiving and return what is in the handoff (received, never started): release it now.
        From here on a receive that returns hands its messages back itself."""
        self.stop_requested = True
        with self._cond:
            self._closed = True
            out = list(self._ready)
            self._ready.clear()
            self._reserved -= len(out)
            self._cond.notify_all()
        return out

    def shutdown(self, grace_left: float = 0.0) -> None:
        """Send the queued deletes (up to ACK_FLUSH_SECONDS) and wait for a receive in progress to return, up
        to `grace_left` (what remains of the stop's grace period) + RECEIVER_JOIN_SECONDS; what it returns is
        handed back (`_hand_over`: visible again after one long-poll wait). Waiting matters: a poll left
        running would take messages (a job just enqueued, or one another stopping checker handed back) that
        nobody starts or releases, hidden until their visibility timeout. A long poll request is never longer
        than the grace, so only a stalled network call (or botocore retrying one) outlasts this wait; that
        receiver is then abandoned (daemon thread) and what it gets returns after the visibility timeout,
        logged. Nothing is lost either way."""
        self.close_intake()
        with self._cond:
            self._acks_closed = True
            self._cond.notify_all()
        receiver_thread, ack_thread = self._threads or (None, None)
        started = time.monotonic()
        if ack_thread is not None:
            ack_thread.join(ACK_FLUSH_SECONDS)
        if receiver_thread is not None:
            waited = time.monotonic() - started
            receiver_thread.join(max(0.0, grace_left + RECEIVER_JOIN_SECONDS - waited))
        with self._cond:
            self._abandoned = True
        if receiver_thread is not None and receiver_thread.is_alive():
            log.warning("[CHECKER] shutdown: a receive still in progress after %.0f s is abandoned; messages it "
                        "returns become visible again after the visibility timeout",
                        time.monotonic() - started)
        if ack_thread is not None and ack_thread.is_alive():
            log.warning("[CHECKER] shutdown: deletes still pending after %.0f s; those messages will be "
                        "redelivered and dropped", ACK_FLUSH_SECONDS)

    def release(self, received: list[ReceivedJob], delay: int = 0) -> int:
        """release_many (visible after `delay` s) in the calling thread; counts them through `on_released`.
        Returns how many."""
        count = release_logged(self.queue, received, delay)
        if count:
            self._on_released(count)
        return count

    # -- receiver thread -----------------------------------------------------------------------------

    def _receive_loop(self) -> None:
        try:
            while not self.stop_requested:
                asked = self._reserve()
                if not asked:
                    continue
                started = time.monotonic()
                try:
                    batch = self.queue.receive(asked, self.wait_seconds)
                except Exception as exc:  # noqa: BLE001 - a queue outage must not kill the process
                    batch = []
                    if not self.stop_requested:
                        log.warning("[CHECKER] receive failed: %s: %s; next receive in %.1fs",
                                    exc.__class__.__name__, exc, self.pause())
                self._hand_over(asked, batch)
                if not batch and not self.stop_requested:
                    rest = MIN_EMPTY_RECEIVE_SECONDS - (time.monotonic() - started)
                    if rest > 0:
                        time.sleep(rest)
        finally:
            _close_thread_connection()

    def _reserve(self) -> int:
        """Reserve min(10, free slots) for the next receive; 0 (after a short wait) when full or paused."""
        with self._cond:
            free = self.capacity - self._reserved
            paused_for = self._paused_until - self._clock()
            if self._closed or free <= 0 or paused_for > 0:
                self._cond.wait(min(RECHECK_SECONDS, paused_for) if paused_for > 0 else RECHECK_SECONDS)
                return 0
            asked = min(MAX_BATCH_SIZE, free)
            self._reserved += asked
            self._receiving = True
            return asked

    def _hand_over(self, asked: int, batch: list[ReceivedJob]) -> None:
        with self._cond:
            self._receiving = False
            if self._abandoned:
                return  # shutdown is over: leave them to the visibility timeout (see shutdown())
            if not (self._closed or self.stop_requested):
                self._reserved -= asked - len(batch)
                self._ready.extend(batch)
                self._cond.notify_all()
                return
            self._reserved -= asked
        # The stop arrived while we were long-polling: hand these back, hidden for one long-poll wait. Visible
        # at once, they would go to the polls other stopping checkers of this pool (all signalled together)
        # still have open, each adding a receive that SQS counts towards dead-lettering; those polls began
        # before their stop, so they have all returned once this wait is over, and a running checker takes them.
        self.release(batch, delay=math.ceil(self.wait_seconds))

    # -- acknowledger thread -------------------------------------------------------------------------

    def _ack_loop(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._acks and not self._acks_closed:
                        self._cond.wait()
                    if not self._acks:
                        return
                    batch = [self._acks.popleft() for _ in range(min(ACK_BATCH, len(self._acks)))]
                delete_logged(self.queue, batch)
        finally:
            _close_thread_connection()


def delete_logged(queue: CheckQueue, batch: list[ReceivedJob]) -> None:
    """delete_many; a failure is logged, not raised: redelivery is harmless, recording is idempotent."""
    try:
        queue.delete_many(batch)
    except Exception as exc:  # noqa: BLE001
        log.warning("[CHECKER] delete of %d message(s) failed (%s: %s); they will be redelivered "
                    "and dropped", len(batch), exc.__class__.__name__, exc)


def release_logged(queue: CheckQueue, received: list[ReceivedJob], delay: int = 0) -> int:
    """release_many (visible after `delay` s); returns how many were released. A failure is logged and
    counts 0: the messages still come back after their visibility timeout."""
    if not received:
        return 0
    try:
        return queue.release_many(received, delay)
    except Exception as exc:  # noqa: BLE001
        log.warning("[CHECKER] release of %d message(s) failed (%s: %s); they return after the visibility "
                    "timeout", len(received), exc.__class__.__name__, exc)
        return 0


def _close_thread_connection() -> None:
    """Close this thread's database connection, if it opened one (the database queue does)."""
    try:
        if db.database.obj is not None and not db.database.is_closed():
            db.database.close()
    except Exception as exc:  # noqa: BLE001 - the thread is ending anyway
        log.debug("[CHECKER] closing a thread's database connection failed: %s", exc.__class__.__name__)
