"""Bounded storage: raw check results, delivered alerts and dead queue messages are pruned after
RESULT_RETENTION_DAYS; state changes (the long history, a few rows per incident) are kept.

Deletes run in small batches so a prune never holds a long lock over a busy table.
"""

from __future__ import annotations

import datetime as dt
import logging

from healthmon.db import utcnow
from healthmon.models import AlertOutbox, CheckResult, QueueMessage

log = logging.getLogger("healthmon.retention")

PRUNE_BATCH = 5_000
"""Rows deleted per statement: small enough to keep each transaction short on SQLite and PostgreSQL."""

PRUNE_INTERVAL_S = 300
"""How often a long-running process prunes; results accrue slowly compared with this."""


def _delete_batch(model, condition, limit: int) -> int:
    ids = model.select(model.id).where(condition).order_by(model.id).limit(limit)
    return model.delete().where(model.id.in_(ids)).execute()


def prune(retention_days: int, now: dt.datetime | None = None, batch: int = PRUNE_BATCH,
          max_batches: int = 20) -> int:
    """Delete what is older than `retention_days`. Returns the number of rows deleted (at most
    `batch * max_batches` per table, so one call stays bounded; the next call continues)."""
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    targets = (
        (CheckResult, CheckResult.checked_at < cutoff),
        (AlertOutbox, (AlertOutbox.state != "pending") & (AlertOutbox.created_at < cutoff)),
        (QueueMessage, QueueMessage.dead_at.is_null(False) & (QueueMessage.dead_at < cutoff)),
    )
    total = 0
    for model, condition in targets:
        for _ in range(max_batches):
            deleted = _delete_batch(model, condition, batch)
            total += deleted
            if deleted < batch:
                break
    if total:
        log.info("[RETENTION] pruned %d rows older than %d days", total, retention_days)
    return total
