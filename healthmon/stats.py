"""The pipeline's health as numbers a user can read (GET /stats): is every monitor checked on time?

Enabled monitors are counted by the status a user is shown: MAINTENANCE while a maintenance window covers
one (not under its recorded status), PAUSED while paused.

Read from the database only, so any API process answers the same whatever the number of schedulers and
checkers: counts by status, how far the scheduler is behind, how many checks are pending and how old the
oldest is, how many monitors have a pending job older than their interval (each of those is skipping
slots: the checkers cannot keep up, or are down), the slots skipped since the monitors were created, the
checks recorded in the last minute, and the queue's depth on the database queue.

`overloaded` is true while any monitor's pending job is older than its interval or the scheduler is
OVERDUE_GRACE behind; it goes back to false by itself once the checkers catch up.
"""

from __future__ import annotations

import datetime as dt

from healthmon import sql
from healthmon.db import is_postgres, utcnow
from healthmon.domain.status import DEGRADED, DOWN, MAINTENANCE, PAUSED, UNKNOWN, UP
from healthmon.maintenance import displayed_status

OVERDUE_GRACE = dt.timedelta(seconds=5)
"""A due monitor not claimed this long after its slot means the scheduler is behind (it ticks every 1 s)."""

RECENT = dt.timedelta(minutes=1)
"""The window of "checks recorded recently"."""


def _seconds(now: dt.datetime, then) -> float | None:
    then = sql.as_datetime(then)
    return None if then is None else round(max(0.0, (now - then).total_seconds()), 3)


def _behind_sql() -> str:
    """Enabled monitors whose pending job is older than their interval: they are skipping slots."""
    if is_postgres():
        older = "pending_slot < ? - check_interval * interval '1 second'"
    else:
        older = "(julianday(?) - julianday(pending_slot)) * 86400.0 > check_interval"
    return f"SELECT COUNT(*) FROM monitors WHERE enabled = ? AND pending_slot IS NOT NULL AND {older}"  # noqa: S608


def pipeline_stats(queue_backend: str, now: dt.datetime | None = None) -> dict:
    """The figures of GET /stats (see the module docstring). One read-only pass, a few indexed queries."""
    now = now or utcnow()
    by_status: dict[str, int] = {}
    for monitor_id, status in sql.query("SELECT id, status FROM monitors WHERE enabled = ?", (True,)):
        shown = displayed_status(monitor_id, status)
        by_status[shown] = by_status.get(shown, 0) + 1
    total, enabled, pending, oldest_pending, skipped = sql.query(
        "SELECT COUNT(*), SUM(CASE WHEN enabled = ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN pending_slot IS NOT NULL THEN 1 ELSE 0 END), MIN(pending_slot), SUM(skipped_slots) "
        "FROM monitors", (True,))[0]
    overdue, oldest_due = sql.query(
        "SELECT COUNT(*), MIN(next_check_at) FROM monitors WHERE enabled = ? AND pending_slot IS NULL "
        "AND next_check_at <= ?", (True, now - OVERDUE_GRACE))[0]
    behind = sql.query(_behind_sql(), (True, now))[0][0]
    recent, last = sql.query("SELECT COUNT(*), MAX(checked_at) FROM check_results WHERE checked_at > ?",
                             (now - RECENT,))[0]
    queue: dict = {"backend": queue_backend}
    if queue_backend == "database":
        depth, dead = sql.query(
            "SELECT SUM(CASE WHEN dead_at IS NULL THEN 1 ELSE 0 END), SUM(CASE WHEN dead_at IS NULL THEN 0 ELSE 1 "
            "END) FROM queue_messages")[0]
        queue.update(depth=int(depth or 0), dead_letters=int(dead or 0))
    return {
        "overloaded": bool(behind or overdue),
        "monitors": {
            "total": int(total or 0), "enabled": int(enabled or 0),
            "up": int(by_status.get(UP, 0)), "degraded": int(by_status.get(DEGRADED, 0)),
            "down": int(by_status.get(DOWN, 0)),
            "unknown": int(by_status.get(UNKNOWN, 0)),
            "paused": int(by_status.get(PAUSED, 0)), "maintenance": int(by_status.get(MAINTENANCE, 0)),
        },
        "schedule": {
            "overdue": int(overdue or 0), "oldest_overdue_seconds": _seconds(now, oldest_due),
            "pending_checks": int(pending or 0), "oldest_pending_seconds": _seconds(now, oldest_pending),
            "behind": int(behind or 0), "skipped_slots_total": int(skipped or 0),
        },
        "results": {"last_minute": int(recent or 0), "last_result_age_seconds": _seconds(now, last)},
        "queue": queue,
    }
