"""`healthmon scheduler`: call `Scheduler.tick()` every SCHEDULER_TICK seconds until SIGTERM/SIGINT,
prune data older than RESULT_RETENTION_DAYS every few minutes (healthmon.retention), and run the leased
background jobs: the rollups (healthmon.rollups) and the end-of-maintenance reports
(scheduler.maintenance_reports).

The loop only loops: the work is in `Scheduler.tick()`. A failed tick (database restarting, queue
throttled) is logged without secrets and retried after a back-off; the process only exits on a signal,
after finishing the tick in progress, with status 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time

from healthmon import rollups
from healthmon.backoff import OUTAGE_BACKOFF_MAX, backoff
from healthmon.db import bind, database
from healthmon.queue import open_queue
from healthmon.redact import redact_text
from healthmon.retention import PRUNE_INTERVAL_S, prune
from healthmon.settings import Settings
from scheduler import maintenance_reports
from scheduler.notices import NOTICE_EVERY_S, notice_step
from scheduler.scheduler import Scheduler

log = logging.getLogger("healthmon.scheduler")

BACKOFF_START = 1.0
BACKOFF_MAX = OUTAGE_BACKOFF_MAX
"""Seconds between retries after failed ticks, doubling from 1 s up to 15 s, each jittered (healthmon/backoff.py):
quick recovery from a blip, little log noise and load during a long outage (an RDS failover takes about a
minute), and the scheduler ticks again within 15 s of the database or queue coming back."""

SUMMARY_EVERY = 60.0
"""Seconds between INFO lines counting enqueued checks; per-tick counts are DEBUG (one a second)."""

SLEEP_SLICE = 0.1
"""Longest single sleep, so a stop request is noticed quickly even during a long back-off."""


class _Stop:
    """Set by SIGTERM/SIGINT; the loop checks it between ticks."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum, frame) -> None:  # signal handler
        self.requested = True


def _sleep(seconds: float, stop: _Stop) -> None:
    deadline = time.monotonic() + seconds
    while not stop.requested:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(SLEEP_SLICE, remaining))


def _one_line(exc: Exception) -> str:
    """The first line of the error, secrets masked (psycopg2 errors span several lines)."""
    lines = redact_text(str(exc)).strip().splitlines()
    return lines[0] if lines else "no detail"


def _drop_connection() -> None:
    """Forget a possibly broken connection; the next tick connects afresh."""
    # Closing a dead connection may itself fail; there is nothing more to do about it.
    with contextlib.suppress(Exception):
        database.close()


def run(settings: Settings, *, restore_signals: bool = True) -> int:
    """Run the scheduler loop until SIGTERM or SIGINT. Returns the exit status (0).

    `restore_signals=False` (the `healthmon scheduler` process) ignores SIGTERM and SIGINT once the loop and
    its cleanup are done, up to the process's exit: a supervisor that repeats its SIGTERM while the process
    winds down must not end it with the default action (exit -15) a moment before it would have exited 0.
    In-process callers (the default) get their own handlers back once the cleanup is done."""
    bind(settings.database_url)
    queue = open_queue(settings)
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _loop(settings, Scheduler(settings, queue), stop)
    finally:
        queue.close()
        _drop_connection()
        # Only after the cleanup: a repeated SIGTERM during it only asks again to stop.
        for sig, handler in previous.items():
            # The process itself ignores them from here on: at interpreter exit CPython puts the default
            # action back for every signal with a Python handler, and a repeat arriving then ended it with -15.
            signal.signal(sig, handler if restore_signals else signal.SIG_IGN)
    log.info("[SCHEDULER] stopped")
    return 0


def _prune(settings: Settings) -> None:
    """Retention is housekeeping: a failure is logged and retried at the next interval."""
    try:
        prune(settings.result_retention_days)
    except Exception as exc:  # noqa: BLE001
        log.warning("[RETENTION] prune failed (%s): %s", exc.__class__.__name__, _one_line(exc))
        _drop_connection()


def _notices() -> None:
    """Reminders and escalations (scheduler/notices.py): a failure is logged and retried at the next round."""
    try:
        notice_step()
    except Exception as exc:  # noqa: BLE001
        log.warning("[NOTICE] step failed (%s): %s", exc.__class__.__name__, _one_line(exc))
        _drop_connection()


def _loop(settings: Settings, scheduler: Scheduler, stop: _Stop) -> None:
    log.info(
        "[SCHEDULER] started: tick=%ss batch=%d queue=%s",
        settings.scheduler_tick, settings.scheduler_batch, settings.queue_backend,
    )
    failures = 0
    enqueued, summary_at = 0, time.monotonic() + SUMMARY_EVERY
    skipped_before, warned_at = scheduler.skipped, None
    prune_at = notices_at = time.monotonic()
    rollup_job, report_job = rollups.Periodic(), maintenance_reports.Periodic()
    while not stop.requested:
        started = time.monotonic()
        rollup_job.tick(started)  # before prune: raw results are pruned only once folded into rollups
        report_job.tick(started)
        if started >= prune_at:
            prune_at = started + PRUNE_INTERVAL_S
            _prune(settings)
        if started >= notices_at:
            notices_at = started + NOTICE_EVERY_S
            _notices()
        try:
            sent = scheduler.tick()
        except Exception as exc:  # noqa: BLE001 - any failure is retried; the loop must survive
            failures += 1
            delay = backoff(failures, BACKOFF_START, BACKOFF_MAX)
            log.warning(
                "[SCHEDULER] tick failed (%s): %s; retrying in %.1fs",
                exc.__class__.__name__, _one_line(exc), delay,
            )
            _drop_connection()
            _sleep(delay, stop)
            continue
        if failures:
            log.info("[SCHEDULER] tick succeeded again after %d failed attempt(s)", failures)
        failures = 0
        enqueued += sent
        if scheduler.skipped > skipped_before and (warned_at is None or started - warned_at >= SUMMARY_EVERY):
            warned_at = started
            log.warning(
                "[SCHEDULER] overloaded: skipped %d due check(s) whose previous check is still pending "
                "(checkers behind or down); see GET /stats", scheduler.skipped - skipped_before,
            )
        if time.monotonic() >= summary_at:
            log.info("[SCHEDULER] enqueued %d check(s), skipped %d in the last %.0fs",
                     enqueued, scheduler.skipped - skipped_before, SUMMARY_EVERY)
            enqueued, summary_at, skipped_before = 0, time.monotonic() + SUMMARY_EVERY, scheduler.skipped
        if sent >= settings.scheduler_batch:
            continue  # a backlog: the next batch at once rather than a tick later
        _sleep(settings.scheduler_tick - (time.monotonic() - started), stop)
