"""At most one request per second per webhook, derived from the outbox so it holds across processes, and
429 answers that never make us hammer a receiver."""

import pytest

from checker.delivery import MAX_ATTEMPTS, MAX_RATE_LIMITED
from checker.webhook_client import HttpResponse
from healthmon.models import Monitor
from tests.checker.delivery_helpers import Clock, make_monitor, queue_alert, row, sender
from tests.support.webhook import Reply, WebhookReceiver

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


def test_a_failing_webhook_gets_at_most_one_request_a_second_across_senders(db, settings):
    """The limit counts attempts, not only successes: three alerts to a deleted webhook are not fired at once."""
    with WebhookReceiver(default=Reply(404, "")) as hook:
        m = make_monitor(hook.url)
        alerts = [queue_alert(m) for _ in range(3)]
        clock = Clock()
        one, two = sender(settings, clock), sender(settings, clock)
        assert one.deliver_due() == 1
        assert two.deliver_due() == 0 and one.deliver_due() == 0
        clock.advance(0.999)
        assert two.deliver_due() == 0
        clock.advance(0.001)
        assert two.deliver_due() == 1
        clock.advance(1)
        assert one.deliver_due() == 1
        assert len(hook.requests) == 3 and all(row(a).state == "failed" for a in alerts)


def _always_429(clock, headers):
    calls = []

    def post(*args, **kwargs):
        calls.append(clock())
        return HttpResponse(429, headers, b"rate_limited")

    return post, calls


@pytest.mark.parametrize(
    "retry_after",
    ["0", "Tue, 20 Jan 2026 10:00:00 GMT", "0.5", None],  # nothing, a past date, unreadable, absent
)
def test_a_429_that_asks_for_no_real_wait_is_backed_off_not_hammered(db, settings, retry_after):
    m = make_monitor("http://127.0.0.1:9/never")
    alert = queue_alert(m)
    clock = Clock()
    post, calls = _always_429(clock, {"retry-after": retry_after} if retry_after else {})
    s = sender(settings, clock, post=post)
    for _ in range(200):  # 100 s of a sender loop that never sleeps, in 0.5 s steps
        s.deliver_due()
        clock.advance(0.5)
    gaps = [(b - a).total_seconds() for a, b in zip(calls, calls[1:], strict=False)]
    assert gaps == [5, 10, 20, 40]  # the backoff (jitter centred), where the old code sent ~1000 a second
    assert row(alert).state == "pending" and row(alert).rate_limited == 5
    assert Monitor.get_by_id(m.id).last_alert_error.startswith("webhook returned 429 (rate_limited) at ")


def test_a_receiver_answering_retry_after_1_forever_gets_one_request_a_second_until_the_429_cap(db, settings):
    m = make_monitor("http://127.0.0.1:9/never")
    alert = queue_alert(m)
    clock = Clock()
    post, calls = _always_429(clock, {"retry-after": "1"})
    s = sender(settings, clock, post=post)
    for _ in range(2 * (MAX_RATE_LIMITED + 10)):
        s.deliver_due()
        clock.advance(0.5)
    gaps = {(b - a).total_seconds() for a, b in zip(calls, calls[1:], strict=False)}
    assert gaps == {1.0}
    assert len(calls) == MAX_RATE_LIMITED > MAX_ATTEMPTS  # 429s have their own, larger cap
    assert row(alert).state == "failed"
    assert row(alert).last_error.startswith("webhook returned 429 (rate_limited) at ")
    assert row(alert).last_error.endswith(f"gave up after {MAX_RATE_LIMITED} attempt(s)")
