"""At most one message per second per webhook, derived from the outbox so it holds across processes."""

import pytest

from tests.checker.delivery_helpers import Clock, make_monitor, queue_alert, row, sender
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.timeout(60)


def test_three_alerts_to_one_webhook_go_out_at_least_a_second_apart(db, settings):
    with WebhookReceiver() as hook:
        m = make_monitor(hook.url)
        alerts = [queue_alert(m, new=new) for new in ("UP", "DOWN", "UP")]
        clock = Clock()
        s = sender(settings, clock)
        assert s.deliver_due() == 1  # the first; the others must wait
        assert s.deliver_due() == 0
        clock.advance(0.5)
        assert s.deliver_due() == 0
        clock.advance(0.5)
        assert s.deliver_due() == 1
        clock.advance(0.999)
        assert s.deliver_due() == 0
        clock.advance(0.001)
        assert s.deliver_due() == 1
        assert [r.json["new"] for r in hook.wait_for(3)] == ["UP", "DOWN", "UP"]
        sent = [row(a).sent_at for a in alerts]
        assert all((b - a).total_seconds() >= 1 for a, b in zip(sent, sent[1:], strict=False))


def test_a_second_sender_also_respects_the_limit(db, settings):
    """The limit lives in the outbox, not in a sender's memory: another process sees it too."""
    with WebhookReceiver() as hook:
        m = make_monitor(hook.url)
        queue_alert(m)
        queue_alert(m)
        clock = Clock()
        assert sender(settings, clock).deliver_due() == 1
        assert sender(settings, clock).deliver_due() == 0
        clock.advance(1)
        assert sender(settings, clock).deliver_due() == 1


def test_different_webhooks_do_not_wait_for_each_other(db, settings):
    with WebhookReceiver() as one, WebhookReceiver() as two:
        a, b = make_monitor(one.url), make_monitor(two.url)
        queue_alert(a)
        queue_alert(b)
        queue_alert(a)
        assert sender(settings).deliver_due() == 2
        assert len(one.requests) == 1 and len(two.requests) == 1
