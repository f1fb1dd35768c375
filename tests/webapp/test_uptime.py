"""GET /monitors/{id}/uptime, /monitors/{id}/incidents, /summary, and since/until on results and events:
figures from rollups plus recent raw results, read-only keys allowed, strict query parameters."""

from __future__ import annotations

import datetime as dt

import pytest

from healthmon import rollups, sql
from healthmon.db import database, utcnow
from healthmon.models import Monitor, StateChange
from tests.webapp.conftest import ApiClient


def _monitor(name="shop", status="UP") -> int:
    m = Monitor.create(name=name, url="https://example.com/", check_interval=60, timeout=5, status=status,
                       status_changed_at=utcnow() - dt.timedelta(minutes=30))
    return m.id


def _results(monitor_id: int, now: dt.datetime, minutes: int, fail_every: int = 0, latency: float = 80.0) -> None:
    rows = []
    for i in range(minutes):
        at = now - dt.timedelta(minutes=minutes - i)
        ok = not (fail_every and i % fail_every == 0)
        rows.append((monitor_id, at, at, ok, 200 if ok else 503, latency + (i % 7), None if ok else "status 503"))
    with database.atomic():
        sql.insert_rows("check_results", ("monitor_id", "slot", "checked_at", "ok", "status_code", "latency_ms",
                                          "error"), rows)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


@pytest.fixture
def ro(app, ro_key):
    return ApiClient(app.test_client(), ro_key)


def test_uptime_over_a_day_reads_rollups_and_recent_raw_results(api, ro):
    now = utcnow()
    m = _monitor()
    _results(m, now, 600, fail_every=10)  # 10 h, 60 failures
    rollups.rollup_step(now)
    database.close()
    body = ro.get(f"/monitors/{m}/uptime?window=24h").get_json()
    assert body["checks"] == 600 and body["failures"] == 60
    assert body["uptime_percent"] == 90.0
    lat = body["latency_ms"]
    assert 80 <= lat["min"] <= lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"] <= 86
    assert body["window"] == "24h" and body["from"].endswith(":00:00.000Z")
    assert ro.get(f"/monitors/{m}/uptime").get_json()["window"] == "24h"
    year = api.get(f"/monitors/{m}/uptime?window=365d").get_json()
    assert year["checks"] == 600 and year["from"].endswith("T00:00:00.000Z")


def test_uptime_counts_downtime_from_the_state_changes(api):
    now = utcnow()
    m = _monitor()
    for minutes_ago, frm, to in ((120, "UNKNOWN", "UP"), (90, "UP", "DOWN"), (60, "DOWN", "UP"), (10, "UP", "DOWN")):
        StateChange.create(monitor=m, from_status=frm, to_status=to, reason="status 503",
                           created_at=now - dt.timedelta(minutes=minutes_ago))
    database.close()
    body = api.get(f"/monitors/{m}/uptime?window=7d").get_json()
    assert 40 * 60 - 5 <= body["downtime_seconds"] <= 40 * 60 + 5
    assert body["checks"] == 0 and body["uptime_percent"] is None


def test_incidents_list_down_periods_newest_first_with_their_first_error(api):
    now = utcnow()
    m = _monitor()
    _results(m, now - dt.timedelta(minutes=80), 5, fail_every=1)  # five failures before the first DOWN
    with database.atomic():
        sql.execute("UPDATE check_results SET error = ? WHERE checked_at = (SELECT MIN(checked_at) FROM "
                    "check_results)", ("connect: connection refused",))
    for minutes_ago, frm, to in ((90, "UNKNOWN", "UP"), (82, "UP", "DOWN"), (60, "DOWN", "UP"), (10, "UP", "DOWN")):
        StateChange.create(monitor=m, from_status=frm, to_status=to, reason=f"went {to} {minutes_ago}",
                           created_at=now - dt.timedelta(minutes=minutes_ago))
    database.close()
    response = api.get(f"/monitors/{m}/incidents")
    assert response.status_code == 200
    newest, oldest = response.get_json()
    assert newest["ongoing"] is True and newest["ended_at"] is None and newest["first_error"] == "went DOWN 10"
    assert 595 <= newest["duration_seconds"] <= 605
    assert oldest["ongoing"] is False and oldest["duration_seconds"] == 22 * 60
    assert oldest["first_error"] == "connect: connection refused"
    assert '"total": 2' in response.headers["X-Pagination"]


def test_summary_counts_statuses_and_names_the_worst(api, ro):
    now = utcnow()
    a, b = _monitor("a", "UP"), _monitor("b", "DOWN")
    _monitor("slow", "DEGRADED")
    Monitor.create(name="off", url="https://example.com/", check_interval=60, timeout=5, enabled=False)
    _results(a, now, 30)
    _results(b, now, 30, fail_every=2)
    database.close()
    body = ro.get("/summary").get_json()
    assert body["monitors"] == {"total": 4, "up": 1, "degraded": 1, "down": 1, "unknown": 0, "paused": 0,
                                "maintenance": 0, "disabled": 1}
    assert [d["name"] for d in body["down_now"]] == ["b"] and body["down_now"][0]["down_for_seconds"] >= 1700
    assert [(w["name"], w["uptime_percent"]) for w in body["worst_uptime_24h"]] == [("b", 50.0), ("a", 100.0)]


def test_results_and_events_take_since_and_until(api):
    now = utcnow().replace(microsecond=0)
    m = _monitor()
    _results(m, now, 10)
    database.close()
    since, until = now - dt.timedelta(minutes=6), now - dt.timedelta(minutes=3)
    body = api.get(f"/monitors/{m}/results?since={_iso(since)}&until={_iso(until)}").get_json()
    assert len(body) == 3  # 6, 5 and 4 minutes ago; `until` is exclusive
    local = (now - dt.timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%S")
    assert len(api.get(f"/monitors/{m}/results?until={local}-02:00").get_json()) == 10  # two hours after now, UTC
    assert len(api.get(f"/monitors/{m}/results?until={local}%2B02:00").get_json()) == 0  # before them all
    assert api.get(f"/monitors/{m}/events?since={_iso(now)}").get_json() == []


@pytest.mark.parametrize(("query", "field"), [
    ("since=yesterday", "since"), ("until=2026-13-01T00:00:00Z", "until"),
    ("sinse=2026-01-01T00:00:00Z", "sinse"),
])
def test_bad_time_bounds_are_refused_naming_the_field(api, query, field):
    m = _monitor()
    database.close()
    for path in ("results", "events"):
        response = api.get(f"/monitors/{m}/{path}?{query}")
        assert response.status_code == 422, response.get_json()
        assert field in response.get_json()["errors"]["query"]


def test_bad_windows_unknown_monitors_and_missing_keys(api, anon):
    m = _monitor()
    database.close()
    bad = api.get(f"/monitors/{m}/uptime?window=1y")
    assert bad.status_code == 422 and "window" in bad.get_json()["errors"]["query"]
    assert api.get("/monitors/999/uptime").status_code == 404
    assert api.get("/monitors/999/incidents").status_code == 404
    for path in (f"/monitors/{m}/uptime", f"/monitors/{m}/incidents", "/summary"):
        assert anon.get(path).status_code == 401
