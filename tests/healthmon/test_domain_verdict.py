"""The verdict of a check: `evaluate(spec, observation)` is pure and says, one line per condition, what held."""

from __future__ import annotations

import pytest

from healthmon.domain.check import ERROR_KINDS, CheckSpec, Observation
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


@pytest.mark.parametrize("kind", [k for k in ERROR_KINDS if k != "unexpected_status"])
def test_a_transport_failure_fails_the_check_whatever_the_status(kind):
    # body_too_large comes with the status of the response whose body overflowed: still a failure
    verdict = evaluate(SPEC, Observation(200 if kind == "body_too_large" else None, 5.0, kind, "what happened"))
    assert (verdict.ok, verdict.error_kind, verdict.error) == (False, kind, "what happened")
    assert verdict.conditions == (Condition(False, f"{kind}: what happened"),)
    assert verdict.reason == f"{kind}: what happened"


def test_the_verdict_does_not_depend_on_anything_but_its_inputs():
    seen = Observation(503, 3.0)
    assert evaluate(SPEC, seen) == evaluate(SPEC, seen)
