"""The SQS backend against a real moto_server over HTTP, configured only through the environment."""

from __future__ import annotations

import datetime as dt

import pytest

from healthmon.queue import open_queue
from healthmon.queue.base import CheckJob
from healthmon.queue.sqs import SqsQueue
from healthmon.settings import Settings
from tests.support.moto import moto_server  # noqa: F401 - registers the fixture

pytestmark = pytest.mark.timeout(60)


def test_it_sends_receives_releases_and_deletes_in_batches_through_a_moto_server(moto_server, monkeypatch):  # noqa: F811
    queue_url, _ = moto_server.create_queue(max_receives=5, visibility_timeout=60)
    env = {**moto_server.env, "SQS_QUEUE_URL": queue_url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env(env)
    queue = open_queue(settings)
    assert isinstance(queue, SqsQueue)
    slot = dt.datetime(2026, 1, 20, 10, 30, 0, 5)
    jobs = [CheckJob(i, slot, 2) for i in range(1, 13)]

    assert queue.send_jobs(jobs) == 12
    received = []
    while batch := queue.receive(10, 1):
        received.extend(batch)
    assert sorted((r.job for r in received), key=lambda j: j.monitor_id) == jobs
    assert {r.receive_count for r in received} == {1}

    queue.release(received[0])
    [again] = queue.receive(10, 1)
    assert again.job == received[0].job
    assert again.receive_count == 2

    assert queue.delete_many([again, *received[1:]]) == 12  # DeleteMessageBatch, 10 + 2
    assert queue.receive(10, 0) == []
    queue.close()
