"""Verdicts for recording tests, made the way the worker makes them: `evaluate` of an Observation."""

from __future__ import annotations

from healthmon.domain.check import CheckSpec, Observation
from healthmon.domain.verdict import Verdict, evaluate

SPEC = CheckSpec(url="https://example.test/health")
"""A status-only check expecting 200 (the default expectation)."""


def verdict(status_code: int | None = 200, latency_ms: float = 5.0, error_kind: str | None = None,
            error: str | None = None) -> Verdict:
    """The verdict on a check that saw `status_code` in `latency_ms` (or the transport error given)."""
    return evaluate(SPEC, Observation(status_code, latency_ms, error_kind, error))
