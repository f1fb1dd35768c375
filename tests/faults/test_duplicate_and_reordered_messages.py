"""SQS is at-least-once and unordered: the same message delivered three times, and a monitor's older message
arriving after its newer one, against a real checker pool (two worker processes and the alert sender) on
PostgreSQL and moto_server. One result per slot, at most one transition and one alert per state change."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from healthmon.models import Monitor
from tests.faults.delivery_support import (
    SETTLE_SECONDS,
    database_at,
    job,
    recent_slot,
    sqs_queue,
    stored,
    wait_pool_started,
    wait_queue_empty,
    wait_stored,
)
from tests.support.targets import TargetServer
from tests.support.webhook import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

COPIES = 3
"""How often each message is delivered."""


@pytest.fixture
def pool(distributed):
    proc = distributed.start("checker", "checker", "--processes", "2", "--concurrency", "10")
    wait_pool_started(proc, 2)
    yield proc
    assert proc.stop(30)[0] == 0, proc.output()[-3000:]


def make_monitor(url: str, name: str, target: TargetServer, slack: WebhookReceiver) -> int:
    """A monitor that changes state on a single result, so any extra recorded result shows as a transition."""
    with database_at(url):
        return Monitor.create(name=name, url=target.url(f"/flap?m={name}"), check_interval=60, timeout=2,
                              fail_threshold=1, success_threshold=1, webhook_format="slack",
                              webhook_url=slack.url_for(f"/services/T0/B0/{name}")).id


def settled(distributed, monitor_id: int):
    """The monitor's counts once the queue is empty and its alerts are out, and still after SETTLE_SECONDS."""
    wait_queue_empty(distributed)
    first = wait_stored(distributed.db_url, monitor_id, "alerts sent", lambda s: s.alerts_pending == 0)
    time.sleep(SETTLE_SECONDS)
    assert stored(distributed.db_url, monitor_id) == first
    return first


def test_a_message_delivered_three_times_records_one_result_one_transition_and_one_alert(distributed, pool):
    queue = sqs_queue(distributed)
    with TargetServer() as target, WebhookReceiver() as slack:
        together = make_monitor(distributed.db_url, "together", target, slack)
        one_by_one = make_monitor(distributed.db_url, "one-by-one", target, slack)

        # All copies at once: they may reach both worker processes, or one receive, at the same time.
        queue.send_jobs([job(together, recent_slot())] * COPIES)
        # One copy at a time, each after the one before was recorded and deleted: redeliveries after a commit.
        slot = recent_slot()
        for _ in range(COPIES):
            queue.send_jobs([job(one_by_one, slot)])
            wait_queue_empty(distributed)

        counts = {mid: settled(distributed, mid) for mid in (together, one_by_one)}
        sent = {mid: sum(r.path.endswith(f"/{name}") for r in slack.requests)
                for mid, name in ((together, "together"), (one_by_one, "one-by-one"))}
        print(f"messages sent {2 * COPIES}; checks expected 2 / stored {sum(c.results for c in counts.values())} / "
              f"doubled {sum(c.doubled for c in counts.values())}; transitions "
              f"{sum(len(c.transitions) for c in counts.values())}; alerts expected 2 / sent {sum(sent.values())} / "
              f"doubled {sum(n - 1 for n in sent.values() if n > 1)}")
        for mid, count in counts.items():
            assert (count.results, count.doubled, count.successes) == (1, 0, 1)
            assert count.transitions == [("UNKNOWN", "UP")] and count.alerts == 1
            assert sent[mid] == 1
        assert distributed.queued(distributed.dlq_url) == 0


def test_an_older_message_arriving_after_a_newer_one_changes_nothing_and_alerts_nobody(distributed, pool):
    queue = sqs_queue(distributed)
    with TargetServer() as target, WebhookReceiver() as slack:
        mid = make_monitor(distributed.db_url, "late", target, slack)
        newer = recent_slot()
        older = newer - dt.timedelta(seconds=60)

        target.set_status(500)
        queue.send_jobs([job(mid, newer)])
        wait_stored(distributed.db_url, mid, "the newer slot recorded", lambda s: s.results == 1)
        # Checked now, the older job would succeed and (threshold 1) take the monitor back UP with an alert.
        target.set_status(200)
        queue.send_jobs([job(mid, older)])

        count = settled(distributed, mid)
        print(f"messages sent 2 (newer first); checks expected 1 / stored {count.results} / doubled "
              f"{count.doubled}; transitions {len(count.transitions)} (expected 1); alerts expected 1 / "
              f"sent {len(slack.requests)}; target requests {target.count('/flap')}")
        assert (count.results, count.doubled, count.failures, count.successes) == (1, 0, 1, 0)
        assert count.transitions == [("UNKNOWN", "DOWN")] and count.status == "DOWN"
        assert count.alerts == 1 and len(slack.requests) == 1
        assert "Old: UNKNOWN -> New: DOWN" in slack.requests[0].json["text"]
        assert target.count("/flap") == 1  # the older job was dropped unchecked
        assert distributed.queued(distributed.dlq_url) == 0
