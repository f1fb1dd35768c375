"""What a monitor's history says: uptime and latency over a window, its incidents (DOWN periods), and the
summary of all monitors. Read from the rollups (healthmon.rollups) and the state changes, never from a
year of raw rows; the API, the status page and /metrics share these functions. Nothing here knows Flask.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from healthmon import rollups, sql
from healthmon.db import utcnow
from healthmon.domain.status import DOWN
from healthmon.maintenance import displayed_status

WINDOWS = {
    "24h": ("h", dt.timedelta(hours=24)),
    "7d": ("h", dt.timedelta(days=7)),
    "30d": ("d", dt.timedelta(days=30)),
    "90d": ("d", dt.timedelta(days=90)),
    "365d": ("d", dt.timedelta(days=365)),
}
"""Window name: (rollup period it reads, length). Hourly rows for the short windows (the start is exact to
the hour), daily rows for the long ones (exact to the UTC day): a year reads at most ~366 rows a monitor."""

PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def latency_figures(agg: rollups.Aggregate) -> dict:
    """Latency of successful checks (ms): avg, min, max and the percentiles from the histogram."""
    out = {"avg": agg.latency_avg, "min": agg.latency_min, "max": agg.latency_max}
    out.update({name: agg.percentile(q) for name, q in PERCENTILES.items()})
    return out


# ---- incidents -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """A DOWN period: from the change to DOWN until the next change away from DOWN (None: still DOWN)."""

    monitor_id: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    first_error: str
    previous_change_at: dt.datetime | None = None  # the change before it: the failure streak began after it

    def duration_seconds(self, now: dt.datetime) -> int:
        return max(0, int(((self.ended_at or now) - self.started_at).total_seconds()))

    def overlap_seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        lo, hi = max(self.started_at, start), min(self.ended_at or end, end)
        return max(0.0, (hi - lo).total_seconds())


def _incidents_from(rows: Sequence[tuple]) -> dict[int, list[Incident]]:
    """(monitor_id, from_status, to_status, reason, created_at) rows in time order -> incidents, oldest first."""
    out: dict[int, list[Incident]] = {}
    opened: dict[int, tuple[dt.datetime, str, dt.datetime | None]] = {}
    previous: dict[int, dt.datetime] = {}
    for monitor_id, _from, to, reason, at in rows:
        at = sql.as_datetime(at)
        if to == DOWN:
            opened.setdefault(monitor_id, (at, reason, previous.get(monitor_id)))
        elif monitor_id in opened:
            started, first, before = opened.pop(monitor_id)
            out.setdefault(monitor_id, []).append(Incident(monitor_id, started, at, first, before))
        previous[monitor_id] = at
    for monitor_id, (started, first, before) in opened.items():
        out.setdefault(monitor_id, []).append(Incident(monitor_id, started, None, first, before))
    return out


def resolve_first_errors(incidents: list[Incident]) -> list[Incident]:
    """Each incident's first error: the first failed check after the last good one (and after the state
    change before it) up to when it went DOWN (the check that tipped it is FAIL_THRESHOLD failures later),
    while raw results are kept; else the error that took it DOWN, from its state change."""
    out = []
    for inc in incidents:
        floor = inc.previous_change_at or inc.started_at - dt.timedelta(days=1)
        rows = sql.query(
            "SELECT error_kind, error, status_code FROM check_results WHERE monitor_id = ? AND ok = ? "
            "AND checked_at <= ? AND checked_at > COALESCE((SELECT MAX(checked_at) FROM check_results "
            "WHERE monitor_id = ? AND ok = ? AND checked_at <= ? AND checked_at > ?), ?) ORDER BY checked_at LIMIT 1",
            (inc.monitor_id, False, inc.started_at, inc.monitor_id, True, inc.started_at, floor, floor))
        if rows:
            kind, error, status = rows[0]
            text = error or (f"status {status}" if status is not None else kind) or inc.first_error
            inc = dataclasses.replace(inc, first_error=text)
        out.append(inc)
    return out


def incidents(monitor_id: int) -> list[Incident]:
    """The monitor's DOWN periods, newest first (first errors not resolved; see incident_page)."""
    rows = sql.query("SELECT monitor_id, from_status, to_status, reason, created_at FROM state_changes "
                     "WHERE monitor_id = ? ORDER BY created_at, id", (monitor_id,))
    return list(reversed(_incidents_from(rows).get(monitor_id, [])))


def incident_page(monitor_id: int, offset: int, limit: int) -> tuple[list[Incident], int]:
    """One page of the monitor's incidents, newest first, with their first errors, and the total."""
    found = incidents(monitor_id)
    return resolve_first_errors(found[offset:offset + limit]), len(found)


def incidents_by_monitor(since: dt.datetime | None = None,
                         monitor_ids: Sequence[int] | None = None) -> dict[int, list[Incident]]:
    """Incidents of every (or the given) monitor that were open at or after `since`, oldest first: one
    query over the state changes (a few rows per incident)."""
    where, params = "", []
    if monitor_ids is not None:
        where, params = f" WHERE monitor_id IN ({sql.marks(len(monitor_ids))})", list(monitor_ids)
    rows = sql.query("SELECT monitor_id, from_status, to_status, reason, created_at FROM state_changes"  # noqa: S608
                     f"{where} ORDER BY created_at, id", params)
    out = _incidents_from(rows)
    if since is not None:
        out = {m: kept for m, found in out.items()
               if (kept := [i for i in found if i.ended_at is None or i.ended_at >= since])}
    return out


def incident_first_error(monitor_id: int, down_at: dt.datetime, fallback: str) -> str:
    """The first error of the incident that went DOWN at `down_at` (for a recovery alert)."""
    return resolve_first_errors([Incident(monitor_id, down_at, None, fallback)])[0].first_error


# ---- uptime --------------------------------------------------------------------------------------------


def uptime(monitor_id: int, window: str, now: dt.datetime | None = None) -> dict:
    """GET /monitors/{id}/uptime: uptime %, checks, failures, downtime and latency over `window`."""
    now = now or utcnow()
    period, length = WINDOWS[window]
    agg, start = rollups.window(monitor_id, period, now - length, now)
    downtime = sum(i.overlap_seconds(start, now) for i in incidents(monitor_id))
    return {
        "monitor_id": monitor_id, "window": window, "from": start, "to": now,
        "uptime_percent": agg.uptime_percent, "checks": agg.checks, "failures": agg.failures,
        "downtime_seconds": int(downtime), "latency_ms": latency_figures(agg),
    }


def uptime_by_monitor(window: str, now: dt.datetime,
                      monitor_ids: Sequence[int] | None = None) -> dict[int, rollups.Aggregate]:
    """Every (or the given) monitor's Aggregate over `window`, in two grouped queries."""
    period, length = WINDOWS[window]
    return rollups.window_by_monitor(period, now - length, now, monitor_ids)[0]


# ---- summary -------------------------------------------------------------------------------------------

WORST = 5
"""Monitors listed under worst_uptime."""


def tagged(tags: Sequence[str] | None) -> tuple[str, list]:
    """A WHERE clause (or "") keeping the monitors (`id`) that carry every one of `tags`, and its parameters:
    one probe of monitor_tags' (tag, monitor) index per tag."""
    wanted = list(dict.fromkeys(t.lower() for t in tags or ()))
    if not wanted:
        return "", []
    clause = " AND ".join(["id IN (SELECT monitor_id FROM monitor_tags WHERE tag = ?)"] * len(wanted))
    return f" WHERE {clause}", wanted


def summary(now: dt.datetime | None = None, tags: Sequence[str] | None = None) -> dict:
    """GET /summary: monitors by status, the ones DOWN now (since when), the worst uptimes over 24 h; only
    the monitors carrying every one of `tags` when given."""
    now = now or utcnow()
    where, params = tagged(tags)
    monitors = sql.query("SELECT id, name, status, enabled, status_changed_at FROM monitors"  # noqa: S608
                         f"{where} ORDER BY id", params)
    counts = {"total": len(monitors), "up": 0, "degraded": 0, "down": 0, "unknown": 0, "paused": 0, "maintenance": 0,
              "disabled": 0}
    down_now = []
    names = {}
    for monitor_id, name, status, enabled, changed in monitors:
        names[monitor_id] = name
        if not enabled:
            counts["disabled"] += 1
            continue
        counts[displayed_status(monitor_id, status).lower()] += 1
        if status == DOWN:
            since = sql.as_datetime(changed)
            down_now.append({"id": monitor_id, "name": name, "since": since,
                             "down_for_seconds": None if since is None else max(0, int((now - since).total_seconds()))})
    day = uptime_by_monitor("24h", now, list(names) if tags else None) if names or not tags else {}
    ranked = sorted((agg.uptime_percent, monitor_id) for monitor_id, agg in day.items()
                    if agg.checks and monitor_id in names)
    worst = [{"id": monitor_id, "name": names[monitor_id], "uptime_percent": pct, "checks": day[monitor_id].checks}
             for pct, monitor_id in ranked[:WORST]]
    return {"monitors": counts, "down_now": down_now, "worst_uptime_24h": worst, "generated_at": now}
