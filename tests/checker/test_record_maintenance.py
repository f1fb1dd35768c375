"""Recording during a maintenance window: the state change is recorded, its alert (and a TLS warning) is
not; outside the window alerts go out as usual. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from checker.record import record_result
from healthmon import maintenance
from healthmon.db import utcnow
from healthmon.domain.check import CheckSpec, Observation
from healthmon.domain.tls import TlsFacts
from healthmon.domain.verdict import evaluate
from healthmon.models import AlertOutbox, MaintenanceWindow, Monitor, StateChange, TlsWarning
from healthmon.queue.base import CheckJob

HOOK = "https://receiver.example/hook"
SPEC = CheckSpec(url="https://example.com/", observe_tls=True)
_slot = [dt.datetime(2026, 1, 20, 10, 30, 0)]


def monitor(**overrides) -> Monitor:
    fields = dict(name="Shop", url="https://example.com/", check_interval=30, timeout=5, webhook_url=HOOK,
                  fail_threshold=1, success_threshold=1)
    fields.update(overrides)
    return Monitor.create(**fields)


def window(**fields) -> MaintenanceWindow:
    now = utcnow()
    fields.setdefault("starts_at", now - dt.timedelta(minutes=5))
    fields.setdefault("ends_at", now + dt.timedelta(minutes=55))
    row = MaintenanceWindow.create(name="db upgrade", **fields)
    maintenance.RULES.forget()
    return row


def check(m: Monitor, settings, status: int = 200, tls_days: float | None = None):
    _slot[0] += dt.timedelta(seconds=30)
    facts = None
    if tls_days is not None:
        facts = TlsFacts(expires_at=(utcnow() + dt.timedelta(days=tls_days)).replace(microsecond=0),
                         fingerprint_sha256="a1" * 32)
    verdict = evaluate(SPEC, Observation(status, 20.0, None, None, checked_at=utcnow(), tls=facts))
    return record_result(CheckJob(m.id, _slot[0], 1), verdict, settings)


def test_a_transition_inside_a_window_is_recorded_without_an_alert(db, settings):
    covered, other = monitor(), monitor(name="Blog")
    window(monitor_ids=[covered.id])
    outcome = check(covered, settings)
    assert outcome.recorded and outcome.transition.to_status == "UP" and outcome.suppressed
    assert Monitor.get_by_id(covered.id).status == "UP"
    assert [(c.from_status, c.to_status) for c in StateChange.select().where(StateChange.monitor == covered.id)] == [
        ("UNKNOWN", "UP")]
    assert AlertOutbox.select().count() == 0
    assert not check(other, settings).suppressed  # not covered: alerted as usual
    assert [r.monitor_id for r in AlertOutbox.select()] == [other.id]


def test_an_all_monitors_window_covers_every_monitor_and_its_end_lets_alerts_through(db, settings):
    m = monitor()
    w = window(all_monitors=True)
    check(m, settings)
    check(m, settings, status=500)
    assert AlertOutbox.select().count() == 0 and StateChange.select().count() == 2
    MaintenanceWindow.update(ends_at=utcnow() - dt.timedelta(seconds=1)).where(MaintenanceWindow.id == w.id).execute()
    maintenance.RULES.forget()
    check(m, settings)  # DOWN -> UP after the window: alerted
    assert [(r.monitor_id, r.event_id > 0) for r in AlertOutbox.select()] == [(m.id, True)]


def test_a_recurring_window_suppresses_while_it_is_on(db, settings):
    m = monitor()
    window(starts_at=None, ends_at=None, all_monitors=True, timezone="Europe/Berlin",
           recurrence={"cron": "* * * * *", "duration_minutes": 5})
    check(m, settings)
    assert StateChange.select().count() == 1 and AlertOutbox.select().count() == 0


def test_a_tls_warning_due_in_a_window_waits_for_the_first_certificate_check_after_it(db, settings):
    m = monitor()
    w = window(monitor_ids=[m.id])
    check(m, settings, tls_days=5)
    assert TlsWarning.select().count() == 0 and AlertOutbox.select().count() == 0
    MaintenanceWindow.delete_by_id(w.id)
    maintenance.RULES.forget()
    check(m, settings, tls_days=5)
    assert [(t.threshold_days) for t in TlsWarning.select()] == [14]
    assert AlertOutbox.select().where(AlertOutbox.event_id < 0).count() == 1


def test_the_rules_are_read_once_per_cache_period_not_per_result(db, settings, monkeypatch):
    m = monitor()
    window(monitor_ids=[m.id])
    loads = []
    real = maintenance.load_rules
    monkeypatch.setattr(maintenance, "load_rules", lambda: loads.append(1) or real())
    monkeypatch.setattr(maintenance, "RULES_CACHE_S", 3600.0)  # a slow machine must not make this fail
    maintenance.RULES.forget()
    for _ in range(5):
        check(m, settings)
    assert len(loads) == 1
