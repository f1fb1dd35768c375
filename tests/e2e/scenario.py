"""The user's story both end-to-end setups must pass: a monitor flaps UNKNOWN -> UP -> DOWN -> UP, each change
visible in the API and announced by exactly one Slack message in the guide's format."""

from __future__ import annotations

import re
import time

import requests

from tests.e2e.procs import wait_until
from tests.support.targets import TargetServer
from tests.support.webhook import WebhookReceiver

INTERVAL = 2
"""check_interval of the e2e monitors: timeout must be below it and the API's lowest timeout is 1 s."""

CHANGE_TIMEOUT = 30.0
"""Generous deadline for one state change (two checks at a 2 s interval, plus recording and alerting)."""

WEBHOOK_SECRET = "XXXXXXXXXXXXXXXXXXXXXXXX"
WEBHOOK_PATH = f"/services/T00000000/B00000000/{WEBHOOK_SECRET}"
"""A Slack-shaped webhook path: its last segment is the secret that must never appear in a log."""

SLACK_TEXT = (
    r"🔔 API Status Changed\nName: {name}\nURL: {url}\nOld: {old} -> New: {new}\n"
    r"Time: \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z"
)


class Api:
    """A minimal client of the REST API, as a user with an API key would call it."""

    def __init__(self, base: str, key: str):
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def create_monitor(self, **fields) -> dict:
        resp = self.session.post(f"{self.base}/monitors", json=fields, timeout=10)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def monitor(self, monitor_id: int) -> dict:
        resp = self.session.get(f"{self.base}/monitors/{monitor_id}", timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait_status(self, monitor_id: int, status: str, timeout: float = CHANGE_TIMEOUT) -> dict:
        return wait_until(lambda: (m := self.monitor(monitor_id))["status"] == status and m, timeout,
                          f"monitor {monitor_id} to be {status}", interval=0.2)

    def wait_checked_after(self, monitor_id: int, after: str, timeout: float = 3 * INTERVAL + 5) -> dict:
        """Wait for a check recorded later than `after` (an ISO time from an earlier read)."""
        return wait_until(lambda: (m := self.monitor(monitor_id))["last_checked_at"] > after and m, timeout,
                          "one more check", interval=0.2)


def wait_ready(base: str, timeout: float = 60.0) -> None:
    def up():
        try:
            return requests.get(f"{base}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, timeout, f"{base}/health")


def flap_monitor_and_watch_alerts(api: Api, target: TargetServer, slack: WebhookReceiver) -> int:
    """Create a monitor on `target`'s /flap route and drive it UNKNOWN -> UP -> DOWN -> UP.
    Returns the monitor id. Asserts the state in the API and one Slack message per change."""
    name, url = "Flappy Service", target.url("/flap")
    target.set_status(200)
    monitor = api.create_monitor(
        name=name, url=url, check_interval=INTERVAL, timeout=1, expected_status_code=200,
        webhook_url=slack.url_for(WEBHOOK_PATH), webhook_format="slack", enabled=True,
    )
    assert monitor["status"] == "UNKNOWN"
    mid = monitor["id"]

    def expect_change(old: str, new: str, count: int) -> None:
        started = time.monotonic()
        api.wait_status(mid, new)
        messages = slack.wait_for(count, timeout=max(1.0, CHANGE_TIMEOUT - (time.monotonic() - started)))
        text = messages[count - 1].json["text"]
        assert re.fullmatch(SLACK_TEXT.format(name=name, url=re.escape(url), old=old, new=new), text), text
        # Exactly one message for this change: still one after two more checks in the new state.
        seen = api.monitor(mid)["last_checked_at"]
        api.wait_checked_after(mid, seen)
        assert api.wait_checked_after(mid, api.monitor(mid)["last_checked_at"])["status"] == new
        assert len(slack.requests) == count, [r.json["text"] for r in slack.requests]

    expect_change("UNKNOWN", "UP", 1)
    target.set_status(500)
    expect_change("UP", "DOWN", 2)
    target.set_status(200)
    expect_change("DOWN", "UP", 3)
    assert all(r.path == WEBHOOK_PATH for r in slack.requests)
    return mid
