"""Monitor statuses and the state machine: a pure function from (state, one verdict) to the next state.

Statuses are UNKNOWN (never decided), UP, DEGRADED (up, but slower than the monitor's
`max_response_time_ms`) and DOWN. A monitor changes status only after a run of consecutive verdicts that
agree, so one lost packet (or one slow answer) does not page anyone:

- to DOWN (from any other status) after `fail_threshold` consecutive failed checks;
- from UNKNOWN or DOWN, after `success_threshold` consecutive passed checks: UP, or DEGRADED if the last
  of them was slow;
- UP -> DEGRADED after `fail_threshold` consecutive slow checks (slowness is bad news, judged like failure);
- DEGRADED -> UP after `success_threshold` consecutive fast checks (good news, judged like recovery).

A check is slow only when it passed and the monitor has a `max_response_time_ms`; without one no check is
slow and only UNKNOWN, UP and DOWN occur. The counters keep counting past the thresholds (they are
"consecutive checks of this kind", shown in the API); a failed check resets the pass counters, a passed one
the failure counter, a slow one the fast counter and a fast one the slow counter. No I/O here: the recorder
(`checker.record`) loads the state under a row lock, calls `next_state()`, and writes the result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

UNKNOWN, UP, DEGRADED, DOWN = "UNKNOWN", "UP", "DEGRADED", "DOWN"
STATUSES = (UNKNOWN, UP, DEGRADED, DOWN)
"""Every status a monitor can be in (the API's `status` enum)."""
ANSWERING = (UP, DEGRADED)
"""Statuses in which the endpoint answers correctly (counted as up in uptime and metrics)."""
PAUSED = "PAUSED"
"""Stored while a monitor is paused (POST /monitors/{id}/pause): it is not checked and its counters stop.
Never an input or output of `next_state` (the recorder drops a paused monitor's jobs)."""
STORED_STATUSES = (*STATUSES, PAUSED)
"""Every value of the `status` column (the API's `status` enum)."""
MAINTENANCE = "MAINTENANCE"
"""Never stored: what the status page and /stats show for a monitor a maintenance window covers now
(healthmon.domain.maintenance); the API keeps `status` and adds `maintenance`."""


@dataclass(frozen=True)
class MonitorState:
    """A monitor's status and its consecutive counters: failed checks, passed checks, and among the passed
    ones the current run of slow (`slow`) or fast (`fast`) ones."""

    status: str = UNKNOWN
    failures: int = 0
    successes: int = 0
    slow: int = 0
    fast: int = 0


def next_state(state: MonitorState, ok: bool, fail_threshold: int, success_threshold: int,
               slow: bool = False) -> MonitorState:
    """Apply one verdict (`ok`, and `slow` if it passed but too slowly) to `state`. The status changed when
    the result's `status` differs.

    Raises ValueError for an unknown status or a threshold below 1 (a threshold of 0 would flip the
    status without any evidence).
    """
    status = state.status
    if status not in STATUSES:
        raise ValueError(f"unknown monitor status {status!r}")
    if fail_threshold < 1 or success_threshold < 1:
        raise ValueError("thresholds must be at least 1")
    if not ok:
        # Negative counters can only come from a hand-edited row; max() treats them as "no run yet".
        failures = max(state.failures, 0) + 1
        new = DOWN if status != DOWN and failures >= fail_threshold else status
        return MonitorState(new, failures, 0, 0, 0)
    successes = max(state.successes, 0) + 1
    slow_run, fast_run = (max(state.slow, 0) + 1, 0) if slow else (0, max(state.fast, 0) + 1)
    new = status
    if status in (UNKNOWN, DOWN):
        if successes >= success_threshold:
            new = DEGRADED if slow else UP
    elif status == UP:
        if slow_run >= fail_threshold:
            new = DEGRADED
    elif fast_run >= success_threshold:  # DEGRADED
        new = UP
    return MonitorState(new, 0, successes, slow_run, fast_run)


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
