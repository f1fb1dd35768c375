"""Helpers for the message and alert-delivery fault tests: jobs sent by hand, counts read from the database.

These tests start no scheduler: every job on the queue is one the test sent, so every count is exact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from unittest import mock

from healthmon.db import bind, database, utcnow
from healthmon.models import AlertOutbox, CheckResult, Monitor, StateChange
from healthmon.queue.base import CheckJob
from healthmon.queue.sqs import SqsQueue
from tests.e2e.procs import wait_until
from tests.support.webhook import Received, Reply, WebhookReceiver

PROMPTLY = 20.0
"""Deadline for a job to be checked and recorded: well under the 60 s visibility timeout, so a job that made
it only on a redelivery (its first receive failed or was handed back) misses it."""

SETTLE_SECONDS = 2.0
"""After everything looked done, how long a test keeps watching for a late second record or alert (the alert
sender polls every 0.5 s; a redelivered message would be received within a second)."""


@contextlib.contextmanager
def database_at(url: str):
    """Bind this test process to the deployment's database for a moment (the services use their own
    connections); closed on exit, so the test never holds a lock the services wait for."""
    db = bind(url)
    try:
        yield db
    finally:
        database.close()


def sqs_queue(distributed) -> SqsQueue:
    """The deployment's queue, as the scheduler would send to it."""
    settings = distributed.moto.settings(sqs_queue_url=distributed.queue_url)
    return SqsQueue(settings, client_factory=lambda _settings: _client(distributed))


def _client(distributed):
    with mock.patch.dict(os.environ, distributed.moto.env):  # boto3 reads the dummy credentials from here
        from healthmon.queue.sqs import make_client

        return make_client(distributed.moto.settings())


def recent_slot(seconds_ago: float = 1.0) -> dt.datetime:
    """A slot young enough to be checked (not skipped as stale: that takes 5 minutes)."""
    return (utcnow() - dt.timedelta(seconds=seconds_ago)).replace(microsecond=0)


def job(monitor_id: int, slot: dt.datetime) -> CheckJob:
    return CheckJob(monitor_id, slot, 1)


@dataclass(frozen=True)
class Stored:
    """What the database holds for one monitor: the figures these tests count."""

    results: int
    distinct_slots: int
    transitions: list[tuple[str, str]]
    alerts: int
    alerts_pending: int
    status: str
    successes: int
    failures: int

    @property
    def doubled(self) -> int:
        return self.results - self.distinct_slots


def stored(url: str, monitor_id: int) -> Stored:
    with database_at(url):
        slots = [s for (s,) in CheckResult.select(CheckResult.slot).where(CheckResult.monitor == monitor_id).tuples()]
        changes = list(StateChange.select(StateChange.from_status, StateChange.to_status)
                       .where(StateChange.monitor == monitor_id).order_by(StateChange.id).tuples())
        outbox = AlertOutbox.select().where(AlertOutbox.monitor_id == monitor_id)
        pending = outbox.where(AlertOutbox.state == "pending").count()
        m = Monitor.get_by_id(monitor_id)
        return Stored(len(slots), len(set(slots)), changes, outbox.count(), pending, m.status,
                      m.consecutive_successes, m.consecutive_failures)


def wait_stored(url: str, monitor_id: int, what: str, predicate, timeout: float = PROMPTLY) -> Stored:
    return wait_until(lambda: predicate(s := stored(url, monitor_id)) and s, timeout, what, interval=0.2)


def wait_queue_empty(distributed, timeout: float = PROMPTLY) -> None:
    """Every message deleted: checked and recorded, or dropped (nothing in flight, nothing visible)."""
    wait_until(lambda: distributed.queued() == 0, timeout, "the queue to be empty", interval=0.2)


def wait_pool_started(proc, workers: int, timeout: float = 30.0) -> None:
    """Every worker process and the alert sender of a `healthmon checker` pool have logged their start."""
    proc.wait_for(r"alert sender started", timeout)
    wait_until(lambda: proc.output().count("worker started") >= workers, timeout, f"{workers} worker(s) started")


class OutageReceiver(WebhookReceiver):
    """A Slack receiver that answers 500 for `seconds` from its first request, then as Slack does (200 "ok").
    `answered` is every request with the status it got, so a test knows exactly which ones were delivered."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.outage_ends: float | None = None  # time.time() scale, like Received.at
        self.answered: list[tuple[Received, int]] = []

    def _next_reply(self, received: Received) -> Reply:
        reply = super()._next_reply(received)
        with self._cond:
            if self.outage_ends is None:
                self.outage_ends = received.at + self.seconds
            if received.at < self.outage_ends:
                reply = Reply(500, "internal error")
            self.answered.append((received, reply.status))
        return reply

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in arrival order."""
        with self._cond:
            return [r for r, status in self.answered if 200 <= status < 300]
