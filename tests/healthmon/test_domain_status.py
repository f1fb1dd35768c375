"""The state machine (healthmon.domain.status), table-driven: sequences of verdicts and the states they lead to."""

import pytest

from healthmon.domain.status import MonitorState, next_state


def run(sequence: str, fail_threshold: int, success_threshold: int, start: str = "UNKNOWN"):
    """Feed a string of results ("s" success, "f" failure); return the transitions and the final counters."""
    state = MonitorState(start)
    changes = []
    for ch in sequence:  # s: a good check, w: a passed but slow one, f: a failed one
        new = next_state(state, ch != "f", fail_threshold, success_threshold, slow=ch == "w")
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
        ("DOWN", 7, 0, True, MonitorState("DOWN", 0, 1, 0, 1)),
        ("DOWN", 0, 1, True, MonitorState("UP", 0, 2, 0, 1)),
        ("DOWN", 4, 0, False, MonitorState("DOWN", 5, 0)),
        ("UNKNOWN", 1, 0, True, MonitorState("UNKNOWN", 0, 1, 0, 1)),
    ],
)
def test_it_resets_the_opposite_counter_and_keeps_counting_past_the_threshold(status, failures, successes, ok,
                                                                              expected):
    assert next_state(MonitorState(status, failures, successes), ok, 2, 2) == expected


@pytest.mark.parametrize(("status", "ft", "st"), [("BROKEN", 2, 2), ("UP", 0, 2), ("UP", 2, 0)])
def test_it_rejects_unknown_states_and_thresholds_below_one(status, ft, st):
    with pytest.raises(ValueError):
        next_state(MonitorState(status), True, ft, st)


@pytest.mark.parametrize(
    ("sequence", "fail_t", "success_t", "changes"),
    [
        # slow answers: DEGRADED (up but slow) after the thresholds, with its own transitions
        ("ssww", 2, 2, ["UNKNOWN->UP", "UP->DEGRADED"]),
        ("ssw", 2, 2, ["UNKNOWN->UP"]),  # one slow answer is not a degradation
        ("sswsws", 2, 2, ["UNKNOWN->UP"]),  # nor is a slow answer now and then
        ("sswwss", 2, 2, ["UNKNOWN->UP", "UP->DEGRADED", "DEGRADED->UP"]),
        ("sswwsw", 2, 2, ["UNKNOWN->UP", "UP->DEGRADED"]),  # back to UP takes consecutive fast answers
        ("ww", 2, 2, ["UNKNOWN->DEGRADED"]),
        ("sw", 2, 2, ["UNKNOWN->DEGRADED"]),  # answering (2 passes), and slow at the moment
        ("wwff", 2, 2, ["UNKNOWN->DEGRADED", "DEGRADED->DOWN"]),
        ("ffww", 2, 2, ["UNKNOWN->DOWN", "DOWN->DEGRADED"]),
        ("ffwsws", 2, 2, ["UNKNOWN->DOWN", "DOWN->UP"]),  # mixed speeds still recover from DOWN, as the last one is
        ("sswfw", 2, 2, ["UNKNOWN->UP"]),  # a failure breaks the slow run
        ("swww", 3, 1, ["UNKNOWN->UP", "UP->DEGRADED"]),
        ("www", 1, 3, ["UNKNOWN->DEGRADED"]),
        ("sw", 1, 1, ["UNKNOWN->UP", "UP->DEGRADED"]),
    ],
)
def test_slow_answers_make_a_monitor_degraded_after_the_thresholds(sequence, fail_t, success_t, changes):
    assert run(sequence, fail_t, success_t)[0] == changes


def test_without_slow_answers_only_unknown_up_and_down_occur():
    for sequence in ("ssffssff", "sfsfsf", "ffss", "ssssffff"):
        assert all("DEGRADED" not in c for c in run(sequence, 2, 2)[0])


def test_counters_of_passed_checks_count_slow_and_fast_runs():
    state = MonitorState()
    for ch in "ssww":
        state = next_state(state, True, 2, 2, slow=ch == "w")
    assert state == MonitorState("DEGRADED", 0, 4, 2, 0)
    assert next_state(state, False, 2, 2) == MonitorState("DEGRADED", 1, 0, 0, 0)
