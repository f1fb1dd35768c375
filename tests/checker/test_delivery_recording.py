"""Recording a delivery's outcome: a database blip after a 2xx does not re-send the alert, and a sender that
lost its lease writes nothing over the new owner's result."""

import logging

import peewee as pw
import pytest

from checker.delivery import CLAIM_LEASE, MARK_SENT_MARGIN
from checker.webhook_client import HttpResponse
from healthmon.models import AlertOutbox, Monitor
from tests.checker.delivery_helpers import Clock, make_monitor, queue_alert, row, sender
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.timeout(60)


def _fail_mark_sent(monkeypatch, times: int | None) -> list:
    """Make the UPDATE that marks a row sent raise, `times` times (None: always), as a dropped connection does."""
    real_update = AlertOutbox.update
    failures = []

    def flaky_update(*args, **kwargs):
        if kwargs.get("state") == "sent" and (times is None or len(failures) < times):
            failures.append(1)
            raise pw.OperationalError("server closed the connection unexpectedly")
        return real_update(*args, **kwargs)

    monkeypatch.setattr(AlertOutbox, "update", flaky_update)
    return failures


def test_a_failed_mark_sent_commit_is_retried_and_the_alert_goes_out_once(db, settings, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="healthmon.checker")
    with WebhookReceiver() as hook:
        m = make_monitor(hook.url, last_alert_error="webhook returned 500 at 2026-01-20T10:29:00.000Z; retrying")
        alert = queue_alert(m)
        failures = _fail_mark_sent(monkeypatch, times=1)
        clock, pauses = Clock(), []
        s = sender(settings, clock, sleep=pauses.append)

        assert s.deliver_due() == 1
        assert failures == [1] and pauses == [0.1]
        assert row(alert).state == "sent" and row(alert).attempts == 1
        assert Monitor.get_by_id(m.id).last_alert_error is None
        assert any("recording the send failed (try 1, OperationalError" in msg for msg in caplog.messages)
        clock.advance(3600)
        assert s.deliver_due() == 0
        assert len(hook.requests) == 1


def test_it_stops_retrying_the_mark_sent_commit_before_the_lease_ends(db, settings, monkeypatch, caplog):
    """Past the lease another sender may re-claim and re-send the row: retrying longer would not prevent a
    duplicate, only hide it."""
    m = make_monitor("http://127.0.0.1:9/never")
    alert = queue_alert(m)
    _fail_mark_sent(monkeypatch, times=None)
    clock, pauses = Clock(), []

    def sleep(seconds):
        pauses.append(seconds)
        clock.advance(seconds)

    s = sender(settings, clock, sleep=sleep, post=lambda *a, **k: HttpResponse(200, {}, b"ok"))
    with pytest.raises(pw.OperationalError):
        s.deliver_due()
    assert sum(pauses) == pytest.approx((CLAIM_LEASE - MARK_SENT_MARGIN).total_seconds())
    assert max(pauses) <= 2.0
    assert row(alert).state == "pending" and row(alert).locked_until > clock()  # still ours: nobody re-sent yet
    assert any("giving up, it will be sent again when the lease ends" in msg for msg in caplog.messages)


def test_a_sender_that_lost_its_lease_does_not_write_the_monitors_error(db, settings, caplog):
    with WebhookReceiver() as hook:
        m = make_monitor(hook.url)
        alert = queue_alert(m)
        clock = Clock()
        second = sender(settings, clock)

        def slow_500(*args, **kwargs):
            clock.advance(CLAIM_LEASE.total_seconds() + 1)  # the POST outlived the lease...
            assert second.deliver_due() == 1  # ...another sender re-claimed the row and delivered it
            return HttpResponse(500, {}, b"")

        first = sender(settings, clock, post=slow_500)
        assert first.deliver_due() == 1
        assert row(alert).state == "sent" and row(alert).attempts == 2 and row(alert).last_error is None
        assert Monitor.get_by_id(m.id).last_alert_error is None
        assert len(hook.requests) == 1
        assert any("lease lost, outcome not recorded" in msg for msg in caplog.messages)
