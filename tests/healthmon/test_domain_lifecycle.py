"""A monitor's lifecycle (healthmon.domain.lifecycle): what an edit does to its state, table-driven."""

from __future__ import annotations

import pytest

from healthmon.domain.lifecycle import NEW, EditPlan, awaiting_first_check, plan_edit
from healthmon.domain.status import DOWN, UNKNOWN, UP, MonitorState

UP_3 = MonitorState(UP, 0, 3)
DOWN_2 = MonitorState(DOWN, 2, 0)


@pytest.mark.parametrize(
    ("changed", "current", "was_enabled", "enabled", "expected"),
    [
        # a changed check starts afresh; leaving UP/DOWN is explained, leaving UNKNOWN needs no event
        ({"url"}, UP_3, True, True, EditPlan(NEW, True, "monitor edited (url changed)", True, True)),
        ({"url", "expected_status_code", "name"}, DOWN_2, True, True,
         EditPlan(NEW, True, "monitor edited (expected_status_code, url changed)", True, True)),
        ({"expected_status_code"}, MonitorState(UNKNOWN, 1, 0), True, True, EditPlan(NEW, True, None, True, True)),
        # a new interval only reschedules
        ({"check_interval"}, UP_3, True, True, EditPlan(None, False, None, True, False)),
        # re-enabling forgets the counters, keeps the status (a recovery after the pause still alerts)
        ({"enabled"}, DOWN_2, False, True, EditPlan(MonitorState(DOWN, 0, 0), False, None, True, True)),
        # pausing, renaming, changing thresholds or the webhook: the state is untouched
        ({"enabled"}, UP_3, True, False, EditPlan(None, False, None, False, False)),
        ({"name", "webhook_url", "fail_threshold"}, UP_3, True, True, EditPlan(None, False, None, False, False)),
        (set(), UP_3, True, True, EditPlan(None, False, None, False, False)),
    ],
)
def test_an_edit_changes_the_state_only_as_the_lifecycle_says(changed, current, was_enabled, enabled, expected):
    assert plan_edit(changed, current, was_enabled, enabled) == expected


def test_a_monitor_awaits_its_first_check_until_a_verdict_is_recorded():
    assert awaiting_first_check(NEW)
    assert not awaiting_first_check(MonitorState(UNKNOWN, 1, 0))  # one failure recorded, below the threshold
    assert not awaiting_first_check(MonitorState(UP, 0, 0))  # re-enabled after a pause: it was checked before
