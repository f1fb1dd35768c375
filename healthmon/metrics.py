"""Prometheus metrics read from the database at scrape time (a custom prometheus-client Collector).

Nothing is counted in process memory: every figure is a query, so any gunicorn worker answers a scrape
with the same numbers, and the checker pool's processes (which record the checks) never need to be
scraped or summed. The check counters are monotonic by construction: the daily rollups, each monitor's
all-time row (pruned daily rows are added to it first) and the raw results the rollup job has not folded
yet, read in one statement, so one snapshot on both engines (a result moving from raw into a rollup is
never counted twice or missed).

Series (labels `monitor_id`, `name` per monitor):
- healthmon_monitor_up: 1 UP or DEGRADED (answering, if slowly), 0 DOWN (enabled monitors whose state is
  decided; UNKNOWN has no sample)
- healthmon_monitor_latency_seconds: the last check's latency
- healthmon_monitor_tls_expiry_timestamp_seconds: when the leaf certificate last served to the monitor
  expires (Unix time; enabled, unpaused https monitors once a check has seen one), for alerts like
  blackbox_exporter's probe_ssl_earliest_cert_expiry (which takes the earliest of the chain):
  `... - time() < 14 * 86400`
- healthmon_monitor_checks_total{outcome="ok"|"failed"}: checks recorded, ever (counter)
- healthmon_monitors{status}: enabled monitors by the status shown (PAUSED; MAINTENANCE while a window
  covers one); healthmon_monitors_disabled
- healthmon_monitor_maintenance: 1 while a maintenance window covers the monitor, else 0 (enabled monitors)
- healthmon_schedule_overdue_monitors, _oldest_overdue_seconds, _behind_monitors, _pending_checks,
  _oldest_pending_seconds; healthmon_skipped_slots (gauge: a monitor's count restarts when it is edited)
- healthmon_queue_depth, healthmon_queue_dead_letters (the database queue; with SQS read CloudWatch)
- healthmon_alerts{state="pending"|"sent"|"failed"}: outbox rows (sent and failed ones are kept
  RESULT_RETENTION_DAYS, so this is a gauge: rate() it over less than that)
- healthmon_rollup_lag_seconds: how far the rollup job's watermark trails now
"""

from __future__ import annotations

import datetime as dt

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from healthmon import rollups, sql
from healthmon.db import database, utcnow
from healthmon.domain.status import ANSWERING, DOWN, MAINTENANCE, PAUSED, STORED_STATUSES
from healthmon.maintenance import displayed_status
from healthmon.stats import pipeline_stats


def _checks_sql() -> str:
    return ("SELECT monitor_id, SUM(c), SUM(f) FROM ("  # noqa: S608 - names from code
            "SELECT monitor_id, checks AS c, failures AS f FROM rollups WHERE period IN ('d', 'a') "
            f"UNION ALL SELECT monitor_id, 1, CASE WHEN ok THEN 0 ELSE 1 END FROM {rollups.recent_results()} "
            "WHERE checked_at >= COALESCE((SELECT watermark FROM jobs WHERE name = ?), ?)) AS t GROUP BY monitor_id")


class DatabaseCollector(Collector):
    """Yields every healthmon_* family from a few queries (see the module docstring)."""

    def __init__(self, queue_backend: str):
        self.queue_backend = queue_backend

    def collect(self):
        with database.connection_context():
            yield from self._families(utcnow())

    def _families(self, now: dt.datetime):
        monitors = sql.query("SELECT id, name, status, enabled, last_latency_ms, tls_expires_at FROM monitors "
                             "ORDER BY id")
        names = {m[0]: m[1] for m in monitors}
        up = GaugeMetricFamily("healthmon_monitor_up", "1 while the monitor is UP or DEGRADED, 0 while DOWN.",
                               labels=["monitor_id", "name"])
        latency = GaugeMetricFamily("healthmon_monitor_latency_seconds", "Latency of the monitor's last check.",
                                    labels=["monitor_id", "name"])
        by_status = dict.fromkeys((*STORED_STATUSES, MAINTENANCE), 0)
        tls_expiry = GaugeMetricFamily("healthmon_monitor_tls_expiry_timestamp_seconds", "When the TLS "
                                       "certificate last served to the monitor expires (Unix time).",
                                       labels=["monitor_id", "name"])
        in_maintenance = GaugeMetricFamily("healthmon_monitor_maintenance", "1 while a maintenance window covers "
                                           "the monitor (its alerts are held back).", labels=["monitor_id", "name"])
        disabled = 0
        for monitor_id, name, status, enabled, last_latency, tls_expires_at in monitors:
            if not enabled:
                disabled += 1
                continue
            shown = displayed_status(monitor_id, status)
            by_status[shown] = by_status.get(shown, 0) + 1
            in_maintenance.add_metric([str(monitor_id), name], 1.0 if shown == MAINTENANCE else 0.0)
            labels = [str(monitor_id), name]
            if status in (*ANSWERING, DOWN):
                up.add_metric(labels, 1.0 if status in ANSWERING else 0.0)
            if last_latency is not None:
                latency.add_metric(labels, float(last_latency) / 1000.0)
            if tls_expires_at is not None and status != PAUSED:  # a paused monitor's may be stale
                tls_expiry.add_metric(labels, _unix_seconds(tls_expires_at))
        yield up
        yield latency
        yield tls_expiry
        yield in_maintenance
        counts = GaugeMetricFamily("healthmon_monitors", "Enabled monitors by the status shown (MAINTENANCE while "
                                   "a window covers one).", labels=["status"])
        for status, n in by_status.items():
            counts.add_metric([status], n)
        yield counts
        yield GaugeMetricFamily("healthmon_monitors_disabled", "Disabled monitors.", value=disabled)

        checks = CounterMetricFamily("healthmon_monitor_checks", "Checks recorded for the monitor, by outcome.",
                                     labels=["monitor_id", "name", "outcome"])
        for monitor_id, total, failed in sql.query(_checks_sql(), (rollups.JOB_NAME, rollups.EPOCH)):
            if monitor_id not in names:
                continue
            labels = [str(monitor_id), names[monitor_id]]
            checks.add_metric([*labels, "ok"], int(total or 0) - int(failed or 0))
            checks.add_metric([*labels, "failed"], int(failed or 0))
        yield checks

        stats = pipeline_stats(self.queue_backend, now)
        schedule = stats["schedule"]
        for key, help_text in (
            ("overdue", "Due monitors the scheduler has not enqueued 5 s after their slot."),
            ("behind", "Monitors whose pending check is older than their interval (skipping slots)."),
            ("pending_checks", "Monitors with a check queued or in flight."),
        ):
            name = "healthmon_schedule_" + (f"{key}_monitors" if key != "pending_checks" else key)
            yield GaugeMetricFamily(name, help_text, value=schedule[key])
        for key, help_text in (("oldest_overdue_seconds", "Age of the oldest overdue slot (0: none)."),
                               ("oldest_pending_seconds", "Age of the oldest pending check (0: none).")):
            yield GaugeMetricFamily(f"healthmon_schedule_{key}", help_text, value=schedule[key] or 0.0)
        yield GaugeMetricFamily("healthmon_skipped_slots", "Scheduled checks not run, summed over monitors.",
                                value=schedule["skipped_slots_total"])
        queue = stats["queue"]
        if "depth" in queue:
            yield GaugeMetricFamily("healthmon_queue_depth", "Messages queued or in flight (database queue).",
                                    value=queue["depth"])
            yield GaugeMetricFamily("healthmon_queue_dead_letters", "Dead-lettered messages (database queue).",
                                    value=queue["dead_letters"])

        alerts = GaugeMetricFamily("healthmon_alerts", "Alert outbox rows by state (sent and failed ones are "
                                   "pruned after RESULT_RETENTION_DAYS).", labels=["state"])
        found = dict(sql.query("SELECT state, COUNT(*) FROM alert_outbox GROUP BY state"))
        for state in ("pending", "sent", "failed"):
            alerts.add_metric([state], int(found.get(state, 0)))
        yield alerts

        mark = rollups.watermark()
        yield GaugeMetricFamily("healthmon_rollup_lag_seconds", "How far the rollup job's watermark trails now.",
                                value=(now - mark).total_seconds() if mark else 0.0)


def _unix_seconds(stored) -> float:
    """A stored naive-UTC timestamp (a datetime; SQLite's raw query gives its ISO text) as Unix seconds."""
    moment = stored if isinstance(stored, dt.datetime) else dt.datetime.fromisoformat(str(stored))
    return moment.replace(tzinfo=dt.UTC).timestamp()


def registry(queue_backend: str) -> CollectorRegistry:
    """A registry holding only the database collector: no per-process metrics, which would differ by
    worker and mislead."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector(queue_backend))
    return reg
