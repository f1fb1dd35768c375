"""The reminder and escalation rules while DOWN: which notice is due when (a table)."""

import datetime as dt

import pytest

from healthmon.domain.reminders import ESCALATION, REMINDER, StillDown, notices_due, reminder_due

T0 = dt.datetime(2026, 1, 20, 10, 0, 0)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(("minutes_down", "every", "number"), [
    (0, 10, 0),
    (9.99, 10, 0),
    (10, 10, 1),
    (19, 10, 1),
    (20, 10, 2),
    (125, 60, 2),      # a scheduler back after an hour away: the newest one only, no burst
    (500, None, 0),    # off
    (-5, 10, 0),       # a clock behind the incident's start
])
def test_the_newest_reminder_due_is_one_per_full_period_of_the_incident(minutes_down, every, number):
    assert reminder_due(T0, at(minutes_down), every) == number


@pytest.mark.parametrize(("minutes_down", "reminder", "escalation", "channel", "due"), [
    (5, 10, 30, 7, []),
    (10, 10, 30, 7, [(REMINDER, 1)]),
    (30, 10, 30, 7, [(ESCALATION, 0), (REMINDER, 3)]),
    (30, None, 30, 7, [(ESCALATION, 0)]),
    (30, None, 30, None, []),       # no channel to escalate to
    (29.9, None, 30, 7, []),
    (600, None, None, None, []),    # both off (the default)
])
def test_the_notices_due_are_the_escalation_first_then_the_newest_reminder(minutes_down, reminder, escalation,
                                                                             channel, due):
    assert notices_due(T0, at(minutes_down), reminder, escalation, channel) == due


def test_a_notice_says_how_long_the_incident_has_lasted():
    notice = StillDown(1, 2, "Shop", "https://shop.example/", ESCALATION, 0, T0, at(90.5))
    assert notice.down_for_seconds == 5430 and notice.escalated
