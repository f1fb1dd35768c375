"""TLS certificate expiry in the domain: which warning is due, when a check collects the certificate, what
an edit does to the facts. Pure functions, table-tested."""

from __future__ import annotations

import datetime as dt

import pytest

from healthmon.domain import tls

A, B = "a" * 64, "b" * 64
T0 = dt.datetime(2026, 1, 20, 10, 30, 0)


@pytest.mark.parametrize(("expiry_days", "levels"), [
    (14, (14, 3, 1)), (30, (30, 3, 1)), (365, (365, 3, 1)), (4, (4, 3, 1)), (3, (3, 1)), (2, (2, 1)), (1, (1,)),
    (None, ()),
])
def test_the_warning_levels_are_the_limit_then_3_and_1_day(expiry_days, levels):
    assert tls.warning_levels(expiry_days) == levels


@pytest.mark.parametrize(("days", "warned", "expiry_days", "due"), [
    # Outside the limit: nothing.
    (30.0, {}, 14, None),
    (14.01, {}, 14, None),
    # The first warning, at the limit (within: days <= limit).
    (14.0, {}, 14, 14),
    (10.0, {}, 14, 14),
    (3.01, {}, 14, 14),
    # Already warned at 14 for this certificate: quiet until 3 days.
    (10.0, {A: 14}, 14, None),
    (3.5, {A: 14}, 14, None),
    (3.0, {A: 14}, 14, 3),
    (2.0, {A: 14}, 14, 3),
    (2.0, {A: 3}, 14, None),
    (1.0, {A: 3}, 14, 1),
    (0.2, {A: 3}, 14, 1),
    (0.2, {A: 1}, 14, None),
    # First seen late: one warning, the lowest level crossed, not one per level.
    (2.0, {}, 14, 3),
    (0.5, {}, 14, 1),
    # Expired: never (the check itself fails with verification on), whatever was warned.
    (0.0, {}, 14, None),
    (-0.5, {}, 14, None),
    (-3.0, {A: 1}, 14, None),
    # Another certificate's warnings do not count: a renewal starts afresh.
    (10.0, {B: 1}, 14, 14),
    (2.0, {B: 3}, 14, 3),
    # No warnings at all without a limit.
    (0.5, {}, None, None),
    # Other limits.
    (30.0, {}, 30, 30),
    (5.0, {A: 30}, 30, None),
    (1.5, {}, 2, 2),
    (0.9, {A: 2}, 2, 1),
    (0.9, {}, 1, 1),
    (1.5, {}, 1, None),
    # A limit raised after a warning: the lower level already sent covers the higher one.
    (20.0, {A: 14}, 30, None),
    # A limit lowered after the first warning: nothing more until 3 days (the first warning was sent).
    (10.0, {A: 14}, 7, None),
    (5.0, {A: 14}, 7, None),
    (2.0, {A: 14}, 7, 3),
])
def test_which_warning_is_due(days, warned, expiry_days, due):
    assert tls.warning_due(days, A, warned, expiry_days) == due


def test_a_certificate_warned_down_to_the_last_day_gets_three_warnings_in_all():
    warned: dict[str, int] = {}
    sent = []
    for days in (20, 14, 13, 10, 4, 3, 2.5, 1.2, 1, 0.5, 0.1, 0, -1):
        level = tls.warning_due(days, A, warned, 14)
        if level is not None:
            sent.append((days, level))
            warned[A] = level
    assert sent == [(14, 14), (3, 3), (1, 1)]


@pytest.mark.parametrize(("url", "observed_at", "now", "due"), [
    ("https://example.com/", None, T0, True),
    ("HTTPS://example.com/", None, T0, True),
    ("http://example.com/", None, T0, False),
    ("https://example.com/", T0, T0 + dt.timedelta(minutes=59), False),
    ("https://example.com/", T0, T0 + dt.timedelta(hours=1), True),
    ("https://example.com/", T0, T0 + dt.timedelta(days=3), True),
])
def test_the_certificate_is_collected_at_the_first_https_check_then_at_most_hourly(url, observed_at, now, due):
    assert tls.observe_due(url, observed_at, now) is due


@pytest.mark.parametrize(("changed", "effect"), [
    ({"url"}, "forget"), ({"url", "tls_expiry_days"}, "forget"), ({"tls_expiry_days"}, "reobserve"),
    ({"name", "check_interval"}, None), (set(), None),
])
def test_an_edit_of_the_url_forgets_the_certificate_and_of_the_limit_looks_again(changed, effect):
    assert tls.edit_effect(changed) == effect


@pytest.mark.parametrize(("left", "whole"), [
    (dt.timedelta(days=10), 10), (dt.timedelta(days=1, hours=23), 1), (dt.timedelta(hours=5), 0),
    (dt.timedelta(seconds=-1), -1), (dt.timedelta(days=-2, hours=1), -2),
])
def test_days_left_are_whole_days_rounded_down(left, whole):
    assert tls.whole_days_left(T0 + left, T0) == whole
