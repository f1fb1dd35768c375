"""Shared helpers for the delivery tests: a settable clock, outbox rows, a sender bound to a receiver."""

from __future__ import annotations

import datetime as dt
import threading

from checker import alerts
from checker.delivery import AlertSender
from healthmon.domain.status import Transition
from healthmon.models import AlertOutbox, Monitor
from healthmon.netguard import AddressGuard

T0 = dt.datetime(2026, 1, 20, 10, 30, 0)


class Clock:
    """A clock the test moves by hand (naive UTC, like the database). Thread-safe."""

    def __init__(self, start: dt.datetime = T0):
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)
            return self._now


def make_monitor(webhook_url: str, **overrides) -> Monitor:
    fields = dict(name="Example Homepage", url="https://example.com/", check_interval=30, timeout=5,
                  webhook_url=webhook_url)
    fields.update(overrides)
    return Monitor.create(**fields)


_next_event = [1000]


def queue_alert(monitor: Monitor, *, at: dt.datetime = T0, old="UNKNOWN", new="UP", fmt: str | None = None,
                webhook_url: str | None = None) -> AlertOutbox:
    """An outbox row as the recorder writes it (event ids are increasing, like StateChange ids)."""
    _next_event[0] += 1
    url = webhook_url or monitor.webhook_url
    fmt = fmt or alerts.resolve_format(url, monitor.webhook_format)
    event = Transition(event_id=_next_event[0], monitor_id=monitor.id, name=monitor.name, url=monitor.url,
                       from_status=old, to_status=new, at=at, reason="status 200 in 5 ms", status_code=200,
                       latency_ms=5.0)
    return AlertOutbox.create(event_id=event.event_id, monitor_id=monitor.id, destination=url, webhook_url=url,
                              webhook_format=fmt, payload=alerts.render(event, fmt), created_at=at, next_attempt_at=at)


def sender(settings, clock=None, **kwargs) -> AlertSender:
    return AlertSender(settings, AddressGuard(settings.allowed_private_cidrs), clock=clock or Clock(),
                       jitter=lambda: 0.5, **kwargs)


def row(r: AlertOutbox) -> AlertOutbox:
    return AlertOutbox.get_by_id(r.id)
