"""Slack misbehaving while monitors change state, against real processes (PostgreSQL, moto_server, `healthmon api`
and a `healthmon checker` pool, whose alert sender delivers the outbox): a receiver answering 500 for a minute,
one answering 429 with Retry-After, one answering 404 channel_not_found, all at the same time.

One deployment for the module: the three receivers fail at once, so the 429 and 404 stories play out during
the minute the first receiver is down (and show it holds up no other webhook). No scheduler: every job is sent
by the test, so every state change and alert is one the test caused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest

from checker.delivery import BACKOFF_BASE, BACKOFF_JITTER, MIN_SEND_INTERVAL
from healthmon.models import AlertOutbox
from tests.e2e.conftest import Distributed
from tests.e2e.procs import Proc, wait_until
from tests.e2e.scenario import Api
from tests.faults.delivery_support import (
    SETTLE_SECONDS,
    OutageReceiver,
    database_at,
    job,
    recent_slot,
    sqs_queue,
    wait_pool_started,
)
from tests.support.targets import TargetServer
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = [pytest.mark.slow]

OUTAGE_SECONDS = 60.0
"""How long the first receiver answers 500: a minute, from its first request."""

RECOVERY_DEADLINE = OUTAGE_SECONDS + 45.0
"""Seconds from that first request by which every queued alert must be delivered: retries back off 5, 10, 20,
40 s (+-20%), so the first try after the minute comes 60 to 90 s in, and the two alerts queued behind it follow
a second apart each."""

RETRY_AFTER = 8
"""The 429's Retry-After (seconds)."""

GAP_SLACK = 2.5
"""How much later than Retry-After the retry may come: the sender polls every 0.5 s, on a busy shared machine."""

NO_RETRY_WATCH = BACKOFF_BASE * (1 + BACKOFF_JITTER) + 2
"""How long after a 404 the test watches for a retry: past the longest first backoff a retryable error gets."""

OUTAGE_CHANGES = [("UNKNOWN", "UP"), ("UP", "DOWN"), ("DOWN", "UP")]
"""The outage monitor's three state changes, all recorded while its receiver is down."""


@dataclasses.dataclass
class Scenario:
    deployment: Distributed
    api: Api
    pool: Proc
    outage: OutageReceiver
    limited: WebhookReceiver
    gone: WebhookReceiver
    ids: dict[str, int]


def change_of(text: str) -> tuple[str, str]:
    """(old, new) from the guide's Slack text ("Old: UP -> New: DOWN")."""
    line = next(line for line in text.split("\n") if line.startswith("Old: "))
    old, new = line.removeprefix("Old: ").split(" -> New: ")
    return old, new


@pytest.fixture(scope="module")
def scenario(pg_server, moto_server, tmp_path_factory):
    deployment = Distributed(pg_server.create_database(), moto_server, tmp_path_factory.mktemp("slack"))
    with (TargetServer() as target, OutageReceiver(OUTAGE_SECONDS) as outage, WebhookReceiver() as limited,
          WebhookReceiver(default=Reply.slack_error("channel_not_found")) as gone):
        limited.script(Reply.rate_limited(RETRY_AFTER))
        try:
            _api_proc, api = deployment.start_api()
            pool = deployment.start("checker", "checker", "--processes", "1", "--concurrency", "10")
            wait_pool_started(pool, 1)
            receivers = {"outage": outage, "limited": limited, "gone": gone}
            ids = {name: api.create_monitor(
                name=name, url=target.url("/flap" if name == "outage" else f"/status/200?m={name}"),
                check_interval=60, timeout=2, fail_threshold=1, success_threshold=1, webhook_format="slack",
                webhook_url=receiver.url_for(f"/services/T0/B0/{name}"))["id"] for name, receiver in receivers.items()}
            queue = sqs_queue(deployment)
            first = recent_slot(10)
            queue.send_jobs([job(mid, first) for mid in ids.values()])  # all three UNKNOWN -> UP at once
            for mid in ids.values():
                api.wait_status(mid, "UP")
            outage.wait_for(1, timeout=30)  # the outage has begun: its first alert was tried, and failed
            # While its first alert is failing, the outage monitor goes DOWN and comes back UP.
            for seconds, status, state in ((1, 500, "DOWN"), (2, 200, "UP")):
                target.set_status(status)
                queue.send_jobs([job(ids["outage"], first + dt.timedelta(seconds=seconds))])
                api.wait_status(ids["outage"], state)
            assert outage.delivered() == []  # all three changes were recorded during the outage
            yield Scenario(deployment, api, pool, outage, limited, gone, ids)
        finally:
            deployment.close()


@pytest.mark.timeout(RECOVERY_DEADLINE + 90)
def test_a_minute_of_500s_delivers_each_alert_once_after_recovery_in_transition_order(scenario):
    outage = scenario.outage
    assert outage.outage_ends is not None
    started = outage.outage_ends - OUTAGE_SECONDS
    wait_until(lambda: len(outage.delivered()) >= len(OUTAGE_CHANGES),
               max(started + RECOVERY_DEADLINE - time.time(), 1.0), "the three alerts delivered after the outage",
               interval=0.5)
    # Watch past the first backoff after the first delivery: a success taken for a failure would be sent again.
    time.sleep(max(outage.delivered()[0].at + NO_RETRY_WATCH - time.time(), SETTLE_SECONDS))

    delivered = outage.delivered()
    failed = [r for r, status in outage.answered if status == 500]
    tried = sorted({change_of(r.json["text"]) for r in failed})
    print(f"outage {OUTAGE_SECONDS:.0f} s; transitions {len(OUTAGE_CHANGES)}; requests answered 500 {len(failed)} "
          f"(for {tried}); alerts expected {len(OUTAGE_CHANGES)} / sent {len(delivered)} / doubled "
          f"{len(delivered) - len({r.body for r in delivered})}; first delivered "
          f"{delivered[0].at - outage.outage_ends:.1f} s after recovery")
    assert [change_of(r.json["text"]) for r in delivered] == OUTAGE_CHANGES  # once each, in transition order
    assert all(r.at >= outage.outage_ends for r in delivered)
    # During the outage only the oldest alert was tried: the later ones never jumped ahead of it.
    assert failed and tried == [OUTAGE_CHANGES[0]]
    gaps = [b.at - a.at for a, b in zip(delivered, delivered[1:], strict=False)]
    assert all(gap >= MIN_SEND_INTERVAL.total_seconds() * 0.9 for gap in gaps)  # Slack's one a second
    assert len(outage.requests) == len(failed) + len(delivered)
    assert scenario.api.monitor(scenario.ids["outage"])["last_alert_error"] is None  # cleared by the delivery
    with database_at(scenario.deployment.db_url):
        rows = AlertOutbox.select().where(AlertOutbox.monitor_id == scenario.ids["outage"])
        assert [row.state for row in rows.order_by(AlertOutbox.id)] == ["sent"] * len(OUTAGE_CHANGES)


@pytest.mark.timeout(60)
def test_a_429_is_retried_after_its_retry_after_and_delivered_once(scenario):
    limited = scenario.limited
    first, retry = limited.wait_for(2, timeout=30)[:2]
    time.sleep(SETTLE_SECONDS)
    gap = retry.at - first.at
    print(f"429 Retry-After {RETRY_AFTER} s; retried after {gap:.2f} s; requests {len(limited.requests)}; "
          f"alerts expected 1 / sent 1 / doubled {len(limited.requests) - 2}")
    assert RETRY_AFTER <= gap < RETRY_AFTER + GAP_SLACK
    assert len(limited.requests) == 2 and first.body == retry.body
    assert scenario.api.monitor(scenario.ids["limited"])["last_alert_error"] is None
    # Delivered while the other receiver was still down: one failing webhook holds up no other.
    assert retry.at < scenario.outage.outage_ends


@pytest.mark.timeout(60)
def test_a_404_is_a_permanent_failure_shown_on_the_monitor_and_never_retried(scenario):
    gone = scenario.gone
    api, mid = scenario.api, scenario.ids["gone"]
    error = wait_until(lambda: api.monitor(mid)["last_alert_error"], 30, "the 404 shown on the monitor")
    (request,) = gone.wait_for(1)
    time.sleep(max(request.at + NO_RETRY_WATCH - time.time(), 0))
    with database_at(scenario.deployment.db_url):
        (row,) = AlertOutbox.select().where(AlertOutbox.monitor_id == mid)
    print(f"404 channel_not_found; requests {len(gone.requests)} in {time.time() - request.at:.0f} s (expected 1); "
          f"outbox state {row.state}; last_alert_error {error!r}")
    assert len(gone.requests) == 1
    assert "webhook returned 404 (channel_not_found)" in error and "gave up after 1 attempt" in error
    assert row.state == "failed" and row.attempts == 1
    assert api.monitor(mid)["status"] == "UP"  # the alert failed, the monitoring did not
