"""Shared helpers for the Worker tests: a real engine, the real database queue, a monitor, a job.

Import `stop_workers` into a test module that uses `make_worker`: it stops every worker a test made, so no
receiver thread outlives its test (it would take the next test's messages).
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from checker.engine import CheckEngine
from checker.worker import Worker
from healthmon.db import utcnow
from healthmon.models import Monitor
from healthmon.netguard import AddressGuard
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue

RECEIVE_WAIT = 0.1
"""The tests' long-poll wait: a receiver thread notices a stop and ends within it."""

_made: list[Worker] = []


def make_worker(settings, queue=None, **kwargs) -> Worker:
    engine = CheckEngine(AddressGuard(settings.allowed_private_cidrs), max_concurrency=kwargs.pop("concurrency", 10),
                         ca_bundle=kwargs.pop("ca_bundle", None))
    kwargs.setdefault("receive_wait", RECEIVE_WAIT)
    worker = Worker(settings, queue or DatabaseQueue(settings), engine, concurrency=engine.max_concurrency, **kwargs)
    _made.append(worker)
    return worker


@pytest.fixture(autouse=True)
def stop_workers(db_url):
    # Depends on db_url so it is torn down first, while the test's database is still bound.
    yield
    while _made:
        worker = _made.pop()
        worker.stop(grace=0)
        worker.engine.close()


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


def wait_until(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)
