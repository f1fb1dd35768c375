"""Bounded storage: raw check results, delivered alerts and dead queue messages are pruned after
RESULT_RETENTION_DAYS; hourly rollups after HOURLY_RETENTION_DAYS; daily rollups after DAILY_RETENTION_DAYS
(their counts move into each monitor's all-time row first, so the /metrics counters never go down); state
changes (the long history, a few rows per incident) are kept. Maintenance report claims go with the
delivered alerts, but never before REPORT_CLAIMS_KEPT (the report job looks back 7 days at most). A raw
result the rollup job has not folded yet (at or after its watermark) is never pruned, whatever its age.

Deletes run in small batches so a prune never holds a long lock over a busy table.
"""

from __future__ import annotations

import datetime as dt
import logging

from healthmon import rollups
from healthmon.db import database, utcnow
from healthmon.models import AlertOutbox, CheckResult, MaintenanceReport, QueueMessage, Rollup

log = logging.getLogger("healthmon.retention")

PRUNE_BATCH = 5_000
"""Rows deleted per statement: small enough to keep each transaction short on SQLite and PostgreSQL."""

HOURLY_RETENTION_DAYS = 90
"""Hourly rollups: the 24 h and 7 d charts and windows; 90 days of them is 2,160 rows a monitor."""

DAILY_RETENTION_DAYS = 400
"""Daily rollups: a year of uptime (plus a month) reads at most ~400 rows a monitor."""

REPORT_CLAIMS_KEPT = dt.timedelta(days=8)
"""Longer than scheduler.maintenance_reports.CATCH_UP: a claim is kept while its occurrence may be looked at."""

PRUNE_INTERVAL_S = 300
"""How often a long-running process prunes; results accrue slowly compared with this."""


def _delete_batch(model, condition, limit: int) -> int:
    ids = model.select(model.id).where(condition).order_by(model.id).limit(limit)
    return model.delete().where(model.id.in_(ids)).execute()


def prune(retention_days: int, now: dt.datetime | None = None, batch: int = PRUNE_BATCH,
          max_batches: int = 20) -> int:
    """Delete what is older than `retention_days`. Returns the number of rows deleted (at most
    `batch * max_batches` per table, so one call stays bounded; the next call continues)."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=retention_days)
    mark = rollups.watermark()
    raw_cutoff = min(cutoff, mark) if mark is not None else None
    hourly_cutoff = now - dt.timedelta(days=HOURLY_RETENTION_DAYS)
    targets = [
        (AlertOutbox, (AlertOutbox.state != "pending") & (AlertOutbox.created_at < cutoff)),
        (QueueMessage, QueueMessage.dead_at.is_null(False) & (QueueMessage.dead_at < cutoff)),
        (Rollup, (Rollup.period == "h") & (Rollup.bucket < hourly_cutoff)),
        (MaintenanceReport, MaintenanceReport.created_at < min(cutoff, now - REPORT_CLAIMS_KEPT)),
    ]
    if raw_cutoff is not None:  # before the rollup job's first run nothing raw is pruned
        targets.insert(0, (CheckResult, CheckResult.checked_at < raw_cutoff))
    total = 0
    for model, condition in targets:
        for _ in range(max_batches):
            deleted = _delete_batch(model, condition, batch)
            total += deleted
            if deleted < batch:
                break
    with database.atomic():
        total += rollups.archive_daily(rollups.floor_to("d", now - dt.timedelta(days=DAILY_RETENTION_DAYS)))
    if total:
        log.info("[RETENTION] pruned %d rows older than %d days", total, retention_days)
    return total

