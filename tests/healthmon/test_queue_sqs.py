"""SQS backend behaviour beyond the shared contract: partial batch failures, lazy client, ensure_queue."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time

import pytest
from moto import mock_aws

from healthmon.queue import open_queue
from healthmon.queue.base import CheckJob, ReceivedJob
from healthmon.queue.sqs import SEND_THREADS, QueueSendError, SqsQueue, ensure_queue
from tests.conftest import make_settings

SLOT = dt.datetime(2026, 1, 20, 10, 30)
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/checks"  # never contacted: fake clients


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch):
    monkeypatch.setattr("healthmon.queue.sqs.SEND_RETRY_DELAY", 0.0)


def jobs(n: int) -> list[CheckJob]:
    return [CheckJob(i, SLOT, 1) for i in range(1, n + 1)]


class FlakyClient:
    """send_message_batch fails the entries whose ids are listed, for the first `failing_calls` calls."""

    def __init__(self, failing_ids=(), failing_calls=1, sender_fault=False):
        self.failing_ids = set(failing_ids)
        self.failing_calls = failing_calls
        self.sender_fault = sender_fault
        self.calls: list[list[dict]] = []
        self.delivered: list[str] = []

    def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's argument names
        self.calls.append(Entries)
        failing = len(self.calls) <= self.failing_calls
        failed = [e for e in Entries if failing and e["Id"] in self.failing_ids]
        self.delivered.extend(e["MessageBody"] for e in Entries if e not in failed)
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e not in failed],
            "Failed": [{"Id": e["Id"], "Code": "InternalError", "SenderFault": self.sender_fault} for e in failed],
        }


def sqs_queue(client) -> SqsQueue:
    return SqsQueue(make_settings(sqs_queue_url=QUEUE_URL), client_factory=lambda settings: client)


def test_it_retries_only_the_failed_entries_of_a_batch():
    client = FlakyClient(failing_ids={"3", "7"}, failing_calls=1)
    assert sqs_queue(client).send_jobs(jobs(10)) == 10
    assert [len(c) for c in client.calls] == [10, 2]
    assert sorted(json.loads(b)["monitor_id"] for b in client.delivered) == list(range(1, 11))


def test_it_raises_when_entries_still_fail_after_the_retries():
    client = FlakyClient(failing_ids={"0"}, failing_calls=100)
    with pytest.raises(QueueSendError) as err:
        sqs_queue(client).send_jobs(jobs(3))
    assert err.value.failed == 1
    assert "InternalError" in str(err.value)


def test_it_does_not_retry_a_sender_fault():
    client = FlakyClient(failing_ids={"0"}, failing_calls=100, sender_fault=True)
    with pytest.raises(QueueSendError):
        sqs_queue(client).send_jobs(jobs(1))
    assert len(client.calls) == 1


def test_it_sends_at_most_ten_entries_per_call():
    client = FlakyClient()
    sqs_queue(client).send_jobs(jobs(23))
    assert sorted(len(c) for c in client.calls) == [3, 10, 10]


class SlowConcurrentClient:
    """send_message_batch takes a while and records how many calls overlap; it fails one entry (monitor 42)
    the first time it sees it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.delivered: list[int] = []
        self.failed_once = False

    def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's argument names
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(0.02)
        with self.lock:
            self.active -= 1
            failed = []
            for entry in Entries:
                monitor_id = json.loads(entry["MessageBody"])["monitor_id"]
                if monitor_id == 42 and not self.failed_once:
                    self.failed_once = True
                    failed.append({"Id": entry["Id"], "Code": "ServiceUnavailable", "SenderFault": False})
                else:
                    self.delivered.append(monitor_id)
        return {"Successful": [], "Failed": failed}


def test_it_sends_batches_concurrently_and_retries_a_failed_entry_once():
    client = SlowConcurrentClient()
    queue = sqs_queue(client)
    assert queue.send_jobs(jobs(100)) == 100
    assert 1 < client.max_active <= SEND_THREADS
    assert client.failed_once
    assert sorted(client.delivered) == list(range(1, 101))  # 42 retried and sent once, nothing else twice
    queue.close()


def test_it_raises_after_every_batch_is_done_when_entries_of_several_batches_fail():
    client = FlakyClient(failing_ids={"0"}, failing_calls=1000)
    with pytest.raises(QueueSendError) as err:
        sqs_queue(client).send_jobs(jobs(30))
    assert err.value.failed == 3
    assert sorted(json.loads(b)["monitor_id"] for b in client.delivered) == [
        i for i in range(1, 31) if i not in (1, 11, 21)]


def test_it_builds_its_client_on_first_use_and_again_in_a_forked_child(monkeypatch):
    built = []
    queue = SqsQueue(make_settings(sqs_queue_url=QUEUE_URL), client_factory=lambda s: built.append(1) or FlakyClient())
    assert built == []
    queue.send_jobs(jobs(1))
    queue.send_jobs(jobs(1))
    assert len(built) == 1
    monkeypatch.setattr("healthmon.queue.sqs.os.getpid", lambda: -1)
    queue.send_jobs(jobs(1))
    assert len(built) == 2


def test_open_queue_gives_the_sqs_queue_when_sqs_queue_url_is_set():
    queue = open_queue(make_settings(sqs_queue_url=QUEUE_URL))
    assert isinstance(queue, SqsQueue)
    assert queue.queue_url == QUEUE_URL


@mock_aws
def test_ensure_queue_creates_a_queue_with_a_dead_letter_queue_and_is_idempotent():
    import boto3

    settings = make_settings(aws_region="us-east-1")
    url, dlq_url = ensure_queue(settings, "checks", "checks-dlq", 5, 60)
    assert ensure_queue(settings, "checks", "checks-dlq", 3, 90) == (url, dlq_url)

    client = boto3.client("sqs", region_name="us-east-1")
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.loads(attrs["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == dlq_arn
    assert int(policy["maxReceiveCount"]) == 3
    assert attrs["VisibilityTimeout"] == "90"


@mock_aws
def test_a_receive_asks_for_the_configured_visibility_timeout():
    settings = make_settings(aws_region="us-east-1")
    url, _ = ensure_queue(settings, "checks", "checks-dlq", 5, 300)
    queue = SqsQueue(dataclasses.replace(settings, sqs_queue_url=url, queue_visibility_timeout=1))
    queue.send_jobs(jobs(1))
    assert len(queue.receive(10, 0)) == 1
    time.sleep(1.3)
    assert len(queue.receive(10, 0)) == 1


class BatchClient:
    """delete_message_batch / change_message_visibility_batch that fail the entries whose receipt is listed."""

    def __init__(self, failing_receipts=()):
        self.failing = set(failing_receipts)
        self.calls: list[tuple[str, list[dict]]] = []

    def _batch(self, name, Entries):  # noqa: N803 - boto3's argument names
        self.calls.append((name, Entries))
        failed = [e for e in Entries if e["ReceiptHandle"] in self.failing]
        return {"Successful": [{"Id": e["Id"]} for e in Entries if e not in failed],
                "Failed": [{"Id": e["Id"], "Code": "ReceiptHandleIsInvalid", "SenderFault": True,
                            "Message": f"handle {e['ReceiptHandle']} is invalid"} for e in failed]}

    def delete_message_batch(self, QueueUrl, Entries):  # noqa: N803
        return self._batch("delete", Entries)

    def change_message_visibility_batch(self, QueueUrl, Entries):  # noqa: N803
        return self._batch("visibility", Entries)


def received(n: int) -> list[ReceivedJob]:
    return [ReceivedJob(job=CheckJob(i, SLOT, 1), receipt=f"rh-{i}", receive_count=1, body="{}") for i in range(n)]


def test_delete_many_sends_ten_entries_a_call_and_leaves_failed_entries(caplog):
    client = BatchClient(failing_receipts={"rh-3", "rh-12"})
    assert sqs_queue(client).delete_many(received(23)) == 21
    assert [len(entries) for _, entries in client.calls] == [10, 10, 3]
    assert "1 of 10 delete(s) failed" in caplog.text
    assert "ReceiptHandleIsInvalid" in caplog.text and "rh-3" not in caplog.text  # codes only, never a handle


def test_release_many_sets_visibility_zero_in_batches_of_ten():
    client = BatchClient(failing_receipts={"rh-0"})
    assert sqs_queue(client).release_many(received(12)) == 11
    assert [(name, len(entries)) for name, entries in client.calls] == [("visibility", 10), ("visibility", 2)]
    assert {e["VisibilityTimeout"] for _, entries in client.calls for e in entries} == {0}
