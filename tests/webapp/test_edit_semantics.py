"""Editing what a check means starts the monitor afresh; other edits keep its state."""

from __future__ import annotations

import datetime as dt

import pytest

from healthmon.db import database, utcnow
from healthmon.models import Monitor, StateChange
from tests.webapp.conftest import STEP10

LONG_AGO = dt.datetime(2020, 1, 1)


@pytest.fixture
def down_monitor(api):
    """A monitor that has been DOWN for a while, next check far in the future."""
    mid = api.post("/monitors", json=STEP10).get_json()["id"]
    Monitor.update(
        status="DOWN", consecutive_failures=3, consecutive_successes=0, generation=4,
        status_changed_at=LONG_AGO, next_check_at=utcnow() + dt.timedelta(hours=1),
    ).where(Monitor.id == mid).execute()
    database.close()
    return mid


def _row(mid: int) -> Monitor:
    row = Monitor.get_by_id(mid)
    database.close()
    return row


def _due_now(row: Monitor) -> bool:
    return abs((row.next_check_at - utcnow()).total_seconds()) < 5


@pytest.mark.parametrize(
    ("method", "change"),
    [
        ("PATCH", {"url": "https://google.com/other"}),
        ("PATCH", {"expected_status_code": 204}),
        ("PUT", {**STEP10, "url": "https://google.com/other"}),
        ("PUT", {**STEP10, "expected_status_code": 301}),
    ],
)
def test_changing_url_or_expected_status_resets_state(api, down_monitor, method, change):
    response = api.open(method, f"/monitors/{down_monitor}", json=change)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "UNKNOWN"
    assert body["consecutive_failures"] == body["consecutive_successes"] == 0
    row = _row(down_monitor)
    assert row.generation == 5
    assert _due_now(row)
    assert row.status_changed_at > LONG_AGO
    event = StateChange.get(StateChange.monitor == down_monitor)
    assert (event.from_status, event.to_status) == ("DOWN", "UNKNOWN")
    assert "monitor edited" in event.reason


@pytest.mark.parametrize(
    ("method", "change"),
    [
        ("PATCH", {"name": "renamed"}),
        ("PATCH", {"timeout": 7, "fail_threshold": 5}),
        ("PATCH", {"url": STEP10["url"]}),  # same value: not a change
        ("PUT", STEP10),
    ],
)
def test_other_edits_keep_state_and_schedule(api, down_monitor, method, change):
    before = _row(down_monitor)
    body = api.open(method, f"/monitors/{down_monitor}", json=change).get_json()
    assert body["status"] == "DOWN" and body["consecutive_failures"] == 3
    row = _row(down_monitor)
    assert row.generation == 4
    assert row.next_check_at == before.next_check_at
    assert StateChange.select().count() == 0


def test_changing_check_interval_schedules_a_check_now_without_reset(api, down_monitor):
    body = api.patch(f"/monitors/{down_monitor}", json={"check_interval": 45}).get_json()
    assert body["status"] == "DOWN"
    row = _row(down_monitor)
    assert _due_now(row) and row.generation == 4


def test_re_enabling_schedules_a_check_now(api, down_monitor):
    api.patch(f"/monitors/{down_monitor}", json={"enabled": False})
    Monitor.update(next_check_at=utcnow() + dt.timedelta(hours=1)).where(Monitor.id == down_monitor).execute()
    database.close()
    body = api.patch(f"/monitors/{down_monitor}", json={"enabled": True}).get_json()
    assert body["enabled"] is True
    assert _due_now(_row(down_monitor))


def test_re_enabling_forgets_the_counters_from_before_the_pause_but_keeps_the_status(api, down_monitor):
    api.patch(f"/monitors/{down_monitor}", json={"enabled": False})
    body = api.patch(f"/monitors/{down_monitor}", json={"enabled": True}).get_json()
    assert (body["status"], body["consecutive_failures"], body["consecutive_successes"]) == ("DOWN", 0, 0)


def test_an_unchanged_monitor_keeps_its_updated_at(api):
    created = api.post("/monitors", json=STEP10).get_json()
    body = api.put(f"/monitors/{created['id']}", json=STEP10).get_json()
    assert body["updated_at"] == created["updated_at"]
