"""Recording check results: the one place where a result changes a monitor.

`record_result` runs one transaction per result: it locks the monitor (FOR UPDATE on PostgreSQL; on
SQLite the IMMEDIATE transaction already holds the database's write lock), re-checks that the job still
applies, inserts the CheckResult (unique per monitor and slot), moves the counters and the state, and,
on a transition, inserts the StateChange and its AlertOutbox row. Either all of that commits or none of
it, so a crash can never leave a state change without its alert, and a message delivered twice (SQS is
at-least-once) records once: the second delivery finds the slot taken and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

import peewee as pw

from checker import alerts
from checker.result import CheckResult as Result
from checker.result import CheckSpec
from checker.state import DOWN, UP, transition
from healthmon import defaults
from healthmon.db import database, for_update, utcnow
from healthmon.models import AlertOutbox, CheckResult, Monitor, StateChange
from healthmon.queue.base import CheckJob
from healthmon.redact import redact_text
from healthmon.settings import Settings

log = logging.getLogger("healthmon.checker")

MAX_ERROR_CHARS = 500
"""Stored error messages are clipped: they are shown in the API, not used for debugging dumps."""
_URL = re.compile(r"\b(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s?#@]*@)?(?P<host>[^/\s?#@]+)[^\s\"'<>]*")


def safe_text(text: str) -> str:
    """`text` with credentials masked and every URL cut to scheme and host: a URL's path, query and
    userinfo may be tokens. The engine already promises this; stored text is cleaned again regardless."""
    text = _URL.sub(r"\g<scheme>\g<host>", redact_text(text))
    return text[:MAX_ERROR_CHARS]


@dataclass(frozen=True)
class Change:
    """A committed state change. `event_id` is the StateChange id (and the outbox row's event_id)."""

    event_id: int
    monitor_id: int
    from_status: str
    to_status: str
    reason: str
    at: dt.datetime
    alert_queued: bool


@dataclass(frozen=True)
class RecordOutcome:
    """What `record_result` did. `recorded` is false when the job was dropped; `reason` says why:
    "recorded", "deleted", "disabled", "generation", "duplicate" or "stale"."""

    recorded: bool
    reason: str
    change: Change | None = None


def _drop_reason(monitor: Monitor | None, job: CheckJob) -> str | None:
    """Why `job` must not be checked or recorded now, or None if it applies."""
    if monitor is None:
        return "deleted"
    if not monitor.enabled:
        return "disabled"
    if monitor.generation != job.generation:
        return "generation"
    if monitor.last_slot is not None and monitor.last_slot >= job.slot:
        return "duplicate" if monitor.last_slot == job.slot else "stale"
    return None


def load_spec(job: CheckJob, settings: Settings) -> CheckSpec | None:
    """What to check for `job`, or None when the message should be deleted unchecked (monitor deleted or
    disabled, configuration changed since the job was scheduled, or this or a later slot already
    recorded). Reads without locking: `record_result` checks again under the lock."""
    monitor = Monitor.get_or_none(Monitor.id == job.monitor_id)
    if _drop_reason(monitor, job) is not None:
        return None
    return CheckSpec(
        url=monitor.url,
        timeout=float(monitor.timeout),
        expected_status_code=monitor.expected_status_code,
        max_redirects=defaults.MAX_REDIRECTS,
        max_body_bytes=settings.max_body_bytes,
    )


def _clean_error(result: Result) -> str | None:
    return safe_text(result.error) if result.error else None


def _alert_row(monitor: Monitor, change: StateChange, result: Result, down_for: int | None) -> dict:
    fmt = alerts.resolve_format(monitor.webhook_url, monitor.webhook_format)
    event = alerts.AlertEvent(
        event_id=change.id,
        monitor_id=monitor.id,
        name=monitor.name,
        url=monitor.url,
        old=change.from_status,
        new=change.to_status,
        time=change.created_at,
        reason=change.reason,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        down_for_seconds=down_for,
    )
    return {
        "event_id": change.id,
        "monitor_id": monitor.id,
        "webhook_url": monitor.webhook_url,
        "webhook_format": fmt,
        "payload": alerts.render(event, fmt),
        "created_at": change.created_at,
        "next_attempt_at": change.created_at,
    }


def record_result(job: CheckJob, result: Result, settings: Settings) -> RecordOutcome:
    """Record `result` for `job` in one transaction; idempotent per (monitor, slot).

    Side effects on commit: one CheckResult row; the monitor's last_* fields, last_slot, counters and
    status; on a transition a StateChange row and, if the monitor has a webhook, an AlertOutbox row; then
    the log line `[STATE CHANGE] monitor=N OLD -> NEW`. Raises only on database errors (the caller leaves
    the message on the queue, and a redelivery records it later or finds it recorded).
    """
    now = utcnow()
    error = _clean_error(result)
    with database.atomic():
        query = Monitor.select().where(Monitor.id == job.monitor_id)
        monitor = for_update(query).first()
        reason = _drop_reason(monitor, job)
        if reason is not None:
            return RecordOutcome(False, reason)
        try:
            # A savepoint, so a unique violation on PostgreSQL does not abort the whole transaction.
            with database.atomic():
                CheckResult.create(
                    monitor=monitor.id, slot=job.slot, checked_at=result.checked_at or now, ok=result.ok,
                    status_code=result.status_code, latency_ms=result.latency_ms, error_kind=result.error_kind,
                    error=error, dns_ms=result.dns_ms, connect_ms=result.connect_ms, tls_ms=result.tls_ms,
                    first_byte_ms=result.first_byte_ms,
                )
        except pw.IntegrityError:
            return RecordOutcome(False, "duplicate")

        step = transition(
            monitor.status, monitor.consecutive_failures, monitor.consecutive_successes, result.ok,
            monitor.fail_threshold or settings.fail_threshold,
            monitor.success_threshold or settings.success_threshold,
        )
        fields = {
            Monitor.last_checked_at: result.checked_at or now,
            Monitor.last_status_code: result.status_code,
            Monitor.last_latency_ms: result.latency_ms,
            Monitor.last_error: error,
            Monitor.last_slot: job.slot,
            Monitor.consecutive_failures: step.failures,
            Monitor.consecutive_successes: step.successes,
            Monitor.status: step.status,
        }
        change = None
        if step.changed:
            fields[Monitor.status_changed_at] = now
            row = StateChange.create(
                monitor=monitor.id, from_status=step.from_status, to_status=step.status,
                reason=safe_text(result.reason), created_at=now,
            )
            down_for = None
            if step.from_status == DOWN and step.status == UP and monitor.status_changed_at is not None:
                down_for = max(int((now - monitor.status_changed_at).total_seconds()), 0)
            if monitor.webhook_url:
                AlertOutbox.insert(**_alert_row(monitor, row, result, down_for)).execute()
            change = Change(row.id, monitor.id, step.from_status, step.status, row.reason, now,
                            bool(monitor.webhook_url))
        Monitor.update(fields).where(Monitor.id == monitor.id).execute()
    if change is not None:
        log.info("[STATE CHANGE] monitor=%d %s -> %s", change.monitor_id, change.from_status, change.to_status)
    return RecordOutcome(True, "recorded", change)
