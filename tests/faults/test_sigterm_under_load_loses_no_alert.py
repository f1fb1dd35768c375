"""SIGTERM to a checker pool under load, with alerts waiting in the outbox and one being POSTed: the pool exits 0
within the grace, the alert in progress is completed (not left leased, to be re-sent later), the checks in flight
are recorded or handed back, and every alert still pending is delivered exactly once by the next pool.

Against PostgreSQL, SQS on moto_server and separate `healthmon scheduler` / `healthmon checker` processes; the
scheduler keeps running throughout, as in a rolling deploy of the checkers.
"""

from __future__ import annotations

import pytest

from healthmon.db import utcnow
from healthmon.models import AlertOutbox, StateChange
from tests.e2e.procs import wait_until
from tests.faults.proc_support import (
    VISIBILITY_TIMEOUT,
    alert_tally,
    database_at,
    drain,
    pending_alerts,
    seed_monitors,
    slot_ledger,
    wait_for_log,
)
from tests.support.targets import TargetServer
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MONITORS = 40
INTERVAL = 2
ALERT_SECONDS = 0.25
"""How long the receiver takes to answer each alert: 40 transitions take the one sender 10 s or more, so the
outbox is full when the SIGTERM arrives and the sender is, most of the time, in the middle of a POST."""

STOP_LIMIT = 25.0
"""The pool must exit within SHUTDOWN_GRACE (20 s, the default) + the parent's 5 s margin, under ECS's 30 s."""

POOL_ENV = {"QUEUE_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT, "QUEUE_WAIT_SECONDS": 20}
"""Defaults otherwise (20 s grace, 20 s long polls): the production settings."""


def _in_progress() -> int:
    """Alerts claimed (leased) and not finished: a sender holds them, or died holding them."""
    return AlertOutbox.select().where((AlertOutbox.state == "pending") & (AlertOutbox.locked_until > utcnow())).count()


def test_sigterm_under_load_exits_in_time_and_every_pending_alert_is_delivered_once(distributed):
    with TargetServer() as target, WebhookReceiver(default=Reply(delay=ALERT_SECONDS)) as hooks:
        with database_at(distributed.db_url):
            firsts = seed_monitors(MONITORS, INTERVAL, lambda i: target.url(f"/flap?m={i}"),
                                   lambda i: hooks.url_for(f"/hook/{i}"))
        scheduler = distributed.start("scheduler", "scheduler", QUEUE_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT)
        pool = distributed.start("checker1", "checker", "--processes", "2", "--concurrency", "20", **POOL_ENV)
        wait_for_log(pool, r"worker started", 2, 30)
        with database_at(distributed.db_url):
            wait_until(lambda: StateChange.select().count() == MONITORS, 40, "every monitor UP")
            target.set_status(500)  # the next state changes are on their way while the pool stops
            wait_until(lambda: StateChange.select().where(StateChange.to_status == "DOWN").count() > 0, 20,
                       "the first DOWN recorded")
            sent_before = len(hooks.requests)
            waiting = pending_alerts()
            code, took = pool.stop(40)
            in_progress, left = _in_progress(), pending_alerts()
            # A job a long poll brought after the stop is handed back hidden for one poll wait (20 s), so
            # that the other stopping process's open poll cannot take it again: give it that long.
            hidden_at_exit = distributed.counts()[1]
            # Every received job was recorded and deleted, or handed back: none stays in flight until its
            # visibility timeout (VISIBILITY_TIMEOUT, far longer than this wait).
            wait_until(lambda: distributed.counts()[1] == 0, 25, "no received job left in flight")

        pool = distributed.start("checker2", "checker", "--processes", "2", "--concurrency", "20", **POOL_ENV)
        with database_at(distributed.db_url):
            wait_until(lambda: StateChange.select().count() == 2 * MONITORS, 60, "every monitor DOWN")
            assert scheduler.stop(30)[0] == 0, scheduler.output()[-3000:]
            drain()
            assert pool.stop(30)[0] == 0, pool.output()[-3000:]
            ledger = slot_ledger(firsts, INTERVAL)
            tally = alert_tally(hooks.requests)
        print(f"\n[SIGTERM under load] exit={code} in {took:.1f} s; alerts pending at SIGTERM={waiting} "
              f"(sent before={sent_before}), left for the next pool={left}, left leased={in_progress}; "
              f"messages hidden at the exit={hidden_at_exit}; {ledger.line()}; {tally.line()}")

        assert code == 0 and took < STOP_LIMIT
        assert waiting > 0 and left > 0  # the next pool had alerts to deliver
        assert in_progress == 0  # the alert being POSTed at the SIGTERM was finished and recorded
        assert tally.stored == 2 * MONITORS and tally.mismatched_monitors == 0
        assert tally.sent == tally.stored and tally.doubled == 0 and tally.missing == 0 and tally.unknown == 0
        assert ledger.lost == 0 and ledger.extra == 0 and ledger.doubled == 0 and ledger.off_grid == 0
        assert distributed.queued(distributed.dlq_url) == 0
