"""Raw results are pruned after the retention period; state changes and pending alerts are kept."""

import datetime as dt

from healthmon import rollups
from healthmon.db import utcnow
from healthmon.models import AlertOutbox, CheckResult, Monitor, QueueMessage, StateChange
from healthmon.retention import prune


def _monitor():
    return Monitor.create(name="m", url="https://example.com/", check_interval=60, timeout=5)


def test_it_deletes_only_results_older_than_the_retention(db):
    m = _monitor()
    now = utcnow()
    for age_days in (40, 31, 29, 1):
        t = now - dt.timedelta(days=age_days)
        CheckResult.create(monitor=m, slot=t, checked_at=t, ok=True, status_code=200, latency_ms=5)
    rollups.rollup_step(now, chunk=dt.timedelta(days=60))  # raw rows go only once the rollup job has them
    assert prune(30, now=now, batch=1) == 2
    assert sorted((now - r.checked_at).days for r in CheckResult.select()) == [1, 29]


def test_it_keeps_state_changes_and_undelivered_alerts(db):
    m = _monitor()
    old = utcnow() - dt.timedelta(days=400)
    StateChange.create(monitor=m, from_status="UNKNOWN", to_status="UP", reason="status 200", created_at=old)
    AlertOutbox.create(event_id=1, monitor_id=m.id, destination="https://example.com/h",
                       webhook_url="https://example.com/h", webhook_format="json", payload="{}", created_at=old)
    AlertOutbox.create(event_id=2, monitor_id=m.id, destination="https://example.com/h",
                       webhook_url="https://example.com/h", webhook_format="json", payload="{}", state="sent",
                       created_at=old)
    QueueMessage.create(body="{}", dead_at=old)
    QueueMessage.create(body="{}")
    assert prune(30) == 2
    assert StateChange.select().count() == 1
    assert [a.event_id for a in AlertOutbox.select()] == [1]
    assert QueueMessage.select().count() == 1
