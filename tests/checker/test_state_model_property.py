"""A model-based test of the recording path: random sequences of check results, with duplicate and reordered
slots, fed to `record_results` on a real database (SQLite and PostgreSQL), against a pure model of the
thresholds written from the documented rules (healthmon/domain/status.py, docs/ARCHITECTURE.md), not from the code:

- a monitor changes state after `fail_threshold` consecutive failures or `success_threshold` consecutive
  successes (the monitor's own, else the environment's, FAIL_THRESHOLD / SUCCESS_THRESHOLD), and only then;
- with slow answers (passed, but slower than max_response_time_ms; docs/api.md "DEGRADED"): UP -> DEGRADED
  after `fail_threshold` consecutive slow ones, DEGRADED -> UP after `success_threshold` consecutive fast
  ones, and from UNKNOWN or DOWN `success_threshold` passes give UP, or DEGRADED when the last was slow;
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
from healthmon.domain.check import CheckSpec, Observation
from healthmon.domain.verdict import evaluate
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
SLOW = evaluate(CheckSpec(url="https://example.com/", max_response_time_ms=100), Observation(200, 450.0))
VERDICTS = {"ok": OK, "slow": SLOW, "fail": FAIL}
KINDS = st.sampled_from(sorted(VERDICTS))

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
    failures: int = 0  # the current run of failed checks
    passes: int = 0  # ... of passed ones, slow or not
    slow: int = 0  # ... of slow passes
    fast: int = 0  # ... of fast passes
    newest: int | None = None  # the newest slot recorded
    recorded: list[int] = field(default_factory=list)
    transitions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def counters(self) -> tuple[int, int, int, int]:
        """(consecutive failures, successes, slow, fast) as the API shows them."""
        return self.failures, self.passes, self.slow, self.fast

    def deliver(self, batch: list[tuple[int, bool]]) -> list[str]:
        """Apply one batch; returns each item's fate, in the batch's order."""
        fates: list[str] = [""] * len(batch)
        for i in sorted(range(len(batch)), key=lambda i: batch[i][0]):
            slot, kind = batch[i]
            if self.newest is not None and slot <= self.newest:
                fates[i] = "duplicate" if slot == self.newest else "stale"
                continue
            fates[i] = "recorded"
            self.newest = slot
            self.recorded.append(slot)
            target = self._judge(kind)
            if target is not None and target != self.status:
                self.transitions.append((self.status, target))
                self.status = target
        return fates


    def _judge(self, kind: str) -> str | None:
        """Count one recorded check of `kind` (ok, slow, fail); the status it calls for, if a run is complete."""
        if kind == "fail":
            self.failures, self.passes, self.slow, self.fast = self.failures + 1, 0, 0, 0
            return "DOWN" if self.failures == self.fail_threshold else None
        self.failures, self.passes = 0, self.passes + 1
        self.slow, self.fast = (self.slow + 1, 0) if kind == "slow" else (0, self.fast + 1)
        if self.status in ("UNKNOWN", "DOWN"):
            return ("DEGRADED" if kind == "slow" else "UP") if self.passes >= self.success_threshold else None
        if self.status == "UP":
            return "DEGRADED" if self.slow == self.fail_threshold else None
        return "UP" if self.fast == self.success_threshold else None  # DEGRADED


class RecordingMachine(RuleBasedStateMachine):
    """One monitor per example; each rule is one `record_results` call (one batch, one transaction)."""

    app_settings = None  # the test's Settings, set before the machine runs
    tally: Counter = Counter()  # over every example of a run: what the test printed

    def __init__(self):
        super().__init__()
        self.model: Model | None = None
        self.monitor_id: int | None = None
        self.frontier = -1  # the highest slot delivered so far, recorded or not
        self.last_batch: list[tuple[int, str]] = []

    @initialize(fail=st.one_of(st.none(), st.integers(1, MAX_THRESHOLD_DRAWN)),
                success=st.one_of(st.none(), st.integers(1, MAX_THRESHOLD_DRAWN)), webhook=st.booleans())
    def a_monitor(self, fail, success, webhook):
        settings = self.app_settings
        self.monitor_id = Monitor.create(name="model", url="https://example.com/", check_interval=30, timeout=5,
                                         fail_threshold=fail, success_threshold=success,
                                         webhook_url=HOOK if webhook else None).id
        self.model = Model(fail or settings.fail_threshold, success or settings.success_threshold, webhook)

    def deliver(self, batch: list[tuple[int, str]]) -> None:
        outcomes = record_results([(CheckJob(self.monitor_id, slot_time(n), 1), VERDICTS[kind]) for n, kind in batch],
                                  self.app_settings)
        fates = self.model.deliver(batch)
        assert [o.reason for o in outcomes] == fates
        self.tally.update(fates)
        self.tally["batches"] += 1
        self.tally["transitions"] += sum(o.transition is not None for o in outcomes)
        self.tally["to DEGRADED"] += sum(o.transition is not None and o.transition.to_status == "DEGRADED"
                                         for o in outcomes)
        self.tally["from DEGRADED"] += sum(o.transition is not None and o.transition.from_status == "DEGRADED"
                                           for o in outcomes)
        self.tally["alerts"] += sum(o.transition is not None and self.model.alerts for o in outcomes)
        self.frontier = max(self.frontier, *(n for n, _ in batch))
        self.last_batch = batch

    @rule(results=st.lists(KINDS, min_size=1, max_size=4))
    def the_next_checks_in_order(self, results):
        self.deliver([(self.frontier + 1 + i, kind) for i, kind in enumerate(results)])

    @rule(items=st.lists(st.tuples(st.integers(-3, 2), KINDS), min_size=1, max_size=6))
    def a_batch_with_duplicates_late_and_reordered_slots(self, items):
        # Offsets around the newest slot delivered: old ones (late, or already recorded), repeats, new ones
        # out of order, and gaps (slots that never arrive).
        self.deliver([(max(self.frontier + offset, 0), kind) for offset, kind in items])

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
        stored = (m.consecutive_failures, m.consecutive_successes, m.consecutive_slow, m.consecutive_fast)
        assert (m.status, stored) == (model.status, model.counters)
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
          f"with a webhook); DEGRADED entered {tally['to DEGRADED']}, left {tally['from DEGRADED']}")
    assert tally["transitions"] and tally["duplicate"] and tally["stale"]  # the examples did exercise all three
    assert tally["to DEGRADED"] and tally["from DEGRADED"]  # ... and slow answers
