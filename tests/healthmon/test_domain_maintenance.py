"""Maintenance windows as pure rules (healthmon.domain.maintenance, healthmon.domain.cron): cron fields,
occurrences in a time zone across DST changes, which window covers a monitor, and the statuses a report
compares. Table-driven."""

from __future__ import annotations

import datetime as dt

import pytest

from healthmon.domain import cron
from healthmon.domain.maintenance import (
    Occurrence,
    Rule,
    active_window,
    active_windows,
    alerts_suppressed,
    next_occurrences,
    occurrences,
    on_at,
    recurrence_of,
    shortest_gap,
    status_at,
)

D = dt.datetime


def recurring(spec: dict, tz: str, window_id: int = 1, ids=(1,), every=False) -> Rule:
    return Rule(window_id, "db upgrade", every, frozenset(ids), recurrence=recurrence_of(spec, tz))


@pytest.mark.parametrize(("expression", "minutes", "hours", "weekdays"), [
    ("0 2 * * 0", (0,), (2,), {6}),
    ("*/15 1-3 * * mon-fri", (0, 15, 30, 45), (1, 2, 3), {0, 1, 2, 3, 4}),
    ("5,35 22 * * 7", (5, 35), (22,), {6}),  # 7 is Sunday too
    ("10/20 0 * * *", (10, 30, 50), (0,), set(range(7))),
])
def test_a_cron_expression_parses_into_its_values(expression, minutes, hours, weekdays):
    parsed = cron.parse(expression)
    assert (parsed.minutes, parsed.hours, set(parsed.weekdays)) == (minutes, hours, weekdays)


@pytest.mark.parametrize(("expression", "message"), [
    ("0 2 * *", "needs 5 fields"),
    ("60 2 * * *", "minute: 60 is outside 0-59"),
    ("0 24 * * *", "hour: 24 is outside 0-23"),
    ("0 2 0 * *", "day of month: 0 is outside 1-31"),
    ("0 2 * 13 *", "month: 13 is outside 1-12"),
    ("0 2 * * 8", "day of week: 8 is outside 0-7"),
    ("0 2 * * fri-mon", "day of week: range 'fri-mon' runs backwards"),
    ("*/0 2 * * *", "minute: step '0'"),
    ("0 2 * * funday", "day of week: 'funday' is not a number or a name"),
])
def test_a_bad_cron_expression_is_refused_naming_the_field(expression, message):
    with pytest.raises(cron.CronError, match=message):
        cron.parse(expression)


def test_day_of_month_and_day_of_week_both_restricted_match_either():
    parsed = cron.parse("0 2 1 * mon")
    assert parsed.matches_day(dt.date(2026, 6, 1))  # the 1st (a Monday anyway)
    assert parsed.matches_day(dt.date(2026, 7, 1))  # the 1st, a Wednesday
    assert parsed.matches_day(dt.date(2026, 7, 6))  # a Monday
    assert not parsed.matches_day(dt.date(2026, 7, 7))


WEEKLY_2AM = {"weekly": {"days": ["sun"], "start": "02:00", "duration_minutes": 60}}
WEEKLY_230 = {"weekly": {"days": ["sun"], "start": "02:30", "duration_minutes": 60}}
NY_130 = {"cron": "30 1 * * 0", "duration_minutes": 60}


@pytest.mark.parametrize(("spec", "tz", "day", "start", "end"), [
    # an ordinary winter and summer Sunday in Berlin: 02:00 local is 01:00 / 00:00 UTC
    (WEEKLY_2AM, "Europe/Berlin", dt.date(2026, 3, 22), D(2026, 3, 22, 1), D(2026, 3, 22, 2)),
    (WEEKLY_2AM, "Europe/Berlin", dt.date(2026, 4, 5), D(2026, 4, 5, 0), D(2026, 4, 5, 1)),
    # spring forward (29 March 2026, 02:00 -> 03:00): 02:30 does not exist, read with the winter offset,
    # so the window runs 03:30-04:30 local (01:30-02:30 UTC)
    (WEEKLY_230, "Europe/Berlin", dt.date(2026, 3, 29), D(2026, 3, 29, 1, 30), D(2026, 3, 29, 2, 30)),
    # fall back (25 October 2026, 03:00 -> 02:00): 02:30 happens twice; the window starts once, at the first
    (WEEKLY_230, "Europe/Berlin", dt.date(2026, 10, 25), D(2026, 10, 25, 0, 30), D(2026, 10, 25, 1, 30)),
    # New York: spring forward on 8 March 2026 (02:30 does not exist: 03:30 EDT, 07:30 UTC)
    (WEEKLY_230, "America/New_York", dt.date(2026, 3, 8), D(2026, 3, 8, 7, 30), D(2026, 3, 8, 8, 30)),
    # fall back on 1 November 2026: 01:30 is twice; the first (EDT, 05:30 UTC), for 60 real minutes
    (NY_130, "America/New_York", dt.date(2026, 11, 1), D(2026, 11, 1, 5, 30), D(2026, 11, 1, 6, 30)),
])
def test_a_recurring_window_starts_at_its_local_time_across_dst_changes(spec, tz, day, start, end):
    rule = recurring(spec, tz)
    found = occurrences(rule, D.combine(day, dt.time()) - dt.timedelta(days=1), D.combine(day, dt.time())
                        + dt.timedelta(days=2))
    assert [(o.start, o.end) for o in found] == [(start, end)]


def test_the_repeated_hour_of_a_fall_back_night_opens_no_second_occurrence():
    rule = recurring({"cron": "*/30 1 * * *", "duration_minutes": 10}, "America/New_York")
    found = occurrences(rule, D(2026, 11, 1, 4), D(2026, 11, 1, 8))
    assert [o.start for o in found] == [D(2026, 11, 1, 5, 0), D(2026, 11, 1, 5, 30)]  # 01:00 and 01:30 EDT only


def test_next_occurrences_include_the_one_on_now_then_the_following_ones():
    rule = recurring(WEEKLY_2AM, "UTC")
    found = next_occurrences(rule, D(2026, 3, 22, 3, 0), 3)  # the end is outside
    assert [o.start for o in found] == [D(2026, 3, 29, 2), D(2026, 4, 5, 2), D(2026, 4, 12, 2)]
    found = next_occurrences(rule, D(2026, 3, 22, 2, 30), 1)  # on now
    assert [(o.start, o.end) for o in found] == [(D(2026, 3, 22, 2), D(2026, 3, 22, 3))]


ONE_OFF = Rule(7, "db upgrade", False, frozenset({1, 2}), starts_at=D(2026, 5, 1, 2), ends_at=D(2026, 5, 1, 3))
ALL = Rule(8, "network", True, frozenset(), starts_at=D(2026, 5, 1, 2, 30), ends_at=D(2026, 5, 1, 4))


@pytest.mark.parametrize(("monitor_id", "at", "window"), [
    (1, D(2026, 5, 1, 1, 59, 59), None),
    (1, D(2026, 5, 1, 2), 7),  # the start is inside
    (3, D(2026, 5, 1, 2, 10), None),  # not one of the ids
    (3, D(2026, 5, 1, 2, 30), 8),  # the all-monitors window
    (1, D(2026, 5, 1, 2, 45), 8),  # in both: the one that ends last
    (1, D(2026, 5, 1, 4), None),  # the end is outside
])
def test_the_window_covering_a_monitor_and_whether_its_alerts_are_suppressed(monitor_id, at, window):
    active = active_windows([ONE_OFF, ALL], at)
    found = active_window(active, monitor_id)
    assert (found.window_id if found else None) == window
    assert alerts_suppressed(active, monitor_id) is (window is not None)


def test_an_occurrence_is_start_inclusive_end_exclusive():
    assert occurrences(ONE_OFF, D(2026, 5, 1, 3), D(2026, 5, 1, 5)) == []
    assert occurrences(ONE_OFF, D(2026, 5, 1, 2, 59), D(2026, 5, 1, 5)) == [
        Occurrence(7, "db upgrade", D(2026, 5, 1, 2), D(2026, 5, 1, 3))]


CHANGES = [(D(2026, 5, 1, 2, 10), "UP"), (D(2026, 5, 1, 2, 40), "DOWN"), (D(2026, 5, 1, 3, 0), "UP")]


@pytest.mark.parametrize(("moment", "status"), [
    (D(2026, 5, 1, 2), "UP"),  # before the first change: its from_status
    (D(2026, 5, 1, 2, 10), "UP"),  # a change at the moment itself came after it
    (D(2026, 5, 1, 2, 50), "UP"),  # after UP -> DOWN -> UP: the from_status of the change at 03:00
    (D(2026, 5, 1, 3, 0), "UP"),
    (D(2026, 5, 1, 3, 1), "DEGRADED"),  # after every change: the current status
])
def test_the_status_at_a_moment_is_read_from_the_changes_after_it(moment, status):
    assert status_at(moment, CHANGES, "DEGRADED") == status


@pytest.mark.parametrize(("spec", "tz"), [
    ({"cron": "*/7 * * * *", "duration_minutes": 3}, "UTC"),
    ({"cron": "30 2 * * *", "duration_minutes": 90}, "Europe/Berlin"),  # across the spring-forward night
    ({"weekly": {"days": ["sun"], "start": "01:30", "duration_minutes": 60}}, "America/New_York"),
])
def test_the_remembered_answer_is_the_one_computed_afresh_at_every_moment(spec, tz):
    rule = recurring(spec, tz)
    at = D(2026, 3, 28, 22, 0)
    while at < D(2026, 3, 30, 4, 0):  # Berlin springs forward on 29 March 2026
        fresh = [o for o in occurrences(rule, at, at + dt.timedelta(microseconds=1)) if o.start <= at < o.end]
        assert on_at(rule, at) == (fresh[-1] if fresh else None), at
        at += dt.timedelta(minutes=1, seconds=13)


def test_next_occurrences_of_a_rule_starting_every_minute_are_the_next_minutes():
    rule = recurring({"cron": "* * * * *", "duration_minutes": 1}, "UTC")
    found = next_occurrences(rule, D(2026, 5, 1, 10, 0, 30), count=3)
    assert [(o.start, o.end) for o in found] == [(D(2026, 5, 1, 10, m), D(2026, 5, 1, 10, m + 1)) for m in (0, 1, 2)]


@pytest.mark.parametrize(("expression", "minutes"), [
    ("* * * * *", 1), ("0 * * * *", 60), ("0 2,14 * * *", 720), ("0 2 * * *", 1440), ("0 23 * * 0,1", 1440),
    ("0 2 * * 0", 7 * 1440), ("0 2 1 * *", 28 * 1440), ("0 0 29 2 *", None),
])
def test_the_shortest_gap_between_two_starts(expression, minutes):
    gap = shortest_gap(cron.parse(expression))
    assert (gap and gap.total_seconds() / 60) == minutes
