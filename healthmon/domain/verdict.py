"""The verdict of a check: a pure function of the spec and what the engine observed.

`evaluate(spec, observation)` checks each condition of the spec against the observation and says, one line
per condition, what held and what did not. A transport failure (no usable response) fails the check on its
own; otherwise the check is good when every condition holds. The first failed condition names the verdict's
error (`error_kind`, `error`), which is what the API, the state change's reason and the alert show.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthmon.domain.check import CheckSpec, Observation


@dataclass(frozen=True)
class Condition:
    """One condition of a check and how it came out; `line` says it for people."""

    ok: bool
    line: str


@dataclass(frozen=True)
class Verdict:
    """What a check means: `ok`, or why not (`error_kind`, `error`: the transport error or the first failed
    condition), one Condition per condition checked, and the Observation it was judged on."""

    observation: Observation
    ok: bool
    error_kind: str | None = None
    error: str | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def reason(self) -> str:
        """One line for a state change's reason: the transport error, or the status code and latency."""
        if self.error_kind and self.error_kind != "unexpected_status":
            return f"{self.error_kind}: {self.error}" if self.error else self.error_kind
        obs = self.observation
        return f"status {obs.status_code} in {obs.latency_ms:.0f} ms"


def evaluate(spec: CheckSpec, observation: Observation) -> Verdict:
    """Judge `observation` against `spec`. Pure; never raises for any observation."""
    if observation.error_kind is not None:
        line = f"{observation.error_kind}: {observation.error}" if observation.error else observation.error_kind
        return Verdict(observation, False, observation.error_kind, observation.error, (Condition(False, line),))
    status, expected = observation.status_code, spec.expected_status_code
    if status != expected:
        error = f"expected {expected}, got {status}"
        return Verdict(observation, False, "unexpected_status", error, (Condition(False, f"status: {error}"),))
    return Verdict(observation, True, None, None, (Condition(True, f"status {status}"),))
