"""Poison messages (bodies no scheduler writes, jobs for monitors that never existed or were deleted) queued
among healthy jobs, on SQS (moto_server, PostgreSQL) and on the database queue (the embedded SQLite default):
each is dropped with a log line at its first receive, and the healthy jobs received in the same batch are
checked and recorded at once, not after a visibility timeout."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from healthmon.models import CheckResult, Monitor, QueueMessage
from healthmon.queue.database import DatabaseQueue
from tests.conftest import make_settings
from tests.e2e.procs import REPO, Proc, base_env, wait_until
from tests.faults.delivery_support import PROMPTLY, database_at, job, recent_slot, sqs_queue, wait_pool_started
from tests.support.targets import TargetServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

UNREADABLE = {
    "not json": "{not json",
    "missing fields": '{"monitor": "not a job"}',
    "a number too big for any integer": '{"monitor_id": 1e400, "slot": "2026-01-20T10:30:00.000000"}',
    "nested too deep to parse": "[" * 50_000,
    "an id beyond 64 bits": '{"monitor_id": 9223372036854775808, "slot": "2026-01-20T10:30:00.000000"}',
}
"""Bodies that cannot be a job: deleted as malformed."""

HEALTHY = 8
NEVER_EXISTED = 999_999
CONCURRENCY = 20
"""Room for every message in one receive's batch on the database queue (SQS hands out 10 at a time)."""


def make_monitors(target: TargetServer) -> tuple[list[int], int]:
    """HEALTHY monitors to check, and the id of one that was deleted."""
    healthy = [Monitor.create(name=f"healthy {i}", url=target.url(f"/status/200?m={i}"), check_interval=60,
                              timeout=2).id for i in range(HEALTHY)]
    deleted = Monitor.create(name="deleted", url=target.url("/status/200?m=deleted"), check_interval=60, timeout=2)
    deleted.delete_instance()
    return healthy, deleted.id


def interleaved(healthy: list[int], deleted: int) -> list[tuple[str, object]]:
    """The messages in queue order, poison first in every pair: ("raw", body) or ("job", CheckJob)."""
    slot = recent_slot()
    poison: list[tuple[str, object]] = [("raw", body) for body in UNREADABLE.values()]
    poison += [("job", job(NEVER_EXISTED, slot)), ("job", job(deleted, slot))]
    healthy_jobs = [("job", job(mid, slot)) for mid in healthy]
    out = []
    for i in range(max(len(poison), len(healthy_jobs))):
        out += poison[i:i + 1] + healthy_jobs[i:i + 1]
    return out


def wait_recorded(url: str, healthy: list[int], started: float) -> float:
    """Seconds from `started` until every healthy job is recorded (at most PROMPTLY)."""
    def all_recorded():
        with database_at(url):
            return CheckResult.select().where(CheckResult.monitor.in_(healthy)).count() == len(healthy)
    wait_until(all_recorded, PROMPTLY, "every healthy job recorded", interval=0.2)
    return time.monotonic() - started


def assert_dropped_with_log_lines(pool: Proc) -> dict:
    """The pool stopped; every poison message was logged and counted, each healthy job recorded once."""
    out = pool.output()
    (stats,) = [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
                for line in re.findall(r"worker stopped: (.*)", out)]
    assert out.count("deleting malformed message") == len(UNREADABLE)
    assert f"monitor={NEVER_EXISTED} " in out and out.count("dropped unchecked") == 2
    assert (stats["recorded"], stats["malformed"], stats["dropped"]) == (HEALTHY, len(UNREADABLE), 2)
    assert stats["record_errors"] == 0
    return stats


def report(backend: str, took: float, stats: dict, left: int, dead: int) -> None:
    print(f"[{backend}] messages {HEALTHY + len(UNREADABLE) + 2} ({len(UNREADABLE)} unreadable, 2 for no monitor); "
          f"checks expected {HEALTHY} / stored {stats['recorded']} in {took:.1f} s; malformed dropped "
          f"{stats['malformed']}, unknown monitor dropped {stats['dropped']}; left in queue {left}, "
          f"dead-lettered {dead}")


def test_on_sqs_poison_messages_are_dropped_and_the_healthy_ones_recorded_at_once(distributed):
    queue = sqs_queue(distributed)
    client = distributed.sqs()
    with TargetServer() as target:
        with database_at(distributed.db_url):
            healthy, deleted = make_monitors(target)
        for kind, item in interleaved(healthy, deleted):
            if kind == "raw":
                client.send_message(QueueUrl=distributed.queue_url, MessageBody=item)
            else:
                queue.send_jobs([item])

        pool = distributed.start("checker", "checker", "--processes", "1", "--concurrency", str(CONCURRENCY))
        started = time.monotonic()
        wait_pool_started(pool, 1)
        took = wait_recorded(distributed.db_url, healthy, started)
        wait_until(lambda: distributed.queued() == 0, PROMPTLY, "every message deleted")
        assert pool.stop(30)[0] == 0, pool.output()[-3000:]

        stats = assert_dropped_with_log_lines(pool)
        dead = distributed.queued(distributed.dlq_url)
        report("sqs", took, stats, distributed.queued(), dead)
        assert dead == 0
        assert target.count("/status/200") == HEALTHY


def test_on_the_database_queue_poison_messages_are_dropped_and_the_healthy_ones_recorded_at_once(tmp_path):
    url = f"sqlite:///{tmp_path}/healthmon.db"
    env = base_env(DATABASE_URL=url)
    subprocess.run([sys.executable, "-m", "healthmon.cli", "init-db"], env=env, cwd=str(REPO), check=True,  # noqa: S603
                   capture_output=True, timeout=60)
    with TargetServer() as target:
        with database_at(url):
            healthy, deleted = make_monitors(target)
            queue = DatabaseQueue(make_settings(database_url=url))
            for kind, item in interleaved(healthy, deleted):
                if kind == "raw":
                    QueueMessage.create(body=item)
                else:
                    queue.send_jobs([item])

        pool = Proc("checker", ["checker", "--processes", "1", "--concurrency", str(CONCURRENCY)], env, tmp_path)
        try:
            started = time.monotonic()
            wait_pool_started(pool, 1)
            took = wait_recorded(url, healthy, started)

            def left():
                with database_at(url):
                    return QueueMessage.select().count()
            wait_until(lambda: left() == 0, PROMPTLY, "every message deleted")
            assert pool.stop(30)[0] == 0, pool.output()[-3000:]
        finally:
            pool.kill()

        stats = assert_dropped_with_log_lines(pool)
        report("database queue", took, stats, left(), 0)
        assert target.count("/status/200") == HEALTHY
