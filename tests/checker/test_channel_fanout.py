"""Fan-out: each event is one outbox row per destination (the monitor's webhook_url, each linked channel),
written with the state change, and each receiver gets exactly one message per event, on SQLite and
PostgreSQL."""

import datetime as dt
import hashlib
import hmac
import json

import peewee as pw
import pytest

from checker import outbox
from checker.record import record_result
from healthmon.db import database, utcnow
from healthmon.domain.tls import TlsWarning
from healthmon.models import AlertOutbox, Channel, Monitor, MonitorChannel
from healthmon.queue.base import CheckJob
from tests.checker.delivery_helpers import Clock, sender
from tests.checker.verdicts import verdict
from tests.conftest import make_settings
from tests.support.webhook import Reply, WebhookReceiver
from webapp import pausing

pytestmark = pytest.mark.timeout(60)

T0 = dt.datetime(2026, 1, 20, 10, 30, 0)
OK, FAIL = verdict(200, 42.0), verdict(503, 12.0)
SECRET = "hmac-secret-0123456789"


def channel(name: str, kind: str, config: dict) -> Channel:
    return Channel.create(name=name, type=kind, config=config)


def monitor(*channels: Channel, **overrides) -> Monitor:
    fields = dict(name="Example Homepage", url="https://example.com/", check_interval=30, timeout=5)
    fields.update(overrides)
    m = Monitor.create(**fields)
    for c in channels:
        MonitorChannel.create(monitor=m.id, channel=c.id)
    return m


def record(m: Monitor, results, settings, start: int = 0) -> list:
    return [record_result(CheckJob(m.id, T0 + dt.timedelta(seconds=30 * (start + n)), 1), r, settings)
            for n, r in enumerate(results)]


def deliver_all(s, clock, rounds: int = 20) -> None:
    for _ in range(rounds):
        s.deliver_due()
        clock.advance(1.1)


def test_each_event_is_one_row_per_destination_and_each_receiver_gets_it_once(db, settings):
    with WebhookReceiver() as own, WebhookReceiver() as slack, WebhookReceiver() as hook:
        a = channel("team-slack", "slack", {"webhook_url": slack.url})
        b = channel("signed", "webhook", {"url": hook.url, "secret": SECRET})
        m = monitor(a, b, webhook_url=own.url, webhook_format="json")
        outcomes = record(m, [OK, OK, FAIL, FAIL, FAIL], settings)
        events = [o.transition.event_id for o in outcomes if o.transition]
        assert len(events) == 2

        rows = list(AlertOutbox.select().order_by(AlertOutbox.id))
        assert sorted((r.event_id, r.channel_id) for r in rows) == sorted(
            (e, c) for e in events for c in (0, a.id, b.id))
        assert {r.destination for r in rows} == {own.url, f"channel:{a.id}", f"channel:{b.id}"}
        assert all(r.webhook_url == "" for r in rows if r.channel_id)  # no address or secret copied

        clock = Clock(utcnow())
        deliver_all(sender(settings, clock), clock)
        assert [r.json["new"] for r in own.requests] == ["UP", "DOWN"]
        assert [r.json["text"].splitlines()[3] for r in slack.requests] == ["Old: UNKNOWN -> New: UP",
                                                                            "Old: UP -> New: DOWN"]
        assert [r.json["event_id"] for r in hook.requests] == events
        assert AlertOutbox.select().where(AlertOutbox.state != "sent").count() == 0


def test_the_signature_is_the_hmac_of_the_exact_body_and_the_idempotency_key_names_the_event(db, settings):
    with WebhookReceiver() as hook:
        m = monitor(channel("signed", "webhook", {"url": hook.url, "secret": SECRET}))
        (up,) = [o.transition for o in record(m, [OK, OK], settings) if o.transition]
        clock = Clock(utcnow())
        deliver_all(sender(settings, clock), clock, rounds=2)
        (request,) = hook.requests
        headers = {k.lower(): v for k, v in request.headers.items()}
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert headers["x-healthmon-signature"] == f"sha256={expected}"
        assert headers["idempotency-key"] == f"healthmon-event-{up.event_id}"
        assert request.json["event"] == "monitor.state_changed"


def test_a_webhook_channel_without_a_secret_sends_no_signature(db, settings):
    with WebhookReceiver() as hook:
        m = monitor(channel("plain", "webhook", {"url": hook.url}))
        record(m, [OK, OK], settings)
        clock = Clock(utcnow())
        deliver_all(sender(settings, clock), clock, rounds=2)
        (request,) = hook.requests
        assert "x-healthmon-signature" not in {k.lower() for k in request.headers}


def test_a_monitor_with_only_a_webhook_url_queues_what_it_always_did(db, settings):
    m = monitor(webhook_url="https://hooks.slack.com/services/T000/B000/secrettoken")
    record(m, [OK, OK], settings)
    (row,) = AlertOutbox.select()
    assert (row.channel_id, row.destination, row.webhook_url, row.webhook_format) == (
        0, m.webhook_url, m.webhook_url, "slack")


def test_a_deleted_channels_pending_alerts_fail_for_good_and_say_why(db, settings):
    with WebhookReceiver() as hook:
        c = channel("doomed", "slack", {"webhook_url": hook.url})
        m = monitor(c)
        record(m, [OK, OK], settings)
        Channel.delete().where(Channel.id == c.id).execute()
        assert MonitorChannel.select().count() == 0  # the link went with it
        clock = Clock(utcnow())
        deliver_all(sender(settings, clock), clock, rounds=2)
        (row,) = AlertOutbox.select()
        assert row.state == "failed" and row.attempts == 1
        assert f"channel {c.id} was deleted before this alert was sent" in row.last_error
        assert hook.requests == []
        assert "was deleted" in Monitor.get_by_id(m.id).last_alert_error


def test_alerts_to_one_channel_go_out_in_event_order_one_per_second(db, settings):
    with WebhookReceiver() as hook:
        hook.script(Reply(500))
        c = channel("shared", "webhook", {"url": hook.url})
        first, second = monitor(c, name="first"), monitor(c, name="second")
        record(first, [OK, OK], settings)
        record(second, [OK, OK], settings)
        clock = Clock(utcnow())
        s = sender(settings, clock)
        assert s.deliver_due() == 1  # the first row fails (500); the second waits behind it
        assert s.deliver_due() == 0
        clock.advance(3600)
        deliver_all(s, clock, rounds=3)
        assert [r.json["monitor"]["name"] for r in hook.requests] == ["first", "first", "second"]


def test_an_event_cannot_reach_one_destination_twice(db):
    c = channel("once", "slack", {"webhook_url": "https://hooks.slack.com/services/T/B/x"})
    m = monitor(c, webhook_url="https://hooks.slack.com/services/T/B/y")
    warning = TlsWarning(warning_id=7, monitor_id=m.id, name=m.name, url=m.url, expires_at=T0 + dt.timedelta(days=9),
                         fingerprint_sha256="ab" * 32, threshold_days=14, at=T0)
    destinations = outbox.destinations_of(m.id, m.webhook_url, None)
    with database.atomic():
        assert outbox.enqueue(m.id, warning, destinations, T0) == 2
    assert {(r.event_id, r.channel_id) for r in AlertOutbox.select()} == {(-7, 0), (-7, c.id)}
    with pytest.raises(pw.IntegrityError), database.atomic():
        outbox.enqueue(m.id, warning, destinations[1:], T0)
    assert AlertOutbox.select().count() == 2


def test_pagerduty_gets_the_routing_key_at_send_time_only(db_url):
    with WebhookReceiver(default=Reply(202, '{"status":"success"}')) as pd:
        settings = make_settings(database_url=db_url, pagerduty_events_url=pd.url)
        key = "R0UT1NGKEY0123456789abcdefABCDEF"
        m = monitor(channel("pager", "pagerduty", {"routing_key": key, "severity": "error"}))
        record(m, [OK, OK, FAIL, FAIL, FAIL, OK, OK], settings)  # UNKNOWN -> UP resolves (a stale incident)
        rows = list(AlertOutbox.select().order_by(AlertOutbox.id))
        assert len(rows) == 3 and all(key not in r.payload for r in rows)
        clock = Clock(utcnow())
        deliver_all(sender(settings, clock), clock, rounds=6)
        first, trigger, resolve = (r.json for r in pd.requests)
        assert (first["event_action"], first["dedup_key"]) == ("resolve", f"healthmon-monitor-{m.id}")
        assert (trigger["routing_key"], trigger["event_action"], trigger["payload"]["severity"]) == (
            key, "trigger", "error")
        assert (resolve["routing_key"], resolve["event_action"], resolve["dedup_key"]) == (
            key, "resolve", f"healthmon-monitor-{m.id}")


def test_discord_and_teams_channels_post_their_payloads(db, settings):
    with WebhookReceiver(default=Reply(204, "")) as discord, WebhookReceiver(default=Reply(202, "")) as teams:
        m = monitor(channel("d", "discord", {"webhook_url": discord.url}),
                    channel("t", "teams", {"webhook_url": teams.url}))
        record(m, [OK, OK], settings)
        clock = Clock(utcnow())
        deliver_all(sender(settings, clock), clock, rounds=2)
        (d,), (t,) = discord.requests, teams.requests
        assert "embeds" in d.json and json.dumps(d.json).count("Example Homepage") >= 1
        assert t.json["type"] == "message" and "Example Homepage" in json.dumps(t.json)
        assert AlertOutbox.select().where(AlertOutbox.state == "sent").count() == 2


def test_an_email_channel_sends_one_mail_per_event(db, settings):
    from tests.support.smtp import SmtpServer

    with SmtpServer() as smtp:
        m = monitor(channel("mail", "email", {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                                              "from": "healthmon@example.com", "to": ["ops@example.com"]}))
        record(m, [OK, OK, FAIL, FAIL, FAIL], settings)
        clock = Clock(utcnow())
        deliver_all(sender(settings, clock), clock, rounds=4)
        assert [r.recipients for r in smtp.received] == [["ops@example.com"]] * 2
        assert [r.message["Subject"] for r in smtp.received] == ["[healthmon] UP: Example Homepage",
                                                                 "[healthmon] DOWN: Example Homepage"]


def test_a_down_monitor_paused_and_resumed_resolves_its_pagerduty_incident_when_it_comes_up(db_url):
    with WebhookReceiver(default=Reply(202, '{"status":"success"}')) as pd:
        settings = make_settings(database_url=db_url, pagerduty_events_url=pd.url)
        m = monitor(channel("pager", "pagerduty", {"routing_key": "R0UT1NGKEY0123456789abcdefABCDEF"}))
        record(m, [FAIL, FAIL, FAIL], settings)  # UNKNOWN -> DOWN: an incident opens
        pausing.pause_monitor(m.id, now=T0 + dt.timedelta(minutes=5))
        pausing.resume_monitor(m.id, now=T0 + dt.timedelta(minutes=6))
        generation = Monitor.get_by_id(m.id).generation
        for n in range(2):  # UNKNOWN -> UP
            record_result(CheckJob(m.id, T0 + dt.timedelta(minutes=7, seconds=30 * n), generation), OK, settings)
        clock = Clock(utcnow())
        deliver_all(sender(settings, clock), clock, rounds=4)
        assert [(r.json["event_action"], r.json["dedup_key"]) for r in pd.requests] == [
            ("trigger", f"healthmon-monitor-{m.id}"), ("resolve", f"healthmon-monitor-{m.id}")]
