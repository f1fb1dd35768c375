"""A model-based test of the recording path: random sequences of check results, with duplicate and reordered
slots, fed to `record_results` on a real database (SQLite and PostgreSQL), against a pure model of the
thresholds written from the documented rules (healthmon/domain/status.py, docs/ARCHITECTURE.md), not from the code:

- a monitor changes state after `fail_threshold` consecutive failures or `success_threshold` consecutive
  successes (the monitor's own, else the environment's, FAIL_THRESHOLD / SUCCESS_THRESHOLD), and only then;
- a result is recorded once per slot, and only for a slot newer than every slot recorded before; a batch is
  applied in slot order whatever order it arrived in (of two results for one slot, the first counts);
- every state change has exactly one StateChange row and, when the monitor has a webhook, exactly one alert.

After every step the stored monitor, its results, its state changes and its outbox must equal the model's.
CI runs a fixed set of examples (derandomized); elsewhere each run draws new ones.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from checker.record import record_results
from healthmon.models import AlertOutbox, CheckResult, Monitor, StateChange
from healthmon.queue.base import CheckJob
from tests.checker.verdicts import verdict

IN_CI = os.environ.get("CI", "").lower() == "true"

EXAMPLES = int(os.environ.get("STATE_MODEL_EXAMPLES", "25"))
STEPS = 12
"""25 machines of up to 12 steps per database: about two seconds each on the CI machine. Set
STATE_MODEL_EXAMPLES to search longer."""

MODEL_SETTINGS = hypothesis_settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,  # database round trips vary on a shared machine; the count of examples bounds the time
    derandomize=IN_CI,  # CI: the same examples every run, so a red build is reproducible
    suppress_health_check=[HealthCheck.too_slow],
)

T0 = dt.datetime(2026, 1, 20, 10, 30, 0)
HOOK = "https://receiver.example/hook"
OK = verdict(200, 42.0)
FAIL = verdict(503, 12.0)

MAX_THRESHOLD_DRAWN = 3
"""Thresholds 1-3 (and unset): long enough runs to cross them occur in a dozen steps."""


def slot_time(n: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=30 * n)


@dataclass
class Model:
    """The documented behaviour of one monitor, with no database and none of healthmon.domain.status's code."""

    fail_threshold: int
    success_threshold: int
    alerts: bool
    status: str = "UNKNOWN"
    run_ok: bool | None = None  # the kind of the current run of agreeing results
    run_length: int = 0
    newest: int | None = None  # the newest slot recorded
    recorded: list[int] = field(default_factory=list)
    transitions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def counters(self) -> tuple[int, int]:
        """(consecutive failures, consecutive successes)."""
        return (0, self.run_length) if self.run_ok else (self.run_length if self.run_ok is False else 0, 0)

    def deliver(self, batch: list[tuple[int, bool]]) -> list[str]:
        """Apply one batch; returns each item's fate, in the batch's order."""
        fates: list[str] = [""] * len(batch)
        for i in sorted(range(len(batch)), key=lambda i: batch[i][0]):
            slot, ok = batch[i]
            if self.newest is not None and slot <= self.newest:
                fates[i] = "duplicate" if slot == self.newest else "stale"
                continue
            fates[i] = "recorded"
            self.newest = slot
            self.recorded.append(slot)
            self.run_length = self.run_length + 1 if ok == self.run_ok else 1
            self.run_ok = ok
            target, threshold = ("UP", self.success_threshold) if ok else ("DOWN", self.fail_threshold)
            if self.run_length == threshold and self.status != target:
                self.transitions.append((self.status, target))
                self.status = target
        return fates


class RecordingMachine(RuleBasedStateMachine):
    """One monitor per example; each rule is one `record_results` call (one batch, one transaction)."""

    app_settings = None  # the test's Settings, set before the machine runs
    tally: Counter = Counter()  # over every example of a run: what the test printed

    def __init__(self):
        super().__init__()
        self.model: Model | None = None
        self.monitor_id: int | None = None
        self.frontier = -1  # the highest slot delivered so far, recorded or not
        self.last_batch: list[tuple[int, bool]] = []

    @initialize(fail=st.one_of(st.none(), st.integers(1, MAX_THRESHOLD_DRAWN)),
                success=st.one_of(st.none(), st.integers(1, MAX_THRESHOLD_DRAWN)), webhook=st.booleans())
    def a_monitor(self, fail, success, webhook):
        settings = self.app_settings
        self.monitor_id = Monitor.create(name="model", url="https://example.com/", check_interval=30, timeout=5,
                                         fail_threshold=fail, success_threshold=success,
                                         webhook_url=HOOK if webhook else None).id
        self.model = Model(fail or settings.fail_threshold, success or settings.success_threshold, webhook)

    def deliver(self, batch: list[tuple[int, bool]]) -> None:
        outcomes = record_results([(CheckJob(self.monitor_id, slot_time(n), 1), OK if ok else FAIL) for n, ok in batch],
                                  self.app_settings)
        fates = self.model.deliver(batch)
        assert [o.reason for o in outcomes] == fates
        self.tally.update(fates)
        self.tally["batches"] += 1
        self.tally["transitions"] += sum(o.transition is not None for o in outcomes)
        self.tally["alerts"] += sum(o.transition is not None and self.model.alerts for o in outcomes)
        self.frontier = max(self.frontier, *(n for n, _ in batch))
        self.last_batch = batch

    @rule(results=st.lists(st.booleans(), min_size=1, max_size=4))
    def the_next_checks_in_order(self, results):
        self.deliver([(self.frontier + 1 + i, ok) for i, ok in enumerate(results)])

    @rule(items=st.lists(st.tuples(st.integers(-3, 2), st.booleans()), min_size=1, max_size=6))
    def a_batch_with_duplicates_late_and_reordered_slots(self, items):
        # Offsets around the newest slot delivered: old ones (late, or already recorded), repeats, new ones
        # out of order, and gaps (slots that never arrive).
        self.deliver([(max(self.frontier + offset, 0), ok) for offset, ok in items])

    @rule()
    def the_last_batch_delivered_again(self):
        if self.last_batch:
            self.deliver(list(self.last_batch))

    @invariant()
    def the_stored_monitor_equals_the_model_with_one_alert_per_transition(self):
        if self.model is None:
            return
        model, mid = self.model, self.monitor_id
        m = Monitor.get_by_id(mid)
        assert (m.status, (m.consecutive_failures, m.consecutive_successes)) == (model.status, model.counters)
        assert m.last_slot == (None if model.newest is None else slot_time(model.newest))
        slots = [s for (s,) in CheckResult.select(CheckResult.slot).where(CheckResult.monitor == mid)
                 .order_by(CheckResult.slot).tuples()]
        assert slots == [slot_time(n) for n in model.recorded]
        changes = list(StateChange.select().where(StateChange.monitor == mid).order_by(StateChange.id))
        assert [(c.from_status, c.to_status) for c in changes] == model.transitions
        outbox = AlertOutbox.select().where(AlertOutbox.monitor_id == mid).order_by(AlertOutbox.id)
        alerts = [a.event_id for a in outbox]
        assert alerts == ([c.id for c in changes] if model.alerts else [])


def test_the_stored_state_follows_the_threshold_model_with_one_alert_per_transition(db, settings):
    RecordingMachine.app_settings = settings
    RecordingMachine.tally = Counter()
    run_state_machine_as_test(RecordingMachine, settings=MODEL_SETTINGS)
    tally = RecordingMachine.tally
    print(f"batches {tally['batches']}; results {sum(tally[k] for k in ('recorded', 'duplicate', 'stale'))}: "
          f"recorded {tally['recorded']}, duplicates dropped {tally['duplicate']}, stale dropped {tally['stale']}; "
          f"transitions {tally['transitions']}, alerts queued {tally['alerts']} (one per transition of a monitor "
          f"with a webhook)")
    assert tally["transitions"] and tally["duplicate"] and tally["stale"]  # the examples did exercise all three
