"""A monitor's lifecycle: the state a new monitor starts in, and what an edit does to its state.

Pure functions; `webapp.service` applies their plans to the stored row under a lock.

- A new monitor is UNKNOWN with no evidence (both counters 0) and is due at once: it is "awaiting its
  first check" until a verdict is recorded (the scheduler checks such monitors before any backlog).
- A changed check (`CHECK_FIELDS`: what is checked or what counts as good) makes the history meaningless
  for the new check: the status goes back to UNKNOWN, the counters to 0, the generation moves on (jobs
  computed for the old one are dropped), the check is due at once, and, if the status was UP or DOWN, a
  state change explains why it left (no alert is sent for an edit).
- Re-enabling forgets the counters (one failure before a pause plus one after are not two consecutive
  failures) but keeps the status, so a recovery after the pause still alerts DOWN -> UP.
- A changed interval, a re-enable or a reset makes the check due at once; a reset or a re-enable also
  forgets the pending job (it was for the old check or from before the pause and must not hold back the
  check the edit asks for).
- Pausing (`plan_pause`) stores the status PAUSED with the counters at 0: no check is scheduled, a queued
  job is dropped. An edit of a paused monitor keeps it PAUSED (a changed check still moves the generation
  on). Resuming (`plan_resume`) starts afresh like a new monitor: UNKNOWN, counters 0, a new generation (a
  job from before the pause is void), due at once. Both record a state change and send no alert; the first
  real transition after a resume (UNKNOWN -> UP or DOWN) alerts as a new monitor's does. Pausing a paused
  monitor, or resuming one that is not paused, plans nothing (None).
"""

from __future__ import annotations

from dataclasses import dataclass

from healthmon.domain.status import PAUSED, UNKNOWN, MonitorState

CHECK_FIELDS = ("url", "expected_status_code", "expected_status_codes", "assertions",
                "method", "headers", "body", "auth", "follow_redirects", "verify_tls")
"""Fields that define the check itself; changing one starts the monitor afresh. What counts as good (the
accepted statuses, the assertions), and what the target is asked: another method, body or credential can
make another endpoint answer, a 3xx observed instead of followed or a certificate no longer verified changes
what counts as good. Not `user_agent` (it names the checker; a target that answers differently to it shows
that through ordinary checks), nor max_response_time_ms (a new limit only changes whether later checks are
slow, and a DEGRADED monitor without one recovers to UP by itself)."""

NEW = MonitorState(UNKNOWN, 0, 0, 0, 0)
"""The state of a monitor just created, or whose check was just changed."""


def awaiting_first_check(state: MonitorState) -> bool:
    """True while no verdict has been recorded since the monitor was created or its check changed (every
    recorded verdict makes one counter at least 1). scheduler.due selects these monitors first."""
    return state == NEW


@dataclass(frozen=True)
class EditPlan:
    """What an edit does to a monitor's state, beyond storing the changed fields.

    `state` is the new status and counters (None: unchanged); `new_generation`: jobs of the old check are
    void; `reason`: a state change to record (status left UP/DOWN), else None; `check_now`: due at once;
    `forget_pending`: the pending job no longer holds back scheduling.
    """

    state: MonitorState | None
    new_generation: bool
    reason: str | None
    check_now: bool
    forget_pending: bool


def plan_edit(changed: set[str], current: MonitorState, was_enabled: bool, enabled: bool) -> EditPlan:
    """The effect on the state of changing the fields `changed` (names whose values differ) of a monitor in
    `current`, enabled before (`was_enabled`) and after (`enabled`) the edit."""
    check_changed = sorted(changed & set(CHECK_FIELDS))
    reenabled = enabled and not was_enabled
    state = reason = None
    if current.status == PAUSED:  # stays paused: only a resume starts it again
        return EditPlan(state=None, new_generation=bool(check_changed), reason=None,
                        check_now=False, forget_pending=bool(check_changed) or reenabled)
    if check_changed:
        state = NEW
        if current.status != UNKNOWN:
            reason = "monitor edited (" + ", ".join(check_changed) + " changed)"
    elif reenabled:
        state = MonitorState(current.status, 0, 0, 0, 0)
    reset_or_resumed = bool(check_changed) or reenabled
    return EditPlan(state=state, new_generation=bool(check_changed), reason=reason,
                    check_now=reset_or_resumed or "check_interval" in changed, forget_pending=reset_or_resumed)


PAUSED_STATE = MonitorState(PAUSED, 0, 0, 0, 0)
"""A paused monitor's state: counters stopped at 0."""


def plan_pause(current: MonitorState) -> EditPlan | None:
    """What pausing does to a monitor in `current`; None when it is already paused."""
    if current.status == PAUSED:
        return None
    return EditPlan(state=PAUSED_STATE, new_generation=False, reason="paused", check_now=False,
                    forget_pending=False)


def plan_resume(current: MonitorState) -> EditPlan | None:
    """What resuming does to a monitor in `current`; None when it is not paused."""
    if current.status != PAUSED:
        return None
    return EditPlan(state=NEW, new_generation=True, reason="resumed", check_now=True, forget_pending=True)
