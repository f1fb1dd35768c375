"""Pausing and resuming a monitor, apart from HTTP (healthmon.domain.lifecycle.plan_pause / plan_resume).

A paused monitor's status is PAUSED: the scheduler skips it, the checker drops a job already queued for it
(reason "paused"), and its counters stay at 0. Resuming starts it afresh: UNKNOWN, a new generation, due at
once. Each records a state change (reason "paused" / "resumed") and no alert. Both are idempotent: pausing
a paused monitor (or resuming a running one) changes nothing. Independent of `enabled`: a disabled monitor
can be paused and resumed, and stays unchecked until it is enabled too.
"""

from __future__ import annotations

import datetime as dt

from healthmon.db import database, for_update, utcnow
from healthmon.domain import lifecycle
from healthmon.domain.status import MonitorState
from healthmon.ids import fresh_id
from healthmon.models import Monitor, StateChange
from webapp.service import MAX_ID


def _apply(monitor_id: int, plan_for, now: dt.datetime | None) -> Monitor | None:
    if not 0 < monitor_id <= MAX_ID:
        return None
    now = now or utcnow()
    with database.atomic():
        monitor = for_update(Monitor.select().where(Monitor.id == monitor_id)).first()
        if monitor is None:
            return None
        current = MonitorState(monitor.status, monitor.consecutive_failures, monitor.consecutive_successes,
                               monitor.consecutive_slow, monitor.consecutive_fast)
        plan = plan_for(current)
        if plan is None:  # already so: idempotent
            return monitor
        old_status = monitor.status
        monitor.status = plan.state.status
        monitor.consecutive_failures, monitor.consecutive_successes = plan.state.failures, plan.state.successes
        monitor.consecutive_slow, monitor.consecutive_fast = plan.state.slow, plan.state.fast
        monitor.status_changed_at = monitor.updated_at = now
        if plan.new_generation:
            monitor.generation += 1
        # Paused: no check is due (the API shows next_check_at null); resumed: due at once.
        monitor.next_check_at = now if plan.check_now else None
        if plan.forget_pending:
            monitor.pending_slot = None
        monitor.save()
        StateChange.create(**fresh_id(StateChange), monitor=monitor, from_status=old_status,
                           to_status=monitor.status, created_at=now, reason=plan.reason)
        return monitor


def pause_monitor(monitor_id: int, now: dt.datetime | None = None) -> Monitor | None:
    """Pause the monitor; the monitor (unchanged if already paused), or None if it does not exist."""
    return _apply(monitor_id, lifecycle.plan_pause, now)


def resume_monitor(monitor_id: int, now: dt.datetime | None = None) -> Monitor | None:
    """Resume the monitor; the monitor (unchanged if not paused), or None if it does not exist."""
    return _apply(monitor_id, lifecycle.plan_resume, now)
