"""The monitor state machine: a pure function from (state, one result) to the next state.

States are UNKNOWN (never decided), UP and DOWN. A monitor changes state only after a run of
consecutive results that agree, so one lost packet does not page anyone:

- UNKNOWN or DOWN -> UP after `success_threshold` consecutive successes;
- UNKNOWN or UP -> DOWN after `fail_threshold` consecutive failures;
- a success resets the failure counter to 0 and a failure resets the success counter to 0.

The counters keep counting past the threshold (they are "consecutive results of this kind", shown in
the API), and a monitor already in the target state does not change again. No I/O here: the recorder
(`checker.record`) loads the counters under a row lock, calls `transition()`, and writes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthmon.defaults import MONITOR_STATUSES

UNKNOWN, UP, DOWN = "UNKNOWN", "UP", "DOWN"


@dataclass(frozen=True)
class Transition:
    """The state after one result. `changed` is true when `status` differs from `from_status`."""

    status: str
    failures: int
    successes: int
    changed: bool
    from_status: str


def transition(
    status: str, failures: int, successes: int, ok: bool, fail_threshold: int, success_threshold: int
) -> Transition:
    """Apply one check result (`ok`) to a monitor's `status` and consecutive counters.

    Returns the new `Transition`. Raises ValueError for an unknown status or a threshold below 1
    (a threshold of 0 would flip state without any evidence).
    """
    if status not in MONITOR_STATUSES:
        raise ValueError(f"unknown monitor status {status!r}")
    if fail_threshold < 1 or success_threshold < 1:
        raise ValueError("thresholds must be at least 1")
    # Negative counters can only come from a hand-edited row; treat them as "no run yet".
    failures, successes = max(failures, 0), max(successes, 0)
    if ok:
        successes, failures = successes + 1, 0
        new = UP if status != UP and successes >= success_threshold else status
    else:
        failures, successes = failures + 1, 0
        new = DOWN if status != DOWN and failures >= fail_threshold else status
    return Transition(status=new, failures=failures, successes=successes, changed=new != status, from_status=status)
