"""The production shape: PostgreSQL, SQS with a dead-letter queue, and `healthmon api`, `healthmon scheduler`
and `healthmon checker` as separate processes."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

import pytest

from healthmon.db import bind, database, utcnow
from healthmon.models import CheckResult, Monitor, StateChange
from healthmon.queue.base import CheckJob
from healthmon.queue.sqs import SqsQueue
from tests.e2e.procs import free_port, wait_until
from tests.e2e.scenario import INTERVAL, WEBHOOK_SECRET, Api, flap_monitor_and_watch_alerts
from tests.support.targets import TargetServer
from tests.support.webhook import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SLOW_SECONDS = 3
"""How long the load test's target takes to answer: longer than the checker's 2 s shutdown grace."""


@contextlib.contextmanager
def database_at(url: str):
    """Bind this test process to the deployment's database (the services use their own connections)."""
    db = bind(url)
    try:
        yield db
    finally:
        database.close()


def test_separate_services_take_a_monitor_up_down_and_up_with_one_slack_message_each(distributed):
    with TargetServer() as target, WebhookReceiver() as slack:
        api_proc, api = distributed.start_api()
        scheduler = distributed.start("scheduler", "scheduler")
        checker = distributed.start("checker", "checker", "--processes", "1", "--concurrency", "10")
        checker.wait_for(r"worker started .*sqs queue", 30)

        flap_monitor_and_watch_alerts(api, target, slack)

        out = checker.output()
        assert "[STATE CHANGE] monitor=1 UNKNOWN -> UP" in out
        assert "[STATE CHANGE] monitor=1 UP -> DOWN" in out
        assert "[STATE CHANGE] monitor=1 DOWN -> UP" in out
        assert "[WEBHOOK] sent status=200" in out
        for proc in (api_proc, scheduler, checker):
            assert WEBHOOK_SECRET not in proc.output()
            code, took = proc.stop(30)
            assert code == 0, proc.output()[-3000:]
        assert distributed.queued(distributed.dlq_url) == 0


def _worker_stats(output: str) -> list[dict]:
    return [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
            for line in re.findall(r"worker stopped: (.*)", output)]


def test_two_schedulers_and_two_checker_pools_check_each_slot_once_and_alert_once(distributed):
    monitors = 10
    with TargetServer() as target, WebhookReceiver() as slack:
        api_proc, api = distributed.start_api()
        # DEBUG: each scheduler logs every tick's count, so the test can add up what was enqueued.
        schedulers = [distributed.start(f"scheduler{i}", "scheduler", LOG_LEVEL="DEBUG") for i in (1, 2)]
        pools = [distributed.start(f"checker{i}", "checker", "--processes", "1", "--concurrency", "10")
                 for i in (1, 2)]
        for pool in pools:
            pool.wait_for(r"worker started", 30)
        ids = [api.create_monitor(name=f"svc {i}", url=target.url(f"/status/200?m={i}"), check_interval=INTERVAL,
                                  timeout=1, webhook_url=slack.url_for(f"/hook/{i}"), webhook_format="slack")["id"]
               for i in range(monitors)]
        with database_at(distributed.db_url):
            wait_until(lambda: all(CheckResult.select().where(CheckResult.monitor == i).count() >= 4 for i in ids),
                       40, "four checks of every monitor")
        assert all(api.monitor(i)["status"] == "UP" for i in ids)
        slack.wait_for(monitors, timeout=20)

        for proc in schedulers:  # no new jobs from here on; let the pools drain the queue, then stop them
            assert proc.stop(30)[0] == 0
        wait_until(lambda: distributed.queued() == 0, 30, "the queue to drain")
        for proc in pools:
            assert proc.stop(30)[0] == 0, proc.output()[-3000:]

        enqueued = sum(int(n) for p in schedulers for n in re.findall(r"enqueued (\d+) check", p.output()))
        with database_at(distributed.db_url):
            results = list(CheckResult.select(CheckResult.monitor, CheckResult.slot).tuples())
            changes = list(StateChange.select(StateChange.monitor, StateChange.to_status).tuples())
        # Every enqueued job was checked and recorded exactly once: no slot was enqueued twice.
        assert enqueued == len(results) and len(set(results)) == len(results)
        for mid in ids:
            slots = sorted(s for m, s in results if m == mid)
            assert all((b - a).total_seconds() >= INTERVAL for a, b in zip(slots, slots[1:], strict=False)), slots
        assert sorted(changes) == sorted((mid, "UP") for mid in ids)
        # One alert per state change, whichever process recorded it (both alert senders have stopped now).
        assert sorted(r.path for r in slack.requests) == sorted(f"/hook/{i}" for i in range(monitors))
        recorded = [s["recorded"] for p in pools for s in _worker_stats(p.output())]
        assert sum(recorded) == len(results) and len(recorded) == 2
        print("checks recorded per pool:", recorded)
        assert distributed.queued(distributed.dlq_url) == 0
        api_proc.stop(30)


def test_sigterm_under_load_exits_within_25_seconds_and_loses_no_job(distributed, monkeypatch):
    jobs_total = 200
    with TargetServer() as target:
        with database_at(distributed.db_url):
            Monitor.insert_many([{"name": f"slow {i}", "url": target.url(f"/slow-headers/{SLOW_SECONDS}?m={i}"),
                                  "check_interval": 60, "timeout": 10} for i in range(jobs_total)]).execute()
            slot = utcnow().replace(microsecond=0) - dt.timedelta(seconds=1)
            jobs = {(m.id, slot) for m in Monitor.select(Monitor.id)}
        for key, value in distributed.moto.env.items():
            monkeypatch.setenv(key, value)
        queue = SqsQueue(distributed.moto.settings(sqs_queue_url=distributed.queue_url))
        assert queue.send_jobs([CheckJob(mid, s) for mid, s in jobs]) == jobs_total

        pool = distributed.start("checker", "checker", "--processes", "2", "--concurrency", "50",
                                 SHUTDOWN_GRACE=2)
        with database_at(distributed.db_url):
            # The first 100 done: the next 100 have just started, and need longer than the grace period.
            wait_until(lambda: CheckResult.select().count() >= 100, 40, "the first hundred checks")
        code, took = pool.stop(30)

        assert code == 0, pool.output()[-3000:]
        assert took < 25
        with database_at(distributed.db_url):
            recorded = {(m, s) for m, s in CheckResult.select(CheckResult.monitor, CheckResult.slot).tuples()}
        # A job a long poll brought after the stop is handed back hidden for one poll wait (here 2 s, the
        # grace), so another stopping process's open poll cannot take it again; then it is visible.
        wait_until(lambda: distributed.counts()[1] == 0, 5, "no job left in flight")
        remaining = []
        client = distributed.sqs()
        while batch := client.receive_message(QueueUrl=distributed.queue_url, MaxNumberOfMessages=10,
                                              VisibilityTimeout=60).get("Messages"):
            remaining += [(j.monitor_id, j.slot) for j in (CheckJob.from_json(m["Body"]) for m in batch)]
        # Every job is either recorded or back in the queue; none both, none twice, none dead-lettered.
        assert recorded | set(remaining) == jobs
        assert not recorded & set(remaining) and len(remaining) == len(set(remaining))
        assert distributed.queued(distributed.dlq_url) == 0
        # Some were mid-check when the grace ran out and were released (the rest were never received). Not
        # `released <= len(remaining)`: SQS is at-least-once, and a message delivered to both workers at once
        # (moto does this now and then) can be recorded by one and released by the other.
        released = sum(s["released"] for s in _worker_stats(pool.output()))
        assert released > 0, pool.output()[-3000:]


def test_healthmon_up_runs_on_postgresql_and_sqs_when_they_are_configured(distributed):
    port = free_port()
    with TargetServer() as target:
        up = distributed.start("up", "up", "--port", str(port))
        up.wait_for(r"healthmon is ready", 60)
        out = up.output()
        assert "starting on PostgreSQL" in out and ", SQS" in out
        assert "[SCHEDULER] started" in out and "queue=sqs" in out and "sqs queue)" in out
        key = re.search(r"export HEALTHMON_API_KEY=(\S+)", out).group(1)
        api = Api(f"http://127.0.0.1:{port}", key)
        mid = api.create_monitor(name="pg", url=target.url("/"), check_interval=INTERVAL, timeout=1)["id"]
        api.wait_status(mid, "UP")
        assert distributed.queued(distributed.dlq_url) == 0
        code, took = up.stop(40)
        assert code == 0, up.output()[-3000:]


def test_sigterm_at_the_default_grace_hands_back_checks_that_cannot_finish_within_25_seconds(distributed, monkeypatch):
    # Defaults: SHUTDOWN_GRACE 20 s, QUEUE_WAIT_SECONDS 20 s. Ten slots (2 x 5); four quick jobs finish, then ten
    # of twelve endless ones (a 30 s timeout, longer than the grace) fill the slots and two wait in the queue.
    with TargetServer() as target:
        with database_at(distributed.db_url):
            quick = [Monitor.create(name=f"quick {i}", url=target.url(f"/?m={i}"), check_interval=60, timeout=5)
                     for i in range(4)]
            endless = [Monitor.create(name=f"drip {i}", url=target.url(f"/drip?m={i}"), check_interval=60,
                                      timeout=30) for i in range(12)]
            slot = utcnow().replace(microsecond=0) - dt.timedelta(seconds=1)
        for key, value in distributed.moto.env.items():
            monkeypatch.setenv(key, value)
        queue = SqsQueue(distributed.moto.settings(sqs_queue_url=distributed.queue_url))
        queue.send_jobs([CheckJob(m.id, slot) for m in quick + endless])
        pool = distributed.start("checker", "checker", "--processes", "2", "--concurrency", "5",
                                 QUEUE_WAIT_SECONDS=20)
        with database_at(distributed.db_url):
            wait_until(lambda: CheckResult.select().count() == 4, 30, "the quick checks recorded")
        wait_until(lambda: distributed.counts() == (2, 10), 30, "ten checks running, two jobs waiting")

        code, took = pool.stop(30)

        assert code == 0, pool.output()[-3000:]
        assert took <= 25
        print(f"stopped in {took:.1f} s")
        # Right away (no visibility timeout to wait for): the ten aborted checks are visible again with the two
        # never received; nothing in flight, nothing lost, nothing dead-lettered, nothing recorded twice.
        assert distributed.counts() == (12, 0)
        assert distributed.queued(distributed.dlq_url) == 0
        with database_at(distributed.db_url):
            assert sorted(m for m, in CheckResult.select(CheckResult.monitor).tuples()) == [m.id for m in quick]
        stats = _worker_stats(pool.output())
        logged = [int(n) for n in re.findall(r"shutdown: released (\d+) unfinished", pool.output())]
        assert sum(s["released"] for s in stats) == 10 and sorted(logged) == sorted(s["released"] for s in stats)
