"""The end-of-maintenance report (scheduler.maintenance_reports.report_step): once per monitor whose status
differs between the window's start and end, exactly once with two schedulers racing and after a crash, and
delivered to a real local receiver once. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from checker.alerts_maintenance import report_event_id
from healthmon.db import database, is_postgres
from healthmon.models import AlertOutbox, MaintenanceReport, MaintenanceWindow, Monitor, StateChange
from scheduler import maintenance_reports
from scheduler.maintenance_reports import report_step
from tests.checker.delivery_helpers import Clock, sender
from tests.support.webhook import WebhookReceiver

START, END = dt.datetime(2026, 5, 1, 2), dt.datetime(2026, 5, 1, 3)
AFTER = END + maintenance_reports.SETTLE + dt.timedelta(seconds=1)


def monitor(name: str, status: str, hook: str = "https://receiver.example/hook") -> Monitor:
    return Monitor.create(name=name, url=f"https://{name}.example/", check_interval=30, timeout=5,
                          webhook_url=hook, status=status)


def change(m: Monitor, old: str, new: str, at: dt.datetime) -> None:
    StateChange.create(monitor=m.id, from_status=old, to_status=new, reason="test", created_at=at)


def setup_window(monitor_ids=None) -> MaintenanceWindow:
    report_step(START - dt.timedelta(minutes=1))  # the job's first run: its watermark starts here
    return MaintenanceWindow.create(name="db upgrade", all_monitors=monitor_ids is None, monitor_ids=monitor_ids,
                                    starts_at=START, ends_at=END)


def reports() -> list[tuple[int, str]]:
    return [(json.loads(r.payload)["monitor"]["id"], json.loads(r.payload)["summary"])
            for r in AlertOutbox.select().order_by(AlertOutbox.monitor_id)]


def test_a_monitor_whose_status_changed_gets_one_report_and_one_that_came_back_none(db):
    went_down, flapped, quiet = monitor("shop", "DOWN"), monitor("blog", "UP"), monitor("docs", "UP")
    change(went_down, "UP", "DOWN", START + dt.timedelta(minutes=10))
    change(flapped, "UP", "DOWN", START + dt.timedelta(minutes=5))
    change(flapped, "DOWN", "UP", START + dt.timedelta(minutes=20))
    change(quiet, "UP", "DOWN", END + dt.timedelta(seconds=5))  # after the window: alerted normally, not reported
    change(quiet, "DOWN", "UP", END + dt.timedelta(seconds=20))
    setup_window()
    assert report_step(END + dt.timedelta(seconds=5)).reports == []  # not settled yet
    step = report_step(AFTER)
    assert [r.monitor_id for r in step.reports] == [went_down.id]
    assert reports() == [(went_down.id, "UP -> DOWN during maintenance 'db upgrade' (2026-05-01 02:00-03:00 UTC)")]
    row = AlertOutbox.get()
    assert row.event_id == report_event_id(MaintenanceReport.get().id) and row.webhook_format == "json"
    body = json.loads(row.payload)
    assert body["event"] == "monitor.maintenance_report" and body["changes"] == 1
    assert body["maintenance"] == {"id": MaintenanceWindow.get().id, "name": "db upgrade",
                                   "starts_at": "2026-05-01T02:00:00.000Z", "ends_at": "2026-05-01T03:00:00.000Z"}
    assert report_step(AFTER + dt.timedelta(minutes=5)).reports == []  # once
    assert AlertOutbox.select().count() == 1


def test_a_window_naming_monitors_reports_only_those(db):
    a, b = monitor("a", "DOWN"), monitor("b", "DOWN")
    change(a, "UP", "DOWN", START + dt.timedelta(minutes=1))
    change(b, "UP", "DOWN", START + dt.timedelta(minutes=1))
    setup_window([b.id])
    assert [r.monitor_id for r in report_step(AFTER).reports] == [b.id]


def test_a_step_that_crashed_before_committing_is_redone_once(db, monkeypatch):
    a, b = monitor("a", "DOWN"), monitor("b", "DOWN")
    for m in (a, b):
        change(m, "UP", "DOWN", START + dt.timedelta(minutes=1))
    setup_window()
    real = maintenance_reports.queue_report_alert
    calls = []

    def crash_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("scheduler killed")
        real(*args)

    monkeypatch.setattr(maintenance_reports, "queue_report_alert", crash_on_second)
    with pytest.raises(RuntimeError):
        report_step(AFTER)
    assert AlertOutbox.select().count() == 0 and MaintenanceReport.select().count() == 0  # rolled back whole
    monkeypatch.setattr(maintenance_reports, "queue_report_alert", real)
    assert len(report_step(AFTER).reports) == 2
    assert AlertOutbox.select().count() == 2


def test_a_step_repeated_over_the_same_range_reports_nothing_twice(db):
    """As a scheduler that lost its lease mid-step and another that took over would: the unique claim rows
    refuse the second report."""
    m = monitor("a", "DOWN")
    change(m, "UP", "DOWN", START + dt.timedelta(minutes=1))
    setup_window()
    mark = maintenance_reports.rollups.watermark(maintenance_reports.JOB_NAME)
    assert len(report_step(AFTER, owner="one").reports) == 1
    marker = "%s" if is_postgres() else "?"
    database.execute_sql(f"UPDATE jobs SET watermark = {marker} WHERE name = 'maintenance_reports'", (mark,))
    assert report_step(AFTER, owner="two").reports == []
    assert AlertOutbox.select().count() == 1 and MaintenanceReport.select().count() == 1


def test_two_schedulers_racing_report_once(db, db_url):
    from healthmon.db import bind

    monitors = [monitor(f"m{i}", "DOWN") for i in range(5)]
    for m in monitors:
        change(m, "UP", "DOWN", START + dt.timedelta(minutes=1))
    setup_window()
    database.close()
    barrier, found, errors = threading.Barrier(2), [], []

    def run(owner):
        try:
            barrier.wait(5)
            found.append(len(report_step(AFTER, owner=owner).reports))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            database.close()

    if not is_postgres():
        bind(db_url)  # SQLite: each thread opens its own connection to the file
    threads = [threading.Thread(target=run, args=(f"s{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(found) == [0, 5]
    assert AlertOutbox.select().count() == 5


def test_the_receiver_gets_the_report_once(db, settings):
    with WebhookReceiver() as hook:
        m = monitor("shop", "DOWN", hook=hook.url)
        change(m, "UP", "DOWN", START + dt.timedelta(minutes=1))
        setup_window()
        report_step(AFTER)
        report_step(AFTER + dt.timedelta(minutes=1))
        s = sender(settings, Clock(AFTER))
        assert s.deliver_due() == 1
        assert s.deliver_due() == 0
        hook.wait_for(1)
        assert len(hook.requests) == 1
        body = hook.requests[0].json
        assert body["summary"] == "UP -> DOWN during maintenance 'db upgrade' (2026-05-01 02:00-03:00 UTC)"
        key = f"healthmon-maintenance-report-{MaintenanceReport.get().id}"
        assert hook.requests[0].headers["Idempotency-Key"] == key
