"""Recording results: counters, transitions, the state-change log and the outbox, on SQLite and PostgreSQL."""

import datetime as dt
import json
import logging

import pytest

from checker.record import load_spec, record_result, record_results
from healthmon.models import AlertOutbox, CheckResult, Monitor, StateChange
from healthmon.queue.base import CheckJob
from tests.checker.verdicts import verdict

T0 = dt.datetime(2026, 1, 20, 10, 30, 0)
SLACK = "https://hooks.slack.com/services/T000/B000/secrettoken"
OK = verdict(200, 42.0)
FAIL = verdict(503, 12.0)


def monitor(**overrides) -> Monitor:
    fields = dict(name="Example Homepage", url="https://example.com/", check_interval=30, timeout=5)
    fields.update(overrides)
    return Monitor.create(**fields)


def job(m: Monitor, n: int, generation: int = 1) -> CheckJob:
    return CheckJob(m.id, T0 + dt.timedelta(seconds=30 * n), generation)


def record_all(m, results, settings):
    return [record_result(job(m, n), r, settings) for n, r in enumerate(results)]


def test_it_goes_up_after_the_success_threshold_and_logs_the_change(db, settings, caplog):
    m = monitor()
    caplog.set_level(logging.INFO, logger="healthmon.checker")
    first, second = record_all(m, [OK, OK], settings)
    assert first.recorded and first.transition is None
    assert second.recorded and second.transition.to_status == "UP"
    m = Monitor.get_by_id(m.id)
    assert (m.status, m.consecutive_successes, m.consecutive_failures) == ("UP", 2, 0)
    assert m.last_status_code == 200 and m.last_latency_ms == 42.0 and m.last_slot == job(m, 1).slot
    assert m.status_changed_at is not None
    assert f"[STATE CHANGE] monitor={m.id} UNKNOWN -> UP" in caplog.messages
    (change,) = StateChange.select()
    assert (change.from_status, change.to_status, change.reason) == ("UNKNOWN", "UP", "status 200 in 42 ms")
    assert CheckResult.select().count() == 2
    assert AlertOutbox.select().count() == 0  # no webhook, no alert


def test_it_queues_one_slack_alert_per_transition_in_the_same_transaction(db, settings):
    m = monitor(webhook_url=SLACK)
    outcomes = record_all(m, [OK, OK, FAIL, FAIL, FAIL], settings)
    assert [o.transition.to_status for o in outcomes if o.transition] == ["UP", "DOWN"]
    rows = list(AlertOutbox.select().order_by(AlertOutbox.id))
    changes = list(StateChange.select().order_by(StateChange.id))
    assert [r.event_id for r in rows] == [c.id for c in changes]
    assert all(r.webhook_format == "slack" and r.webhook_url == SLACK and r.state == "pending" for r in rows)
    text = json.loads(rows[1].payload)["text"]
    assert text.startswith("🔔 API Status Changed\nName: Example Homepage\nURL: https://example.com/\n"
                           "Old: UP -> New: DOWN\nTime: ")


def test_a_recovery_alert_says_how_long_the_monitor_was_down(db, settings):
    m = monitor(webhook_url="https://receiver.example/hook", fail_threshold=1, success_threshold=1)
    record_result(job(m, 0), FAIL, settings)
    # Pretend the outage began 192 s ago.
    Monitor.update(status_changed_at=Monitor.get_by_id(m.id).status_changed_at - dt.timedelta(seconds=192)).execute()
    record_result(job(m, 1), OK, settings)
    down, up = (json.loads(r.payload) for r in AlertOutbox.select().order_by(AlertOutbox.id))
    assert down["down_for_seconds"] is None
    assert up["old"] == "DOWN" and up["new"] == "UP" and 192 <= up["down_for_seconds"] <= 194
    assert AlertOutbox.get(AlertOutbox.event_id == up["event_id"]).webhook_format == "json"


def test_a_recovery_alert_names_the_first_error_of_the_incident(db, settings):
    m = monitor(webhook_url="https://receiver.example/hook", fail_threshold=2, success_threshold=1)
    refused = verdict(None, 1.0, "connect", "connection refused")
    record_all(m, [OK, refused, FAIL, OK], settings)  # UP, then DOWN on the second failure, then UP again
    up_down_up = [json.loads(r.payload) for r in AlertOutbox.select().order_by(AlertOutbox.id)]
    assert [(a["old"], a["new"]) for a in up_down_up] == [("UNKNOWN", "UP"), ("UP", "DOWN"), ("DOWN", "UP")]
    assert up_down_up[2]["first_error"] == "connection refused"  # the streak's first, not the one that tipped it
    assert up_down_up[1]["first_error"] is None


def test_the_monitor_thresholds_override_the_environment(db, settings):
    m = monitor(fail_threshold=3)
    record_all(m, [FAIL, FAIL], settings)
    assert Monitor.get_by_id(m.id).status == "UNKNOWN"
    record_result(job(m, 2), FAIL, settings)
    assert Monitor.get_by_id(m.id).status == "DOWN"


def test_the_same_job_delivered_three_times_counts_once(db, settings):
    m = monitor(webhook_url=SLACK, success_threshold=1)
    first = record_result(job(m, 0), OK, settings)
    # The second and third deliveries arrive together, in a later batch, and were checked again (a failure now).
    again = record_results([(job(m, 0), FAIL), (job(m, 0), OK)], settings)
    assert first.recorded and first.transition is not None
    assert [(o.recorded, o.reason, o.transition) for o in again] == [(False, "duplicate", None)] * 2
    assert CheckResult.select().count() == 1
    assert StateChange.select().count() == 1 and AlertOutbox.select().count() == 1
    m = Monitor.get_by_id(m.id)
    assert (m.status, m.consecutive_successes, m.consecutive_failures) == ("UP", 1, 0)


def test_an_older_slot_arriving_after_a_newer_one_is_dropped_and_changes_no_state(db, settings):
    # Thresholds of 1: recorded, the late success would take the monitor back UP and queue a second alert.
    m = monitor(webhook_url=SLACK, fail_threshold=1, success_threshold=1)
    assert record_result(job(m, 5), FAIL, settings).transition.to_status == "DOWN"
    late = record_result(job(m, 4), OK, settings)
    assert (late.recorded, late.reason, late.transition) == (False, "stale", None)
    m = Monitor.get_by_id(m.id)
    assert m.consecutive_failures == 1 and m.consecutive_successes == 0 and m.last_slot == job(m, 5).slot
    assert m.status == "DOWN"
    assert CheckResult.select().count() == 1
    assert StateChange.select().count() == 1 and AlertOutbox.select().count() == 1
    assert load_spec(job(m, 4), settings) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"enabled": False}, "disabled"),
        ({"generation": 2}, "generation"),
    ],
)
def test_a_job_for_a_disabled_or_reconfigured_monitor_is_dropped(db, settings, change, reason):
    m = monitor()
    Monitor.update(**change).where(Monitor.id == m.id).execute()
    assert load_spec(job(m, 0), settings) is None
    outcome = record_result(job(m, 0), FAIL, settings)
    assert (outcome.recorded, outcome.reason) == (False, reason)
    assert CheckResult.select().count() == 0


def test_a_job_for_a_deleted_monitor_is_dropped(db, settings):
    m = monitor()
    Monitor.delete_by_id(m.id)
    assert load_spec(job(m, 0), settings) is None
    assert record_result(job(m, 0), OK, settings).reason == "deleted"


def test_load_spec_describes_the_check(db, settings):
    m = monitor(url="https://api.example/health", timeout=7, expected_status_code=204)
    spec = load_spec(job(m, 0), settings)
    assert (spec.url, spec.timeout, spec.expected_status_code) == ("https://api.example/health", 7.0, 204)
    assert spec.max_body_bytes == settings.max_body_bytes
    assert load_spec(job(m, 0, generation=2), settings) is None


def test_stored_errors_are_redacted(db, settings):
    m = monitor(fail_threshold=1)
    leaky = verdict(None, 3.0, "connect",
                    "refused by https://hooks.slack.com/services/T1/B1/tok3n with Bearer abc.def, "
                    "then https://bob:pw@api.example:8443/private/path?key=k3y")
    record_result(job(m, 0), leaky, settings)
    stored = [CheckResult.get().error, Monitor.get_by_id(m.id).last_error, StateChange.get().reason]
    for text in stored:
        for secret in ("tok3n", "abc.def", "bob", "pw@", "/private", "k3y"):
            assert secret not in text
        assert "https://api.example:8443" in text


def test_after_a_monitor_with_the_newest_state_change_is_deleted_the_next_alert_still_records(db, settings):
    # SQLite would give the next state change the deleted one's id; its alert, still in the outbox (alerts
    # outlive their monitor until pruned), then made every recording batch fail on the unique event_id.
    gone = monitor(webhook_url=SLACK, success_threshold=1)
    first = record_result(job(gone, 0), OK, settings).transition
    gone.delete_instance()
    other = monitor(webhook_url=SLACK, success_threshold=1)
    second = record_result(job(other, 0), OK, settings).transition
    assert second is not None and second.event_id > first.event_id
    assert sorted(a.event_id for a in AlertOutbox.select()) == [first.event_id, second.event_id]
