"""PostgreSQL goes away for 30 s while everything runs (API, scheduler, a pool of two checker processes and its
alert sender, twenty monitors flipping UP and DOWN): first black-holed (established connections stall, new
ones hang), then stopped (sessions terminated, connections refused), then started again.

The user sees: the API answering 503 with a JSON message and Retry-After (never a 500, never a traceback),
`/health` answering as the guide says throughout, `/health/ready` 503; every process back to work by itself
within 30 s of the database's return; every transition alerted once, every job recorded, none twice.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from healthmon.db import bind, database, utcnow
from healthmon.models import AlertOutbox, CheckResult
from tests.e2e.conftest import Distributed
from tests.e2e.procs import wait_until
from tests.e2e.test_distributed import _worker_stats as worker_stats
from tests.faults.outage_support import (
    FORWARD,
    Outage,
    PrivatePostgres,
    TcpProxy,
    alert_counts,
    logged_since,
    offsets,
    recorded_counts,
)
from tests.support.targets import TargetServer
from tests.support.webhook import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

OUTAGE_SECONDS = 30
"""How long PostgreSQL is unreachable (the issue's figure): half black-holed, half stopped."""

RECONNECT_DEADLINE = 30
"""Every process must be working again this long after the database is back."""

MONITORS = 20
INTERVAL = 2
"""Monitors that flip UP, DOWN, UP on the target's /flap route, checked every 2 s."""

SLOW_MONITORS = 10
SLOW_SECONDS = 3
SLOW_INTERVAL = 5
"""Monitors whose target takes 3 s to answer, checked every 5 s: about six checks are in flight whenever the
database goes away, so results finished during the outage must wait in the checkers and be recorded later."""

SLOW_FAILS = 3
"""fail_threshold of the slow monitors: on a loaded machine a 3 s answer can pass their 4 s timeout now and
then; one such check must not count as an (unexpected) UP -> DOWN -> UP. They only ever go UNKNOWN -> UP."""

IN_FLIGHT_AT_OUTAGE = 3
"""The outage starts once at least this many jobs are received and not yet deleted (checks running)."""

VISIBILITY_TIMEOUT = 40
"""QUEUE_VISIBILITY_TIMEOUT of the deployment (the lowest allowed): a job received while the database was away
(its monitor could not be loaded) is left in the queue and comes back after this, so every monitor is checked
again within VISIBILITY_TIMEOUT of the return, however late in the outage its job was received."""
REQUEST_TIMEOUT = 20
"""Per API request: longer than the 10 s PostgreSQL connect timeout a black-holed connect waits out."""

DB_ERRORS = ("not recorded", "cannot load", "tick failed", "delivery pass failed", "recording the send failed",
             "Traceback")
"""Log lines of a process that could not use the database. None may appear once it has reconnected."""

LIVENESS_PERIOD = 0.5
"""Seconds between two /health probes during the outage."""

UNAVAILABLE = "The database is unavailable; retry in a few seconds."


def _probe(base: str, path: str, headers: dict | None = None) -> tuple[int, dict | str, dict, float, float]:
    started = time.monotonic()
    resp = requests.get(f"{base}{path}", headers=headers or {}, timeout=REQUEST_TIMEOUT)
    try:
        body = resp.json()
    except ValueError:
        body = resp.text
    return resp.status_code, body, dict(resp.headers), started, time.monotonic()


def _probe_until(base: str, path: str, outage: Outage, out: list) -> None:
    while not outage.over:
        out.append((path, *_probe(base, path)))
        time.sleep(LIVENESS_PERIOD)


def test_postgresql_unreachable_then_restarted_answers_503_and_loses_no_result_or_alert(moto_server, tmp_path):
    pg = PrivatePostgres()
    try:
        with TcpProxy(pg.port) as proxy, TargetServer() as target, WebhookReceiver() as hooks:
            deployment = Distributed(pg.url(port=proxy.port), moto_server, tmp_path)
            deployment.env["QUEUE_VISIBILITY_TIMEOUT"] = str(VISIBILITY_TIMEOUT)
            try:
                _run(deployment, pg, proxy, target, hooks)
            finally:
                deployment.close()
    finally:
        if database.obj is not None:
            database.close()
        pg.close()


def _run(deployment, pg, proxy, target, hooks) -> None:
    api_proc, api = deployment.start_api()
    scheduler = deployment.start("scheduler", "scheduler")
    checker = deployment.start("checker", "checker", "--processes", "2", "--concurrency", "10")
    procs = (api_proc, scheduler, checker)
    checker.wait_for(r"(?s)worker started.*worker started", 30)
    target.set_status(200)
    ids = [api.create_monitor(name=f"svc {i}", url=target.url(f"/flap?m={i}"), check_interval=INTERVAL, timeout=1,
                              fail_threshold=1, success_threshold=1, webhook_format="json",
                              webhook_url=hooks.url_for(f"/hook/{i}"))["id"] for i in range(MONITORS)]
    slow = [api.create_monitor(name=f"slow {i}", url=target.url(f"/slow-headers/{SLOW_SECONDS}?m={i}"),
                               check_interval=SLOW_INTERVAL, timeout=SLOW_SECONDS + 1, fail_threshold=SLOW_FAILS,
                               success_threshold=1, webhook_format="json",
                               webhook_url=hooks.url_for(f"/hook/slow/{i}"))["id"] for i in range(SLOW_MONITORS)]
    for mid in ids + slow:
        api.wait_status(mid, "UP")
    hooks.wait_for(MONITORS + SLOW_MONITORS, timeout=30)

    # DOWN from now on: some transitions are being recorded and alerted as the database goes away.
    target.set_status(500)
    wait_until(lambda: deployment.counts()[1] >= IN_FLIGHT_AT_OUTAGE, 30, "slow checks in flight")
    # ... and one that the target has just received: its answer comes SLOW_SECONDS later, inside the black hole,
    # so its recording must fail and be retried (jobs counted in flight may be only waiting to be deleted).
    wait_until(lambda: any(r["path"].startswith("/slow-headers/") and time.monotonic() - r["at"] < 1
                           for r in target.requests[-50:]), 30, "a slow check just sent")
    outage = Outage(proxy, OUTAGE_SECONDS, on_refuse=pg.stop, on_return=pg.start).start()
    probes = []
    # /health from a thread of its own, as a load balancer asks it, while the other requests wait on the database.
    liveness = threading.Thread(target=_probe_until, args=(api.base, "/health", outage, probes), daemon=True)
    liveness.start()
    while not outage.over:
        for path, headers in (("/monitors", dict(api.session.headers)), ("/health/ready", None)):
            probes.append((path, *_probe(api.base, path, headers)))
    outage.join()
    liveness.join(REQUEST_TIMEOUT)
    returned = outage.returned
    assert proxy.mode == FORWARD

    # Back: every process works again by itself. A fresh slot recorded for every monitor needs the scheduler
    # (claim, enqueue) and the checkers (load, record) to have reconnected.
    bind(pg.url())
    back_at, alerted = utcnow(), len(hooks.requests)

    def fresh(monitors):
        return sum(CheckResult.select().where((CheckResult.monitor == m) & (CheckResult.slot > back_at)).exists()
                   for m in monitors)

    def sender_caught_up():
        # An alert delivered since the return, or none waiting: when every DOWN was recorded and sent before
        # the outage began (a loaded machine is slower to reach IN_FLIGHT_AT_OUTAGE), there is nothing to send.
        pending = AlertOutbox.select().where(AlertOutbox.state == "pending").exists()
        return len(hooks.requests) > alerted or not pending

    # A new slot claimed, checked and recorded (scheduler and checkers), and the alert sender working.
    wait_until(lambda: fresh(ids) and sender_caught_up(), RECONNECT_DEADLINE + 10, "work after the return")
    reconnect = time.monotonic() - returned
    wait_until(lambda: fresh(ids + slow) == len(ids + slow), VISIBILITY_TIMEOUT + 10, "every monitor checked")
    all_checked = time.monotonic() - returned
    for mid in ids:
        api.wait_status(mid, "DOWN")
    marks = offsets(procs)  # every process has reconnected by now: no database error may follow
    target.set_status(200)
    for mid in ids:
        api.wait_status(mid, "UP")
    hooks.wait_for(3 * MONITORS + SLOW_MONITORS, timeout=40)
    ready_after = _probe(api.base, "/health/ready")

    # Drain: no new jobs, the queue empties, the pool stops; then count.
    assert scheduler.stop(30)[0] == 0, scheduler.output()[-3000:]
    wait_until(lambda: deployment.queued() == 0, 60, "the queue to drain")
    assert checker.stop(30)[0] == 0, checker.output()[-3000:]
    counts = recorded_counts()
    alerts = alert_counts(hooks, expected=counts["transitions"])
    dead = deployment.queued(deployment.dlq_url)
    api_during = [p for p in probes if p[0] == "/monitors" and p[4] > outage.started + 0.5 and p[5] < returned]
    health = [p for p in probes if p[0] == "/health"]
    ready_during = [p for p in probes if p[0] == "/health/ready" and p[4] > outage.started + 0.5
                    and p[5] < returned]
    stats = worker_stats(checker.output())
    print(f"\nPostgreSQL outage {OUTAGE_SECONDS} s: checks stored={counts['stored']} doubled={counts['doubled']} "
          f"jobs lost={counts['pending']} dead-lettered={dead}; transitions={counts['transitions']} "
          f"(expected {3 * MONITORS + SLOW_MONITORS}); alerts expected={alerts['alerts_expected']} "
          f"sent={alerts['alerts_sent']} "
          f"doubled={alerts['alerts_doubled']}; API during outage: {len(api_during)} x "
          f"{sorted({p[1] for p in api_during})}, /health {sorted({p[1] for p in health})} "
          f"(slowest {max(p[5] - p[4] for p in health):.1f} s), /health/ready {sorted({p[1] for p in ready_during})}"
          f"; working again {reconnect:.1f} s after the return, every monitor checked again after {all_checked:.1f} s"
          f"; checker commits failed during the outage "
          f"{sum(s['record_errors'] for s in stats)}, recorded {sum(s['recorded'] for s in stats)}")

    # The API during the outage: 503, JSON, a clear message, Retry-After; never a 500 or a traceback.
    assert api_during, "no API request completed inside the outage"
    for _path, status, body, headers, _s, _e in api_during:
        assert status == 503, (status, body)
        assert isinstance(body, dict) and body["message"] == UNAVAILABLE, body
        assert headers.get("Retry-After") == "5"
    assert all(p[1] != 500 and "Traceback" not in str(p[2]) for p in probes)
    assert all(p[1] == 200 and p[2] == {"status": "ok"} for p in health)
    assert ready_during and all(p[1] == 503 and p[2]["status"] == "unavailable" for p in ready_during)
    assert ready_after[0] == 200 and ready_after[1] == {"status": "ok", "database": "ok"}

    # Processes: none crashed, all back within the deadline, no database error after reconnecting.
    assert reconnect <= RECONNECT_DEADLINE
    for proc in procs:
        late = [line for line in logged_since(proc, marks).splitlines() if any(e in line for e in DB_ERRORS)]
        assert not late, f"{proc.name} still failing after the return:\n" + "\n".join(late[:10])
    assert "exited with code" not in checker.output()
    # The outage did hit checks in progress (else this test would prove little): their commits failed, and
    # every result is stored all the same.
    assert sum(s["record_errors"] for s in stats) > 0
    assert sum(s["recorded"] for s in stats) == counts["stored"]

    # Nothing lost, nothing twice.
    assert counts["doubled"] == 0 and counts["pending"] == 0 and dead == 0
    assert counts["transitions"] == 3 * MONITORS + SLOW_MONITORS
    assert alerts["alerts_sent"] == counts["transitions"] and alerts["alerts_doubled"] == 0
    api_proc.stop(30)
