"""How long one scheduler tick takes to claim and enqueue N due monitors with the database queue.

    .venv/bin/python bench/scheduler_tick.py [--due 1000] [--total 10000] [--rounds 5]
        [--pg postgresql://postgres@127.0.0.1:5432/postgres]   # server on which a scratch DB is made
        [--moto]   # also: lock hold per transaction with SQS (a local moto_server), per sub-batch size
        [--sqs-latency-ms 15]   # also: the same with a fake SQS client whose every call takes this long
        [--send-threads 8]   # SendMessageBatch calls at once (sqs.SEND_THREADS); 1 = the old sequential sends
        [--sub-batches 500,100]   # sub-batch sizes timed with --moto
        [--smoke]   # seconds: 50 due of 200, 1 round, and the fake SQS client (1 ms) at sub-batches 10,25

`--total` monitors exist, `--due` of them are due; each round resets them and times one tick
(SCHEDULER_BATCH = --due). Three cases per engine, because `claim_due` runs one query for monitors
awaiting their first check before the oldest-first one:
  checked  the due monitors have been checked before (the steady state);
  new      the due monitors await their first check (just created or edited);
  backlog  every monitor is due and checked (after downtime): the first-check query finds none among them.
Prints min and median per engine and case. Pass `--pg ''` to skip PostgreSQL.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scheduler.scheduler as scheduler_module  # noqa: E402
from healthmon.db import bind, database  # noqa: E402
from healthmon.migrations import init_db  # noqa: E402
from healthmon.models import Monitor, QueueMessage  # noqa: E402
from healthmon.queue.database import DatabaseQueue  # noqa: E402
from healthmon.settings import Settings  # noqa: E402
from scheduler.scheduler import LOCAL_SUB_BATCH, REMOTE_SUB_BATCH, Scheduler  # noqa: E402

NOW = dt.datetime(2026, 1, 20, 10, 30)
LATER = NOW + dt.timedelta(hours=1)
CASES = ("checked", "new", "backlog")


def populate(total: int) -> None:
    rows = [
        {"name": f"m{i}", "url": f"https://m{i}.example/", "check_interval": 60, "timeout": 5, "next_check_at": LATER}
        for i in range(total)
    ]
    with database.atomic():
        for start in range(0, total, 500):
            Monitor.insert_many(rows[start : start + 500]).execute()


def _recorded() -> dict:
    """Columns that say every monitor's previous job was recorded: with backpressure (pending_slot, where the
    schema has it) a monitor whose job is still pending gets no new one, and each round must start clean."""
    return {"pending_slot": None} if "pending_slot" in Monitor._meta.fields else {}


def reset(case: str, due: int) -> None:
    with database.atomic():
        QueueMessage.delete().execute()
        if case == "backlog":
            Monitor.update(next_check_at=NOW - dt.timedelta(seconds=30), status="UP", consecutive_successes=1,
                           **_recorded()).execute()
            return
        Monitor.update(next_check_at=LATER, status="UP", consecutive_successes=1, **_recorded()).execute()
        ids = Monitor.select(Monitor.id).order_by(Monitor.id).limit(due)
        fields = {"next_check_at": NOW - dt.timedelta(seconds=1)}
        if case == "new":
            fields.update(status="UNKNOWN", consecutive_successes=0)
        Monitor.update(**fields).where(Monitor.id.in_(ids)).execute()


def bench(url: str, due: int, total: int, rounds: int) -> dict[str, list[float]]:
    bind(url)
    init_db()
    populate(total)
    settings = dataclasses.replace(Settings.from_env({"DATABASE_URL": url}), scheduler_batch=due)
    scheduler = Scheduler(settings, DatabaseQueue(settings))
    times: dict[str, list[float]] = {case: [] for case in CASES}
    for case in CASES:
        for _ in range(rounds):
            reset(case, due)
            started = time.perf_counter()
            enqueued = scheduler.tick(now=NOW)
            times[case].append(time.perf_counter() - started)
            assert enqueued == due, enqueued
    database.close()
    return times


def report(name: str, times: dict[str, list[float]], due: int, total: int) -> None:
    for case, t in times.items():
        print(f"{name:<11} {case:<8} {due} due of {total}: min {min(t) * 1000:7.1f} ms"
              f"  median {statistics.median(t) * 1000:7.1f} ms  ({due / statistics.median(t):,.0f} jobs/s)")


class _TimedTransactions:
    """Stands in for `database` in scheduler.scheduler and records how long each transaction was open."""

    def __init__(self):
        self.held: list[float] = []

    def atomic(self):
        outer, real = self, database.atomic()

        class Timed:
            def __enter__(self):
                self.started = time.perf_counter()
                return real.__enter__()

            def __exit__(self, *exc):
                result = real.__exit__(*exc)
                outer.held.append(time.perf_counter() - self.started)
                return result

        return Timed()


def bench_sqs_lock_hold(due: int, sub_batches: list[int]) -> None:
    """One tick of `due` monitors sent to a fresh queue on a local moto_server, per sub-batch size.
    moto_server is one CPU-bound Python process (~50-150 ms per SendMessageBatch here): concurrent sends
    barely help against it, unlike against SQS, whose calls are round trips; see `bench_fake_sqs`."""
    from tests.support import moto

    port = moto.free_port()
    process = subprocess.Popen(moto._moto_command(port), env={**os.environ, **moto.DUMMY_AWS_ENV},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = moto.MotoServer(port, process)
    try:
        moto._wait_until_up(server)
        with mock.patch.dict(os.environ, server.env):
            _time_sqs_ticks("sqs(moto)", due, sub_batches,
                            lambda url: server.settings(sqs_queue_url=server.create_queue()[0], database_url=url))
    finally:
        process.terminate()
        process.wait()


class _LatencyClient:
    """An SQS client whose SendMessageBatch takes `latency` seconds (a round trip) and always succeeds."""

    def __init__(self, latency: float):
        self.latency = latency

    def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's argument names
        time.sleep(self.latency)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def bench_fake_sqs(due: int, sub_batches: list[int], latency_ms: float) -> None:
    """As `bench_sqs_lock_hold`, with a fake client whose every call takes `latency_ms` (as SQS's round trip)."""
    client = _LatencyClient(latency_ms / 1000)
    _time_sqs_ticks(f"sqs({latency_ms:.0f}ms)", due, sub_batches,
                    lambda url: Settings.from_env({"DATABASE_URL": url, "SQS_QUEUE_URL": "https://sqs.invalid/q"}),
                    client_factory=lambda settings: client)


def _time_sqs_ticks(label: str, due: int, sub_batches: list[int], make_settings, **queue_kwargs) -> None:
    from healthmon.queue.base import CheckJob
    from healthmon.queue.sqs import SqsQueue

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        bind(url)
        init_db()
        populate(due)
        for sub_batch in sub_batches:
            settings = dataclasses.replace(make_settings(url), scheduler_batch=due)
            queue = SqsQueue(settings, **queue_kwargs)
            started = time.perf_counter()
            queue.send_jobs([CheckJob(1, NOW)] * 10)  # also builds the client outside the tick
            one_call = time.perf_counter() - started
            reset("checked", due)
            timed = _TimedTransactions()
            with mock.patch.object(scheduler_module, "database", timed):
                started = time.perf_counter()
                Scheduler(settings, queue, sub_batch=sub_batch).tick(now=NOW)
                tick = time.perf_counter() - started
            queue.close()
            print(f"{label:<11} sub-batch {sub_batch}: tick {tick * 1000:,.0f} ms, {len(timed.held)} transactions,"
                  f" lock held median {statistics.median(timed.held) * 1000:,.0f} ms"
                  f" max {max(timed.held) * 1000:,.0f} ms (one SendMessageBatch {one_call * 1000:.0f} ms)")
        database.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--moto", action="store_true")
    parser.add_argument("--sqs-latency-ms", type=float, default=None)
    parser.add_argument("--send-threads", type=int, default=None)
    parser.add_argument("--sub-batches", default=f"{LOCAL_SUB_BATCH},{REMOTE_SUB_BATCH}")
    parser.add_argument("--smoke", action="store_true",
                        help="seconds-long run with the smallest sizes that still exercise every path (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.due, args.total, args.rounds, args.sub_batches = 50, 200, 1, "10,25"
        if args.sqs_latency_ms is None:
            args.sqs_latency_ms = 1.0
    if args.send_threads is not None:
        import healthmon.queue.sqs as sqs

        sqs.SEND_THREADS = args.send_threads

    with tempfile.TemporaryDirectory() as tmp:
        report("sqlite", bench(f"sqlite:///{tmp}/bench.db", args.due, args.total, args.rounds), args.due, args.total)

    if args.pg:
        import psycopg2

        name = f"healthmon_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg2.connect(args.pg)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        try:
            url = urlunsplit(urlsplit(args.pg)._replace(path=f"/{name}"))
            report("postgresql", bench(url, args.due, args.total, args.rounds), args.due, args.total)
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

    if args.moto:
        bench_sqs_lock_hold(args.due, [int(size) for size in args.sub_batches.split(",")])
    if args.sqs_latency_ms is not None:
        bench_fake_sqs(args.due, [int(size) for size in args.sub_batches.split(",")], args.sqs_latency_ms)


if __name__ == "__main__":
    main()
