"""Checks with conditions, end to end through a real worker against a local target: the verdict names the
failed condition in the result, the state change and the alert; a slow answer makes the monitor DEGRADED."""

from __future__ import annotations

import json

import pytest

from healthmon.domain.conditions import assertion_json, parse_assertion
from healthmon.models import AlertOutbox, CheckResult, Monitor, StateChange
from tests.checker.worker_support import job_for, make_monitor, make_worker, step_until, stop_workers  # noqa: F401
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = pytest.mark.timeout(60)
HEALTHY = json.dumps({"status": "UP", "queue": {"depth": 3}})
ASSERTIONS = [{"target": "json", "path": "$.status", "op": "equals", "value": "UP"},
              {"target": "header", "name": "Content-Type", "op": "contains", "value": "json"}]


@pytest.fixture
def target():
    with WebhookReceiver() as server:
        yield server


def stored(raw: list[dict]) -> list[dict]:
    return [assertion_json(parse_assertion(a)) for a in raw]


def check_once(worker, monitor, seconds_ago: float) -> CheckResult:
    before = CheckResult.select().count()
    worker.queue.send_jobs([job_for(monitor, seconds_ago=seconds_ago)])
    step_until(worker, lambda: CheckResult.select().count() == before + 1)
    return CheckResult.select().order_by(CheckResult.id.desc()).first()


def test_a_failed_assertion_takes_the_monitor_down_and_the_alert_names_it(settings, target):
    json_type = {"Content-Type": "application/json"}
    target.script(Reply(200, HEALTHY, json_type), Reply(200, json.dumps({"status": "DOWN"}), json_type))
    monitor = make_monitor(target.url_for("/health"), assertions=stored(ASSERTIONS), fail_threshold=1,
                           success_threshold=1, webhook_url="https://hooks.example.com/alerts",
                           webhook_format="json")
    worker = make_worker(settings)

    good = check_once(worker, monitor, seconds_ago=3)
    assert (good.ok, good.error_kind) == (True, None)
    bad = check_once(worker, monitor, seconds_ago=2)

    line = '$.status is "DOWN", expected "UP"'
    assert (bad.ok, bad.status_code, bad.error_kind, bad.error) == (False, 200, "assertion_failed", line)
    m = Monitor.get_by_id(monitor.id)
    assert (m.status, m.last_error) == ("DOWN", line)
    change = StateChange.select().order_by(StateChange.id.desc()).first()
    assert (change.from_status, change.to_status, change.reason) == ("UP", "DOWN", f"assertion_failed: {line}")
    alert = json.loads(AlertOutbox.select().order_by(AlertOutbox.id.desc()).first().payload)
    assert (alert["old"], alert["new"], alert["reason"]) == ("UP", "DOWN", f"assertion_failed: {line}")


def test_a_missing_header_fails_the_check_even_with_the_right_body(settings, target):
    target.script(Reply(200, HEALTHY, {"Content-Type": "text/html"}))
    monitor = make_monitor(target.url_for("/health"), assertions=stored(ASSERTIONS))
    result = check_once(make_worker(settings), monitor, seconds_ago=1)
    assert (result.ok, result.error) == (False, 'header content-type is "text/html", expected to contain "json"')


def test_accepted_status_ranges_decide_instead_of_the_expected_status_code(settings, target):
    target.script(Reply(204, ""), Reply(302, ""))
    monitor = make_monitor(target.url_for("/health"), expected_status_codes=["200-299"], expected_status_code=200)
    worker = make_worker(settings)
    assert check_once(worker, monitor, seconds_ago=3).ok
    redirect = check_once(worker, monitor, seconds_ago=2)
    assert (redirect.ok, redirect.error_kind, redirect.error) == (False, "unexpected_status",
                                                                 "expected 200-299, got 302")


def test_slow_answers_make_the_monitor_degraded_and_fast_ones_bring_it_back(settings, target):
    target.script(Reply(200, HEALTHY, delay=0.3), Reply(200, HEALTHY, delay=0.3), Reply(200, HEALTHY))
    monitor = make_monitor(target.url_for("/health"), max_response_time_ms=150, fail_threshold=2,
                           success_threshold=1, webhook_url="https://hooks.example.com/alerts",
                           webhook_format="json")
    worker = make_worker(settings)

    first = check_once(worker, monitor, seconds_ago=4)
    assert first.ok and first.latency_ms > 150  # slow, but up: the uptime history counts it as up
    assert Monitor.get_by_id(monitor.id).status == "DEGRADED"  # UNKNOWN -> DEGRADED: answering, slowly
    check_once(worker, monitor, seconds_ago=3)
    check_once(worker, monitor, seconds_ago=2)

    m = Monitor.get_by_id(monitor.id)
    assert (m.status, m.consecutive_fast, m.consecutive_slow) == ("UP", 1, 0)
    changes = [(c.from_status, c.to_status, c.reason) for c in StateChange.select().order_by(StateChange.id)]
    assert [c[:2] for c in changes] == [("UNKNOWN", "DEGRADED"), ("DEGRADED", "UP")]
    assert changes[0][2].startswith("slow: response time ") and changes[0][2].endswith(" ms, above 150 ms")
    alerts = [json.loads(a.payload) for a in AlertOutbox.select().order_by(AlertOutbox.id)]
    assert [(a["old"], a["new"]) for a in alerts] == [("UNKNOWN", "DEGRADED"), ("DEGRADED", "UP")]
