"""Checks per second one checker Worker (one process) records, end to end: database queue -> pycurl engine ->
local target -> record_result -> delete. Usage:

    .venv/bin/python -m bench.worker_throughput [--jobs 2000] [--concurrency 100] [--db sqlite|URL]
        [--queue-latency-ms 20] [--target-delay-ms 200] [--queue-threads] [--smoke]

--queue-latency-ms adds that delay to every queue call (receive, delete, release and their batch forms), as a
round trip to SQS would; the database queue underneath still does the work, and the worker uses its queue
threads (as with SQS). Without it the worker receives and deletes inline (the database queue is local);
--queue-threads makes it use the threads anyway (the behaviour before checker/queue_inline.py).
--target-delay-ms makes the target answer after that delay (/slow-headers), so the reported check latency
shows how long finished checks wait for the loop. The target is tests.support.targets.TargetServer
(threaded) in a child process, so it does
not compete for this process's GIL; the figure is still a lower bound bounded by this machine's CPU shared
between target, worker and database.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import inspect
import multiprocessing
import tempfile
import time

from checker.engine import CheckEngine
from checker.worker import Worker
from healthmon.db import bind, utcnow
from healthmon.migrations import init_db
from healthmon.models import CheckResult, Monitor, QueueMessage
from healthmon.netguard import AddressGuard
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue
from tests.conftest import make_settings
from tests.support.targets import TargetServer

DELAYED_CALLS = ("receive", "delete", "release", "delete_many", "release_many")


class DelayedQueue:
    """Wraps a CheckQueue: every call in DELAYED_CALLS sleeps `latency` seconds first (a network round trip)."""

    remote = True  # stands in for SQS: the worker uses its queue threads

    def __init__(self, queue, latency: float):
        self._queue = queue
        self._latency = latency

    def __getattr__(self, name):
        attr = getattr(self._queue, name)
        if name not in DELAYED_CALLS or not self._latency:
            return attr

        def delayed(*args, **kwargs):
            time.sleep(self._latency)
            return attr(*args, **kwargs)

        return delayed


def _serve(conn) -> None:
    with TargetServer() as server:
        conn.send(server.url(""))
        conn.recv()  # until the parent says stop (or dies)


@contextlib.contextmanager
def target_process():
    """A TargetServer in a forked child; yields its base URL (http://127.0.0.1:PORT)."""
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        proc.join(5)
        if proc.is_alive():
            proc.kill()


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--queue-latency-ms", type=float, default=0.0)
    parser.add_argument("--target-delay-ms", type=float, default=0.0)
    parser.add_argument("--queue-threads", action="store_true")
    parser.add_argument("--assertions", action="store_true",
                        help="give every monitor two assertions (body contains, header present): their cost")
    parser.add_argument("--smoke", action="store_true", help="a few seconds: 100 jobs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.jobs = min(args.jobs, 100)
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db" if args.db == "sqlite" else args.db
    bind(url)
    init_db()
    settings = make_settings(database_url=url)
    path = f"/slow-headers/{args.target_delay_ms / 1000}" if args.target_delay_ms else "/"
    with target_process() as base:
        assertions = [{"target": "body", "op": "contains", "value": "ok"},
                      {"target": "header", "name": "content-length", "op": "exists"}] if args.assertions else None
        Monitor.insert_many([{"name": f"m{i}", "url": f"{base}{path}?m={i}", "check_interval": 60,
                              "timeout": 5, "assertions": assertions} for i in range(args.jobs)]).execute()
        slot = utcnow().replace(microsecond=0) - dt.timedelta(seconds=1)
        inner = DatabaseQueue(settings)
        inner.send_jobs([CheckJob(m.id, slot) for m in Monitor.select(Monitor.id)])
        remote = args.queue_latency_ms or args.queue_threads
        queue = DelayedQueue(inner, args.queue_latency_ms / 1000) if remote else inner
        engine = CheckEngine(AddressGuard(settings.allowed_private_cidrs), max_concurrency=args.concurrency)
        # idle_wait: the Worker before the receiver thread (kept so before/after use the same bench).
        extra = {"idle_wait": 0} if "idle_wait" in inspect.signature(Worker).parameters else {}
        worker = Worker(settings, queue, engine, concurrency=args.concurrency, **extra)
        started, cpu_started = time.monotonic(), time.process_time()
        while worker.stats["recorded"] < args.jobs:
            worker.step()
        took, cpu = time.monotonic() - started, time.process_time() - cpu_started
        stop_started = time.monotonic()
        worker.stop()  # sends the deletes still queued; waits up to 1 s for a receiver in a long poll
        stop_took = time.monotonic() - stop_started
    ok = CheckResult.select().where(CheckResult.ok == True).count()  # noqa: E712
    latency = [r.latency_ms for r in CheckResult.select(CheckResult.latency_ms)]
    print(f"{args.jobs} checks ({ok} ok) in {took:.1f} s = {args.jobs / took:.0f} checks/s "
          f"(1 worker, concurrency {args.concurrency}, {url.split(':')[0]}, queue latency "
          f"{args.queue_latency_ms:.0f} ms, {'threads' if remote else 'inline'}, target delay "
          f"{args.target_delay_ms:.0f} ms); check latency p50 {percentile(latency, 0.5):.0f} ms, "
          f"max {max(latency):.0f} ms; stop {stop_took:.1f} s; "
          f"left in queue {QueueMessage.select().count()}; worker CPU {1e6 * cpu / args.jobs:.0f} us per check")


if __name__ == "__main__":
    main()
