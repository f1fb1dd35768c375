"""Shared helpers for the Worker tests: a real engine, the real database queue, a monitor, a job."""

from __future__ import annotations

import datetime as dt
import time

from checker.http import CheckEngine
from checker.worker import Worker
from healthmon.db import utcnow
from healthmon.models import Monitor
from healthmon.netguard import AddressGuard
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue


def make_worker(settings, **kwargs) -> Worker:
    engine = CheckEngine(AddressGuard(settings.allowed_private_cidrs), max_concurrency=kwargs.pop("concurrency", 10))
    kwargs.setdefault("idle_wait", 0.1)
    return Worker(settings, DatabaseQueue(settings), engine, concurrency=engine.max_concurrency, **kwargs)


def make_monitor(url: str, **fields) -> Monitor:
    values = {"name": "target", "url": url, "check_interval": 1, "timeout": 2, "webhook_url": None}
    values.update(fields)
    return Monitor.create(**values)


def job_for(monitor: Monitor, seconds_ago: float = 0.0) -> CheckJob:
    slot = (utcnow() - dt.timedelta(seconds=seconds_ago)).replace(microsecond=0)
    return CheckJob(monitor.id, slot, monitor.generation)


def step_until(worker: Worker, predicate, timeout: float = 10.0):
    """Call worker.step() until predicate() is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.step()
        result = predicate()
        if result:
            return result
    raise AssertionError(f"condition not met within {timeout} s")
