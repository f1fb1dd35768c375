"""GET /stats: overload and schedule health a user can read, with any key, on both databases."""

from __future__ import annotations

import datetime as dt

from healthmon.db import utcnow
from healthmon.models import CheckResult, Monitor, QueueMessage
from tests.webapp.conftest import ApiClient

S = dt.timedelta(seconds=1)


def _monitor(**fields) -> Monitor:
    values = {"name": "m", "url": "https://example.com/", "check_interval": 60, "timeout": 5}
    values.update(fields)
    return Monitor.create(**values)


def test_stats_needs_a_key_and_a_read_only_key_is_enough(app, anon, ro_key):
    assert anon.get("/stats").status_code == 401
    assert ApiClient(app.test_client(), ro_key).get("/stats").status_code == 200


def test_a_system_keeping_up_is_not_overloaded(api):
    now = utcnow()
    m = _monitor(status="UP", next_check_at=now + 30 * S, pending_slot=now - 2 * S)
    CheckResult.create(monitor=m, slot=now - 2 * S, checked_at=now - S, ok=True, status_code=200, latency_ms=3)
    QueueMessage.create(body="{}")

    body = api.get("/stats").json
    assert body["overloaded"] is False
    assert body["monitors"] == {"total": 1, "enabled": 1, "up": 1, "degraded": 0, "down": 0, "unknown": 0, "paused": 0,
                                "maintenance": 0}
    assert body["schedule"]["pending_checks"] == 1 and body["schedule"]["behind"] == 0
    assert body["schedule"]["overdue"] == 0
    assert body["results"]["last_minute"] == 1
    assert body["queue"] == {"backend": "database", "depth": 1, "dead_letters": 0}


def test_a_monitor_whose_pending_check_is_older_than_its_interval_shows_overload(api):
    now = utcnow()
    _monitor(check_interval=10, next_check_at=now + 5 * S, pending_slot=now - 25 * S, skipped_slots=2)
    _monitor(check_interval=60, next_check_at=now + 5 * S, pending_slot=now - 25 * S)  # within its interval

    body = api.get("/stats").json
    assert body["overloaded"] is True
    assert body["schedule"]["behind"] == 1
    assert body["schedule"]["skipped_slots_total"] == 2
    assert 24 <= body["schedule"]["oldest_pending_seconds"] <= 30


def test_due_monitors_the_scheduler_has_not_claimed_show_as_overdue(api):
    now = utcnow()
    _monitor(next_check_at=now - 40 * S)
    _monitor(next_check_at=now - 1 * S)  # due a moment ago: the next tick takes it
    _monitor(next_check_at=now - 90 * S, enabled=False)

    body = api.get("/stats").json
    assert body["overloaded"] is True
    assert body["schedule"]["overdue"] == 1
    assert 39 <= body["schedule"]["oldest_overdue_seconds"] <= 45


def test_each_monitor_shows_its_skipped_slots(api):
    m = _monitor(skipped_slots=7)
    assert api.get(f"/monitors/{m.id}").json["skipped_slots"] == 7
