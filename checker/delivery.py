"""Alert delivery: claims due outbox rows and POSTs them to their webhooks.

The recorder writes an AlertOutbox row in the same transaction as the state change; this module turns
rows into HTTP requests. Guarantees (see docs/alerts.md):

- Claims are atomic: a conditional UPDATE (attempts + 1, locked_until = lease) inside a transaction that,
  on PostgreSQL, selected the row FOR UPDATE SKIP LOCKED, and on SQLite holds the write lock. Two senders,
  threads or processes, never claim one row. A sender that dies mid-send loses its lease, and the row is
  claimed again when the lease ends.
- Per webhook, messages go out in event order and at most one per second (Slack's documented limit):
  a row is claimable only when no earlier row for the same webhook is still pending and nothing was sent to
  that webhook in the last second. Both facts come from the outbox itself, so the limit holds across any
  number of checker processes.
- At least once: a row is marked sent after the POST returns 2xx. Slack's webhook API has no idempotency
  key, so a crash between the POST and that commit re-sends the message; JSON receivers get an
  `Idempotency-Key: healthmon-event-<event_id>` header to drop such a duplicate.
- Retries: timeouts, connection errors, 5xx and 408 back off exponentially (5 s doubling, cap 10 min,
  jittered) until MAX_ATTEMPTS or MAX_AGE; 429 waits exactly Retry-After seconds. Other 4xx (404, 410,
  Slack's invalid_token / no_service / channel_not_found ...) and a blocked address give up at once.
- The monitor's `last_alert_error` says what went wrong (status, Slack error code, time; never the URL)
  and is cleared by the next successful delivery.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw

from checker import http as checker_http
from checker.alerts import format_time
from healthmon.db import database, for_update, utcnow
from healthmon.models import AlertOutbox, Monitor
from healthmon.netguard import AddressGuard
from healthmon.redact import mask_webhook_url, redact_text
from healthmon.settings import Settings

log = logging.getLogger("healthmon.checker")

PENDING, SENT, FAILED = "pending", "sent", "failed"

WEBHOOK_TIMEOUT = 10.0
"""Seconds for one POST. Slack answers in well under a second; a receiver slower than this is down."""
CLAIM_LEASE = dt.timedelta(seconds=WEBHOOK_TIMEOUT + 20)
"""How long a claimed row stays invisible to other senders: the POST plus generous time to commit."""
MIN_SEND_INTERVAL = dt.timedelta(seconds=1)
"""Slack allows one message per second per webhook (api.slack.com/apis/rate-limits); we keep to it for all."""
BACKOFF_BASE = 5.0
BACKOFF_CAP = 600.0
"""Retry delays: 5 s, 10 s, 20 s ... capped at 10 minutes."""
BACKOFF_JITTER = 0.2
"""Each delay is spread +-20% so a fleet of monitors alerting to one failing receiver does not retry in step."""
MAX_ATTEMPTS = 8
MAX_AGE = dt.timedelta(hours=1)
"""Give up after 8 attempts (about 10 minutes of backoff) or an hour after the event, whichever is first:
an alert older than that describes a state that has likely changed again."""
RETRYABLE_4XX = (408, 425, 429)
"""4xx answers that mean "later"; every other 4xx (and a 3xx: redirects are not followed) is permanent."""
SLACK_PERMANENT_ERRORS = frozenset({
    "invalid_token", "no_service", "no_service_id", "no_team", "team_disabled", "channel_not_found",
    "channel_is_archived", "action_prohibited", "posting_to_general_channel_denied", "user_not_found",
    "invalid_payload",
})
"""Slack's webhook error codes (plain-text bodies) that no retry can fix."""
_ERROR_TOKEN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


@dataclass(frozen=True)
class _Claim:
    id: int
    event_id: int
    monitor_id: int
    webhook_url: str
    webhook_format: str
    payload: str
    attempts: int
    created_at: dt.datetime
    lease: dt.datetime


@dataclass(frozen=True)
class _Verdict:
    ok: bool
    permanent: bool
    status: int | None
    error: str  # short, safe: no URL
    retry_after: float | None = None


class AlertSender:
    """Delivers due alerts. One per process; `post` and `clock` are injectable for tests.

    `clock()` returns naive UTC now (the outbox's time base); `jitter()` returns a float in [0, 1).
    """

    def __init__(self, settings: Settings, guard: AddressGuard, *,
                 post: Callable[..., checker_http.HttpResponse] | None = None,
                 clock: Callable[[], dt.datetime] = utcnow,
                 jitter: Callable[[], float] = random.random,
                 timeout: float = WEBHOOK_TIMEOUT):
        self.settings = settings
        self.guard = guard
        self.post = post or checker_http.post
        self.clock = clock
        self.jitter = jitter
        self.timeout = timeout

    def deliver_due(self, limit: int = 50) -> int:
        """Claim and send due alerts one at a time, at most `limit`. Returns how many were attempted
        (sent, rescheduled or given up); 0 means nothing is due now. Raises only on database errors."""
        done = 0
        while done < limit:
            claim = self._claim()
            if claim is None:
                break
            self._deliver(claim)
            done += 1
        return done

    def _claim(self) -> _Claim | None:
        """Atomically take the oldest claimable row: attempts + 1 and a lease, committed before the POST."""
        now = self.clock()
        # Two separate NOT EXISTS (not one with OR) so each can use the (webhook_url, state, sent_at) index.
        earlier = AlertOutbox.alias("earlier")
        waiting = earlier.select(pw.SQL("1")).where(
            (earlier.webhook_url == AlertOutbox.webhook_url) & (earlier.state == PENDING)
            & (earlier.id < AlertOutbox.id)
        )
        recent = AlertOutbox.alias("recent")
        just_sent = recent.select(pw.SQL("1")).where(
            (recent.webhook_url == AlertOutbox.webhook_url) & (recent.state == SENT)
            & (recent.sent_at > now - MIN_SEND_INTERVAL)
        )
        query = (
            AlertOutbox.select()
            .where(
                (AlertOutbox.state == PENDING)
                & (AlertOutbox.next_attempt_at <= now)
                & (AlertOutbox.locked_until.is_null() | (AlertOutbox.locked_until <= now))
                & ~pw.fn.EXISTS(waiting)
                & ~pw.fn.EXISTS(just_sent)
            )
            # Most overdue first, which walks the (state, next_attempt_at) index; event order per webhook is
            # kept by `waiting`, not by this ORDER BY.
            .order_by(AlertOutbox.next_attempt_at, AlertOutbox.id)
            .limit(1)
        )
        lease = now + CLAIM_LEASE
        with database.atomic():
            row = for_update(query, skip_locked=True).first()
            if row is None:
                return None
            taken = (
                AlertOutbox.update(attempts=AlertOutbox.attempts + 1, locked_until=lease)
                .where((AlertOutbox.id == row.id) & (AlertOutbox.state == PENDING)
                       & (AlertOutbox.locked_until.is_null() | (AlertOutbox.locked_until <= now)))
                .execute()
            )
            if taken != 1:  # another sender got there first (cannot happen under the locks; kept as a guard)
                return None
        return _Claim(row.id, row.event_id, row.monitor_id, row.webhook_url, row.webhook_format, row.payload,
                      row.attempts + 1, row.created_at, lease)

    def _deliver(self, claim: _Claim) -> None:
        headers = {"Content-Type": "application/json"}
        if claim.webhook_format == "json":
            headers["Idempotency-Key"] = f"healthmon-event-{claim.event_id}"
        extra = {"ca_bundle": self.settings.ca_bundle} if getattr(self.settings, "ca_bundle", None) else {}
        try:
            response = self.post(claim.webhook_url, claim.payload.encode("utf-8"), headers, self.timeout, self.guard,
                                 **extra)
            verdict = _judge_response(response, self.clock())
        except checker_http.TransportError as exc:
            verdict = _Verdict(False, exc.kind == "blocked_address", None,
                               f"webhook {exc.kind}: {redact_text(exc.message)}")
        except Exception as exc:  # noqa: BLE001 - an unexpected client bug must not wedge the row
            verdict = _Verdict(False, False, None, f"webhook request failed ({exc.__class__.__name__})")
        self._finish(claim, verdict)

    def _finish(self, claim: _Claim, verdict: _Verdict) -> None:
        now = self.clock()
        # Only while our lease holds: a sender whose lease ran out must not overwrite the next claimant.
        where = ((AlertOutbox.id == claim.id) & (AlertOutbox.state == PENDING)
                 & (AlertOutbox.locked_until == claim.lease))
        who = f"monitor={claim.monitor_id} event={claim.event_id} webhook={mask_webhook_url(claim.webhook_url)}"
        if verdict.ok:
            with database.atomic():
                updated = (AlertOutbox.update(state=SENT, sent_at=now, locked_until=None, last_error=None)
                           .where(where).execute())
                (Monitor.update(last_alert_error=None)
                 .where((Monitor.id == claim.monitor_id) & Monitor.last_alert_error.is_null(False)).execute())
            log.info("[WEBHOOK] sent status=%d %s attempt=%d", verdict.status, who, claim.attempts)
            if updated != 1:
                log.warning("[WEBHOOK] %s: lease expired before the send was recorded; it may be sent again", who)
            return

        retry_at = None if verdict.permanent else self._retry_time(claim, verdict, now)
        when = format_time(now)
        if retry_at is None:
            text = f"{verdict.error} at {when}; gave up after {claim.attempts} attempt(s)"
            values = {"state": FAILED, "locked_until": None, "last_error": text}
        else:
            text = f"{verdict.error} at {when}; retrying at {format_time(retry_at)}"
            values = {"next_attempt_at": retry_at, "locked_until": None, "last_error": text}
        with database.atomic():
            AlertOutbox.update(values).where(where).execute()
            Monitor.update(last_alert_error=text).where(Monitor.id == claim.monitor_id).execute()
        if retry_at is None:
            log.error("[WEBHOOK] gave up %s attempt=%d: %s", who, claim.attempts, verdict.error)
        else:
            log.warning("[WEBHOOK] failed %s attempt=%d: %s; retry in %.1fs", who, claim.attempts, verdict.error,
                        (retry_at - now).total_seconds())

    def _retry_time(self, claim: _Claim, verdict: _Verdict, now: dt.datetime) -> dt.datetime | None:
        """When to try again, or None to give up (too many attempts, too old, or Retry-After past MAX_AGE)."""
        deadline = claim.created_at + MAX_AGE
        if verdict.retry_after is not None:
            # 429: the receiver named the time; it does not count against MAX_ATTEMPTS, only the deadline.
            at = now + dt.timedelta(seconds=verdict.retry_after)
            return at if at <= deadline else None
        if claim.attempts >= MAX_ATTEMPTS:
            return None
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (claim.attempts - 1))
        delay = min(BACKOFF_CAP, delay * (1 + BACKOFF_JITTER * (2 * self.jitter() - 1)))
        at = now + dt.timedelta(seconds=delay)
        return at if at <= deadline else None


def _judge_response(response: checker_http.HttpResponse, now: dt.datetime) -> _Verdict:
    status = response.status
    if 200 <= status < 300:
        return _Verdict(True, False, status, "")
    token = _error_token(response.body)
    error = f"webhook returned {status}" + (f" ({token})" if token else "")
    if status == 429:
        wait = parse_retry_after(response.headers.get("retry-after"), now)
        return _Verdict(False, False, status, error, retry_after=wait)
    if token in SLACK_PERMANENT_ERRORS:
        return _Verdict(False, True, status, error)
    if status >= 500 or status in RETRYABLE_4XX:
        return _Verdict(False, False, status, error)
    return _Verdict(False, True, status, error)


def _error_token(body: bytes) -> str | None:
    """A Slack-style error code from a plain-text body, or None. Arbitrary bodies are never echoed."""
    text = body[:80].decode("utf-8", "replace").strip()
    return text if _ERROR_TOKEN.match(text) else None


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds: delay-seconds, or an HTTP-date (RFC 9110 10.2.3). None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    now = now or utcnow()
    return max((when.astimezone(dt.UTC).replace(tzinfo=None) - now).total_seconds(), 0.0)
