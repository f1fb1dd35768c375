"""The SQS backend of `CheckQueue` (boto3), and `ensure_queue` to create a queue with a dead-letter queue.

The boto3 client is built lazily, in the process that first uses it, and rebuilt if the process id
changes: a client (its connection pool) must never be shared across fork by the checker pool. The same
holds for the small thread pool `send_jobs` sends its batches from (SEND_THREADS).
Production queues come from Terraform; `ensure_queue` is for tests, `healthmon up` and the docs.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from healthmon.defaults import MAX_BATCH_SIZE, MAX_WAIT_TIME_SECONDS
from healthmon.queue.base import CheckJob, ReceivedJob
from healthmon.settings import Settings

log = logging.getLogger("healthmon.queue")

#: Entries per SendMessageBatch / messages per ReceiveMessage.
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
MAX_MESSAGES_PER_CALL = MAX_BATCH_SIZE

#: Longest long poll. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
MAX_WAIT_SECONDS = MAX_WAIT_TIME_SECONDS

#: Largest visibility timeout (12 h).
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
MAX_VISIBILITY_SECONDS = 43_200

SEND_RETRIES = 3
"""Extra attempts for the entries of a batch that SQS reported as failed (throttling, internal error)."""

SEND_RETRY_DELAY = 0.2
"""Seconds before the first retry of failed entries, doubled each time: short, the scheduler ticks every 1 s."""

SEND_THREADS = 8
"""SendMessageBatch calls in flight at once in `send_jobs`. Each call is one round trip (~10-20 ms to SQS):
sent one after another, 1,000 jobs (100 calls) take 1-2 s, longer than the scheduler's 1 s tick. 8 cuts
that about eightfold while staying a small fraction of botocore's default pool of 10 connections (which
the checker's receiver and acknowledger threads also use) and well under SQS's per-queue limits."""

CONNECT_TIMEOUT = 5
READ_TIMEOUT_MARGIN = 10
"""The HTTP read timeout is the long-poll wait plus this margin, so a long poll is never cut short."""


class QueueSendError(RuntimeError):
    """Some jobs could not be enqueued. `failed` is how many; the caller must not treat them as sent."""

    def __init__(self, failed: int, reason: str):
        super().__init__(f"{failed} message(s) not enqueued: {reason}")
        self.failed = failed
        self.reason = reason


def make_client(settings: Settings):
    """A new SQS client for this process (region and optional endpoint from settings)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=MAX_WAIT_SECONDS + READ_TIMEOUT_MARGIN,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.session.Session().client(
        "sqs", region_name=settings.aws_region, endpoint_url=settings.sqs_endpoint_url, config=config
    )


class SqsQueue:
    """`CheckQueue` on one SQS queue. Dead-lettering is the queue's RedrivePolicy, not ours.

    Each receive asks for `settings.queue_visibility_timeout`, so QUEUE_VISIBILITY_TIMEOUT means the
    same on both backends whatever the queue's default is.
    """

    max_receive = MAX_MESSAGES_PER_CALL
    """Most messages one receive returns (ReceiveMessage's MaxNumberOfMessages limit)."""

    remote = True
    """Calls are network round trips: a checker makes them from its queue threads (checker/queue_io.py)."""

    def __init__(
        self,
        settings: Settings,
        queue_url: str | None = None,
        *,
        client_factory: Callable[[Settings], object] = make_client,
    ):
        url = queue_url or settings.sqs_queue_url
        if not url:
            raise ValueError("SqsQueue needs SQS_QUEUE_URL")
        self.settings = settings
        self.queue_url = url
        self._client_factory = client_factory
        self._client = None
        self._pid: int | None = None
        self._client_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid: int | None = None

    @property
    def client(self):
        # A checker's receiver and acknowledger threads share one client (boto3 clients are thread-safe);
        # the lock keeps two first uses from building two.
        with self._client_lock:
            if self._client is None or self._pid != os.getpid():
                self._client = self._client_factory(self.settings)
                self._pid = os.getpid()
            return self._client

    def send_jobs(self, jobs: list[CheckJob]) -> int:
        """SendMessageBatch in chunks of 10, up to SEND_THREADS calls at once; returns len(jobs) once every
        entry is sent. Failed entries (only those) are retried; if some still fail, `QueueSendError` is
        raised after every batch has finished (none is left in flight), with the total number not sent.

        Entries that succeeded before the error stay sent; a resend of them is a duplicate the checker
        drops by (monitor, slot).
        """
        chunks = [jobs[start : start + MAX_MESSAGES_PER_CALL] for start in range(0, len(jobs), MAX_MESSAGES_PER_CALL)]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._send_batch(chunk)
            return len(jobs)
        self.client  # noqa: B018 - build the client here, not in SEND_THREADS threads at once
        futures = [self._send_pool().submit(self._send_batch, chunk) for chunk in chunks]
        errors = [exc for exc in (future.exception() for future in futures) if exc is not None]  # waits for all
        for exc in errors:
            if not isinstance(exc, QueueSendError):
                raise exc  # an outright failure (botocore error): as a sequential send would have raised
        if errors:
            codes = sorted({code for exc in errors for code in exc.reason.split(", ")})
            raise QueueSendError(sum(exc.failed for exc in errors), ", ".join(codes))
        return len(jobs)

    def _send_pool(self) -> ThreadPoolExecutor:
        """The sending threads, started on first use and again in a forked child (threads do not survive fork)."""
        with self._client_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="sqs-send")
                self._pool_pid = os.getpid()
            return self._pool

    def _send_batch(self, jobs: list[CheckJob]) -> None:
        pending = {str(i): job.to_json() for i, job in enumerate(jobs)}
        delay = SEND_RETRY_DELAY
        for attempt in range(SEND_RETRIES + 1):
            entries = [{"Id": key, "MessageBody": body} for key, body in pending.items()]
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = response.get("Failed") or []
            if not failed:
                return
            # A sender fault (e.g. a too-large body) will fail again: give up on the batch at once.
            reasons = sorted({f"{f.get('Code', '?')}" for f in failed})
            if any(f.get("SenderFault") for f in failed) or attempt == SEND_RETRIES:
                raise QueueSendError(len(failed), ", ".join(reasons))
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            log.warning("[QUEUE] %d of a batch not enqueued (%s); retrying", len(failed), ", ".join(reasons))
            time.sleep(delay)
            delay *= 2

    def receive(self, max_messages: int, wait_seconds: float) -> list[ReceivedJob]:
        response = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(int(max_messages), MAX_MESSAGES_PER_CALL)),
            WaitTimeSeconds=max(0, min(int(wait_seconds), MAX_WAIT_SECONDS)),
            VisibilityTimeout=max(0, min(int(self.settings.queue_visibility_timeout), MAX_VISIBILITY_SECONDS)),
            # The successor of the discontinued AttributeNames parameter.
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        out = []
        for message in response.get("Messages", []):
            body = message.get("Body", "")
            try:
                job: CheckJob | None = CheckJob.from_json(body)
            except ValueError:
                job = None
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            out.append(ReceivedJob(job=job, receipt=message["ReceiptHandle"], receive_count=count, body=body))
        return out

    def delete(self, received: ReceivedJob) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=received.receipt)

    def release(self, received: ReceivedJob) -> None:
        """Visible again now. SQS keeps the receive count (ApproximateReceiveCount only grows), so a
        released message still counts towards the redrive policy's maxReceiveCount."""
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=received.receipt, VisibilityTimeout=0
        )

    def delete_many(self, received: list[ReceivedJob]) -> int:
        """DeleteMessageBatch, 10 entries a call. Failed entries are logged and left for redelivery."""
        return self._batches(received, "delete_message_batch", "delete", {})

    def release_many(self, received: list[ReceivedJob], delay: int = 0) -> int:
        """ChangeMessageVisibilityBatch to `delay` (0: visible now), 10 entries a call. Failed entries are logged
        and left: they return after the visibility timeout. Each release still counts as a receive (see
        `release`)."""
        return self._batches(received, "change_message_visibility_batch", "release", {"VisibilityTimeout": delay})

    def _batches(self, received: list[ReceivedJob], call: str, what: str, extra: dict) -> int:
        done = 0
        for start in range(0, len(received), MAX_MESSAGES_PER_CALL):
            chunk = received[start : start + MAX_MESSAGES_PER_CALL]
            entries = [{"Id": str(i), "ReceiptHandle": r.receipt, **extra} for i, r in enumerate(chunk)]
            response = getattr(self.client, call)(QueueUrl=self.queue_url, Entries=entries)
            failed = response.get("Failed") or []
            done += len(chunk) - len(failed)
            if failed:
                # Codes only: an entry's message may quote the receipt handle.
                codes = ", ".join(sorted({str(f.get("Code", "?")) for f in failed}))
                log.warning("[QUEUE] %d of %d %s(s) failed (%s); those messages come back after the visibility "
                            "timeout", len(failed), len(chunk), what, codes)
        return done

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.shutdown(wait=True)
        client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            close = getattr(client, "close", None)
            if close:
                close()


def ensure_queue(
    settings: Settings, name: str, dlq_name: str, max_receives: int, visibility_timeout: int
) -> tuple[str, str]:
    """Create (or update) queue `name` whose RedrivePolicy moves a message to `dlq_name` after
    `max_receives` receives. Idempotent. Returns (queue_url, dlq_url)."""
    client = make_client(settings)
    try:
        dlq_url = client.create_queue(QueueName=dlq_name)["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}),
        }
        try:
            queue_url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except client.exceptions.QueueNameExists:
            # Exists with other attributes: bring them to what was asked.
            queue_url = client.get_queue_url(QueueName=name)["QueueUrl"]
            client.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
        return queue_url, dlq_url
    finally:
        client.close()
