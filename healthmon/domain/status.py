"""Monitor statuses and the state machine: a pure function from (state, one verdict) to the next state.

Statuses are UNKNOWN (never decided), UP and DOWN. A monitor changes status only after a run of
consecutive verdicts that agree, so one lost packet does not page anyone:

- UNKNOWN or DOWN -> UP after `success_threshold` consecutive good checks;
- UNKNOWN or UP -> DOWN after `fail_threshold` consecutive failed checks;
- a good check resets the failure counter to 0 and a failed one resets the success counter to 0.

The counters keep counting past the threshold (they are "consecutive results of this kind", shown in
the API), and a monitor already in the target status does not change again. No I/O here: the recorder
(`checker.record`) loads the state under a row lock, calls `next_state()`, and writes the result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

UNKNOWN, UP, DOWN = "UNKNOWN", "UP", "DOWN"
STATUSES = (UNKNOWN, UP, DOWN)
"""Every status a monitor can be in (the API's `status` enum)."""


@dataclass(frozen=True)
class MonitorState:
    """A monitor's status and its consecutive counters."""

    status: str = UNKNOWN
    failures: int = 0
    successes: int = 0


def next_state(state: MonitorState, ok: bool, fail_threshold: int, success_threshold: int) -> MonitorState:
    """Apply one verdict (`ok`) to `state`. The status changed when the result's `status` differs.

    Raises ValueError for an unknown status or a threshold below 1 (a threshold of 0 would flip the
    status without any evidence).
    """
    status = state.status
    if status not in STATUSES:
        raise ValueError(f"unknown monitor status {status!r}")
    if fail_threshold < 1 or success_threshold < 1:
        raise ValueError("thresholds must be at least 1")
    # Negative counters can only come from a hand-edited row; treat them as "no run yet".
    failures, successes = max(state.failures, 0), max(state.successes, 0)
    if ok:
        successes, failures = successes + 1, 0
        new = UP if status != UP and successes >= success_threshold else status
    else:
        failures, successes = failures + 1, 0
        new = DOWN if status != DOWN and failures >= fail_threshold else status
    return MonitorState(new, failures, successes)


@dataclass(frozen=True)
class Transition:
    """One change of a monitor's status, with the facts its alert shows. Times are naive UTC.

    `event_id` is the stored StateChange's id (and the outbox row's event_id). `status_code` and
    `latency_ms` are those of the check that caused it; `down_for_seconds` and `first_error` are set only
    on a recovery DOWN -> UP (the incident's length and its first failed check's error, if still kept).
    """

    event_id: int
    monitor_id: int
    name: str
    url: str
    from_status: str
    to_status: str
    at: dt.datetime
    reason: str
    status_code: int | None = None
    latency_ms: float | None = None
    down_for_seconds: int | None = None
    first_error: str | None = None
