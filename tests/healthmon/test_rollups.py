"""Rollups: the background job folds raw results into hourly and daily rows that equal a brute-force count,
two processes never run it at once, and window reads (rollups + raw after the watermark) count every check
exactly once. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthmon import rollups, sql
from healthmon.db import database
from healthmon.models import LATENCY_BUCKETS_MS, CheckResult, Job, Monitor, Rollup
from healthmon.retention import prune

T0 = dt.datetime(2026, 3, 1, 0, 0, 0)
COLUMNS = ("monitor_id", "slot", "checked_at", "ok", "status_code", "latency_ms")


def add_monitors(n: int) -> list[int]:
    return [Monitor.create(name=f"m{i}", url="https://example.com/", check_interval=60, timeout=5).id
            for i in range(n)]


def add_results(rows: list[tuple[int, dt.datetime, bool, float | None]]) -> None:
    with database.atomic():
        sql.insert_rows("check_results", COLUMNS, [
            (m, at, at, ok, 200 if ok else 500, lat) for m, at, ok, lat in rows])


def brute(rows, start=None, end=None) -> rollups.Aggregate:
    """The Aggregate of `rows` computed in Python, the slow obvious way."""
    picked = [r for r in rows if (start is None or r[1] >= start) and (end is None or r[1] < end)]
    lat = [r[3] for r in picked if r[2] and r[3] is not None]
    hist = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for v in lat:
        hist[next((i for i, b in enumerate(LATENCY_BUCKETS_MS) if v <= b), len(LATENCY_BUCKETS_MS))] += 1
    return rollups.Aggregate(len(picked), sum(1 for r in picked if not r[2]), sum(lat), len(lat), hist,
                             min(lat) if lat else None, max(lat) if lat else None)


def same(a: rollups.Aggregate, b: rollups.Aggregate) -> bool:
    def close(x, y):
        # PostgreSQL stores check_results.latency_ms as float4: seven significant digits
        return (x is None and y is None) or (x is not None and y is not None and abs(x - y) <= 1e-5 * max(1, abs(x)))

    return ((a.checks, a.failures, a.latency_count, a.histogram) == (b.checks, b.failures, b.latency_count, b.histogram)
            and close(a.latency_sum, b.latency_sum) and close(a.latency_min, b.latency_min)
            and close(a.latency_max, b.latency_max))


def stored(monitor_id: int, period: str) -> dict[dt.datetime, rollups.Aggregate]:
    found = rollups.series([monitor_id], period, T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=10))
    return found.get(monitor_id, {})


def reset():
    for model in (Rollup, Job, CheckResult):
        model.delete().execute()


def test_a_step_folds_closed_results_into_hourly_and_daily_rows(db):
    m, = add_monitors(1)
    rows = [(m, T0 + dt.timedelta(minutes=20 * i), i % 5 != 0, 40.0 + i) for i in range(9)]  # 00:00 .. 02:40
    add_results(rows)
    report = rollups.rollup_step(T0 + dt.timedelta(hours=2, minutes=30), settle=dt.timedelta(minutes=10))
    assert report.claimed and report.watermark == T0 + dt.timedelta(hours=2, minutes=20)
    hourly = {r.bucket: r for r in Rollup.select().where(Rollup.period == "h")}
    assert sorted(hourly) == [T0, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)]
    assert [hourly[b].checks for b in sorted(hourly)] == [3, 3, 1]  # 02:20 and 02:40 are after the watermark
    daily, = Rollup.select().where(Rollup.period == "d")
    assert (daily.checks, daily.failures, daily.latency_min, daily.latency_max) == (7, 2, 41.0, 46.0)
    assert daily.le_50 == 5 and daily.le_100 == 0  # ok checks: 41, 42, 43, 44, 46 (40 and 45 failed)
    # The next step adds the rest to the same rows: a merge, not a second row.
    rollups.rollup_step(T0 + dt.timedelta(hours=5), settle=dt.timedelta(minutes=10))
    daily, = Rollup.select().where(Rollup.period == "d")
    assert daily.checks == 9 and daily.latency_max == 48.0
    agg, start = rollups.window(m, "h", T0, T0 + dt.timedelta(hours=5))
    assert start == T0 and same(agg, brute(rows))


def test_a_window_counts_rollups_and_newer_raw_results_once(db):
    m, = add_monitors(1)
    rows = [(m, T0 + dt.timedelta(minutes=7 * i), i % 3 != 0, float(i * 13 % 700)) for i in range(60)]
    add_results(rows)
    now = T0 + dt.timedelta(hours=7)
    rollups.rollup_step(T0 + dt.timedelta(hours=3, minutes=13), settle=dt.timedelta(0))
    for period in ("h", "d"):
        agg, _ = rollups.window(m, period, T0, now)
        assert same(agg, brute(rows)), period


def test_two_processes_never_run_the_job_at_once(db):
    now = T0
    assert rollups.claim(now, "a")
    assert not rollups.claim(now, "b")
    assert rollups.rollup_step(now, owner="b").claimed is False
    assert rollups.claim(now + rollups.LEASE + dt.timedelta(seconds=1), "b")  # a's lease ran out
    rollups.release("b")
    assert rollups.claim(now, "a")


def test_a_step_that_lost_its_lease_writes_nothing(db, monkeypatch):
    m, = add_monitors(1)
    add_results([(m, T0, True, 5.0)])
    real_fold = rollups.fold_raw

    def steal_then_fold(*args):
        sql.execute("UPDATE jobs SET owner = ? WHERE name = ?", ("thief", rollups.JOB_NAME))
        return real_fold(*args)

    monkeypatch.setattr(rollups, "fold_raw", steal_then_fold)
    report = rollups.rollup_step(T0 + dt.timedelta(hours=3), owner="me")
    assert report.chunks == 0 and Rollup.select().count() == 0 and rollups.watermark() is None


def test_a_backlog_is_caught_up_in_bounded_calls(db):
    m, = add_monitors(1)
    add_results([(m, T0 + dt.timedelta(hours=h), True, 5.0) for h in range(60)])
    now = T0 + dt.timedelta(hours=60)
    first = rollups.rollup_step(now, max_chunks=24)
    assert first.chunks == 24 and not first.caught_up
    while not rollups.rollup_step(now, max_chunks=24).caught_up:
        pass
    assert Rollup.select().where(Rollup.period == "h").count() == 60  # the last at 59:00 is before now - SETTLE
    assert rollups.Periodic().tick(0.0) is not None


def test_retention_keeps_unfolded_results_and_archives_old_daily_rows(db):
    m, = add_monitors(1)
    now = T0 + dt.timedelta(days=500)
    old = [(m, T0 + dt.timedelta(hours=h), h % 2 == 0, 5.0) for h in range(48)]
    add_results(old)
    assert prune(14, now=now) == 0  # the job never ran: nothing raw may go
    while not rollups.rollup_step(now, chunk=dt.timedelta(days=30)).caught_up:
        pass
    pruned = prune(14, now=now)
    assert CheckResult.select().count() == 0 and pruned == 48 + 48 + 2  # raw, hourly, daily
    archive, = Rollup.select().where(Rollup.period == rollups.ARCHIVE)
    assert (archive.checks, archive.failures) == (48, 24)
    add_results([(m, now - dt.timedelta(minutes=1), True, 5.0)])  # after the watermark: never pruned
    prune(0, now=now)
    assert CheckResult.select().count() == 1


def test_percentiles_are_read_from_the_histogram():
    agg = rollups.Aggregate(checks=100, latency_count=100, latency_sum=0,
                            histogram=[0, 0, 0, 50, 40, 0, 0, 0, 0, 0, 10], latency_min=60.0, latency_max=20_000.0)
    assert agg.percentile(0.5) == 100.0
    assert 100 < agg.percentile(0.6) <= 250
    assert agg.percentile(0.95) > 10_000
    assert agg.percentile(1.0) == 20_000.0
    assert rollups.Aggregate().percentile(0.5) is None


results_strategy = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 3 * 24 * 60 - 1), st.booleans(),
              st.one_of(st.none(), st.floats(0, 15_000, allow_nan=False).map(lambda v: round(v, 3)))),
    max_size=60)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          database=None)
@given(raw=results_strategy, steps=st.lists(st.integers(0, 3 * 24 * 60), min_size=1, max_size=4),
       window_start=st.integers(0, 3 * 24 * 60))
def test_rollups_equal_a_brute_force_count(db, raw, steps, window_start):
    reset()
    if not Monitor.select().exists():
        add_monitors(3)
    ids = [m.id for m in Monitor.select().order_by(Monitor.id)]
    seen = set()
    rows = []
    for i, minute, ok, lat in raw:
        if (i, minute) not in seen:  # (monitor, slot) is unique
            seen.add((i, minute))
            rows.append((ids[i], T0 + dt.timedelta(minutes=minute, seconds=17), ok, lat))
    add_results(rows)
    for minute in sorted(steps):
        rollups.rollup_step(T0 + dt.timedelta(minutes=minute), settle=dt.timedelta(0), chunk=dt.timedelta(hours=5))
    mark = rollups.watermark()
    now = T0 + dt.timedelta(days=3)
    for m in ids:
        mine = [r for r in rows if r[0] == m]
        for period, width in (("h", dt.timedelta(hours=1)), ("d", dt.timedelta(days=1))):
            for bucket, agg in stored(m, period).items():
                if mark is not None and bucket + width <= mark:  # whole bucket folded: the rollup alone is exact
                    row = Rollup.get(Rollup.monitor == m, Rollup.period == period, Rollup.bucket == bucket)
                    assert row.checks == brute(mine, bucket, bucket + width).checks
                assert same(agg, brute(mine, bucket, bucket + width)), (period, bucket)
            start = rollups.floor_to(period, T0 + dt.timedelta(minutes=window_start))
            agg, floored = rollups.window(m, period, start, now)
            assert floored == start and same(agg, brute(mine, start)), period
    by_monitor, _ = rollups.window_by_monitor("d", T0, now)
    assert sum(a.checks for a in by_monitor.values()) == len(rows)
