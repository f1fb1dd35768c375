"""How long one scheduler tick takes to claim and enqueue N due monitors with the database queue.

    .venv/bin/python bench/scheduler_tick.py [--due 1000] [--total 10000] [--rounds 5]
        [--pg postgresql://postgres@127.0.0.1:5432/postgres]   # server on which a scratch DB is made

`--total` monitors exist, `--due` of them are due; each round resets them and times one tick
(SCHEDULER_BATCH = --due). Prints min and median per engine. Pass `--pg ''` to skip PostgreSQL.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from healthmon.db import bind, database  # noqa: E402
from healthmon.migrations import init_db  # noqa: E402
from healthmon.models import Monitor, QueueMessage  # noqa: E402
from healthmon.queue.database import DatabaseQueue  # noqa: E402
from healthmon.settings import Settings  # noqa: E402
from scheduler.scheduler import Scheduler  # noqa: E402

NOW = dt.datetime(2026, 1, 20, 10, 30)


def populate(total: int) -> None:
    rows = [
        {"name": f"m{i}", "url": f"https://m{i}.example/", "check_interval": 60, "timeout": 5,
         "next_check_at": NOW + dt.timedelta(hours=1)}
        for i in range(total)
    ]
    with database.atomic():
        for start in range(0, total, 500):
            Monitor.insert_many(rows[start : start + 500]).execute()


def reset(due: int) -> None:
    with database.atomic():
        QueueMessage.delete().execute()
        Monitor.update(next_check_at=NOW + dt.timedelta(hours=1)).execute()
        ids = Monitor.select(Monitor.id).order_by(Monitor.id).limit(due)
        Monitor.update(next_check_at=NOW - dt.timedelta(seconds=1)).where(Monitor.id.in_(ids)).execute()


def bench(url: str, due: int, total: int, rounds: int) -> list[float]:
    bind(url)
    init_db()
    populate(total)
    settings = dataclasses.replace(Settings.from_env({"DATABASE_URL": url}), scheduler_batch=due)
    scheduler = Scheduler(settings, DatabaseQueue(settings))
    times = []
    for _ in range(rounds):
        reset(due)
        started = time.perf_counter()
        enqueued = scheduler.tick(now=NOW)
        times.append(time.perf_counter() - started)
        assert enqueued == due, enqueued
    database.close()
    return times


def report(name: str, times: list[float], due: int) -> None:
    print(f"{name:<11} {due} due: min {min(times) * 1000:7.1f} ms  median {statistics.median(times) * 1000:7.1f} ms"
          f"  ({due / statistics.median(times):,.0f} jobs/s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        report("sqlite", bench(f"sqlite:///{tmp}/bench.db", args.due, args.total, args.rounds), args.due)

    if args.pg:
        import psycopg2

        name = f"healthmon_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg2.connect(args.pg)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        try:
            url = urlunsplit(urlsplit(args.pg)._replace(path=f"/{name}"))
            report("postgresql", bench(url, args.due, args.total, args.rounds), args.due)
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


if __name__ == "__main__":
    main()
