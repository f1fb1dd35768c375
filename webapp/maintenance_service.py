"""What saving a maintenance window means, apart from HTTP: the rules between fields, the stored form, the
view. Views turn `FieldProblem` into a 422 naming the field. Nothing here knows Flask.

A window names its monitors by `monitor_ids` (ids of existing monitors) or `all: true`, exactly one of the
two; and its time by `starts_at`/`ends_at` (one-off, ends after it starts) or `recurrence` (weekly or cron,
read in `timezone`), exactly one of the two. PATCH merges the change into the stored window first, and
sending one form replaces the other (`recurrence` drops a one-off's times, `all: true` drops monitor_ids).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from healthmon import maintenance
from healthmon.db import database, utcnow
from healthmon.domain import cron
from healthmon.domain.maintenance import (
    MAX_DURATION_MINUTES,
    WEEKDAY_NAMES,
    Occurrence,
    Rule,
    next_occurrences,
    on_at,
    shortest_gap,
    weekly_cron,
)
from healthmon.models import MaintenanceWindow, Monitor
from scheduler.maintenance_reports import report_occurrence
from webapp.service import MAX_ID, FieldProblem

NEXT_SHOWN = 3
"""Upcoming occurrences shown with a window."""


def _problem(field: str, reason: str) -> FieldProblem:
    return FieldProblem(422, field, reason)


def _duration(value, field: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_DURATION_MINUTES:
        raise _problem(field, f"must be a whole number of minutes from 1 to {MAX_DURATION_MINUTES}")
    return value


def _only(spec: dict, allowed: set[str], path: str) -> None:
    extra = sorted(set(spec) - allowed)
    if extra:
        raise _problem(f"{path}.{extra[0]}", "unknown field")


def normalise_recurrence(spec) -> dict:
    """The stored form of a `recurrence` value; FieldProblem naming the bad part (`recurrence.cron`)."""
    if not isinstance(spec, dict) or len({"weekly", "cron"} & set(spec)) != 1:
        raise _problem("recurrence", 'must be {"weekly": {...}} or {"cron": "...", "duration_minutes": n}')
    if "cron" in spec:
        _only(spec, {"cron", "duration_minutes"}, "recurrence")
        if not isinstance(spec["cron"], str):
            raise _problem("recurrence.cron", "must be a string of 5 fields")
        try:
            cron.parse(spec["cron"])
        except cron.CronError as exc:
            raise _problem("recurrence.cron", str(exc)) from None
        if "duration_minutes" not in spec:
            raise _problem("recurrence.duration_minutes", "required")
        duration = _duration(spec["duration_minutes"], "recurrence.duration_minutes")
        _no_overlap(spec["cron"], duration, "recurrence.duration_minutes")
        return {"cron": " ".join(spec["cron"].split()), "duration_minutes": duration}
    _only(spec, {"weekly"}, "recurrence")
    weekly = spec["weekly"]
    if not isinstance(weekly, dict):
        raise _problem("recurrence.weekly", "must be an object with days, start and duration_minutes")
    _only(weekly, {"days", "start", "duration_minutes"}, "recurrence.weekly")
    for key in ("days", "start", "duration_minutes"):
        if key not in weekly:
            raise _problem(f"recurrence.weekly.{key}", "required")
    days = weekly["days"]
    if (not isinstance(days, list) or not days
            or not all(isinstance(d, str) and d.lower() in WEEKDAY_NAMES for d in days)):
        raise _problem("recurrence.weekly.days", f"must be a non-empty list of {', '.join(WEEKDAY_NAMES)}")
    start = weekly["start"]
    try:
        if not isinstance(start, str) or len(start) != 5 or start[2] != ":":
            raise ValueError
        dt.time.fromisoformat(start)
    except ValueError:
        raise _problem("recurrence.weekly.start", "must be a local time HH:MM (00:00-23:59)") from None
    ordered = [d for d in WEEKDAY_NAMES if d in {x.lower() for x in days}]
    duration = _duration(weekly["duration_minutes"], "recurrence.weekly.duration_minutes")
    _no_overlap(weekly_cron(ordered, start), duration, "recurrence.weekly.duration_minutes")
    return {"weekly": {"days": ordered, "start": start, "duration_minutes": duration}}


def _no_overlap(expression: str, duration: int, field: str) -> None:
    """A recurring window may not outlast the time to its next start: overlapping occurrences would each
    report the same change when they end, and each be on for the recorder to look at."""
    gap = shortest_gap(cron.parse(expression))
    if gap is not None and dt.timedelta(minutes=duration) > gap:
        raise _problem(field, f"longer than the {int(gap.total_seconds() // 60)} minutes between two starts: "
                              "occurrences would overlap")


def _check_timezone(name) -> None:
    try:
        if not isinstance(name, str) or not name or len(name) > 64:
            raise ValueError
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _problem("timezone", f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from None


def _check_monitors(ids: list[int]) -> None:
    wanted = sorted(set(ids))
    if any(not 0 < i <= MAX_ID for i in wanted):
        raise _problem("monitor_ids", "unknown monitor id(s): " + ", ".join(map(str, wanted)))
    found = {m.id for m in Monitor.select(Monitor.id).where(Monitor.id.in_(wanted))}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise _problem("monitor_ids", "unknown monitor id(s): " + ", ".join(map(str, missing)))


def normalise(doc: dict, check_ids: bool = True) -> dict:
    """A complete window (API field names, datetimes naive UTC) as model fields; FieldProblem(422) naming
    the first field at fault. `check_ids`: the monitor ids were sent now (a PATCH that keeps them does not
    fail for a monitor deleted since)."""
    ids, every = doc.get("monitor_ids"), bool(doc.get("all"))
    if every and ids is not None:
        raise _problem("all", "send either monitor_ids or all: true, not both")
    if not every:
        if ids is None:
            raise _problem("monitor_ids", "required unless all is true")
        if not ids:
            raise _problem("monitor_ids", "must name at least one monitor (or send all: true)")
        if check_ids:
            _check_monitors(ids)
    starts, ends, recurrence = doc.get("starts_at"), doc.get("ends_at"), doc.get("recurrence")
    timezone = doc.get("timezone") or "UTC"
    _check_timezone(timezone)
    if recurrence is not None:
        if starts is not None or ends is not None:
            raise _problem("recurrence", "send either starts_at/ends_at (one-off) or recurrence, not both")
        recurrence = normalise_recurrence(recurrence)
    else:
        if starts is None:
            raise _problem("starts_at", "required (with ends_at) unless recurrence is given")
        if ends is None:
            raise _problem("ends_at", "required with starts_at")
        if ends <= starts:
            raise _problem("ends_at", "must be after starts_at")
    return {"name": doc["name"], "all_monitors": every, "monitor_ids": None if every else sorted(set(ids)),
            "starts_at": starts, "ends_at": ends, "recurrence": recurrence, "timezone": timezone}


def as_document(window: MaintenanceWindow) -> dict:
    """The stored window in the API's field names (what a PATCH is merged into)."""
    return {"name": window.name, "all": window.all_monitors,
            "monitor_ids": None if window.all_monitors else list(window.monitor_ids),
            "starts_at": window.starts_at, "ends_at": window.ends_at, "recurrence": window.recurrence,
            "timezone": window.timezone}


def rule_of_window(window: MaintenanceWindow) -> Rule:
    return maintenance.build_rule(window.id, window.name, window.all_monitors, window.monitor_ids, window.starts_at,
                                  window.ends_at, window.recurrence, window.timezone)


def _report_if_ended(old: Rule, new: Rule | None, now: dt.datetime) -> None:
    """An occurrence on now that an edit or a delete ends is reported now, as ended now (in the caller's
    transaction): the report job only reads the windows stored, so it would never see this one end, and
    what changed during it would never be told. One still on after the edit is reported when it ends."""
    before = on_at(old, now)
    after = on_at(new, now) if new is not None else None
    if before is None or (after is not None and after.start == before.start):
        return
    report_occurrence(old, Occurrence(before.window_id, before.name, before.start, now), now)


def view(window: MaintenanceWindow, now: dt.datetime | None = None) -> dict:
    """The window as the API shows it, with whether it is on now and its next occurrences."""
    now = now or utcnow()
    rule = rule_of_window(window)
    upcoming = next_occurrences(rule, now, NEXT_SHOWN)
    return {**as_document(window), "id": window.id, "active": bool(upcoming) and upcoming[0].start <= now,
            "next_occurrences": [{"starts_at": o.start, "ends_at": o.end} for o in upcoming],
            "created_at": window.created_at, "updated_at": window.updated_at}


def get_window(window_id: int) -> MaintenanceWindow | None:
    if not 0 < window_id <= MAX_ID:
        return None
    return MaintenanceWindow.get_or_none(MaintenanceWindow.id == window_id)


def list_windows(offset: int, limit: int) -> tuple[list[MaintenanceWindow], int]:
    query = MaintenanceWindow.select()
    total = query.count()
    if offset >= total:
        return [], total
    return list(query.order_by(MaintenanceWindow.id).offset(offset).limit(limit)), total


def create_window(doc: dict, now: dt.datetime | None = None) -> MaintenanceWindow:
    now = now or utcnow()
    fields = normalise(doc)
    with database.atomic():
        window = MaintenanceWindow.create(**fields, created_at=now, updated_at=now)
    maintenance.RULES.forget()
    return window


def update_window(window_id: int, changes: dict, replace: bool, now: dt.datetime | None = None
                  ) -> MaintenanceWindow | None:
    """PUT (`replace`: `changes` is the whole window) or PATCH (merged into the stored one). None: no window."""
    now = now or utcnow()
    with database.atomic():
        window = get_window(window_id)
        if window is None:
            return None
        doc = dict(changes) if replace else {**as_document(window), **changes}
        if not replace:  # one form of "when" / "which" sent replaces the other
            if changes.get("recurrence") is not None and not {"starts_at", "ends_at"} & set(changes):
                doc["starts_at"] = doc["ends_at"] = None
            if {"starts_at", "ends_at"} & set(changes) and "recurrence" not in changes:
                doc["recurrence"] = None
            if changes.get("all") and "monitor_ids" not in changes:
                doc["monitor_ids"] = None
            if changes.get("monitor_ids") is not None and "all" not in changes:
                doc["all"] = False
        fields = normalise(doc, check_ids=replace or "monitor_ids" in changes)
        old = rule_of_window(window)
        for key, value in fields.items():
            setattr(window, key, value)
        window.updated_at = now
        window.save()
        _report_if_ended(old, rule_of_window(window), now)
    maintenance.RULES.forget()
    return window


def delete_window(window_id: int) -> bool:
    if not 0 < window_id <= MAX_ID:
        return False
    with database.atomic():
        window = get_window(window_id)
        if window is not None:
            _report_if_ended(rule_of_window(window), None, utcnow())
        deleted = MaintenanceWindow.delete().where(MaintenanceWindow.id == window_id).execute() > 0
    maintenance.RULES.forget()
    return deleted
