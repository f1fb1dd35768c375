"""The CheckQueue contract, run against every backend: SQS (moto) and the database queue (SQLite, PG)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import pytest

from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue
from tests.conftest import make_settings

pytestmark = [
    pytest.mark.parametrize(
        ("backend", "db_url"),
        [("sqs", "sqlite"), ("database", "sqlite"), ("database", "postgresql")],
        indirect=["db_url"],
        ids=["sqs", "database-sqlite", "database-postgresql"],
    ),
    pytest.mark.timeout(60),
]

SHORT_VISIBILITY = 1
"""Seconds; the tests sleep just past it to see a redelivery."""

SLOT = dt.datetime(2026, 1, 20, 10, 30, 0, 123456)


def job(i: int = 1) -> CheckJob:
    return CheckJob(monitor_id=i, slot=SLOT + dt.timedelta(seconds=i), generation=1)


class SqsHarness:
    def __init__(self):
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        import boto3

        self.client = boto3.client("sqs", region_name="us-east-1")

    def make(self, visibility: int = 30, max_receives: int = 5):
        from healthmon.queue.sqs import SqsQueue, ensure_queue

        base = make_settings(aws_region="us-east-1")
        name = f"q{time.monotonic_ns()}"
        url, self.dlq_url = ensure_queue(base, name, f"{name}-dlq", max_receives, visibility)
        self.url = url
        settings = dataclasses.replace(base, sqs_queue_url=url, queue_visibility_timeout=visibility)
        return SqsQueue(settings)

    def send_raw(self, body: str) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=body)

    def dead_letters(self) -> int:
        attrs = self.client.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    def stop(self):
        self._mock.stop()


class DatabaseHarness:
    def __init__(self, db_url: str):
        self.settings = make_settings(database_url=db_url)

    def make(self, visibility: int = 30, max_receives: int = 5):
        settings = dataclasses.replace(
            self.settings, queue_visibility_timeout=visibility, queue_max_receives=max_receives
        )
        self.queue = DatabaseQueue(settings)
        return self.queue

    def send_raw(self, body: str) -> None:
        from healthmon.models import QueueMessage

        QueueMessage.create(body=body)

    def dead_letters(self) -> int:
        return self.queue.dead_letters()

    def stop(self):
        pass


@pytest.fixture
def harness(backend, db_url):
    h = SqsHarness() if backend == "sqs" else DatabaseHarness(db_url)
    yield h
    h.stop()


def receive_all(queue, wait: float = 0) -> list:
    out = []
    while True:
        got = queue.receive(10, wait)
        assert len(got) <= 10
        if not got:
            return out
        out.extend(got)


def test_it_delivers_a_sent_job_and_forgets_it_once_deleted(harness):
    queue = harness.make(visibility=SHORT_VISIBILITY)
    assert queue.send_jobs([job(1)]) == 1
    [received] = queue.receive(10, 0)
    assert received.job == job(1)
    assert received.receive_count == 1
    queue.delete(received)
    time.sleep(SHORT_VISIBILITY + 0.3)
    assert queue.receive(10, 0) == []


def test_it_hides_a_received_message_until_the_visibility_timeout_then_redelivers_it(harness):
    queue = harness.make(visibility=SHORT_VISIBILITY)
    queue.send_jobs([job(1)])
    [first] = queue.receive(10, 0)
    assert queue.receive(10, 0) == []
    time.sleep(SHORT_VISIBILITY + 0.3)
    [again] = queue.receive(10, 0)
    assert again.job == job(1)
    assert again.receive_count == 2
    assert again.receipt != first.receipt


def test_it_makes_a_released_message_visible_at_once(harness):
    queue = harness.make(visibility=30)
    queue.send_jobs([job(1)])
    [first] = queue.receive(10, 0)
    queue.release(first)
    [again] = queue.receive(10, 0)
    assert again.job == job(1)


def test_it_dead_letters_a_message_after_max_receives(harness):
    queue = harness.make(visibility=SHORT_VISIBILITY, max_receives=2)
    queue.send_jobs([job(1)])
    for _ in range(2):
        [received] = queue.receive(10, 0)
        time.sleep(SHORT_VISIBILITY + 0.3)  # never deleted: it comes back after its visibility timeout
    assert queue.receive(10, 0) == []
    assert harness.dead_letters() == 1


def test_it_deletes_many_messages_in_batches(harness):
    queue = harness.make(visibility=SHORT_VISIBILITY)
    queue.send_jobs([job(i) for i in range(1, 24)])
    received = receive_all(queue)
    assert queue.delete_many(received) == 23
    assert queue.delete_many([]) == 0
    time.sleep(SHORT_VISIBILITY + 0.3)
    assert queue.receive(10, 0) == []


def test_it_releases_many_messages_visible_at_once(harness):
    queue = harness.make(visibility=30)
    queue.send_jobs([job(i) for i in range(1, 13)])
    received = receive_all(queue)
    assert queue.release_many(received) == 12
    assert sorted(r.job.monitor_id for r in receive_all(queue)) == list(range(1, 13))


def test_it_releases_messages_that_stay_hidden_for_the_delay_given(harness):
    queue = harness.make(visibility=30)
    queue.send_jobs([job(i) for i in range(1, 4)])
    received = receive_all(queue)
    assert queue.release_many(received, delay=1) == 3
    assert queue.receive(10, 0) == []
    time.sleep(1.3)
    assert sorted(r.job.monitor_id for r in receive_all(queue)) == [1, 2, 3]


def test_it_sends_more_than_ten_jobs_in_several_batches(harness):
    queue = harness.make()
    jobs = [job(i) for i in range(1, 26)]
    assert queue.send_jobs(jobs) == 25
    received = receive_all(queue)
    assert sorted(r.job.monitor_id for r in received) == list(range(1, 26))


def test_it_delivers_each_of_95_jobs_exactly_once(harness):
    queue = harness.make(visibility=30)
    assert queue.send_jobs([job(i) for i in range(1, 96)]) == 95
    assert sorted(r.job.monitor_id for r in receive_all(queue)) == list(range(1, 96))


POISON_BODIES = {
    "not-json": "not a check job",
    "missing-fields": '{"monitor": "not a job"}',
    "infinite-number": '{"monitor_id": 1e400, "slot": "2026-01-20T10:30:00.000000"}',
    "nested-too-deep": "[" * 50_000,
    "id-beyond-64-bits": '{"monitor_id": 9223372036854775808, "slot": "2026-01-20T10:30:00.000000"}',
    "id-not-an-integer": '{"monitor_id": 1.5, "slot": "2026-01-20T10:30:00.000000"}',
    "generation-beyond-64-bits": '{"monitor_id": 1, "slot": "2026-01-20T10:30:00.000000", "generation": 1e300}',
}
"""Bodies no scheduler writes and no check can come of: each must come back as a job of None (the checker
deletes it), never make `receive` raise (which would hand back every healthy message received with it, and
on the database queue roll back the claim, so the message is never even dead-lettered)."""


@pytest.mark.parametrize("body", POISON_BODIES.values(), ids=POISON_BODIES.keys())
def test_it_returns_a_malformed_body_as_a_job_of_none_and_the_healthy_ones_with_it(harness, body):
    queue = harness.make()
    harness.send_raw(body)
    queue.send_jobs([job(3)])
    received = receive_all(queue)
    assert len(received) == 2
    [poison] = [r for r in received if r.body == body]
    assert poison.job is None and poison.receive_count == 1
    assert [r.job for r in received if r is not poison] == [job(3)]


def test_it_waits_for_a_message_sent_during_a_long_poll(harness):
    queue = harness.make()
    sender = threading.Timer(0.4, queue.send_jobs, args=([job(7)],))
    started = time.monotonic()
    sender.start()
    try:
        received = queue.receive(10, 5)
    finally:
        sender.join()
    assert [r.job for r in received] == [job(7)]
    assert time.monotonic() - started < 4


def test_it_returns_nothing_after_waiting_on_an_empty_queue(harness):
    queue = harness.make()
    started = time.monotonic()
    assert queue.receive(10, 1) == []
    assert time.monotonic() - started >= 0.8
