"""Checks per second one checker Worker (one process) records, end to end: database queue -> pycurl engine ->
local target -> record_result -> delete. Usage:

    .venv/bin/python -m bench.worker_throughput [--jobs 2000] [--concurrency 100] [--db sqlite|URL]

The target is tests.support.targets.TargetServer (threaded, in this process), so the figure is a lower bound
bounded by this machine's CPU shared between target, worker and database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time

from checker.http import CheckEngine
from checker.worker import Worker
from healthmon.db import bind, utcnow
from healthmon.migrations import init_db
from healthmon.models import CheckResult, Monitor
from healthmon.netguard import AddressGuard
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue
from tests.conftest import make_settings
from tests.support.targets import TargetServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--db", default="sqlite")
    args = parser.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db" if args.db == "sqlite" else args.db
    bind(url)
    init_db()
    settings = make_settings(database_url=url)
    with TargetServer() as target:
        Monitor.insert_many([{"name": f"m{i}", "url": target.url(f"/?m={i}"), "check_interval": 60, "timeout": 5}
                             for i in range(args.jobs)]).execute()
        slot = utcnow().replace(microsecond=0) - dt.timedelta(seconds=1)
        queue = DatabaseQueue(settings)
        queue.send_jobs([CheckJob(m.id, slot) for m in Monitor.select(Monitor.id)])
        engine = CheckEngine(AddressGuard(settings.allowed_private_cidrs), max_concurrency=args.concurrency)
        worker = Worker(settings, queue, engine, concurrency=args.concurrency, idle_wait=0)
        started = time.monotonic()
        while worker.stats["recorded"] < args.jobs:
            worker.step()
        took = time.monotonic() - started
    ok = CheckResult.select().where(CheckResult.ok == True).count()  # noqa: E712
    print(f"{args.jobs} checks ({ok} ok) in {took:.1f} s = {args.jobs / took:.0f} checks/s "
          f"(1 worker, concurrency {args.concurrency}, {url.split(':')[0]})")


if __name__ == "__main__":
    main()
