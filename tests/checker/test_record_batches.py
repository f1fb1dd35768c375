"""Recording a batch of results in one transaction (`record_results`), on SQLite and PostgreSQL.

What a user sees after a batch must be what recording the same results one by one, in slot order, shows:
the same check_results rows, monitor status and counters, state_changes and alert_outbox rows. A batch also
settles the monitors' pending jobs, counts skipped slots, and commits or rolls back as one (with `also`).
"""

import datetime as dt
import json
import logging
import random
import threading

import peewee
import pytest

from checker.record import SKIPPED, record_result, record_results
from healthmon.db import database
from healthmon.models import AlertOutbox, CheckResult, Monitor, QueueMessage, StateChange
from healthmon.queue.base import CheckJob
from healthmon.queue.database import DatabaseQueue
from tests.checker.verdicts import verdict

T0 = dt.datetime(2026, 1, 20, 10, 30, 0)
SLACK = "https://hooks.slack.com/services/T000/B000/secrettoken"
HOOK = "https://receiver.example/hook"
OK = verdict(200, 42.0)
FAIL = verdict(503, 12.0)
REFUSED = verdict(None, 3.0, "connect", "connection refused")


def monitor(**overrides) -> Monitor:
    fields = dict(name="Example Homepage", url="https://example.com/", check_interval=30, timeout=5)
    fields.update(overrides)
    return Monitor.create(**fields)


def slot(n: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=30 * n)


def job(m: Monitor, n: int, generation: int = 1) -> CheckJob:
    return CheckJob(m.id, slot(n), generation)


def fresh(m: Monitor) -> Monitor:
    return Monitor.get_by_id(m.id)


def seen_by_user(m: Monitor) -> dict:
    """Everything a user can see of one monitor after recording, minus wall-clock times and ids."""
    m = fresh(m)
    results = CheckResult.select().where(CheckResult.monitor == m.id).order_by(CheckResult.slot)
    changes = StateChange.select().where(StateChange.monitor == m.id).order_by(StateChange.id)
    alerts = AlertOutbox.select().where(AlertOutbox.event_id.in_([c.id for c in changes])).order_by(AlertOutbox.id)
    return {
        "status": m.status,
        "counters": (m.consecutive_failures, m.consecutive_successes),
        "last": (m.last_slot, m.last_status_code, m.last_latency_ms, m.last_error),
        "changed": m.status_changed_at is not None,
        "results": [(r.slot, r.ok, r.status_code, r.latency_ms, r.error_kind, r.error) for r in results],
        "events": [(c.from_status, c.to_status, c.reason) for c in changes],
        "alerts": [alert_view(a) for a in alerts],
    }


def alert_view(a: AlertOutbox) -> tuple:
    """An outbox row without what differs between any two recordings: ids and wall-clock times."""
    body = json.loads(a.payload)
    if a.webhook_format == "json":
        facts = (body["monitor"]["name"], body["old"], body["new"], body["reason"], body["status_code"],
                 body["latency_ms"], body["down_for_seconds"] is None)
    else:
        text = "\n".join(line for line in body["text"].split("\n") if not line.startswith("Time: "))
        facts = (text, body["blocks"][2]["text"]["text"], len(body["blocks"]))
    return (a.webhook_url, a.webhook_format, a.state, *facts)


def stored_counts() -> tuple[int, int, int]:
    return CheckResult.select().count(), StateChange.select().count(), AlertOutbox.select().count()


# -- one batch is the same as one result at a time ------------------------------------------------------


def test_a_shuffled_batch_over_several_monitors_ends_exactly_as_recording_them_one_by_one(db, settings):
    rng = random.Random(20260120)
    configs = [
        dict(fail_threshold=1, success_threshold=1, webhook_url=HOOK),
        dict(fail_threshold=2, success_threshold=2, webhook_url=SLACK),
        dict(fail_threshold=3, success_threshold=1, webhook_url=HOOK),
        dict(webhook_url=None),  # the environment's thresholds, no alerts
        dict(fail_threshold=1, success_threshold=3, webhook_url=SLACK),
        dict(fail_threshold=2, success_threshold=1, webhook_url=HOOK),
    ]
    outcomes = [OK, FAIL, REFUSED]
    scripts = [[rng.choice(outcomes) for _ in range(rng.randint(4, 9))] for _ in configs]
    # Make sure the batch has flapping in it: UP, DOWN and back for the first monitor.
    scripts[0] = [OK, FAIL, OK, REFUSED, REFUSED, OK]
    batched = [monitor(name=f"m{i}", **c) for i, c in enumerate(configs)]
    one_by_one = [monitor(name=f"m{i}", **c) for i, c in enumerate(configs)]

    for m, script in zip(one_by_one, scripts, strict=True):
        for n, result in enumerate(script):
            assert record_result(job(m, n), result, settings).recorded

    items = [(job(m, n), result) for m, script in zip(batched, scripts, strict=True) for n, result in enumerate(script)]
    rng.shuffle(items)
    outcomes_of_batch = record_results(items, settings)

    assert [o.reason for o in outcomes_of_batch] == ["recorded"] * len(items)
    assert any(o.transition for o in outcomes_of_batch)
    for a, b in zip(batched, one_by_one, strict=True):
        assert seen_by_user(a) == seen_by_user(b)
    assert seen_by_user(batched[0])["events"][:3] == [
        ("UNKNOWN", "UP", "status 200 in 42 ms"),
        ("UP", "DOWN", "status 503 in 12 ms"),
        ("DOWN", "UP", "status 200 in 42 ms"),
    ]


def test_a_batch_continues_from_what_earlier_batches_recorded(db, settings):
    a = monitor(name="twin", fail_threshold=2, webhook_url=SLACK)
    b = monitor(name="twin", fail_threshold=2, webhook_url=SLACK)
    script = [OK, OK, FAIL, OK, FAIL, REFUSED, OK, OK]
    for n, result in enumerate(script):
        record_result(job(b, n), result, settings)

    record_results([(job(a, n), script[n]) for n in (1, 0)], settings)
    record_results([(job(a, n), script[n]) for n in (4, 2, 3)], settings)
    record_results([(job(a, n), script[n]) for n in (7, 5, 6)], settings)

    assert seen_by_user(a) == seen_by_user(b)
    assert [e[:2] for e in seen_by_user(a)["events"]] == [("UNKNOWN", "UP"), ("UP", "DOWN"), ("DOWN", "UP")]


def test_two_slots_of_one_monitor_crossing_the_threshold_make_one_transition_and_one_alert(db, settings, caplog):
    m = monitor(fail_threshold=2, webhook_url=SLACK)
    caplog.set_level(logging.INFO, logger="healthmon.checker")

    later, earlier = record_results([(job(m, 1), FAIL), (job(m, 0), REFUSED)], settings)

    assert later.recorded and earlier.recorded
    assert earlier.transition is None and later.transition.to_status == "DOWN"
    m = fresh(m)
    assert (m.status, m.consecutive_failures, m.consecutive_successes) == ("DOWN", 2, 0)
    assert m.last_slot == slot(1) and m.last_status_code == 503 and m.last_error == "expected 200, got 503"
    (change,) = StateChange.select()
    assert (change.from_status, change.to_status, change.reason) == ("UNKNOWN", "DOWN", "status 503 in 12 ms")
    (alert,) = AlertOutbox.select()
    assert alert.event_id == change.id and alert.webhook_format == "slack" and alert.state == "pending"
    assert "Old: UNKNOWN -> New: DOWN" in json.loads(alert.payload)["text"]
    assert CheckResult.select().count() == 2
    assert caplog.messages.count(f"[STATE CHANGE] monitor={m.id} UNKNOWN -> DOWN") == 1


def test_the_same_job_twice_in_one_batch_records_once(db, settings):
    m = monitor(success_threshold=1, webhook_url=SLACK)

    first, again = record_results([(job(m, 0), OK), (job(m, 0), OK)], settings)

    assert first.recorded and first.transition is not None
    assert (again.recorded, again.reason, again.transition) == (False, "duplicate", None)
    assert stored_counts() == (1, 1, 1)
    assert fresh(m).consecutive_successes == 1


def test_a_batch_repeating_an_already_recorded_slot_calls_it_a_duplicate(db, settings):
    m = monitor()
    record_result(job(m, 0), FAIL, settings)

    (again,) = record_results([(job(m, 0), OK)], settings)

    assert (again.recorded, again.reason) == (False, "duplicate")
    m = fresh(m)
    assert (m.consecutive_failures, m.consecutive_successes) == (1, 0)
    assert [r.ok for r in CheckResult.select()] == [False]


def test_an_older_slot_after_a_newer_one_in_a_batch_is_stale_when_a_newer_slot_is_already_recorded(db, settings):
    m = monitor()
    record_result(job(m, 3), FAIL, settings)

    newer, older = record_results([(job(m, 5), FAIL), (job(m, 2), OK)], settings)

    assert newer.recorded
    assert (older.recorded, older.reason) == (False, "stale")
    m = fresh(m)
    assert (m.consecutive_failures, m.consecutive_successes, m.last_slot) == (2, 0, slot(5))
    assert sorted(r.slot for r in CheckResult.select()) == [slot(3), slot(5)]


def test_within_one_batch_an_older_slot_listed_after_a_newer_one_is_still_applied_first(db, settings):
    # record_results applies each monitor's results in slot order, whatever the order of the batch: an older
    # slot arriving in the same batch as a newer one is recorded before it, not dropped as stale.
    m = monitor(fail_threshold=2, success_threshold=1)

    newer, older = record_results([(job(m, 5), OK), (job(m, 4), FAIL)], settings)

    assert newer.recorded and older.recorded
    m = fresh(m)
    assert (m.status, m.consecutive_failures, m.consecutive_successes) == ("UP", 0, 1)
    assert m.last_slot == slot(5) and m.last_status_code == 200
    rows = CheckResult.select().order_by(CheckResult.slot)
    assert [(r.slot, r.ok) for r in rows] == [(slot(4), False), (slot(5), True)]


def test_a_job_of_an_older_generation_in_a_batch_is_dropped_and_the_rest_recorded(db, settings):
    m = monitor(generation=2)

    old, current = record_results([(job(m, 0, generation=1), FAIL), (job(m, 1, generation=2), OK)], settings)

    assert (old.recorded, old.reason) == (False, "generation")
    assert current.recorded
    assert [r.slot for r in CheckResult.select()] == [slot(1)]
    assert fresh(m).consecutive_failures == 0


# -- pending jobs and skipped slots ---------------------------------------------------------------------


def test_the_pending_job_is_cleared_only_by_the_job_for_its_slot(db, settings):
    m = monitor()
    record_result(job(m, 3), OK, settings)
    Monitor.update(pending_slot=slot(6)).where(Monitor.id == m.id).execute()

    (stale,) = record_results([(job(m, 2), OK)], settings)
    assert stale.reason == "stale"
    assert fresh(m).pending_slot == slot(6)

    (other,) = record_results([(job(m, 4), OK)], settings)
    assert other.recorded
    assert fresh(m).pending_slot == slot(6)

    (duplicate,) = record_results([(job(m, 4), OK)], settings)
    assert duplicate.reason == "duplicate"
    assert fresh(m).pending_slot == slot(6)

    (its_own,) = record_results([(job(m, 6), FAIL)], settings)
    assert its_own.recorded
    m = fresh(m)
    assert m.pending_slot is None and m.last_slot == slot(6)
    assert m.skipped_slots == 0


def test_the_pending_job_is_cleared_even_when_it_is_recorded_in_a_batch_with_other_slots(db, settings):
    m = monitor()
    Monitor.update(pending_slot=slot(1)).where(Monitor.id == m.id).execute()

    record_results([(job(m, 2), OK), (job(m, 1), OK), (job(m, 0), OK)], settings)

    m = fresh(m)
    assert m.pending_slot is None and m.last_slot == slot(2) and m.consecutive_successes == 3


def test_a_dropped_job_for_the_pending_slot_frees_it(db, settings):
    m = monitor()
    Monitor.update(pending_slot=slot(1), generation=2).where(Monitor.id == m.id).execute()

    (dropped,) = record_results([(job(m, 1, generation=1), OK)], settings)

    assert dropped.reason == "generation"
    assert fresh(m).pending_slot is None
    assert CheckResult.select().count() == 0


def test_a_skipped_job_records_no_result_counts_a_skipped_slot_and_frees_the_pending_job(db, settings, caplog):
    m = monitor(fail_threshold=1, webhook_url=SLACK)
    record_result(job(m, 0), OK, settings)
    Monitor.update(pending_slot=slot(1)).where(Monitor.id == m.id).execute()
    before = fresh(m)
    caplog.set_level(logging.INFO, logger="healthmon.checker")

    (skipped,) = record_results([(job(m, 1), SKIPPED)], settings)

    assert (skipped.recorded, skipped.reason, skipped.transition) == (False, "skipped", None)
    m = fresh(m)
    assert m.skipped_slots == 1 and m.pending_slot is None
    assert (m.status, m.consecutive_failures, m.consecutive_successes) == (before.status, 0, 1)
    assert m.last_slot == slot(0) and m.last_checked_at == before.last_checked_at
    assert [r.slot for r in CheckResult.select()] == [slot(0)]
    assert stored_counts() == (1, 0, 0)
    assert not [msg for msg in caplog.messages if "[STATE CHANGE]" in msg]


def test_skipped_slots_add_up_and_a_skip_does_not_block_a_later_result(db, settings):
    m = monitor(fail_threshold=1)
    Monitor.update(pending_slot=slot(2)).where(Monitor.id == m.id).execute()

    outcomes = record_results([(job(m, 0), SKIPPED), (job(m, 2), FAIL), (job(m, 1), SKIPPED)], settings)

    assert [o.reason for o in outcomes] == ["skipped", "recorded", "skipped"]
    m = fresh(m)
    assert m.skipped_slots == 2 and m.pending_slot is None
    assert (m.status, m.last_slot) == ("DOWN", slot(2))
    assert [r.slot for r in CheckResult.select()] == [slot(2)]


def test_a_skip_for_another_slot_leaves_the_pending_job_in_place(db, settings):
    m = monitor()
    Monitor.update(pending_slot=slot(3)).where(Monitor.id == m.id).execute()

    record_results([(job(m, 2), SKIPPED)], settings)

    m = fresh(m)
    assert m.skipped_slots == 1 and m.pending_slot == slot(3)


# -- one transaction ------------------------------------------------------------------------------------


def test_also_runs_inside_the_transaction_after_the_writes(db, settings):
    m = monitor(success_threshold=1, webhook_url=SLACK)
    seen: dict = {}

    def also():
        # This connection already sees the batch; another connection does not until the commit.
        seen["inside"] = stored_counts()

        def elsewhere():
            try:
                seen["outside"] = stored_counts()
            finally:
                database.close()

        reader = threading.Thread(target=elsewhere)
        reader.start()
        reader.join(10)

    record_results([(job(m, 0), OK)], settings, also=also)

    assert seen == {"inside": (1, 1, 1), "outside": (0, 0, 0)}
    assert stored_counts() == (1, 1, 1)


def test_when_also_raises_nothing_of_the_batch_is_stored_and_the_error_propagates(db, settings, caplog):
    up = monitor(name="up", success_threshold=1, webhook_url=SLACK)
    down = monitor(name="down", fail_threshold=1, webhook_url=HOOK)
    record_result(job(down, 0), OK, settings)
    Monitor.update(pending_slot=slot(1)).where(Monitor.id.in_([up.id, down.id])).execute()
    before = {m.id: seen_by_user(m) | {"pending": fresh(m).pending_slot, "skipped": fresh(m).skipped_slots}
              for m in (up, down)}
    counts = stored_counts()
    queue = DatabaseQueue(settings)
    queue.send_jobs([job(up, 1), job(down, 1)])
    messages = queue.receive(10, 0)
    assert len(messages) == 2
    caplog.set_level(logging.INFO, logger="healthmon.checker")

    def delete_then_fail():
        assert queue.delete_many(messages) == 2
        raise peewee.OperationalError("the connection dropped mid-commit")

    with pytest.raises(peewee.OperationalError, match="mid-commit"):
        record_results([(job(up, 1), OK), (job(down, 1), FAIL), (job(up, 0), SKIPPED)], settings,
                       also=delete_then_fail)

    assert stored_counts() == counts
    after = {m.id: seen_by_user(m) | {"pending": fresh(m).pending_slot, "skipped": fresh(m).skipped_slots}
             for m in (up, down)}
    assert after == before
    assert QueueMessage.select().count() == 2  # the deletes rolled back with the results
    assert not [msg for msg in caplog.messages if "[STATE CHANGE]" in msg]
    # Nothing was half-done: the same batch records in full afterwards.
    outcomes = record_results([(job(up, 1), OK), (job(down, 1), FAIL)], settings)
    assert [o.transition.to_status for o in outcomes] == ["UP", "DOWN"]


# -- monitors that no longer apply ----------------------------------------------------------------------


def test_a_batch_for_a_deleted_and_a_disabled_monitor_records_nothing(db, settings):
    gone = monitor(name="gone", fail_threshold=1, webhook_url=SLACK)
    paused = monitor(name="paused", fail_threshold=1, webhook_url=SLACK, enabled=False)
    Monitor.delete_by_id(gone.id)
    before = fresh(paused)

    outcomes = record_results([(job(gone, 0), FAIL), (job(paused, 0), FAIL), (job(gone, 1), OK),
                               (job(paused, 1), FAIL)], settings)

    assert [(o.recorded, o.reason) for o in outcomes] == [
        (False, "deleted"), (False, "disabled"), (False, "deleted"), (False, "disabled"),
    ]
    assert all(o.transition is None for o in outcomes)
    assert stored_counts() == (0, 0, 0)
    after = fresh(paused)
    assert (after.status, after.consecutive_failures, after.last_slot, after.last_checked_at) == (
        before.status, before.consecutive_failures, before.last_slot, before.last_checked_at)
    assert Monitor.get_or_none(Monitor.id == gone.id) is None


def test_in_a_mixed_batch_only_the_live_monitors_results_are_stored(db, settings):
    live = monitor(name="live", success_threshold=1)
    gone = monitor(name="gone")
    paused = monitor(name="paused", enabled=False)
    Monitor.delete_by_id(gone.id)

    outcomes = record_results([(job(paused, 0), OK), (job(live, 0), OK), (job(gone, 0), OK)], settings)

    assert [o.reason for o in outcomes] == ["disabled", "recorded", "deleted"]
    assert [r.monitor_id for r in CheckResult.select()] == [live.id]
    assert fresh(live).status == "UP"


# -- size ---------------------------------------------------------------------------------------------


def test_a_batch_of_500_results_over_100_monitors_stores_every_one(db, settings):
    monitors = [monitor(name=f"m{i}", fail_threshold=3, success_threshold=2) for i in range(100)]
    items = [(job(m, n), OK if (i + n) % 3 else FAIL) for i, m in enumerate(monitors) for n in range(5)]
    random.Random(500).shuffle(items)

    outcomes = record_results(items, settings)

    assert len(outcomes) == 500 and all(o.recorded for o in outcomes)
    assert CheckResult.select().count() == 500
    for i, m in enumerate(monitors):
        m = fresh(m)
        assert m.last_slot == slot(4)
        assert CheckResult.select().where(CheckResult.monitor == m.id).count() == 5
        # The last result and the run of equal ones before it decide the counters.
        last_ok = bool((i + 4) % 3)
        run = 0
        for n in range(4, -1, -1):
            if bool((i + n) % 3) != last_ok:
                break
            run += 1
        assert (m.consecutive_successes, m.consecutive_failures) == ((run, 0) if last_ok else (0, run))


def test_a_batch_over_more_monitors_than_one_lock_query_holds_records_every_one(db, settings):
    Monitor.insert_many([dict(name=f"m{i}", url="https://example.com/", check_interval=30, timeout=5,
                              success_threshold=1) for i in range(1200)]).execute()
    ids = [m.id for m in Monitor.select(Monitor.id)]
    Monitor.update(pending_slot=slot(0)).execute()
    items = [(CheckJob(i, slot(0), 1), OK) for i in reversed(ids)]

    outcomes = record_results(items, settings)

    assert all(o.recorded for o in outcomes)
    assert CheckResult.select().count() == 1200
    assert Monitor.select().where(Monitor.status == "UP", Monitor.pending_slot.is_null()).count() == 1200
    assert StateChange.select().count() == 1200
