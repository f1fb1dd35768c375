"""Reminders and escalation while DOWN, end to end through the store and the outbox to local receivers: each
notice once (two schedulers, a repeated step), none after a recovery, the escalation channel told of the
recovery; on SQLite and PostgreSQL."""

import datetime as dt
import json
import threading

import pytest

from checker.record import record_result
from healthmon.db import database, utcnow
from healthmon.models import AlertOutbox, Channel, DownNotice, Monitor, MonitorChannel
from healthmon.queue.base import CheckJob
from scheduler.notices import notice_step
from tests.checker.delivery_helpers import Clock, sender
from tests.checker.verdicts import verdict
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.timeout(60)

OK, FAIL = verdict(200, 42.0), verdict(503, 12.0)


def down_monitor(down_since: dt.datetime, **fields) -> Monitor:
    values = dict(name="Shop", url="https://shop.example/", check_interval=30, timeout=5, status="DOWN",
                  status_changed_at=down_since, last_error="http_status: status 503")
    values.update(fields)
    return Monitor.create(**values)


def deliver_all(settings, at: dt.datetime | None = None) -> None:
    clock = Clock(at or utcnow())
    s = sender(settings, clock)
    for _ in range(10):
        s.deliver_due()
        clock.advance(1.1)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def test_a_reminder_goes_to_the_webhook_and_channels_every_period_and_each_only_once(db, settings):
    start = dt.datetime(2026, 1, 20, 10, 0, 0)
    with WebhookReceiver() as own, WebhookReceiver() as team:
        channel = Channel.create(name="team", type="webhook", config={"url": team.url})
        m = down_monitor(start, reminder_minutes=10, webhook_url=own.url, webhook_format="slack")
        MonitorChannel.create(monitor=m.id, channel=channel.id)

        assert notice_step(start + minutes(9)) == 0
        assert notice_step(start + minutes(10)) == 1
        assert notice_step(start + minutes(11)) == 0  # the same reminder: already written
        assert notice_step(start + minutes(35)) == 1  # number 3; number 2 was missed and is not sent late
        assert [(n.kind, n.number) for n in DownNotice.select().order_by(DownNotice.id)] == [
            ("reminder", 1), ("reminder", 3)]
        deliver_all(settings)

        assert [r.json["text"].splitlines()[:2] for r in own.requests] == [["⏰ Still DOWN", "Name: Shop"]] * 2
        assert own.requests[1].json["text"].splitlines()[3] == "Down for: 35m 0s (since 2026-01-20T10:00:00.000Z)"
        events = [r.json for r in team.requests]
        assert [(e["event"], e["reminder"], e["down_for_seconds"]) for e in events] == [
            ("monitor.still_down", 1, 600), ("monitor.still_down", 3, 2100)]
        assert events[0]["last_error"] == "http_status: status 503"
        assert team.requests[0].headers["Idempotency-Key"] == f"healthmon-notice-{events[0]['notice_id']}"


def test_two_schedulers_stepping_at_once_write_each_notice_once(db, settings):
    start = dt.datetime(2026, 1, 20, 10, 0, 0)
    escalation = Channel.create(name="oncall", type="webhook", config={"url": "https://hooks.example/oncall"})
    monitors = [down_monitor(start, name=f"svc {i}", reminder_minutes=5, escalation_minutes=30,
                             escalation_channel_id=escalation.id, webhook_url="https://hooks.example/own",
                             webhook_format="json") for i in range(10)]
    barrier, counts, errors = threading.Barrier(2), [], []
    database.close()  # each thread its own connection, as two scheduler processes

    def step():
        try:
            barrier.wait()
            counts.append(notice_step(start + minutes(31)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=step) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(counts) == 2
    assert sum(counts) == 2 * len(monitors)  # per monitor: the escalation and reminder 6, by one or the other
    assert DownNotice.select().count() == 2 * len(monitors)
    assert AlertOutbox.select().count() == 2 * len(monitors)  # escalation: its channel; reminder: the webhook


def test_no_notice_follows_a_recovery_and_none_is_sent_for_an_up_monitor(db, settings):
    start = dt.datetime(2026, 1, 20, 10, 0, 0)
    m = down_monitor(start, reminder_minutes=5, webhook_url="https://hooks.example/own", webhook_format="json")
    Monitor.update(status="UP", status_changed_at=start + minutes(3)).where(Monitor.id == m.id).execute()
    assert notice_step(start + minutes(60)) == 0
    # DOWN again later: a new incident, counted from its own start.
    Monitor.update(status="DOWN", status_changed_at=start + minutes(58)).where(Monitor.id == m.id).execute()
    assert notice_step(start + minutes(60)) == 0
    assert notice_step(start + minutes(63)) == 1
    assert DownNotice.get().incident_at == start + minutes(58)


def test_an_escalation_goes_to_its_channel_once_and_that_channel_hears_of_the_recovery(db, settings):
    with WebhookReceiver() as own, WebhookReceiver() as oncall:
        escalation = Channel.create(name="oncall", type="webhook", config={"url": oncall.url})
        m = Monitor.create(name="Shop", url="https://shop.example/", check_interval=30, timeout=5,
                           webhook_url=own.url, webhook_format="json", fail_threshold=1, success_threshold=1,
                           escalation_minutes=30, escalation_channel_id=escalation.id)
        slot = utcnow().replace(microsecond=0)
        record_result(CheckJob(m.id, slot, 1), FAIL, settings)
        down_since = Monitor.get_by_id(m.id).status_changed_at

        assert notice_step(down_since + minutes(29)) == 0
        assert notice_step(down_since + minutes(30)) == 1
        assert notice_step(down_since + minutes(45)) == 0
        record_result(CheckJob(m.id, slot + dt.timedelta(seconds=30), 1), OK, settings)
        deliver_all(settings, at=down_since + minutes(46))

        assert [r.json["new"] for r in own.requests] == ["DOWN", "UP"]  # no escalation to the usual webhook
        told = [r.json for r in oncall.requests]
        assert [t["event"] for t in told] == ["monitor.escalated", "monitor.state_changed"]
        assert told[0]["down_for_seconds"] == 1800 and told[1]["new"] == "UP"


def test_a_pagerduty_channel_gets_the_escalation_as_a_trigger_and_no_reminders(db, settings):
    start = dt.datetime(2026, 1, 20, 10, 0, 0)
    pd = Channel.create(name="pd", type="pagerduty", config={"routing_key": "R" * 32})
    m = down_monitor(start, reminder_minutes=10, escalation_minutes=30, escalation_channel_id=pd.id)
    MonitorChannel.create(monitor=m.id, channel=pd.id)
    assert notice_step(start + minutes(30)) == 2
    rows = list(AlertOutbox.select())
    assert len(rows) == 1  # the reminder has nothing for PagerDuty: no row
    body = json.loads(rows[0].payload)
    assert body["event_action"] == "trigger" and body["dedup_key"] == f"healthmon-monitor-{m.id}"
    assert "routing_key" not in body  # added at send time, never stored
