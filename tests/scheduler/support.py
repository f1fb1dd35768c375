"""Helpers for scheduler tests: monitors in bulk and queues that record or fail."""

from __future__ import annotations

import datetime as dt

from healthmon.models import Monitor
from healthmon.queue.base import CheckJob

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


class RecordingQueue:
    """Remembers what was sent; receives nothing."""

    def __init__(self):
        self.sent: list[CheckJob] = []

    def send_jobs(self, jobs):
        self.sent.extend(jobs)
        return len(jobs)

    def close(self):
        pass


class FailingQueue(RecordingQueue):
    def send_jobs(self, jobs):
        raise ConnectionError("queue unreachable")
