"""Recording the certificate a check saw: the facts on the monitor, and expiry warnings queued exactly once per
certificate and threshold through the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging

from checker.record import load_spec, record_result, record_results
from healthmon.db import utcnow
from healthmon.domain.check import CheckSpec, Observation
from healthmon.domain.tls import TlsFacts
from healthmon.domain.verdict import evaluate
from healthmon.models import AlertOutbox, Monitor, StateChange, TlsWarning
from healthmon.queue.base import CheckJob

SLACK = "https://hooks.slack.com/services/T000/B000/secrettoken"
FP_OLD, FP_NEW = "a1" * 32, "b2" * 32
SPEC = CheckSpec(url="https://example.com/", observe_tls=True)
_slot = [dt.datetime(2026, 1, 20, 10, 30, 0)]


def monitor(**overrides) -> Monitor:
    fields = dict(name="Shop", url="https://example.com/", check_interval=30, timeout=5, webhook_url=SLACK,
                  fail_threshold=1, success_threshold=1)
    fields.update(overrides)
    return Monitor.create(**fields)


def seen(days: float, fingerprint: str = FP_OLD, status: int | None = 200, error_kind=None, error=None):
    """The verdict of a check done now that saw a certificate expiring in `days`."""
    now = utcnow()
    facts = TlsFacts(expires_at=(now + dt.timedelta(days=days)).replace(microsecond=0), fingerprint_sha256=fingerprint)
    return evaluate(SPEC, Observation(status, 20.0, error_kind, error, checked_at=now, tls=facts))


def check(m: Monitor, verdict, settings):
    _slot[0] += dt.timedelta(seconds=30)
    return record_result(CheckJob(m.id, _slot[0], 1), verdict, settings)


def warnings() -> list[tuple[str, int]]:
    return [(w.fingerprint, w.threshold_days) for w in TlsWarning.select().order_by(TlsWarning.id)]


def tls_alerts() -> list[AlertOutbox]:
    return list(AlertOutbox.select().where(AlertOutbox.event_id < 0).order_by(AlertOutbox.id))


def test_a_certificate_is_warned_about_once_per_threshold_and_a_renewal_starts_afresh(db, settings, caplog):
    caplog.set_level(logging.INFO, logger="healthmon.checker")
    m = monitor()
    for days in (20, 10, 10, 9, 2.5, 2.5, 2, 0.5, 0.5, 0.2):
        check(m, seen(days), settings)
    assert warnings() == [(FP_OLD, 14), (FP_OLD, 3), (FP_OLD, 1)]
    check(m, seen(-0.1), settings)  # expired: no fourth warning (verification would fail the check anyway)
    check(m, seen(80, FP_NEW), settings)  # renewed: quiet
    check(m, seen(12, FP_NEW), settings)  # the renewed one nears its expiry: warned afresh
    check(m, seen(12, FP_NEW), settings)
    assert warnings() == [(FP_OLD, 14), (FP_OLD, 3), (FP_OLD, 1), (FP_NEW, 14)]

    rows = tls_alerts()
    assert [r.event_id for r in rows] == [-w.id for w in TlsWarning.select().order_by(TlsWarning.id)]
    assert all(r.webhook_url == SLACK and r.webhook_format == "slack" and r.state == "pending" for r in rows)
    text = json.loads(rows[1].payload)["text"]
    assert text.startswith("🔒 TLS certificate expires soon\nName: Shop\nURL: https://example.com/\nExpires: ")
    assert " (in 2 days)\nTime: " in text
    assert " (in 9 days)\n" in json.loads(rows[0].payload)["text"]
    assert " (in 11h 59m)\n" in json.loads(rows[2].payload)["text"]  # under 2 days: hours, not "in 0 days"
    # Not a state change: the monitor stays UP, and only the first check's UNKNOWN -> UP was recorded.
    m = Monitor.get_by_id(m.id)
    assert m.status == "UP" and StateChange.select().count() == 1
    assert (m.tls_fingerprint, m.tls_warned_days) == (FP_NEW, 14)
    assert sum("[TLS WARNING] monitor=" in line for line in caplog.messages) == 4


def test_the_json_event_and_the_facts_on_the_monitor(db, settings):
    m = monitor(webhook_url="https://receiver.example/hook")
    verdict = seen(10)
    outcome = check(m, verdict, settings)
    assert outcome.tls_warning is not None and outcome.tls_warning.threshold_days == 14
    (row,) = tls_alerts()
    body = json.loads(row.payload)
    warning = TlsWarning.get()
    assert row.webhook_format == "json" and row.event_id == -warning.id
    assert body == {
        "event": "monitor.tls_expiring", "warning_id": warning.id,
        "monitor": {"id": m.id, "name": "Shop", "url": "https://example.com/"},
        "time": body["time"], "expires_at": body["expires_at"], "days_left": 9, "threshold_days": 14,
        "fingerprint_sha256": FP_OLD,
    }
    m = Monitor.get_by_id(m.id)
    facts = verdict.observation.tls
    assert (m.tls_expires_at, m.tls_fingerprint, m.tls_observed_at) == (
        facts.expires_at, FP_OLD, verdict.observation.checked_at)
    assert m.tls_warned_days == 14 and m.tls_warned_at is not None
    assert m.tls == {"expires_at": facts.expires_at, "days_left": 9, "fingerprint_sha256": FP_OLD,
                     "observed_at": m.tls_observed_at, "warned_days": 14, "warned_at": m.tls_warned_at}


def test_two_certificates_served_in_turn_are_each_warned_once(db, settings):
    m = monitor()  # a load balancer whose two backends serve different certificates
    for fingerprint in (FP_OLD, FP_NEW) * 4:
        check(m, seen(10, fingerprint), settings)
    assert warnings() == [(FP_OLD, 14), (FP_NEW, 14)]
    assert len(tls_alerts()) == 2


def test_two_results_of_one_batch_warn_once(db, settings):
    m = monitor()
    base = dt.datetime(2026, 2, 1)
    record_results([(CheckJob(m.id, base, 1), seen(10)), (CheckJob(m.id, base + dt.timedelta(seconds=30), 1),
                                                          seen(10))], settings)
    assert warnings() == [(FP_OLD, 14)] and len(tls_alerts()) == 1


def test_a_duplicate_delivery_warns_once(db, settings):
    m = monitor()
    job = CheckJob(m.id, dt.datetime(2026, 2, 1), 1)
    first, again = record_result(job, seen(10), settings), record_result(job, seen(10), settings)
    assert first.tls_warning is not None and (again.recorded, again.reason, again.tls_warning) == (
        False, "duplicate", None)
    assert warnings() == [(FP_OLD, 14)]


def test_no_warnings_without_a_limit_but_the_facts_are_kept(db, settings):
    m = monitor(tls_expiry_days=None)
    check(m, seen(0.5), settings)
    assert warnings() == [] and tls_alerts() == []
    assert Monitor.get_by_id(m.id).tls["days_left"] == 0


def test_a_lower_limit_warns_later(db, settings):
    m = monitor(tls_expiry_days=5)
    check(m, seen(10), settings)
    check(m, seen(4.5), settings)
    assert warnings() == [(FP_OLD, 5)]


def test_a_failed_verification_is_not_warned_about_its_down_alert_says_it(db, settings):
    m = monitor()
    check(m, seen(2, status=None, error_kind="tls", error="TLS certificate not trusted or wrong name with x"),
          settings)
    assert warnings() == [] and Monitor.get_by_id(m.id).tls_fingerprint == FP_OLD
    assert Monitor.get_by_id(m.id).status == "DOWN"


def test_a_failed_check_that_saw_a_good_handshake_still_warns(db, settings):
    m = monitor()
    check(m, seen(10, status=503), settings)  # the application is down, the certificate expires anyway
    assert warnings() == [(FP_OLD, 14)]


def test_without_a_webhook_the_warning_is_recorded_and_shown_but_not_queued(db, settings):
    m = monitor(webhook_url=None)
    check(m, seen(10), settings)
    assert warnings() == [(FP_OLD, 14)] and AlertOutbox.select().count() == 0
    assert Monitor.get_by_id(m.id).tls["warned_days"] == 14


def test_the_certificate_is_collected_at_the_first_https_check_then_hourly(db, settings):
    m = monitor()
    job = CheckJob(m.id, dt.datetime(2026, 3, 1), 1)
    assert load_spec(job, settings).observe_tls
    check(m, seen(50), settings)
    assert not load_spec(job, settings).observe_tls
    Monitor.update(tls_observed_at=utcnow() - dt.timedelta(minutes=61)).where(Monitor.id == m.id).execute()
    assert load_spec(job, settings).observe_tls
    http = monitor(url="http://example.com/")
    assert not load_spec(CheckJob(http.id, dt.datetime(2026, 3, 1), 1), settings).observe_tls


def test_deleting_a_monitor_keeps_its_queued_warning_and_ids_are_never_reused(db, settings):
    first = monitor(success_threshold=5)  # no state change: only the warning is queued
    check(first, seen(10), settings)
    (queued,) = tls_alerts()
    Monitor.delete().where(Monitor.id == first.id).execute()  # cascades to its TlsWarning rows
    assert TlsWarning.select().count() == 0 and AlertOutbox.select().count() == 1  # the queued warning stays
    second = monitor(name="Other", success_threshold=5)
    check(second, seen(10), settings)
    ids = [r.event_id for r in tls_alerts()]
    assert len(ids) == 2 and len(set(ids)) == 2 and queued.event_id in ids
