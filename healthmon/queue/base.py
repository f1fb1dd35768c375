"""The queue contract shared by the scheduler (producer) and the checker (consumer)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Protocol

SLOT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"

MAX_ID = 2**63 - 1
"""Largest monitor id or generation a message may carry: both columns are 64-bit integers, and a bigger number
(SQLite refuses to bind one) could only make the query that looks the job up fail, for every job received with it."""


@dataclass(frozen=True)
class CheckJob:
    """The message body: which monitor, for which scheduled slot (naive UTC), at which config generation."""

    monitor_id: int
    slot: dt.datetime
    generation: int = 1

    def to_json(self) -> str:
        return json.dumps(
            {"monitor_id": self.monitor_id, "slot": self.slot.strftime(SLOT_FORMAT), "generation": self.generation},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, body: str) -> CheckJob:
        """Parse a message body as `to_json` writes it; raises ValueError, and only ValueError, on anything
        else: a body is untrusted input, and a parser that raised something else (1e400 overflows, deep nesting
        recurses) would fail the whole receive it came in, healthy messages and all."""
        try:
            data = json.loads(body)
            return cls(
                monitor_id=_id(data["monitor_id"]),
                slot=dt.datetime.strptime(data["slot"], SLOT_FORMAT),
                generation=_id(data.get("generation", 1)),
            )
        except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
            raise ValueError(f"malformed check message: {exc.__class__.__name__}") from None


def _id(value) -> int:
    """A JSON integer within the columns' range (not a float, a string or a bool, which `int()` would accept)."""
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise ValueError("not an id")
    return value


@dataclass(frozen=True)
class ReceivedJob:
    """A received message: the job, the handle to delete/release it, and how often it was received."""

    job: CheckJob | None  # None when the body was malformed (the consumer deletes it)
    receipt: str
    receive_count: int
    body: str


class CheckQueue(Protocol):
    """SQS semantics: at-least-once; a received message is invisible for the visibility timeout and is
    delivered again unless deleted; after `max_receives` receives it goes to the dead-letter queue."""

    def send_jobs(self, jobs: list[CheckJob]) -> int:
        """Enqueue jobs (in batches of at most 10); returns how many were sent. Raises on failure."""

    max_receive: int
    """The most messages one `receive` returns (SQS: 10; the database queue: more)."""

    def receive(self, max_messages: int, wait_seconds: float) -> list[ReceivedJob]:
        """Up to `max_messages` (<= `max_receive`) visible messages, waiting up to `wait_seconds` for the first."""

    def delete(self, received: ReceivedJob) -> None:
        """Acknowledge: the job's result is committed."""

    def release(self, received: ReceivedJob) -> None:
        """Make the message visible again now (visibility 0), e.g. on shutdown."""

    def delete_many(self, received: list[ReceivedJob]) -> int:
        """Acknowledge several messages in as few calls as the backend allows (SQS: 10 a call). Returns how
        many were deleted. An entry that fails (stale receipt, per-entry error) is logged and left: the message
        is redelivered, and a job whose result is committed is then dropped. Raises if a call fails outright."""

    def release_many(self, received: list[ReceivedJob], delay: int = 0) -> int:
        """`release` for several messages (SQS: 10 a call), visible again after `delay` whole seconds (0: now).
        Returns how many were released; failed entries are logged and left (they return after the visibility
        timeout). Raises if a call fails outright.
        A release does not count as a receive towards dead-lettering on the database queue; on SQS it does
        (ApproximateReceiveCount only grows)."""

    def close(self) -> None: ...
