"""Maintenance windows: when a window is on, which monitors it covers, and whether an alert is held back.

Pure: rules in, occurrences out; the recorder, the report job and the API load the rules from the table
`maintenance_windows` and call these. Times are naive UTC, like every stored timestamp.

A window (`Rule`) is one-off (`starts_at` .. `ends_at`) or recurring: a cron expression (or a weekly rule,
turned into one) read in the window's IANA `timezone`, each start opening `duration_minutes` of real time.
An occurrence covers start <= t < end.

Daylight saving time, for recurring windows (the same rule Python's zoneinfo applies to a wall-clock time,
PEP 495 fold=0):
- a start time that does not exist that day (the clocks jump over it) is read with the offset in force
  before the jump: 02:30 on the night Europe/Berlin springs forward starts at 03:30 local (01:30 UTC);
- a start time that exists twice (the clocks fall back over it) starts once, at the first of the two
  instants (summer time); the repeated hour opens no second occurrence;
- the window lasts `duration_minutes` of real time whatever the clocks do, so a 60-minute window from
  01:30 local on a fall-back night ends at 01:30 local again (the second 01:30).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from healthmon.domain.cron import Cron, parse

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DURATION_MINUTES = 7 * 24 * 60
"""A recurring window lasts at most a week (longer would overlap a weekly rule with itself)."""


@dataclass(frozen=True)
class Recurrence:
    """When a recurring window starts (`cron`, read in `timezone`) and how long it lasts."""

    cron: Cron
    duration: dt.timedelta
    timezone: str


@dataclass(frozen=True)
class Rule:
    """A stored window: which monitors (`all_monitors`, else `monitor_ids`) and when (`starts_at`/`ends_at`
    for a one-off window, else `recurrence`)."""

    window_id: int
    name: str
    all_monitors: bool
    monitor_ids: frozenset[int]
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    recurrence: Recurrence | None = None

    def covers(self, monitor_id: int) -> bool:
        return self.all_monitors or monitor_id in self.monitor_ids


@dataclass(frozen=True)
class Occurrence:
    """One time a window is on: naive UTC, start inclusive, end exclusive."""

    window_id: int
    name: str
    start: dt.datetime
    end: dt.datetime


def weekly_cron(days: Iterable[str], start: str) -> str:
    """The cron expression of a weekly rule: `["mon", "thu"]` at "02:30" is `30 2 * * mon,thu`."""
    hour, minute = (int(part) for part in start.split(":"))
    return f"{minute} {hour} * * {','.join(days)}"


def recurrence_of(spec: dict, timezone: str) -> Recurrence:
    """The Recurrence of a stored `recurrence` value (`{"cron": ..., "duration_minutes": n}` or
    `{"weekly": {"days": [...], "start": "HH:MM", "duration_minutes": n}}`). Assumes it was validated."""
    if "weekly" in spec:
        weekly = spec["weekly"]
        return Recurrence(parse(weekly_cron(weekly["days"], weekly["start"])),
                          dt.timedelta(minutes=weekly["duration_minutes"]), timezone)
    return Recurrence(parse(spec["cron"]), dt.timedelta(minutes=spec["duration_minutes"]), timezone)


def to_utc(local: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A wall-clock time in `zone` as naive UTC, by the module's DST rule (fold=0)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(dt.UTC).replace(tzinfo=None)


def _starts(recurrence: Recurrence, first_day: dt.date, last_day: dt.date) -> Iterator[dt.datetime]:
    """Occurrence starts (naive UTC, ascending) of local days first_day..last_day. A start that does not
    exist that day lands on the instant the module's DST rule gives, so an order across the jump holds."""
    zone = ZoneInfo(recurrence.timezone)
    times = recurrence.cron.times()
    day = first_day
    while day <= last_day:
        if recurrence.cron.matches_day(day):
            seen: set[dt.datetime] = set()
            for at in sorted(to_utc(dt.datetime.combine(day, t), zone) for t in times):
                if at not in seen:  # two nonexistent times can land on one instant
                    seen.add(at)
                    yield at
        day += dt.timedelta(days=1)


def _local_day(at: dt.datetime, timezone: str) -> dt.date:
    return at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).date()


def occurrences(rule: Rule, start: dt.datetime, end: dt.datetime) -> list[Occurrence]:
    """The rule's occurrences that overlap [start, end), oldest first."""
    if rule.recurrence is None:
        if rule.starts_at < end and rule.ends_at > start:
            return [Occurrence(rule.window_id, rule.name, rule.starts_at, rule.ends_at)]
        return []
    rec = rule.recurrence
    # Local days from the one holding start - duration (an occurrence begun then may still be on) to end's,
    # one day of slack each side for the offset between local and UTC dates.
    first = _local_day(start - rec.duration, rec.timezone) - dt.timedelta(days=1)
    last = _local_day(end, rec.timezone) + dt.timedelta(days=1)
    return [Occurrence(rule.window_id, rule.name, at, at + rec.duration) for at in _starts(rec, first, last)
            if at < end and at + rec.duration > start]


def next_occurrences(rule: Rule, after: dt.datetime, count: int = 5, horizon_days: int = 400) -> list[Occurrence]:
    """Up to `count` occurrences that are on at `after` or start later, within `horizon_days`, oldest first.
    Looks a day ahead first, then twice as far each time (up to a month), and stops at `count`: a rule
    starting every minute costs a day's starts, a yearly one a few dozen month-long looks."""
    found: list[Occurrence] = []
    step, longest = dt.timedelta(days=1), dt.timedelta(days=31)
    start, stop = after, after + dt.timedelta(days=horizon_days)
    while len(found) < count and start < stop:
        end = min(start + step, stop)
        for occurrence in occurrences(rule, start, end):  # oldest first; one on across two looks comes twice
            if occurrence.end > after and (not found or occurrence.start > found[-1].start):
                found.append(occurrence)
                if len(found) == count:
                    break
        start, step = end, min(step * 2, longest)
    return found


SPAN_LOOKAHEAD = dt.timedelta(hours=6)
SPANS_KEPT = 1000
_SPANS: dict[Rule, tuple[dt.datetime, dt.datetime, Occurrence | None]] = {}
"""Memo of `on_at`: per rule, a span [from, until) over which its answer is the same (its occurrence, or
None), so the recorder's once-per-batch question costs a dict lookup instead of expanding the rule's cron
each time (a rule starting every minute is thousands of zone conversions). A pure function's memo: the
answer for a time never changes; edited rules are new keys, and the memo is emptied past SPANS_KEPT."""


def on_at(rule: Rule, at: dt.datetime) -> Occurrence | None:
    """The rule's occurrence on at `at` (the latest-started one if several overlap), or None."""
    span = _SPANS.get(rule)
    if span is not None and span[0] <= at < span[1]:
        return span[2]
    found = occurrences(rule, at, at + SPAN_LOOKAHEAD)
    on = [o for o in found if o.start <= at < o.end]
    current = on[-1] if on else None
    # Same answer until the current occurrence ends or another one starts, whichever is first.
    until = min([o.start for o in found if o.start > at] + [current.end if current else at + SPAN_LOOKAHEAD])
    if len(_SPANS) >= SPANS_KEPT:
        _SPANS.clear()
    _SPANS[rule] = (at, until, current)
    return current


def active_windows(rules: Iterable[Rule], at: dt.datetime) -> list[tuple[Rule, Occurrence]]:
    """Each rule on at `at`, with its occurrence (the latest-started one if several overlap)."""
    return [(rule, occurrence) for rule in rules if (occurrence := on_at(rule, at)) is not None]


def shortest_gap(cron: Cron) -> dt.timedelta | None:
    """The least wall-clock time between two starts of `cron` (None: it never starts twice within two
    years). The night the clocks spring forward, real time between two starts across the jump is an hour
    less: a window exactly as long as the gap overlaps its next occurrence by up to an hour then."""
    minutes = sorted(t.hour * 60 + t.minute for t in cron.times())
    gaps = [later - earlier for earlier, later in zip(minutes, minutes[1:], strict=False)]
    first = dt.date(2024, 1, 1)  # a leap year first, so 29 February rules are seen
    days = [first + dt.timedelta(days=n) for n in range(800) if cron.matches_day(first + dt.timedelta(days=n))]
    if len(days) >= 2 and minutes:
        apart = min((later - earlier).days for earlier, later in zip(days, days[1:], strict=False))
        gaps.append(apart * 24 * 60 - minutes[-1] + minutes[0])
    return dt.timedelta(minutes=min(gaps)) if gaps else None


def active_window(active: list[tuple[Rule, Occurrence]], monitor_id: int) -> Occurrence | None:
    """The occurrence covering `monitor_id` among `active` (active_windows at one instant), or None; of
    several, the one that ends last (the monitor stays in maintenance until then)."""
    covering = [o for rule, o in active if rule.covers(monitor_id)]
    return max(covering, key=lambda o: (o.end, o.window_id)) if covering else None


def alerts_suppressed(active: list[tuple[Rule, Occurrence]], monitor_id: int) -> bool:
    """THE suppression decision: no alert (state change or TLS warning) goes out for `monitor_id` while a
    window covers it. `active` is active_windows(rules, now) computed once per recording batch."""
    return active_window(active, monitor_id) is not None


@dataclass(frozen=True)
class MaintenanceChange:
    """The end-of-window report for one monitor: its status at the occurrence's start and at its end
    differ. `report_id` is the stored MaintenanceReport's id; `changes` how many state changes were recorded
    in between (their alerts were held back)."""

    report_id: int
    monitor_id: int
    name: str
    url: str
    window_id: int
    window_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    from_status: str
    to_status: str
    changes: int
    at: dt.datetime


def status_at(moment: dt.datetime, changes: list[tuple[dt.datetime, str]], current: str) -> str:
    """A monitor's status at `moment`, from its state changes after some earlier time ((created_at,
    from_status), oldest first) and its status now: the from_status of the first change at or after
    `moment`, else the current status. (A change recorded at `moment` itself happened in the window that
    starts then, and was held back; one at a window's end was not.)"""
    for created_at, from_status in changes:
        if created_at >= moment:
            return from_status
    return current
