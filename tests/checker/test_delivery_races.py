"""Several senders over one outbox: every alert is claimed and delivered exactly once."""

import threading

import pytest

from healthmon.db import database
from healthmon.models import AlertOutbox
from tests.checker.delivery_helpers import Clock, make_monitor, queue_alert, sender
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.timeout(60)


def _race(settings, clock, senders=2):
    """Run `senders` threads, each delivering in small batches until it finds nothing due."""
    barrier = threading.Barrier(senders)
    errors = []

    def run():
        try:
            s = sender(settings, clock)
            barrier.wait()
            while s.deliver_due(limit=3):
                pass
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=run) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors


def test_two_senders_racing_over_the_outbox_deliver_each_alert_exactly_once(db, settings):
    with WebhookReceiver() as hook:
        # Twenty webhooks with two alerts each. The clock stands still during a round (so no lease can
        # expire mid-race); the second alert of each webhook is held back by the 1 s limit until round two.
        monitors = [make_monitor(hook.url_for(f"/hook/{i}")) for i in range(20)]
        alerts = [queue_alert(m, new=new) for new in ("UP", "DOWN") for m in monitors]
        clock = Clock()
        _race(settings, clock)
        assert len(hook.requests) == 20
        clock.advance(1)
        _race(settings, clock)

        delivered = sorted(r.json["event_id"] for r in hook.requests)
        assert delivered == sorted(a.event_id for a in alerts)  # each exactly once
        assert AlertOutbox.select().where(AlertOutbox.state == "sent").count() == len(alerts)
        assert all(r.attempts == 1 for r in AlertOutbox.select())
        for i in range(len(monitors)):  # per webhook, in event order
            assert [r.json["new"] for r in hook.requests if r.path == f"/hook/{i}"] == ["UP", "DOWN"]
