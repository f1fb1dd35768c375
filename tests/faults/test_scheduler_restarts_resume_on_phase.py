"""`kill -9` of the whole checker pool (its process group) and of the scheduler, then a restart: every monitor's
schedule resumes on its phase, with no burst of catch-up checks for the slots missed while everything was down
(they are counted as skipped), and no slot recorded twice.

Against PostgreSQL, SQS on moto_server and separate `healthmon scheduler` / `healthmon checker` processes.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from healthmon import sql
from healthmon.db import utcnow
from tests.e2e.procs import wait_until
from tests.faults.proc_support import (
    DRAIN_TIMEOUT,
    FAST_ENV,
    database_at,
    drain,
    kill_group,
    seed_monitors,
    slot_ledger,
    wait_for_log,
)
from tests.support.targets import TargetServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MONITORS = 30
INTERVAL = 2
CHECK_SECONDS = 1
"""How long the target takes to answer (the monitors' timeout is 2 s): each tick's jobs are in flight for most of
the second until the next tick, so the pool dies holding some (their messages come back after the visibility
timeout, and their slots are recorded then)."""

DOWN_SECONDS = 8
"""How long nothing runs: four intervals, so each monitor misses three or four slots."""

MOST_CHECKS_PER_INTERVAL = 3
"""A monitor's most checks within one interval after the restart: a job left queued at the kill (for a slot
before it), the one job for its latest missed slot, and the next on-time one. A catch-up of the missed slots
would be five or more."""


def _checks_after(since: dt.datetime) -> dict[int, list[dt.datetime]]:
    out: dict[int, list[dt.datetime]] = {}
    for mid, at in sql.query("SELECT monitor_id, checked_at FROM check_results WHERE checked_at > ? "
                             "ORDER BY monitor_id, checked_at", (since,)):
        out.setdefault(mid, []).append(sql.as_datetime(at))
    return out


def _most_in_one_interval(times: list[dt.datetime]) -> int:
    window, most, start = dt.timedelta(seconds=INTERVAL), 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def _resumed(since: dt.datetime) -> bool:
    """Every monitor has two slots after `since` recorded (a monitor whose job died with the pool waits for its
    redelivery, after the visibility timeout)."""
    counts = dict(sql.query("SELECT monitor_id, COUNT(*) FROM check_results WHERE slot > ? GROUP BY monitor_id",
                            (since,)))
    return len(counts) == MONITORS and min(counts.values()) >= 2


def test_killing_the_pool_and_the_scheduler_then_restarting_resumes_on_phase_without_a_burst(distributed):
    with TargetServer() as target:
        with database_at(distributed.db_url):
            firsts = seed_monitors(MONITORS, INTERVAL, lambda i: target.url(f"/slow-headers/{CHECK_SECONDS}?m={i}"),
                                   timeout=2)
        pool = distributed.start("checker1", "checker", "--processes", "2", "--concurrency", "20", **FAST_ENV)
        scheduler = distributed.start("scheduler1", "scheduler", **FAST_ENV)
        wait_for_log(pool, r"worker started", 2, 30)
        with database_at(distributed.db_url):
            wait_until(lambda: _resumed(min(firsts.values())), 40, "two checks of every monitor")
        wait_until(lambda: distributed.counts()[1] > 0, 10, "checks in flight")

        killed_at = utcnow()
        kill_group(scheduler)
        kill_group(pool)
        visible, in_flight = distributed.counts()
        time.sleep(DOWN_SECONDS)
        restarted_at = utcnow()
        pool = distributed.start("checker2", "checker", "--processes", "2", "--concurrency", "20", **FAST_ENV)
        scheduler = distributed.start("scheduler2", "scheduler", **FAST_ENV)
        with database_at(distributed.db_url):
            wait_until(lambda: _resumed(restarted_at), DRAIN_TIMEOUT, "two checks of every monitor after the restart")
        assert scheduler.stop(30)[0] == 0, scheduler.output()[-3000:]
        with database_at(distributed.db_url):
            drain()
        assert pool.stop(30)[0] == 0, pool.output()[-3000:]

        with database_at(distributed.db_url):
            ledger = slot_ledger(firsts, INTERVAL)
            after = _checks_after(restarted_at)
        # Slots that fell while everything was down, more than an interval before the restart, must never be
        # checked: the restarted scheduler enqueues one job per monitor, for its latest slot.
        old_window = (killed_at, restarted_at - dt.timedelta(seconds=INTERVAL))
        caught_up = sum(1 for slots in ledger.slots.values() for s in slots if old_window[0] < s <= old_window[1])
        burst = max(_most_in_one_interval(times) for times in after.values())
        print(f"\n[pool + scheduler kill -9, {DOWN_SECONDS} s down] queued at the kill: {visible} visible, "
              f"{in_flight} in flight; {ledger.line()}; old slots checked after the restart={caught_up}; "
              f"most checks of one monitor in one interval after the restart={burst}")

        assert in_flight > 0
        assert caught_up == 0
        assert burst <= MOST_CHECKS_PER_INTERVAL
        # The missed slots are counted, not lost; every slot before and after is on the monitor's grid.
        assert ledger.skipped >= MONITORS * (DOWN_SECONDS // INTERVAL - 2)
        assert ledger.lost == 0 and ledger.extra == 0 and ledger.doubled == 0 and ledger.off_grid == 0
        assert ledger.recorded + ledger.skipped == ledger.passed
        assert distributed.queued(distributed.dlq_url) == 0
