"""The state machine (healthmon.domain.status), table-driven: sequences of verdicts and the states they lead to."""

import pytest

from healthmon.domain.status import MonitorState, next_state


def run(sequence: str, fail_threshold: int, success_threshold: int, start: str = "UNKNOWN"):
    """Feed a string of results ("s" success, "f" failure); return the transitions and the final counters."""
    state = MonitorState(start)
    changes = []
    for ch in sequence:
        new = next_state(state, ch == "s", fail_threshold, success_threshold)
        if new.status != state.status:
            changes.append(f"{state.status}->{new.status}")
        state = new
    return changes, (state.failures, state.successes)


@pytest.mark.parametrize(
    ("sequence", "fail_t", "success_t", "changes", "counters"),
    [
        # threshold 1: every disagreeing result flips at once
        ("s", 1, 1, ["UNKNOWN->UP"], (0, 1)),
        ("f", 1, 1, ["UNKNOWN->DOWN"], (1, 0)),
        ("sfsf", 1, 1, ["UNKNOWN->UP", "UP->DOWN", "DOWN->UP", "UP->DOWN"], (1, 0)),
        # threshold 2 (the default)
        ("s", 2, 2, [], (0, 1)),
        ("ss", 2, 2, ["UNKNOWN->UP"], (0, 2)),
        ("sss", 2, 2, ["UNKNOWN->UP"], (0, 3)),
        ("ff", 2, 2, ["UNKNOWN->DOWN"], (2, 0)),
        ("ssff", 2, 2, ["UNKNOWN->UP", "UP->DOWN"], (2, 0)),
        ("ssffss", 2, 2, ["UNKNOWN->UP", "UP->DOWN", "DOWN->UP"], (0, 2)),
        # flapping below the threshold never changes anything, from any state
        ("sfsfsfsf", 2, 2, [], (1, 0)),
        ("ssfsfsfsf", 2, 2, ["UNKNOWN->UP"], (1, 0)),
        ("ffsfsfsfs", 2, 2, ["UNKNOWN->DOWN"], (0, 1)),
        # threshold 3, and different thresholds for each direction
        ("ff", 3, 3, [], (2, 0)),
        ("fff", 3, 3, ["UNKNOWN->DOWN"], (3, 0)),
        ("fffssfsss", 3, 3, ["UNKNOWN->DOWN", "DOWN->UP"], (0, 3)),
        ("ffsfff", 3, 3, ["UNKNOWN->DOWN"], (3, 0)),
        ("sf", 1, 3, ["UNKNOWN->DOWN"], (1, 0)),
        ("fsss", 1, 3, ["UNKNOWN->DOWN", "DOWN->UP"], (0, 3)),
        ("ssfs", 3, 1, ["UNKNOWN->UP"], (0, 1)),
    ],
)
def test_it_changes_state_after_consecutive_results_reach_the_threshold(sequence, fail_t, success_t, changes, counters):
    got_changes, got_counters = run(sequence, fail_t, success_t)
    assert got_changes == changes
    assert got_counters == counters


@pytest.mark.parametrize(
    ("status", "failures", "successes", "ok", "expected"),
    [
        ("UP", 0, 5, False, MonitorState("UP", 1, 0)),
        ("UP", 1, 0, False, MonitorState("DOWN", 2, 0)),
        ("DOWN", 7, 0, True, MonitorState("DOWN", 0, 1)),
        ("DOWN", 0, 1, True, MonitorState("UP", 0, 2)),
        ("DOWN", 4, 0, False, MonitorState("DOWN", 5, 0)),
        ("UNKNOWN", 1, 0, True, MonitorState("UNKNOWN", 0, 1)),
    ],
)
def test_it_resets_the_opposite_counter_and_keeps_counting_past_the_threshold(status, failures, successes, ok,
                                                                              expected):
    assert next_state(MonitorState(status, failures, successes), ok, 2, 2) == expected


@pytest.mark.parametrize(("status", "ft", "st"), [("BROKEN", 2, 2), ("UP", 0, 2), ("UP", 2, 0)])
def test_it_rejects_unknown_states_and_thresholds_below_one(status, ft, st):
    with pytest.raises(ValueError):
        next_state(MonitorState(status), True, ft, st)
