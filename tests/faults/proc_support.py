"""Helpers for the process-fault tests (crashes, restarts, concurrent schedulers, SIGTERM): seeding monitors on
a known grid, finding a pool's children, the slot ledger, an independent model of the thresholds, and the
alert tally.

The slot ledger is the accounting every test here ends with. Each monitor is seeded with `next_check_at` on its
grid (its phase, healthmon's `phase_of`), so every slot the scheduler passes is `first + k * interval`. Once the
schedulers are stopped and every pending job is done, each slot from the first up to the monitor's final
`next_check_at` must be recorded exactly once or counted in `skipped_slots`:
`(next_check_at - first) / interval == recorded + skipped`. A slot recorded twice, lost, or enqueued off the
grid breaks that equation or one of the ledger's other counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from healthmon import sql
from healthmon.db import utcnow
from healthmon.models import AlertOutbox, Monitor, StateChange
from scheduler.due import phase_of
from tests.e2e.procs import POLL, Proc, wait_until
from tests.e2e.test_distributed import database_at  # noqa: F401 - the fault tests import it from here

SEED_LEAD = dt.timedelta(seconds=3)
"""Seeded monitors are first due this long after seeding: the processes start (imports, connections) first."""

DRAIN_TIMEOUT = 75.0
"""Longest wait for every pending job to finish: a job lost with a killed checker comes back after the
visibility timeout (40 s in these tests), is checked and recorded; the rest is margin for a loaded machine."""

VISIBILITY_TIMEOUT = 40
"""QUEUE_VISIBILITY_TIMEOUT of these deployments: the lowest the settings allow (longest check 30 s + 10 s), so
a job held by a killed checker returns as soon as production would let it."""

FAST_ENV = {"QUEUE_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT, "QUEUE_WAIT_SECONDS": 1}
"""Environment of the pools and schedulers here: short long-polls so a stopping receiver is never abandoned."""


def seed_monitors(count: int, interval: int, url_for, webhook_for=None, **fields) -> dict[int, dt.datetime]:
    """Insert `count` monitors, the i-th checking `url_for(i)` (and alerting `webhook_for(i)` as JSON), each first
    due at its first on-phase slot at least SEED_LEAD from now. Returns {monitor id: first slot}."""
    first_after = utcnow() + SEED_LEAD
    rows = [{"name": f"fault {i}", "url": url_for(i), "check_interval": interval, "timeout": 1,
             "webhook_url": webhook_for(i) if webhook_for else None,
             "webhook_format": "json" if webhook_for else None, **fields} for i in range(count)]
    for chunk in sql.chunks(rows):
        Monitor.insert_many(chunk).execute()
    step = dt.timedelta(seconds=interval)
    firsts: dict[int, dt.datetime] = {}
    epoch = dt.datetime(1970, 1, 1)
    updates = []
    for (mid,) in Monitor.select(Monitor.id).tuples():
        phase = phase_of(mid, interval)
        k = -((epoch + phase - first_after) // step)  # ceil: the first on-phase slot not before first_after
        firsts[mid] = epoch + phase + k * step
        updates.append((firsts[mid], mid))
    sql.execute_many("UPDATE monitors SET next_check_at = ? WHERE id = ?", updates)
    return firsts


def pool_children(pid: int) -> list[int]:
    """The live child processes of `pid` (a pool parent), from /proc (no psutil dependency)."""
    out: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            out += [int(p) for p in children.read_text().split()]
    return sorted(set(out))


def worker_pids(pool: Proc) -> list[int]:
    """The pool's live check workers: its children, less the alert sender (told apart by their start lines)."""
    senders = {int(p) for p in re.findall(r"\[(\d+)\]: \[CHECKER\] alert sender started", pool.output())}
    return [p for p in pool_children(pool.pid) if p not in senders]


def kill_group(proc: Proc) -> None:
    """SIGKILL `proc`'s whole process group (a pool parent and all its children at once) and reap the leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.popen.wait(10)


def pending_jobs() -> int:
    return Monitor.select().where(Monitor.pending_slot.is_null(False)).count()


def pending_alerts() -> int:
    return AlertOutbox.select().where(AlertOutbox.state == "pending").count()


def drain(timeout: float = DRAIN_TIMEOUT) -> None:
    """Wait (bound to the deployment's database) until no monitor has a pending job and no alert is pending.
    Call with the schedulers stopped and a checker pool running."""
    for count, what in ((pending_jobs, "monitor(s) with a pending job (lost?)"),
                        (pending_alerts, "alert(s) pending (lost?)")):
        try:
            wait_until(lambda count=count: count() == 0, timeout, f"no {what}", interval=0.5)
        except AssertionError:
            raise AssertionError(f"after {timeout} s still {count()} {what}") from None


@dataclass
class Ledger:
    """The slot accounting of a set of monitors (see the module docstring). `lost`: slots neither recorded
    nor skipped; `extra`: recorded + skipped beyond the slots passed (a slot counted twice)."""

    passed: int = 0
    recorded: int = 0
    doubled: int = 0
    skipped: int = 0
    off_grid: int = 0
    lost: int = 0
    extra: int = 0
    slots: dict[int, list[dt.datetime]] = field(default_factory=dict)

    def line(self) -> str:
        return (f"slots passed={self.passed} recorded={self.recorded} skipped={self.skipped} "
                f"doubled={self.doubled} lost={self.lost} extra={self.extra} off-grid={self.off_grid}")


def recorded_slots() -> dict[int, list[dt.datetime]]:
    """Every recorded slot per monitor, in slot order (bound to the deployment's database)."""
    slots: dict[int, list[dt.datetime]] = defaultdict(list)
    for mid, slot in sql.query("SELECT monitor_id, slot FROM check_results ORDER BY monitor_id, slot"):
        slots[mid].append(sql.as_datetime(slot))
    return dict(slots)


def slot_ledger(firsts: dict[int, dt.datetime], interval: int,
                slots: dict[int, list[dt.datetime]] | None = None) -> Ledger:
    """Count every monitor's slots (bound to the deployment's database, after `drain`). `slots`: the slots that
    count as done per monitor, with repeats (default: the recorded ones, `recorded_slots()`)."""
    step = dt.timedelta(seconds=interval)
    ledger = Ledger(slots=recorded_slots() if slots is None else slots)
    for mid, next_at, skipped in sql.query("SELECT id, next_check_at, skipped_slots FROM monitors"):
        first, mine = firsts[mid], ledger.slots.get(mid, [])
        passed = (sql.as_datetime(next_at) - first) // step
        distinct = len(set(mine))
        ledger.passed += passed
        ledger.recorded += distinct
        ledger.doubled += len(mine) - distinct
        ledger.skipped += skipped
        ledger.off_grid += sum(1 for s in mine if (s - first) % step or s < first)
        ledger.lost += max(0, passed - distinct - skipped)
        ledger.extra += max(0, distinct + skipped - passed)
    return ledger


def model_transitions(oks: list[bool], fail_threshold: int, success_threshold: int) -> list[tuple[str, str]]:
    """The (old, new) state changes a run of results must produce: UNKNOWN until `success_threshold`
    consecutive successes (UP) or `fail_threshold` consecutive failures (DOWN); written apart from
    healthmon/domain/status.py on purpose, so the product is checked against the rule, not against itself."""
    state, run_ok, run = "UNKNOWN", None, 0
    out = []
    for ok in oks:
        run = run + 1 if ok == run_ok else 1
        run_ok = ok
        target = "UP" if ok else "DOWN"
        if state != target and run >= (success_threshold if ok else fail_threshold):
            out.append((state, target))
            state = target
    return out


@dataclass
class AlertTally:
    """Transitions (model, stored) and alerts (sent, doubled, missing, wrong) over a set of monitors."""

    modelled: int = 0
    stored: int = 0
    mismatched_monitors: int = 0
    sent: int = 0
    doubled: int = 0
    missing: int = 0
    unknown: int = 0

    def line(self) -> str:
        return (f"transitions modelled={self.modelled} stored={self.stored} mismatched={self.mismatched_monitors}; "
                f"alerts expected={self.stored} sent={self.sent} doubled={self.doubled} missing={self.missing} "
                f"unexpected={self.unknown}")


def alert_tally(requests, threshold: int = 2) -> AlertTally:
    """Compare, per monitor, the transitions the model derives from its recorded results (in slot order) with
    the stored StateChanges, and those with the JSON alerts the receiver got on the path of the monitor's own
    webhook_url: one request per event, same old/new, in event order."""
    tally = AlertTally()
    oks: dict[int, list[bool]] = defaultdict(list)
    for mid, ok in sql.query("SELECT monitor_id, ok FROM check_results ORDER BY monitor_id, slot"):
        oks[mid].append(bool(ok))
    stored: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for event_id, mid, old, new in (StateChange.select(StateChange.id, StateChange.monitor, StateChange.from_status,
                                                       StateChange.to_status).order_by(StateChange.id).tuples()):
        stored[mid].append((event_id, old, new))
    received: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for request in requests:
        body = json.loads(request.body)
        received[request.path].append((body["event_id"], body["old"], body["new"]))
    per_event = Counter(e for events in received.values() for e, _, _ in events)
    tally.sent = sum(per_event.values())
    tally.doubled = sum(n - 1 for n in per_event.values() if n > 1)
    known = set()
    for mid, webhook_url in Monitor.select(Monitor.id, Monitor.webhook_url).tuples():
        model = model_transitions(oks.get(mid, []), threshold, threshold)
        mine = stored.get(mid, [])
        tally.modelled += len(model)
        tally.stored += len(mine)
        got = list(dict.fromkeys(received.get(urlsplit(webhook_url).path, [])))  # first delivery of each, in order
        tally.missing += len(set(mine) - set(got))
        # The state follows the model, and the alerts follow the state: same events, same order.
        if model != [(old, new) for _, old, new in mine] or (got != mine and set(got) <= set(mine)):
            tally.mismatched_monitors += 1
        known |= {e for e, _, _ in mine}
    tally.unknown = len(set(per_event) - known)
    return tally


def wait_for_log(proc: Proc, pattern: str, count: int, timeout: float) -> None:
    """Wait until `pattern` appears `count` times in `proc`'s output."""
    wait_until(lambda: len(re.findall(pattern, proc.output())) >= count, timeout,
               f"{count} x /{pattern}/ in {proc.name}", interval=POLL)


def sleep_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.monotonic()))
