"""The checker pool parent (`healthmon checker`): restarts dead children, stops cleanly, obeys a second signal.

These run the real command in a subprocess on a SQLite file with the database queue.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import time
from pathlib import Path

import pytest

from healthmon.db import bind, database, utcnow
from healthmon.migrations import init_db
from healthmon.models import CheckResult, Monitor, QueueMessage
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue
from tests.conftest import make_settings
from tests.e2e.procs import Proc, base_env, wait_until
from tests.support.targets import TargetServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def children_of(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out |= {int(p) for p in (task / "children").read_text().split()}
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.fixture
def db_file(tmp_path):
    url = f"sqlite:///{tmp_path}/healthmon.db"
    bind(url)
    init_db()
    yield url
    database.close()


def start_pool(db_url: str, tmp_path: Path, processes: int = 2, **env) -> Proc:
    proc = Proc("checker", ["checker", "--processes", str(processes), "--concurrency", "5"],
                base_env(DATABASE_URL=db_url, **env), tmp_path)
    proc.wait_for(r"pool started", 20)
    wait_until(lambda: proc.output().count("worker started") == processes and "alert sender started"
               in proc.output(), 20, "all children started")
    return proc


def test_it_restarts_a_worker_that_dies(db_file, tmp_path):
    pool = start_pool(db_file, tmp_path)
    before = children_of(pool.pid)
    assert len(before) == 3  # two workers and the alert sender
    victim = min(before)

    os.kill(victim, signal.SIGKILL)

    pool.wait_for(rf"\(pid {victim}\) exited with code -9 .*restarting in 1 s", 10)
    pool.wait_for(r"restarted \(pid \d+\)", 10)
    after = wait_until(lambda: len(children_of(pool.pid)) == 3 and children_of(pool.pid), 10, "3 children")
    assert victim not in after and len(after - before) == 1

    code, took = pool.stop(30)
    assert code == 0 and took < 25
    assert not any(alive(pid) for pid in after)


def test_ctrl_c_to_the_whole_process_group_stops_it_cleanly(db_file, tmp_path):
    pool = start_pool(db_file, tmp_path)
    kids = children_of(pool.pid)

    os.killpg(pool.pid, signal.SIGINT)  # what a terminal does: every process in the group gets it

    code = pool.popen.wait(25)
    assert code == 0, pool.output()[-3000:]
    assert "worker stopped" in pool.output() and "pool stopped cleanly" in pool.output()
    assert not any(alive(pid) for pid in kids)


def _slow_jobs(db_url: str, url: str, count: int) -> None:
    slot = utcnow().replace(microsecond=0) - dt.timedelta(seconds=1)
    monitors = [Monitor.create(name=f"slow {i}", url=url, check_interval=60, timeout=20) for i in range(count)]
    DatabaseQueue(make_settings(database_url=db_url)).send_jobs(
        [CheckJob(m.id, slot, m.generation) for m in monitors])


def test_a_second_signal_exits_at_once_and_loses_no_message(db_file, tmp_path):
    with TargetServer() as target:
        _slow_jobs(db_file, target.url("/slow-headers/15"), 3)
        pool = start_pool(db_file, tmp_path, processes=1)
        kids = children_of(pool.pid)
        wait_until(lambda: QueueMessage.select().where(QueueMessage.receive_count == 1).count() == 3, 15,
                   "the three jobs received")

        pool.signal(signal.SIGTERM)
        pool.wait_for(r"stopping \(draining", 5)
        started = time.monotonic()
        pool.signal(signal.SIGTERM)
        code = pool.popen.wait(5)

        assert code != 0 and time.monotonic() - started < 3
        wait_until(lambda: not any(alive(pid) for pid in kids), 5, "children gone")
        # Killed mid-check: nothing recorded, every message still queued (it returns after its visibility timeout).
        assert CheckResult.select().count() == 0
        assert QueueMessage.select().count() == 3


def test_workers_stop_when_the_pool_parent_is_killed(db_file, tmp_path):
    pool = start_pool(db_file, tmp_path)
    kids = children_of(pool.pid)

    os.kill(pool.pid, signal.SIGKILL)
    pool.popen.wait(5)

    wait_until(lambda: not any(alive(pid) for pid in kids), 10, "orphaned workers to exit")
