"""The end-of-maintenance report: once a window's occurrence has ended, one message per covered monitor
whose status at the end differs from its status at the start ("UP -> DOWN during maintenance 'db upgrade'
(2026-03-29 02:00-03:00 UTC)"), through the outbox, exactly once.

`report_step(now)` is the whole job (the scheduler loop calls it through `Periodic`, about every
STEP_INTERVAL_S): it takes the `maintenance_reports` lease in `jobs` (the rollups' conditional UPDATE, so
two schedulers do not both work), and in ONE transaction reports every occurrence that ended in
(watermark, now - SETTLE] and moves the watermark there, fenced by the lease owner. Exactly once, even past
a lost lease or a crash: each report is a `maintenance_reports` row unique per (window, occurrence start,
monitor), inserted ON CONFLICT DO NOTHING, and only a row this transaction inserted gets its outbox row,
in the same transaction. A crash before the commit leaves nothing (the next step redoes it); after it, the
watermark has moved and the unique rows refuse a second report anyway.

A monitor that went DOWN and came back during the window gets no report (its status at the end is its
status at the start); the statuses are read from the state changes (healthmon.domain.maintenance.status_at).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field

from checker import outbox
from healthmon import rollups, sql
from healthmon.db import database, utcnow
from healthmon.domain.maintenance import MaintenanceChange, Occurrence, Rule, occurrences, status_at
from healthmon.maintenance import load_rules
from healthmon.redact import redact_text

log = logging.getLogger("healthmon.scheduler")

JOB_NAME = "maintenance_reports"
SETTLE = dt.timedelta(seconds=30)
"""A report waits this long after the window's end: a batch recorded with a time inside the window may
still be committing (recording batches take well under a second; a failed commit is retried after 1 s)."""
CATCH_UP = dt.timedelta(days=7)
"""After a long scheduler outage, occurrences that ended more than this long ago are not reported."""
LEASE = dt.timedelta(minutes=2)
STEP_INTERVAL_S = 15.0


class LeaseLost(Exception):
    """Another scheduler took the job over: this step's transaction is rolled back."""


@dataclass
class ReportStep:
    claimed: bool = False
    occurrences: list[Occurrence] = field(default_factory=list)
    reports: list[MaintenanceChange] = field(default_factory=list)


def queue_report_alert(change: MaintenanceChange, monitor_id: int, webhook_url: str | None,
                       webhook_format: str | None, now: dt.datetime) -> None:
    """The outbox rows of a maintenance report, one per destination of the monitor (its webhook_url, its
    channels: checker/outbox.py), in the transaction that inserted the report's row."""
    outbox.enqueue(monitor_id, change, outbox.destinations_of(monitor_id, webhook_url, webhook_format), now)


def _monitors(rule: Rule) -> list[tuple]:
    """(id, name, url, status, webhook_url, webhook_format) of the monitors `rule` covers that still exist."""
    columns = "SELECT id, name, url, status, webhook_url, webhook_format FROM monitors"
    if rule.all_monitors:
        return sql.query(columns + " ORDER BY id")
    ids = sorted(rule.monitor_ids)
    return [row for chunk in sql.chunks(ids)
            for row in sql.query(f"{columns} WHERE id IN ({sql.marks(len(chunk))}) ORDER BY id", chunk)]


def _changes_since(start: dt.datetime, ids: list[int]) -> dict[int, list[tuple[dt.datetime, str]]]:
    """Per monitor, (created_at, from_status) of its state changes at or after `start`, oldest first."""
    out: dict[int, list[tuple[dt.datetime, str]]] = {}
    for chunk in sql.chunks(ids):
        rows = sql.query("SELECT monitor_id, created_at, from_status FROM state_changes WHERE created_at >= ? "
                         f"AND monitor_id IN ({sql.marks(len(chunk))}) ORDER BY monitor_id, created_at, id",
                         (start, *chunk))
        for monitor_id, created_at, from_status in rows:
            out.setdefault(monitor_id, []).append((sql.as_datetime(created_at), from_status))
    return out


def _claim_report(occ: Occurrence, monitor_id: int, before: str, after: str, now: dt.datetime) -> int | None:
    """Insert the report's unique row; its id, or None when it was already reported."""
    rows = sql.insert_rows("maintenance_reports",
                           ("window_id", "occurrence_start", "monitor_id", "from_status", "to_status", "created_at"),
                           [(occ.window_id, occ.start, monitor_id, before, after, now)],
                           ignore_conflicts=True, returning="id")
    return rows[0][0] if rows else None


def report_occurrence(rule: Rule, occ: Occurrence, now: dt.datetime) -> list[MaintenanceChange]:
    """Report one ended occurrence (inside the caller's transaction); the reports this call claimed."""
    monitors = _monitors(rule)
    changes = _changes_since(occ.start, [row[0] for row in monitors])
    out = []
    for monitor_id, name, url, current, webhook_url, webhook_format in monitors:
        history = changes.get(monitor_id, [])
        before, after = status_at(occ.start, history, current), status_at(occ.end, history, current)
        if before == after:
            continue
        report_id = _claim_report(occ, monitor_id, before, after, now)
        if report_id is None:
            continue
        during = sum(1 for at, _ in history if occ.start <= at < occ.end)
        change = MaintenanceChange(report_id, monitor_id, name, url, occ.window_id, occ.name, occ.start, occ.end,
                                   before, after, during, now)
        queue_report_alert(change, monitor_id, webhook_url, webhook_format, now)
        out.append(change)
    return out


def _ended(rules: list[Rule], after: dt.datetime, until: dt.datetime) -> list[tuple[Rule, Occurrence]]:
    """Occurrences that ended in (after, until], by end."""
    found = [(rule, occ) for rule in rules for occ in occurrences(rule, after, until) if after < occ.end <= until]
    return sorted(found, key=lambda pair: (pair[1].end, pair[1].window_id))


def report_step(now: dt.datetime | None = None, *, owner: str | None = None, settle: dt.timedelta = SETTLE
                ) -> ReportStep:
    """Report the occurrences that ended since the last step (see the module docstring). Returns what it
    did; claims nothing while another process holds the lease."""
    now = now or utcnow()
    owner = owner or rollups.owner_name()
    step = ReportStep()
    if not rollups.claim(now, owner, LEASE, JOB_NAME):
        return step
    step.claimed = True
    target = now - settle
    try:
        with database.atomic():
            mark = rollups.watermark(JOB_NAME)
            # First run: nothing before it is reported (there were no windows before the upgrade).
            after = target if mark is None else max(mark, target - CATCH_UP)
            if after < target:
                for rule, occ in _ended(load_rules(), after, target):
                    step.occurrences.append(occ)
                    step.reports.extend(report_occurrence(rule, occ, now))
            moved = sql.execute("UPDATE jobs SET watermark = ? WHERE name = ? AND owner = ?",
                                (max(target, mark or target), JOB_NAME, owner))
            if moved != 1:
                raise LeaseLost
    except LeaseLost:
        log.warning("[MAINTENANCE] lost the report job's lease to another process; stopping")
        step.reports = []
    finally:
        rollups.release(owner, JOB_NAME)
    for change in step.reports:
        log.info("[MAINTENANCE] report monitor=%d %s -> %s during window=%d", change.monitor_id,
                 change.from_status, change.to_status, change.window_id)
    return step


class Periodic:
    """The scheduler loop's hook: `tick(monotonic_now)` runs report_step every STEP_INTERVAL_S. A failure is
    logged without secrets and retried at the next interval; the loop goes on."""

    def __init__(self, interval_s: float = STEP_INTERVAL_S):
        self.interval_s, self.next_at = interval_s, 0.0

    def tick(self, monotonic_now: float) -> ReportStep | None:
        if monotonic_now < self.next_at:
            return None
        self.next_at = monotonic_now + self.interval_s
        try:
            return report_step()
        except Exception as exc:  # noqa: BLE001 - the scheduler loop must survive
            first = (redact_text(str(exc)).strip().splitlines() or ["no detail"])[0]
            log.warning("[MAINTENANCE] report step failed (%s): %s", exc.__class__.__name__, first)
            with contextlib.suppress(Exception):
                database.close()
            return None
