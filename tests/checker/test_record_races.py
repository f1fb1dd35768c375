"""Races: one job recorded by several threads or processes at once, and different slots racing on one monitor.

Threads and processes each open their own connections, so these are real concurrent transactions:
PostgreSQL serialises them on the monitor's row lock, SQLite on its IMMEDIATE write lock.
"""

import datetime as dt
import multiprocessing
import threading

import pytest

from checker.record import record_result
from healthmon.db import bind, database
from healthmon.models import AlertOutbox, CheckResult, Monitor, StateChange
from healthmon.queue.base import CheckJob
from tests.checker.verdicts import verdict
from tests.conftest import make_settings

T0 = dt.datetime(2026, 1, 20, 10, 30, 0)
OK = verdict(200, 5.0)
FAIL = verdict(None, 5.0, "connect", "connection refused")

pytestmark = pytest.mark.timeout(60)


def _in_threads(n, fn):
    barrier = threading.Barrier(n)
    outcomes: list = [None] * n
    errors: list = []

    def body(i):
        try:
            barrier.wait()
            outcomes[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            if not database.is_closed():
                database.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    return outcomes


def test_the_same_job_from_four_threads_at_once_records_once_and_alerts_once(db, settings):
    m = Monitor.create(name="m", url="https://a.example/", check_interval=30, timeout=5,
                       success_threshold=1, webhook_url="https://receiver.example/hook")
    job = CheckJob(m.id, T0, 1)
    outcomes = _in_threads(4, lambda i: record_result(job, OK, settings))
    assert sorted(o.recorded for o in outcomes) == [False, False, False, True]
    assert {o.reason for o in outcomes if not o.recorded} == {"duplicate"}
    assert CheckResult.select().count() == 1
    assert StateChange.select().count() == 1 and AlertOutbox.select().count() == 1
    assert Monitor.get_by_id(m.id).consecutive_successes == 1


def test_two_slots_racing_on_one_monitor_never_lose_an_update(db, settings):
    for round_ in range(5):
        m = Monitor.create(name=f"m{round_}", url="https://a.example/", check_interval=30, timeout=5,
                           fail_threshold=2, webhook_url="https://receiver.example/hook")
        jobs = [CheckJob(m.id, T0, 1), CheckJob(m.id, T0 + dt.timedelta(seconds=30), 1)]
        outcomes = _in_threads(2, lambda i, jobs=jobs: record_result(jobs[i], FAIL, settings))
        recorded = sum(o.recorded for o in outcomes)
        m = Monitor.get_by_id(m.id)
        # Either both were recorded (older first) or the newer won and the older was dropped as stale;
        # in both cases the counters match exactly what was recorded.
        assert recorded in (1, 2)
        if recorded == 1:
            assert outcomes[0].reason == "stale" and outcomes[1].recorded
        assert m.consecutive_failures == recorded
        assert m.last_slot == jobs[1].slot
        assert m.status == ("DOWN" if recorded == 2 else "UNKNOWN")
        changes = StateChange.select().where(StateChange.monitor == m.id).count()
        assert changes == (1 if recorded == 2 else 0)
        assert AlertOutbox.select().where(AlertOutbox.monitor_id == m.id).count() == changes


def _record_in_child(db_url, monitor_id, start, results):
    """Runs in a fresh process: bind our own database, wait for the sibling, record the same job."""
    bind(db_url)
    settings = make_settings(database_url=db_url)
    start.wait(20)
    outcome = record_result(CheckJob(monitor_id, T0, 1), OK, settings)
    database.close()
    results.put((outcome.recorded, outcome.reason))


def test_two_processes_recording_the_same_job_write_one_alert(db_url):
    m = Monitor.create(name="m", url="https://a.example/", check_interval=30, timeout=5,
                       success_threshold=1, webhook_url="https://hooks.slack.com/services/T/B/x")
    database.close()  # hold no connection (and on SQLite no lock) while the children race
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_record_in_child, args=(db_url, m.id, start, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=40) for _ in procs)
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    assert outcomes == [(False, "duplicate"), (True, "recorded")]
    assert CheckResult.select().count() == 1
    assert StateChange.select().count() == 1
    assert AlertOutbox.select().count() == 1
