"""Helpers for scheduler tests: monitors in bulk and queues that record or fail."""

from __future__ import annotations

import datetime as dt

from healthmon.db import database
from healthmon.models import Monitor
from healthmon.queue.base import CheckJob
from scheduler.due import EPOCH, phase_of

T0 = dt.datetime(2026, 1, 20, 10, 30, 0)


def add_monitors(n: int, next_check_at: dt.datetime | None = T0, interval: int = 60, enabled: bool = True) -> list[int]:
    """Insert `n` monitors; returns their ids in insertion order."""
    rows = [
        {
            "name": f"m{i}",
            "url": f"https://m{i}.example/",
            "check_interval": interval,
            "timeout": 5,
            "enabled": enabled,
            "next_check_at": next_check_at,
        }
        for i in range(n)
    ]
    first = Monitor.select(Monitor.id).order_by(Monitor.id.desc()).limit(1).scalar() or 0
    for start in range(0, n, 500):
        Monitor.insert_many(rows[start : start + 500]).execute()
    return [m.id for m in Monitor.select(Monitor.id).where(Monitor.id > first).order_by(Monitor.id)]


def on_phase(monitor_id: int, interval: int, at_or_after: dt.datetime) -> dt.datetime:
    """The first time at or after `at_or_after` on the monitor's schedule (its phase in its interval)."""
    step = dt.timedelta(seconds=interval)
    start = EPOCH + phase_of(monitor_id, interval)
    return start + -((start - at_or_after) // step) * step


def is_on_phase(monitor_id: int, interval: int, at: dt.datetime) -> bool:
    return (at - EPOCH - phase_of(monitor_id, interval)) % dt.timedelta(seconds=interval) == dt.timedelta(0)


def put_on_phase(ids: list[int], interval: int, at_or_after: dt.datetime = T0) -> dict[int, dt.datetime]:
    """Move each monitor's next_check_at to its first on-phase slot at or after `at_or_after`, and mark it
    as already checked (UP), as a monitor in its steady state is. Returns {id: that slot}."""
    slots = {m: on_phase(m, interval, at_or_after) for m in ids}
    with database.atomic():
        mark_checked(ids)
        for m, slot in slots.items():
            Monitor.update(next_check_at=slot).where(Monitor.id == m).execute()
    return slots


def mark_checked(ids: list[int]) -> None:
    """Record that these monitors have had checks (UP, one success): they no longer await a first check."""
    for start in range(0, len(ids), 500):
        Monitor.update(status="UP", consecutive_successes=1, last_slot=T0 - dt.timedelta(hours=1)).where(
            Monitor.id.in_(ids[start : start + 500])
        ).execute()


def settle(jobs: list[CheckJob]) -> None:
    """What a checker does once it has recorded these jobs: the monitors' pending jobs are done, so the
    scheduler may enqueue their next slots (it enqueues nothing for a monitor whose job is pending)."""
    for job in jobs:
        Monitor.update(pending_slot=None).where(
            (Monitor.id == job.monitor_id) & (Monitor.pending_slot == job.slot)
        ).execute()


class RecordingQueue:
    """Remembers what was sent; receives nothing. With `checked=True` every job counts as checked at once
    (as by checkers keeping up), so the next slots are enqueued; with False the jobs stay pending."""

    def __init__(self, checked: bool = True):
        self.sent: list[CheckJob] = []
        self.checked = checked

    def send_jobs(self, jobs):
        self.sent.extend(jobs)
        if self.checked:
            settle(jobs)
        return len(jobs)

    def close(self):
        pass


class FailingQueue(RecordingQueue):
    def send_jobs(self, jobs):
        raise ConnectionError("queue unreachable")
