"""The verdict of a check: `evaluate(spec, observation)` is pure and says, one line per condition, what held."""

from __future__ import annotations

import pytest

from healthmon.domain.check import ERROR_KINDS, VERDICT_ERROR_KINDS, CheckSpec, Observation
from healthmon.domain.verdict import Condition, evaluate

SPEC = CheckSpec(url="https://api.example/health")


def test_a_response_with_the_expected_status_is_good_and_says_so():
    seen = Observation(200, 41.6)
    verdict = evaluate(SPEC, seen)
    assert (verdict.ok, verdict.error_kind, verdict.error) == (True, None, None)
    assert verdict.conditions == (Condition(True, "status 200"),)
    assert verdict.observation is seen
    assert verdict.reason == "status 200 in 42 ms"


def test_another_status_fails_with_what_was_expected_and_what_came():
    verdict = evaluate(CheckSpec(url=SPEC.url, expected_status_code=204), Observation(200, 12.0))
    assert (verdict.ok, verdict.error_kind, verdict.error) == (False, "unexpected_status", "expected 204, got 200")
    assert verdict.conditions == (Condition(False, "status: expected 204, got 200"),)
    assert verdict.reason == "status 200 in 12 ms"


@pytest.mark.parametrize("kind", [k for k in ERROR_KINDS if k not in VERDICT_ERROR_KINDS])
def test_a_transport_failure_fails_the_check_whatever_the_status(kind):
    # body_too_large comes with the status of the response whose body overflowed: still a failure
    verdict = evaluate(SPEC, Observation(200 if kind == "body_too_large" else None, 5.0, kind, "what happened"))
    assert (verdict.ok, verdict.error_kind, verdict.error) == (False, kind, "what happened")
    assert verdict.conditions == (Condition(False, f"{kind}: what happened"),)
    assert verdict.reason == f"{kind}: what happened"


def test_the_verdict_does_not_depend_on_anything_but_its_inputs():
    seen = Observation(503, 3.0)
    assert evaluate(SPEC, seen) == evaluate(SPEC, seen)


def test_a_passed_check_slower_than_the_limit_is_slow_not_failed():
    spec = CheckSpec(url=SPEC.url, max_response_time_ms=500)
    slow = evaluate(spec, Observation(200, 812.4))
    assert (slow.ok, slow.slow, slow.error_kind) == (True, True, None)
    assert slow.conditions[-1] == Condition(False, "response time 812 ms, above 500 ms")
    assert slow.reason == "slow: response time 812 ms, above 500 ms"
    fast = evaluate(spec, Observation(200, 499.0))
    assert (fast.ok, fast.slow) == (True, False) and fast.conditions[-1] == Condition(True, "response time 499 ms")


def test_a_failed_check_is_never_slow():
    spec = CheckSpec(url=SPEC.url, max_response_time_ms=500)
    assert not evaluate(spec, Observation(503, 900.0)).slow
    assert not evaluate(spec, Observation(None, 5000.0, "timeout", "no response within 5 s")).slow


def test_without_a_limit_no_check_is_slow():
    assert not evaluate(SPEC, Observation(200, 29_000.0)).slow
