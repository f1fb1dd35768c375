"""Hourly and daily rollups of check results, maintained by a claimed background job, and the window reads
that combine them with the raw results the job has not reached yet.

`rollup_step(now)` (called by the scheduler about once a minute) claims the `rollups` job's lease with a
conditional UPDATE, so two schedulers never run it at once, then folds the raw results with
`watermark <= checked_at < next` into the `rollups` table, one transaction per chunk: per period one
`INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE` that the database engine runs (SQLite buckets
with strftime, PostgreSQL with date_trunc), and the new watermark, fenced by the lease owner. Every rollup
column adds up (checks, failures, latency sum and count, a fixed-bucket histogram), so a merge is a sum.

The watermark trails `now` by SETTLE: a result is recorded a moment after its check finished (batches,
retries), and one whose `checked_at` is already behind the watermark would never be counted. Reads use the
same watermark: rollups for everything before it, raw results from it on, so nothing is counted twice or
missed, whatever the job's lag. Raw results at or after the watermark are never pruned (healthmon.retention).

Nothing here knows Flask.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from healthmon import sql
from healthmon.db import database, is_postgres, utcnow
from healthmon.models import HISTOGRAM_COLUMNS, LATENCY_BUCKETS_MS

log = logging.getLogger("healthmon.rollups")

JOB_NAME = "rollups"

SETTLE = dt.timedelta(minutes=2)
"""How far the watermark trails now. A result's row is committed at most a few seconds after its
checked_at (batched recording: 0.2 s; a failed commit is retried after 1 s); two minutes leaves room for a
database failover in between."""

CHUNK = dt.timedelta(hours=1)
"""Raw time folded per transaction: at 1,000 monitors checked every minute, 60,000 rows (~0.2 s)."""

MAX_CHUNKS = 24
"""Chunks per call at most (a day of backlog); the next call continues."""

BUDGET_S = 1.0
"""A call starts no new chunk after this many seconds: the scheduler's tick waits while it runs."""

LEASE = dt.timedelta(minutes=5)
"""How long a claim lasts. A scheduler that dies mid-step lets another take over after this."""

STEP_INTERVAL_S = 60
"""How often a long-running scheduler calls rollup_step."""

PERIODS = {"h": "hour", "d": "day"}
"""Rollup periods and their date_trunc unit."""

ARCHIVE = "a"
"""The period of the per-monitor remainder of pruned daily rollups (bucket EPOCH)."""

EPOCH = dt.datetime(1970, 1, 1)

SUM_COLUMNS = ("checks", "failures", "latency_sum", "latency_count", *HISTOGRAM_COLUMNS)
"""Rollup columns that merge by addition."""

ALL_COLUMNS = (*SUM_COLUMNS, "latency_min", "latency_max")


def owner_name() -> str:
    """This process as a lease owner: host and pid."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


# ---- SQL pieces ----------------------------------------------------------------------------------------


def recent_results() -> str:
    """`check_results` for a query over a range of checked_at that groups by monitor. SQLite's planner
    would rather walk the monitor_id index to save the GROUP BY's sort, which reads every raw row (14 days
    of them) instead of the range; INDEXED BY makes it take the checked_at index. PostgreSQL's planner
    weighs the range by its statistics and needs no hint."""
    return "check_results" if is_postgres() else "check_results INDEXED BY check_results_checked_at"


def bucket_sql(period: str, column: str = "checked_at") -> str:
    """The start of the hour or day holding `column`, as the engine computes it."""
    if is_postgres():
        return f"date_trunc('{PERIODS[period]}', {column})"
    fmt = "%Y-%m-%d %H:00:00" if period == "h" else "%Y-%m-%d 00:00:00"
    return f"strftime('{fmt}', {column})"


def raw_aggregates_sql() -> str:
    """SELECT expressions over check_results, in ALL_COLUMNS order. Latency counts successful checks."""
    ok_latency = "CASE WHEN ok THEN latency_ms END"
    parts = ["COUNT(*)", "SUM(CASE WHEN ok THEN 0 ELSE 1 END)", f"COALESCE(SUM({ok_latency}), 0)",
             f"COUNT({ok_latency})"]
    low = None
    for high in LATENCY_BUCKETS_MS:
        cond = f"latency_ms <= {high}" + (f" AND latency_ms > {low}" if low is not None else "")
        parts.append(f"SUM(CASE WHEN ok AND {cond} THEN 1 ELSE 0 END)")
        low = high
    parts.append(f"SUM(CASE WHEN ok AND latency_ms > {low} THEN 1 ELSE 0 END)")
    parts += [f"MIN({ok_latency})", f"MAX({ok_latency})"]
    return ", ".join(parts)


def rollup_aggregates_sql() -> str:
    """SELECT expressions over rollups, in ALL_COLUMNS order."""
    return ", ".join([*(f"SUM({c})" for c in SUM_COLUMNS), "MIN(latency_min)", "MAX(latency_max)"])


def _merge_tail() -> str:
    """ON CONFLICT clause adding the new figures to an existing row of the same bucket."""
    sets = [f"{c} = rollups.{c} + excluded.{c}" for c in SUM_COLUMNS]
    if is_postgres():
        sets += ["latency_min = LEAST(rollups.latency_min, excluded.latency_min)",
                 "latency_max = GREATEST(rollups.latency_max, excluded.latency_max)"]
    else:  # SQLite's two-argument min/max return NULL when either is NULL
        sets += ["latency_min = MIN(COALESCE(rollups.latency_min, excluded.latency_min), "
                 "COALESCE(excluded.latency_min, rollups.latency_min))",
                 "latency_max = MAX(COALESCE(rollups.latency_max, excluded.latency_max), "
                 "COALESCE(excluded.latency_max, rollups.latency_max))"]
    return " ON CONFLICT (monitor_id, period, bucket) DO UPDATE SET " + ", ".join(sets)


def _insert_head() -> str:
    return f"INSERT INTO rollups (monitor_id, period, bucket, {', '.join(ALL_COLUMNS)}) "  # noqa: S608


def fold_raw(period: str, start: dt.datetime, end: dt.datetime) -> int:
    """Add the raw results with start <= checked_at < end into `period` rollups (one statement)."""
    bucket = bucket_sql(period)
    text = (_insert_head() + f"SELECT monitor_id, '{period}', {bucket}, {raw_aggregates_sql()} "  # noqa: S608
            f"FROM {recent_results()} WHERE checked_at >= ? AND checked_at < ? GROUP BY monitor_id, {bucket}"
            + _merge_tail())
    return sql.execute(text, (start, end))


def archive_daily(cutoff: dt.datetime) -> int:
    """Fold daily rollups before `cutoff` into each monitor's all-time row, then delete them. Returns the
    number of daily rows removed. Runs inside the caller's transaction."""
    text = (_insert_head() + f"SELECT monitor_id, '{ARCHIVE}', ?, {rollup_aggregates_sql()} "  # noqa: S608
            "FROM rollups WHERE period = 'd' AND bucket < ? GROUP BY monitor_id" + _merge_tail())
    sql.execute(text, (EPOCH, cutoff))
    return sql.execute("DELETE FROM rollups WHERE period = 'd' AND bucket < ?", (cutoff,))


# ---- the job -------------------------------------------------------------------------------------------


def _ensure_job_row(name: str) -> None:
    verb = "INSERT INTO jobs (name) VALUES (?) ON CONFLICT DO NOTHING"
    sql.execute(verb, (name,))


def claim(now: dt.datetime, owner: str, lease: dt.timedelta = LEASE, name: str = JOB_NAME) -> bool:
    """Take the lease of job `name` unless another process holds a live one. Atomic: one conditional UPDATE.
    (Also the lease of other leased jobs: scheduler.maintenance_reports.)"""
    with database.atomic():
        _ensure_job_row(name)
        return sql.execute(
            "UPDATE jobs SET lease_until = ?, owner = ? WHERE name = ? AND "
            "(lease_until IS NULL OR lease_until < ? OR owner = ?)",
            (now + lease, owner, name, now, owner)) == 1


def release(owner: str, name: str = JOB_NAME) -> None:
    with database.atomic():
        sql.execute("UPDATE jobs SET lease_until = NULL WHERE name = ? AND owner = ?", (name, owner))


def watermark(name: str = JOB_NAME) -> dt.datetime | None:
    """How far job `name` got (rollups: results before this are in the rollups); None before its first run."""
    rows = sql.query("SELECT watermark FROM jobs WHERE name = ?", (name,))
    return sql.as_datetime(rows[0][0]) if rows else None


def _start_of(now: dt.datetime) -> dt.datetime:
    """Where a first run starts: the oldest raw result's hour (an upgraded database keeps its history)."""
    oldest = sql.as_datetime(sql.query("SELECT MIN(checked_at) FROM check_results")[0][0])
    start = oldest if oldest is not None else now
    return start.replace(minute=0, second=0, microsecond=0)


@dataclass
class StepReport:
    claimed: bool = False
    chunks: int = 0
    watermark: dt.datetime | None = None
    caught_up: bool = False
    ranges: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)


def rollup_step(now: dt.datetime | None = None, *, chunk: dt.timedelta = CHUNK, max_chunks: int = MAX_CHUNKS,
                settle: dt.timedelta = SETTLE, owner: str | None = None, budget_s: float = BUDGET_S) -> StepReport:
    """Fold the results recorded since the watermark, up to `now - settle`, in at most `max_chunks`
    transactions. Returns what it did; does nothing (claimed False) while another process holds the lease."""
    now = now or utcnow()
    owner = owner or owner_name()
    report = StepReport()
    if not claim(now, owner):
        return report
    report.claimed = True
    target = now - settle
    deadline = time.monotonic() + budget_s
    try:
        for _ in range(max_chunks):
            if report.chunks and time.monotonic() > deadline:
                break
            with database.atomic():
                start = watermark() or _start_of(target)
                end = min(start + chunk, target)
                if end <= start:
                    report.caught_up = True
                    break
                for period in PERIODS:
                    fold_raw(period, start, end)
                moved = sql.execute("UPDATE jobs SET watermark = ? WHERE name = ? AND owner = ?",
                                    (end, JOB_NAME, owner))
                if moved != 1:  # the lease was lost to another process: roll this chunk back
                    raise LeaseLost
            report.chunks += 1
            report.ranges.append((start, end))
        if not report.caught_up:
            mark = watermark()
            report.caught_up = mark is not None and mark >= target
    except LeaseLost:
        log.warning("[ROLLUPS] lost the lease to another process; stopping")
    finally:
        release(owner)
    report.watermark = watermark()
    return report


class LeaseLost(Exception):
    """Another process took the job over (this one overran its lease)."""


# ---- reads ---------------------------------------------------------------------------------------------


@dataclass
class Aggregate:
    """Summed figures of some checks; `histogram` in LATENCY_BUCKETS_MS order plus the overflow bucket."""

    checks: int = 0
    failures: int = 0
    latency_sum: float = 0.0
    latency_count: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * len(HISTOGRAM_COLUMNS))
    latency_min: float | None = None
    latency_max: float | None = None

    @classmethod
    def from_row(cls, row: Sequence) -> Aggregate:
        """From ALL_COLUMNS values (NULL sums of empty sets read as 0)."""
        n = len(HISTOGRAM_COLUMNS)
        return cls(int(row[0] or 0), int(row[1] or 0), float(row[2] or 0), int(row[3] or 0),
                   [int(v or 0) for v in row[4:4 + n]],
                   None if row[4 + n] is None else float(row[4 + n]),
                   None if row[5 + n] is None else float(row[5 + n]))

    def add(self, other: Aggregate) -> Aggregate:
        def pick(f, a, b):
            return b if a is None else a if b is None else f(a, b)

        return Aggregate(self.checks + other.checks, self.failures + other.failures,
                         self.latency_sum + other.latency_sum, self.latency_count + other.latency_count,
                         [a + b for a, b in zip(self.histogram, other.histogram, strict=True)],
                         pick(min, self.latency_min, other.latency_min), pick(max, self.latency_max, other.latency_max))

    @property
    def uptime_percent(self) -> float | None:
        return None if not self.checks else round(100.0 * (self.checks - self.failures) / self.checks, 4)

    @property
    def latency_avg(self) -> float | None:
        return None if not self.latency_count else round(self.latency_sum / self.latency_count, 3)

    def percentile(self, q: float) -> float | None:
        """The q-quantile (0-1) of successful checks' latency, interpolated inside its histogram bucket and
        kept within the observed min and max; the overflow bucket spans max's side."""
        total = sum(self.histogram)
        if not total or self.latency_min is None or self.latency_max is None:
            return None
        rank = q * total
        seen = 0
        bounds = (0.0, *map(float, LATENCY_BUCKETS_MS), self.latency_max)
        for i, count in enumerate(self.histogram):
            if count and seen + count >= rank:
                low, high = max(bounds[i], self.latency_min), min(bounds[i + 1], self.latency_max)
                if high < low:
                    high = low
                value = low + (high - low) * ((rank - seen) / count)
                return round(min(max(value, self.latency_min), self.latency_max), 3)
            seen += count
        return round(self.latency_max, 3)


def floor_to(period: str, moment: dt.datetime) -> dt.datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if period == "d" else moment


def _ids_clause(monitor_ids: Iterable[int] | None) -> tuple[str, list]:
    if monitor_ids is None:
        return "", []
    ids = list(monitor_ids)
    return f" AND monitor_id IN ({sql.marks(len(ids))})", ids


def _grouped(period: str, start: dt.datetime, now: dt.datetime, monitor_ids: Sequence[int] | None,
             by_bucket: bool) -> list[tuple[int, dt.datetime | None, Aggregate]]:
    """(monitor_id, bucket or None, Aggregate) rows from `start` to `now`: the `period` rollups (all before
    the watermark) and the raw results from the watermark on, grouped by monitor (and bucket) in the
    database. A monitor (bucket) may come twice, once from each source."""
    mark = watermark() or start
    out: list[tuple[int, dt.datetime | None, Aggregate]] = []
    for ids in [None] if monitor_ids is None else sql.chunks(list(monitor_ids)):
        where, params = _ids_clause(ids)
        rollup_key, raw_key = ("bucket, ", f"{bucket_sql(period)}, ") if by_bucket else ("", "")
        rows = sql.query(
            f"SELECT monitor_id, {rollup_key}{rollup_aggregates_sql()} FROM rollups WHERE period = ? "  # noqa: S608
            f"AND bucket >= ?{where} GROUP BY monitor_id{', bucket' if by_bucket else ''}",
            (period, start, *params))
        rows += sql.query(
            f"SELECT monitor_id, {raw_key}{raw_aggregates_sql()} FROM {recent_results()} WHERE checked_at >= ? "  # noqa: S608
            f"AND checked_at <= ?{where} GROUP BY monitor_id{', ' + raw_key.rstrip(', ') if by_bucket else ''}",
            (max(mark, start), now, *params))
        for row in rows:
            if by_bucket:
                out.append((row[0], sql.as_datetime(row[1]), Aggregate.from_row(row[2:])))
            else:
                out.append((row[0], None, Aggregate.from_row(row[1:])))
    return out


def window_by_monitor(period: str, start: dt.datetime, now: dt.datetime,
                      monitor_ids: Sequence[int] | None = None) -> tuple[dict[int, Aggregate], dt.datetime]:
    """Per monitor, the checks from `start` (floored to `period`) to now: `period` rollups for what is
    before the watermark, raw results from it on. Two grouped queries, whatever the number of monitors.
    Returns ({monitor_id: Aggregate}, the floored start). `monitor_ids` None: every monitor."""
    start = floor_to(period, start)
    out: dict[int, Aggregate] = {}
    if monitor_ids is not None and not monitor_ids:
        return out, start
    for monitor_id, _, agg in _grouped(period, start, now, monitor_ids, by_bucket=False):
        out[monitor_id] = out[monitor_id].add(agg) if monitor_id in out else agg
    return out, start


def window(monitor_id: int, period: str, start: dt.datetime, now: dt.datetime) -> tuple[Aggregate, dt.datetime]:
    """One monitor's Aggregate from `start` (floored to `period`) to now (see window_by_monitor)."""
    found, start = window_by_monitor(period, start, now, [monitor_id])
    return found.get(monitor_id, Aggregate()), start


def series(monitor_ids: Sequence[int] | None, period: str, start: dt.datetime, now: dt.datetime
           ) -> dict[int, dict[dt.datetime, Aggregate]]:
    """Per monitor and bucket (hour or day) from `start` to now, rollups plus the raw results after the
    watermark bucketed the same way: the points of the charts and the daily bars."""
    out: dict[int, dict[dt.datetime, Aggregate]] = {}
    if monitor_ids is not None and not monitor_ids:
        return out
    for monitor_id, at, agg in _grouped(period, floor_to(period, start), now, monitor_ids, by_bucket=True):
        points = out.setdefault(monitor_id, {})
        points[at] = points[at].add(agg) if at in points else agg
    return out


class Periodic:
    """The scheduler loop's hook: `tick(monotonic_now)` runs rollup_step every STEP_INTERVAL_S (at once on
    the first call, and again at once while it is catching up). A failure is housekeeping: logged without
    secrets, retried at the next interval."""

    def __init__(self, interval_s: float = STEP_INTERVAL_S):
        self.interval_s, self.next_at = interval_s, 0.0

    def tick(self, monotonic_now: float) -> StepReport | None:
        if monotonic_now < self.next_at:
            return None
        from healthmon.redact import redact_text

        try:
            report = rollup_step()
        except Exception as exc:  # noqa: BLE001 - the scheduler loop must survive
            first = (redact_text(str(exc)).strip().splitlines() or ["no detail"])[0]
            log.warning("[ROLLUPS] step failed (%s): %s", exc.__class__.__name__, first)
            with contextlib.suppress(Exception):
                database.close()
            self.next_at = monotonic_now + self.interval_s
            return None
        self.next_at = monotonic_now + (self.interval_s if report.caught_up or not report.claimed else 0)
        return report
