"""A year of history: what it costs to keep (bytes per check) and to read (uptime, /status).

    .venv/bin/python bench/history.py                       # SQLite and PostgreSQL, 1,000 monitors, a year
    .venv/bin/python bench/history.py --pg ''               # SQLite only
    .venv/bin/python bench/history.py --smoke [--pg '']     # seconds: 20 monitors, 30 days; 2 simulated for 20 days
    .venv/bin/python bench/history.py --skip-sqlite --skip-reads   # PostgreSQL storage only (--skip-storage: reads)

Two parts, on each engine:

1. **Storage**, through the real pipeline: `--sim-monitors` monitors checked every `--interval` seconds for
   `--sim-days` days of simulated time. Each simulated day inserts that day's raw results, runs the rollup
   job (healthmon.rollups.rollup_step) and retention (healthmon.retention.prune, RESULT_RETENTION_DAYS=14) as
   the scheduler would; at the end the database's size is divided by the checks made. SQLite: the file's
   pages in use (page_count - freelist_count) x page_size; PostgreSQL: pg_total_relation_size of every table
   (heap, indexes, TOAST), with a plain VACUUM of check_results after each simulated day's prune standing in
   for autovacuum (which a simulated year, two minutes long, would not give time to run). Storage is per
   monitor, so a few monitors give the same figure as many (the fixed cost of empty tables aside, which is
   left out by measuring before and after).
2. **Reads** at `--monitors` monitors (default 1,000): a year of hourly (90 days) and daily (365 days)
   rollups generated directly into the database (`generate`), the last three hours as raw results, a few
   incidents each; then the median time of `healthmon.history.uptime(id, "365d")` and `"24h"` and of
   GET /status, /status/{id} and /metrics through the Flask app (STATUS_PAGE=public, METRICS=public).

No timing is asserted anywhere; tests/bench/test_bench_smoke.py runs --smoke to keep this working.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from healthmon import history, rollups, sql  # noqa: E402
from healthmon.db import bind, database, is_postgres, utcnow  # noqa: E402
from healthmon.migrations import init_db  # noqa: E402
from healthmon.models import HISTOGRAM_COLUMNS, LATENCY_BUCKETS_MS, MODELS  # noqa: E402
from healthmon.retention import prune  # noqa: E402

RAW_COLUMNS = ("monitor_id", "slot", "checked_at", "ok", "status_code", "latency_ms", "error_kind", "error",
               "dns_ms", "connect_ms", "tls_ms", "first_byte_ms")
ROLLUP_COLUMNS = ("monitor_id", "period", "bucket", *rollups.ALL_COLUMNS)
FLAKY_HOURS = 0.005
"""Share of hours with one failed check besides the incidents (about one day in nine has a failure)."""

MONITOR_COLUMNS = ("name", "url", "check_interval", "timeout", "expected_status_code", "enabled", "status",
                   "consecutive_failures", "consecutive_successes", "status_changed_at", "last_checked_at",
                   "last_latency_ms", "generation", "skipped_slots", "created_at", "updated_at", "consecutive_slow",
                   "consecutive_fast")


# ---- synthetic history ---------------------------------------------------------------------------------


def _histogram(latency: float, rng: random.Random) -> list[float]:
    """Fractions per histogram bucket for a service answering around `latency` ms (log-normal-ish)."""
    samples = [latency * rng.lognormvariate(0, 0.35) for _ in range(200)]
    counts = [0] * len(HISTOGRAM_COLUMNS)
    for v in samples:
        counts[next((i for i, b in enumerate(LATENCY_BUCKETS_MS) if v <= b), len(LATENCY_BUCKETS_MS))] += 1
    return [c / len(samples) for c in counts]


def _rollup_row(monitor_id: int, period: str, bucket: dt.datetime, checks: int, failures: int, latency: float,
                shape: list[float]) -> tuple:
    ok = checks - failures
    hist = [int(ok * f) for f in shape]
    hist[max(range(len(hist)), key=lambda i: shape[i])] += ok - sum(hist)
    return (monitor_id, period, bucket, checks, failures, latency * ok, ok, *hist,
            latency * 0.6 if ok else None, latency * 2.5 if ok else None)


def generate(monitors: int, days: int = 365, now: dt.datetime | None = None, interval_s: int = 60,
             raw_hours: int = 3, seed: int = 7, down: int | None = None) -> dict:
    """Fill the bound, migrated, empty database with `monitors` monitors and `days` days of history:
    hourly rollups for the last 90 days, daily ones for `days`, raw results for the last `raw_hours` (the
    watermark at their start, as if the rollup job had run), and 0-3 incidents per monitor (state changes,
    failures in their hours). `down` monitors (default 1 in 50) are DOWN now with an open incident."""
    rng = random.Random(seed)
    now = (now or utcnow()).replace(microsecond=0)
    mark = rollups.floor_to("h", now - dt.timedelta(hours=raw_hours))
    per_hour = 3600 // interval_s
    down = max(1, monitors // 50) if down is None else down
    created = now - dt.timedelta(days=days)
    with database.atomic():
        rows = []
        for i in range(monitors):
            status = "DOWN" if i < down else "UP"
            rows.append((f"service-{i:04d}", f"https://user:secret@svc-{i:04d}.example.com/health?token=abc",
                         interval_s, 5, 200, True, status, 0, 5, now - dt.timedelta(minutes=42), now,
                         round(rng.uniform(20, 400), 1), 1, 0, created, created, 0, 5))
        ids = [r[0] for r in sql.insert_rows("monitors", MONITOR_COLUMNS, rows, returning="id")]
    counts = {"monitors": monitors, "hourly": 0, "daily": 0, "raw": 0, "incidents": 0}
    profiles = []  # (monitor_id, latency, histogram shape, {hour: failures})
    changes = []
    for n, monitor_id in enumerate(ids):
        latency = rng.uniform(20, 400)
        bad_hours: dict[dt.datetime, int] = {}
        changes.append((monitor_id, "UNKNOWN", "UP", "status 200 in 80 ms", created))
        for _ in range(rng.randint(0, 3)):
            start = mark - dt.timedelta(hours=rng.randint(2, 24 * days - 2), minutes=rng.randint(0, 59))
            length = dt.timedelta(minutes=rng.randint(3, 90))
            changes += [(monitor_id, "UP", "DOWN", "connect: connection refused", start),
                        (monitor_id, "DOWN", "UP", "status 200 in 90 ms", start + length)]
            bad_hours[rollups.floor_to("h", start)] = min(per_hour, int(length.total_seconds() // interval_s) + 1)
            counts["incidents"] += 1
        if n < down:
            changes.append((monitor_id, "UP", "DOWN", "timeout: no answer within 5 s", now - dt.timedelta(minutes=42)))
        profiles.append((monitor_id, latency, _histogram(latency, rng), bad_hours))
    # Day by day across all monitors, hours in order: the rows land in the order the rollup job writes them.
    hourly_from = now - dt.timedelta(days=90)
    day = rollups.floor_to("d", created)
    while day < mark:
        hourly, daily = [], []
        for monitor_id, latency, shape, bad_hours in profiles:
            checks = failures = 0
            hour = max(day, rollups.floor_to("h", created))
            while hour < min(day + dt.timedelta(days=1), mark):
                bad = bad_hours.get(hour, 1 if rng.random() < FLAKY_HOURS else 0)
                if hour >= hourly_from:
                    hourly.append(_rollup_row(monitor_id, "h", hour, per_hour, bad, latency, shape))
                checks, failures = checks + per_hour, failures + bad
                hour += dt.timedelta(hours=1)
            if checks:
                daily.append(_rollup_row(monitor_id, "d", day, checks, failures, latency, shape))
        hourly.sort(key=lambda r: r[2])
        with database.atomic():
            sql.insert_rows("rollups", ROLLUP_COLUMNS, hourly + daily)
        counts["hourly"] += len(hourly)
        counts["daily"] += len(daily)
        day += dt.timedelta(days=1)
    raw = []
    at = mark
    while at < now:
        for n, (monitor_id, latency, _shape, _bad) in enumerate(profiles):
            ok = not (n < down and at >= now - dt.timedelta(minutes=42))
            lat = round(latency * rng.lognormvariate(0, 0.3), 2)
            raw.append((monitor_id, at, at + dt.timedelta(seconds=0.3), ok, 200 if ok else None,
                        lat if ok else 5000.0, None if ok else "timeout",
                        None if ok else "timeout: no answer within 5 s", 1.2, 3.4, 8.9 if ok else None,
                        lat * 0.8 if ok else None))
        at += dt.timedelta(seconds=interval_s)
    with database.atomic():
        sql.insert_rows("check_results", RAW_COLUMNS, raw)
        sql.insert_rows("state_changes", ("monitor_id", "from_status", "to_status", "reason", "created_at"),
                        sorted(changes, key=lambda c: c[4]))
    counts["raw"] = len(raw)
    with database.atomic():
        sql.execute("INSERT INTO jobs (name, watermark) VALUES (?, ?) ON CONFLICT DO NOTHING", (rollups.JOB_NAME, mark))
    rollups.rollup_step(now)  # the last minutes, as the scheduler would have done
    if is_postgres():
        database.execute_sql("ANALYZE")
    return counts


# ---- storage through the real pipeline -----------------------------------------------------------------


def _size_bytes() -> int:
    if is_postgres():
        tables = [m._meta.table_name for m in MODELS]
        rows = sql.query("SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' AND "
                         f"c.relname IN ({sql.marks(len(tables))})", tables)
        return int(rows[0][0] or 0)
    pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
    free = database.execute_sql("PRAGMA freelist_count").fetchone()[0]
    size = database.execute_sql("PRAGMA page_size").fetchone()[0]
    return (pages - free) * size


def _vacuum() -> None:
    database.close()
    database.connect()
    if is_postgres():
        database.execute_sql("VACUUM")
    else:
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def simulate(monitors: int, days: int, interval_s: int = 60, seed: int = 11) -> dict:
    """Check `monitors` monitors every `interval_s` for `days` simulated days through rollups and retention;
    the bytes the database holds at the end per check made."""
    rng = random.Random(seed)
    _vacuum()
    empty = _size_bytes()
    start = dt.datetime(2025, 1, 1)
    with database.atomic():
        rows = [(f"sim-{i}", "https://example.com/", interval_s, 5, 200, True, "UP", 0, 0, start, start, 50.0, 1, 0,
                 start, start, 0, 0) for i in range(monitors)]
        ids = [r[0] for r in sql.insert_rows("monitors", MONITOR_COLUMNS, rows, returning="id")]
    per_day = 86400 // interval_s
    checks = 0
    for day in range(days):
        base = start + dt.timedelta(days=day)
        raw = []
        for monitor_id in ids:
            latency = 30 + 10 * (monitor_id % 7)
            for k in range(per_day):
                at = base + dt.timedelta(seconds=k * interval_s + (monitor_id % interval_s))
                ok = rng.random() > 0.003
                lat = round(latency * rng.lognormvariate(0, 0.3), 2)
                raw.append((monitor_id, at, at + dt.timedelta(seconds=0.2), ok, 200 if ok else None,
                            lat if ok else 5000.0, None if ok else "timeout",
                            None if ok else "timeout: no answer within 5 s", 1.1, 2.3, 7.7, lat * 0.8))
        with database.atomic():
            sql.insert_rows("check_results", RAW_COLUMNS, raw)
        checks += len(raw)
        end = base + dt.timedelta(days=1)
        while not rollups.rollup_step(end, budget_s=60).caught_up:
            pass
        prune(14, now=end, max_batches=1000)
        if is_postgres():
            # autovacuum's part: in a year of real time it runs after every few days' prune (at 20% dead
            # rows) and the table reuses the freed space; a simulated year takes two minutes, so run it here.
            database.execute_sql("VACUUM check_results")
    _vacuum()
    used = _size_bytes() - empty
    raw_rows = sql.query("SELECT COUNT(*) FROM check_results")[0][0]
    rollup_rows = sql.query("SELECT COUNT(*) FROM rollups")[0][0]
    return {"checks": checks, "bytes": used, "bytes_per_check": used / checks, "raw_rows": raw_rows,
            "rollup_rows": rollup_rows}


# ---- reads ---------------------------------------------------------------------------------------------


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)


def reads(url: str, repeat: int) -> dict:
    from healthmon.settings import Settings
    from webapp.app import create_app

    app = create_app(Settings.from_env({"DATABASE_URL": url, "STATUS_PAGE": "public", "METRICS": "public"}))
    client = app.test_client()
    ids = [r[0] for r in sql.query("SELECT id FROM monitors ORDER BY id")]
    probe = ids[len(ids) // 2]
    database.close()
    out = {}
    with database.connection_context():
        out["uptime_365d_ms"] = _median_ms(lambda: history.uptime(probe, "365d"), repeat * 4)
        out["uptime_24h_ms"] = _median_ms(lambda: history.uptime(probe, "24h"), repeat * 4)
        period, length = history.WINDOWS["365d"]
        now = utcnow()
        out["uptime_365d_rows"] = sql.query(
            "SELECT COUNT(*) FROM rollups WHERE monitor_id = ? AND period = ? AND bucket >= ?",
            (probe, period, rollups.floor_to(period, now - length)))[0][0]
    page = client.get("/status")
    assert page.status_code == 200, page.status_code
    out["status_bytes"] = len(page.data)
    out["status_ms"] = _median_ms(lambda: client.get("/status"), repeat)
    out["status_one_ms"] = _median_ms(lambda: client.get(f"/status/{probe}"), repeat)
    out["metrics_bytes"] = len(client.get("/metrics").data)
    out["metrics_ms"] = _median_ms(lambda: client.get("/metrics"), repeat)
    return out


# ---- driver --------------------------------------------------------------------------------------------


def _scratch_pg(admin_url: str) -> tuple[str, object]:
    import psycopg2

    name = f"hm_history_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')

    def drop():
        database.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}")), drop


def _fresh(url: str) -> None:
    bind(url)
    init_db()
    database.connect(reuse_if_open=True)


def run_engine(engine: str, url: str, args, drop=None) -> None:
    try:
        _fresh(url)
        if not args.skip_storage:
            t = time.perf_counter()
            sim = simulate(args.sim_monitors, args.sim_days, args.interval)
            print(f"{engine:<10}  storage: {args.sim_monitors} monitors x {args.sim_days} days every "
                  f"{args.interval} s = {sim['checks']:,} checks; {sim['raw_rows']:,} raw + {sim['rollup_rows']:,} "
                  f"rollup rows kept; {sim['bytes']:,} bytes; bytes per check {sim['bytes_per_check']:.1f} "
                  f"({time.perf_counter() - t:.1f} s)", flush=True)
            for model in reversed(MODELS):
                model.delete().execute()
        if args.skip_reads:
            return
        t = time.perf_counter()
        made = generate(args.monitors, args.days, interval_s=args.interval)
        print(f"{engine:<10}  generated: {made['monitors']:,} monitors, {args.days} days: {made['hourly']:,} hourly + "
              f"{made['daily']:,} daily rollups, {made['raw']:,} raw results, {made['incidents']:,} incidents "
              f"({time.perf_counter() - t:.1f} s)", flush=True)
        r = reads(url, args.repeat)
        print(f"{engine:<10}  uptime 365d (one monitor, {r['uptime_365d_rows']} daily rows): "
              f"median {r['uptime_365d_ms']:.2f} ms; 24h: {r['uptime_24h_ms']:.2f} ms")
        print(f"{engine:<10}  GET /status ({args.monitors:,} monitors, {r['status_bytes']:,} bytes): "
              f"median {r['status_ms']:.0f} ms; GET /status/{{id}}: {r['status_one_ms']:.0f} ms", flush=True)
        print(f"{engine:<10}  GET /metrics ({r['metrics_bytes']:,} bytes): median {r['metrics_ms']:.0f} ms", flush=True)
    finally:
        database.close()
        if drop:
            drop()


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Storage per check and read times over a year of history.")
    parser.add_argument("--monitors", type=int, default=1000, help="monitors for the read timings")
    parser.add_argument("--days", type=int, default=365, help="days of generated history")
    parser.add_argument("--sim-monitors", type=int, default=5, help="monitors of the storage simulation")
    parser.add_argument("--sim-days", type=int, default=365, help="simulated days of the storage simulation")
    parser.add_argument("--interval", type=int, default=60, help="check interval (s)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions (median)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server for a scratch database; '' skips PostgreSQL")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--skip-storage", action="store_true", help="no storage simulation")
    parser.add_argument("--skip-reads", action="store_true", help="no generated history and read timings")
    parser.add_argument("--smoke", action="store_true", help="seconds: 20 monitors, 30 days, 2 simulated for 20")
    args = parser.parse_args(argv)
    if args.smoke:
        args.monitors, args.days, args.sim_monitors, args.sim_days, args.repeat = 20, 30, 2, 20, 2
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run_engine("sqlite", f"sqlite:///{tmp}/history.db", args)
    if args.pg:
        url, drop = _scratch_pg(args.pg)
        run_engine("postgresql", url, args, drop)


if __name__ == "__main__":
    cli()
