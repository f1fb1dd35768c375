"""Delivering alerts to a local receiver: success, retries, Retry-After, permanent failures."""

import json
import logging

import pytest

from checker import delivery
from checker.record import record_result
from checker.webhook_answers import parse_retry_after
from healthmon.models import AlertOutbox, Monitor
from healthmon.netguard import AddressGuard
from healthmon.queue.base import CheckJob
from tests.checker.delivery_helpers import T0, Clock, make_monitor, queue_alert, row, sender
from tests.checker.verdicts import verdict
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


def test_a_recorded_change_reaches_slack_with_the_guides_text(db, settings, hook, caplog):
    caplog.set_level(logging.INFO, logger="healthmon.checker")
    # Slack format forced: the receiver is local, but the body must be exactly what Slack would get.
    m = make_monitor(hook.url_for("/services/T000/B000/s3cr3tt0k3n"), webhook_format="slack", success_threshold=1)
    record_result(CheckJob(m.id, T0, 1), verdict(200, 12.0), settings)
    changed_at = Monitor.get_by_id(m.id).status_changed_at

    # The real clock: the recorder stamped the row with it.
    assert delivery.AlertSender(settings, AddressGuard(settings.allowed_private_cidrs)).deliver_due() == 1

    (request,) = hook.wait_for(1)
    assert request.path == "/services/T000/B000/s3cr3tt0k3n" and request.headers["Content-Type"] == "application/json"
    assert "Idempotency-Key" not in request.headers
    ms = changed_at.microsecond // 1000
    assert request.json["text"] == (
        "🔔 API Status Changed\n"
        "Name: Example Homepage\n"
        "URL: https://example.com/\n"
        "Old: UNKNOWN -> New: UP\n"
        f"Time: {changed_at:%Y-%m-%dT%H:%M:%S}.{ms:03d}Z"
    )
    sent = AlertOutbox.get()
    assert sent.state == "sent" and sent.sent_at is not None and sent.attempts == 1
    assert any(msg.startswith("[WEBHOOK] sent status=200") for msg in caplog.messages)
    assert not any("s3cr3tt0k3n" in msg for msg in caplog.messages)


def test_json_receivers_get_an_idempotency_key_per_event(db, settings, hook):
    m = make_monitor(hook.url)
    alert = queue_alert(m)
    sender(settings).deliver_due()
    (request,) = hook.wait_for(1)
    assert request.headers["Idempotency-Key"] == f"healthmon-event-{alert.event_id}"
    assert request.json["event"] == "monitor.state_changed" and request.json["event_id"] == alert.event_id


def test_a_500_is_retried_after_a_backoff_and_the_error_clears_on_success(db, settings, hook):
    hook.script(Reply(500, "Internal Server Error"))
    m = make_monitor(hook.url)
    alert = queue_alert(m)
    clock = Clock()
    s = sender(settings, clock)

    assert s.deliver_due() == 1
    failed = row(alert)
    assert failed.state == "pending" and failed.attempts == 1 and failed.locked_until is None
    assert failed.next_attempt_at == T0 + delivery.dt.timedelta(seconds=5)  # first backoff, jitter centred
    error = Monitor.get_by_id(m.id).last_alert_error
    assert error.startswith("webhook returned 500 at 2026-01-20T10:30:00.000Z; retrying")
    assert hook.url not in error and "/hook" not in error

    clock.advance(4.9)
    assert s.deliver_due() == 0 and len(hook.requests) == 1
    clock.advance(0.1)
    assert s.deliver_due() == 1
    assert len(hook.wait_for(2)) == 2 and hook.requests[0].body == hook.requests[1].body
    assert row(alert).state == "sent" and row(alert).attempts == 2
    assert Monitor.get_by_id(m.id).last_alert_error is None


def test_a_429_waits_exactly_retry_after(db, settings, hook):
    hook.script(Reply.rate_limited(1))
    m = make_monitor(hook.url)
    alert = queue_alert(m)
    clock = Clock()
    s = sender(settings, clock)

    s.deliver_due()
    assert row(alert).next_attempt_at == T0 + delivery.dt.timedelta(seconds=1)
    clock.advance(0.999)
    assert s.deliver_due() == 0
    clock.advance(0.001)
    assert s.deliver_due() == 1
    assert row(alert).state == "sent" and len(hook.requests) == 2


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        (Reply.slack_error("channel_not_found"), "webhook returned 404 (channel_not_found)"),
        (Reply.slack_error("invalid_token", 403), "webhook returned 403 (invalid_token)"),
        (Reply.slack_error("no_service", 403), "webhook returned 403 (no_service)"),
        (Reply.slack_error("no_service", 404), "webhook returned 404 (no_service)"),
        (Reply(404, "Not Found"), "webhook returned 404 at"),
        (Reply(404, ""), "webhook returned 404 at"),
        (Reply(410, "<html>gone</html>"), "webhook returned 410 at"),
        (Reply(410, ""), "webhook returned 410 at"),
        (Reply(400, "hello_world"), "webhook returned 400 at"),  # looks like a code, but not one we know
    ],
)
def test_a_permanent_failure_gives_up_at_once_and_shows_on_the_monitor(db, settings, hook, reply, shown):
    hook.script(reply)
    m = make_monitor(hook.url)
    alert = queue_alert(m)
    clock = Clock()
    s = sender(settings, clock)
    assert s.deliver_due() == 1
    clock.advance(3600)
    assert s.deliver_due() == 0
    assert len(hook.requests) == 1
    assert row(alert).state == "failed"
    error = Monitor.get_by_id(m.id).last_alert_error
    assert error.startswith(shown) and "gave up after 1 attempt" in error
    assert "127.0.0.1" not in error and "<html>" not in error


@pytest.mark.parametrize("body", ["ok", "channel_not_found", "<html>Bad Gateway</html>"])
def test_a_5xx_body_is_never_shown_or_read_as_a_slack_code(db, settings, hook, body):
    hook.script(Reply(500, body))
    m = make_monitor(hook.url)
    alert = queue_alert(m)
    sender(settings, Clock()).deliver_due()
    assert row(alert).state == "pending"  # retried: a Slack code in a 5xx body does not make it permanent
    expected = "webhook returned 500 at 2026-01-20T10:30:00.000Z; retrying at 2026-01-20T10:30:05.000Z"
    assert Monitor.get_by_id(m.id).last_alert_error == expected == row(alert).last_error


def test_a_timeout_is_retried(db, settings, hook):
    hook.script(Reply(200, delay=1.5))
    m = make_monitor(hook.url)
    alert = queue_alert(m)
    clock = Clock()
    s = sender(settings, clock, timeout=0.3)
    s.deliver_due()
    assert row(alert).state == "pending"
    assert Monitor.get_by_id(m.id).last_alert_error.startswith("webhook timeout: ")
    clock.advance(5)
    s.deliver_due()
    assert row(alert).state == "sent"


def test_a_blocked_webhook_address_gives_up_at_once(db, hook):
    from tests.conftest import make_settings

    strict = make_settings(database_url="sqlite:///unused.db", allowed_private_cidrs="")
    m = make_monitor(hook.url)
    alert = queue_alert(m)
    sender(strict).deliver_due()
    assert row(alert).state == "failed" and hook.requests == []
    assert Monitor.get_by_id(m.id).last_alert_error.startswith("webhook blocked_address: ")


def test_it_gives_up_after_the_attempt_limit(db, settings):
    m = make_monitor("http://127.0.0.1:9/never")
    alert = queue_alert(m)
    clock = Clock()
    calls = []

    def always_500(url, body, headers, timeout, guard):
        calls.append(clock())
        return delivery.webhook_client.HttpResponse(503, {}, b"")

    s = sender(settings, clock, post=always_500)
    while row(alert).state == "pending":
        s.deliver_due()
        clock.advance(30)
    gaps = [(b - a).total_seconds() for a, b in zip(calls, calls[1:], strict=False)]
    assert len(calls) == delivery.MAX_ATTEMPTS
    assert gaps == [30, 30, 30, 60, 90, 180, 330]  # 5, 10, 20, 40, 80, 160, 320 s rounded up to our 30 s steps
    assert "gave up after 8 attempt(s)" in row(alert).last_error


def test_it_gives_up_on_alerts_older_than_an_hour(db, settings):
    m = make_monitor("http://127.0.0.1:9/never")
    alert = queue_alert(m)
    clock = Clock(T0 + delivery.MAX_AGE - delivery.dt.timedelta(seconds=2))
    s = sender(settings, clock, post=lambda *a: delivery.webhook_client.HttpResponse(500, {}, b""))
    s.deliver_due()
    assert row(alert).state == "failed"


def test_messages_to_one_webhook_go_out_in_event_order(db, settings, hook):
    hook.script(Reply(500))
    m = make_monitor(hook.url)
    first, second = queue_alert(m, new="DOWN"), queue_alert(m, new="UP")
    clock = Clock()
    s = sender(settings, clock)
    s.deliver_due()
    clock.advance(2)
    assert s.deliver_due() == 0  # the second waits for the first's retry
    clock.advance(3)
    s.deliver_due()
    clock.advance(1)
    s.deliver_due()
    assert [r.json["new"] for r in hook.requests] == ["DOWN", "DOWN", "UP"]
    assert row(first).sent_at < row(second).sent_at


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1.0), ("120", 120.0), ("Tue, 20 Jan 2026 10:30:30 GMT", 30.0), ("soon", None), (None, None)],
)
def test_it_reads_retry_after_as_seconds_or_a_date(value, seconds):
    assert parse_retry_after(value, T0) == seconds


def test_json_payload_round_trips(db, settings, hook):
    m = make_monitor(hook.url, url="https://u:pw@api.example/x")
    queue_alert(m)
    sender(settings).deliver_due()
    body = hook.wait_for(1)[0].json
    assert body["monitor"]["url"] == "https://api.example/x"
    assert json.dumps(body).find("pw@") == -1
