"""`kill -9` of checker worker processes, again and again, while 100 monitors flip UP and DOWN: no slot is lost or
counted twice (each is recorded once or counted skipped) and every state change is alerted exactly once.

Against the production shape (PostgreSQL, SQS on moto_server, `healthmon scheduler` and `healthmon checker` as
separate processes). The workers are killed, not the alert sender: a sender killed between its POST and the
commit that marks the alert sent re-sends it (Slack webhooks have no idempotency key; docs/alerts.md), which is
the one documented duplicate, and the SIGTERM test covers the sender stopping.
"""

from __future__ import annotations

import os
import random
import re
import signal
import threading
import time

import pytest

from tests.e2e.procs import wait_until
from tests.faults.proc_support import (
    FAST_ENV,
    alert_tally,
    database_at,
    drain,
    seed_monitors,
    slot_ledger,
    wait_for_log,
    worker_pids,
)
from tests.support.targets import TargetServer
from tests.support.webhook import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MONITORS = 100
INTERVAL = 2
"""Seconds between a monitor's checks: 50 checks a second in all, well within moto_server's capacity."""

FLIP_SECONDS = 6
"""The target answers 200, then 500, then 200 ... for this long each: three checks per phase, one more than the
default thresholds (2) need, so a monitor that is not held up by a crash changes state at every flip."""

KILLS = 6
KILL_EVERY = 3.0
"""A worker is SIGKILLed every 3 s, six times: each kill loses the checks it had in flight, unrecorded results
and unsent deletes; the pool restarts the worker after its back-off (1, 2, 4 ... s)."""

KILL_SEED = 11
"""Which worker each kill hits is random, but the same in every run."""


def _flip(target: TargetServer, stop: threading.Event, flips: list[int]) -> None:
    status = 200
    while not stop.wait(FLIP_SECONDS):
        status = 500 if status == 200 else 200
        target.set_status(status)
        flips.append(status)


def test_killing_checker_workers_every_few_seconds_loses_no_slot_and_alerts_each_transition_once(distributed):
    rng = random.Random(KILL_SEED)
    with TargetServer() as target, WebhookReceiver() as hooks:
        with database_at(distributed.db_url):
            firsts = seed_monitors(MONITORS, INTERVAL, lambda i: target.url(f"/flap?m={i}"),
                                   lambda i: hooks.url_for(f"/hook/{i}"))
        pool = distributed.start("checker", "checker", "--processes", "2", "--concurrency", "20", **FAST_ENV)
        scheduler = distributed.start("scheduler", "scheduler", **FAST_ENV)
        wait_for_log(pool, r"worker started", 2, 30)
        hooks.wait_for(MONITORS // 2, timeout=30)  # UNKNOWN -> UP under way: the system is working
        stop_flipping, flips = threading.Event(), []
        flipper = threading.Thread(target=_flip, args=(target, stop_flipping, flips), daemon=True)
        flipper.start()

        killed = []
        for _ in range(KILLS):
            time.sleep(KILL_EVERY)
            victims = wait_until(lambda: worker_pids(pool), 30, "a live worker to kill")
            victim = rng.choice(victims)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
        stop_flipping.set()
        flipper.join()

        assert scheduler.stop(30)[0] == 0, scheduler.output()[-3000:]
        with database_at(distributed.db_url):
            drain()
        code, _ = pool.stop(30)
        assert code == 0, pool.output()[-3000:]

        with database_at(distributed.db_url):
            ledger = slot_ledger(firsts, INTERVAL)
            tally = alert_tally(hooks.requests)
        deaths = len(re.findall(r"worker-\d \(pid \d+\) exited with code -9", pool.output()))
        print(f"\n[checker kill -9] kills={len(killed)} deaths seen={deaths} flips={len(flips)}; "
              f"{ledger.line()}; {tally.line()}")

        assert deaths == KILLS
        # The kills hit work in flight: monitors whose job was lost waited for its redelivery, their slots
        # meanwhile counted as skipped.
        assert ledger.skipped > 0
        assert ledger.lost == 0 and ledger.extra == 0 and ledger.doubled == 0 and ledger.off_grid == 0
        assert ledger.recorded + ledger.skipped == ledger.passed
        # State and alerts: the stored changes are the model's, each alerted exactly once, in order.
        assert tally.stored >= 2 * MONITORS
        assert tally.mismatched_monitors == 0 and tally.stored == tally.modelled
        assert tally.doubled == 0 and tally.missing == 0 and tally.unknown == 0
        assert tally.sent == tally.stored
        assert distributed.queued(distributed.dlq_url) == 0
