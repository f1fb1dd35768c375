"""The overload phase of bench/scale.py (--recover-keep): drop the load, then measure the recovery.

After the measured window (run it past capacity, e.g. every monitor on the delayed target), all but a
fraction of the monitors are disabled through the API (PATCH enabled=false, as a user would), then:
- how long until GET /stats says `overloaded: false` (polled every second, up to three intervals);
- one whole interval measured from one interval after the drop: checks, lag, missed slots and the slots
  skipped during it (monitors.skipped_slots before and after), which must be back to normal.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from concurrent.futures import ThreadPoolExecutor

import scale_measure as measure

POLL_SECONDS = 1.0


def skipped_total(db: measure.Db) -> int:
    return db.query("SELECT coalesce(sum(skipped_slots), 0) FROM monitors")[0][0]


def drop_load(api: measure.Api, ids: list[int], keep: float, threads: int = 8) -> int:
    """Disable all but the first `keep` share of `ids`; returns how many were disabled."""
    victims = ids[max(1, math.ceil(len(ids) * keep)):]

    def disable(monitor_id: int) -> int:
        return api.call("PATCH", f"/monitors/{monitor_id}", {"enabled": False})[0]

    with ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(disable, victims))
    bad = [s for s in statuses if s != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} PATCH enabled=false failed (first status {bad[0]})")
    return len(victims)


def recovery(args, system, api: measure.Api, ids: list[int]) -> dict:
    db = system.db()
    try:
        _, before = api.call("GET", "/stats")
        started = time.monotonic()
        disabled = drop_load(api, ids, args.recover_keep, args.create_threads)
        dropped_at = time.time()
        patch_seconds = time.monotonic() - started
        cleared_after = None
        while time.time() - dropped_at < 3 * args.interval:
            _, stats = api.call("GET", "/stats")
            if isinstance(stats, dict) and not stats.get("overloaded"):
                cleared_after = round(time.time() - dropped_at, 1)
                break
            time.sleep(POLL_SECONDS)
        ws_wall = math.ceil(dropped_at + args.interval)
        while time.time() < ws_wall:
            time.sleep(0.2)
        skipped0 = skipped_total(db)
        time.sleep(args.interval)
        skipped1 = skipped_total(db)
        _, after = api.call("GET", "/stats")
        time.sleep(args.interval + 1)
        ws = dt.datetime.fromtimestamp(ws_wall, dt.UTC).replace(tzinfo=None)
        window = measure.window_stats(db, ws, ws + dt.timedelta(seconds=args.interval), 1)
    finally:
        db.close()
    return {"disabled": disabled, "kept": len(ids) - disabled, "patch_seconds": round(patch_seconds, 1),
            "overloaded_cleared_after_s": cleared_after, "stats_before_drop": before, "stats_after": after,
            "next_interval": window, "skipped_in_next_interval": skipped1 - skipped0}


def print_recovery(r: dict) -> None:
    w = r["next_interval"]
    lag = w["lag_ms"]
    print(f"\n  overload, then {r['disabled']:,} monitors disabled through the API in {r['patch_seconds']} s "
          f"({r['kept']:,} kept)")
    before = r["stats_before_drop"] or {}
    sched = before.get("schedule", {}) if isinstance(before, dict) else {}
    print(f"  /stats before the drop                 overloaded={before.get('overloaded')} "
          f"behind={sched.get('behind')} pending={sched.get('pending_checks')} "
          f"skipped_total={sched.get('skipped_slots_total')}")
    print(f"  /stats overloaded cleared after        {r['overloaded_cleared_after_s']} s")
    print(f"  next whole interval: results           {w['results']:,} of {w['expected_slots']:,} "
          f"(missed {w['missed_slots']:,}, skipped {r['skipped_in_next_interval']:,})")
    print(f"  next whole interval: lag ms p50/p99/max {lag['p50']} / {lag['p99']} / {lag['max']}")
