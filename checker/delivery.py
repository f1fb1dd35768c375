"""Alert delivery: claims due outbox rows and POSTs them to their webhooks.

The recorder writes an AlertOutbox row in the same transaction as the state change; this module turns
rows into HTTP requests; how an answer is judged (sent, later, never) is in checker/webhook_answers.py.
Guarantees (see docs/alerts.md):

- Claims are atomic: a conditional UPDATE (attempts + 1, locked_until = lease) inside a transaction that,
  on PostgreSQL, selected the row FOR UPDATE SKIP LOCKED, and on SQLite holds the write lock. Two senders,
  threads or processes, never claim one row. A sender that dies mid-send loses its lease, and the row is
  claimed again when the lease ends.
- Per webhook, requests go out in event order and at most one per second (Slack's documented limit):
  a row is claimable only when no earlier row for the same webhook is still pending and no row for that
  webhook was attempted (claimed, whatever the answer) in the last second. Both facts come from the outbox
  itself, so the limit holds across any number of checker processes, for failing webhooks too.
- At least once: a row is marked sent after the POST returns 2xx. If that commit fails it is retried with
  backoff while the lease still has MARK_SENT_MARGIN to run, so a database blip does not re-send. Slack's
  webhook API has no idempotency key, so a crash (or a longer outage) between the POST and that commit
  re-sends the message; JSON receivers get an `Idempotency-Key: healthmon-event-<event_id>` header
  (`healthmon-tls-warning-<id>` for a TLS certificate warning).
- Retries: timeouts, connection errors, 5xx and 408 back off exponentially (5 s doubling, cap 10 min,
  jittered) until MAX_ATTEMPTS or MAX_AGE. 429 waits Retry-After seconds when that is at least
  MIN_SEND_INTERVAL, else the backoff for its count of 429s; 429s have their own cap, MAX_RATE_LIMITED.
  Other 4xx (404, 410, Slack's invalid_token / no_service / channel_not_found ...) and a blocked address
  give up at once.
- The monitor's `last_alert_error` says what went wrong (status, a known Slack error code, time; never the
  URL or other body text) and is cleared by the next successful delivery. Only the lease holder writes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw

from checker import channels, webhook_client
from checker.alerts import format_time, idempotency_key
from checker.outbox import MONITOR_WEBHOOK
from checker.webhook_answers import Answer
from healthmon.db import database, for_update, is_postgres, utcnow
from healthmon.models import AlertOutbox, Channel, Monitor
from healthmon.netguard import AddressGuard
from healthmon.redact import mask_webhook_url, redact_text
from healthmon.settings import Settings

log = logging.getLogger("healthmon.checker")

PENDING, SENT, FAILED = "pending", "sent", "failed"

WEBHOOK_TIMEOUT = 10.0
"""Seconds for one POST. Slack answers in well under a second; a receiver slower than this is down."""
CLAIM_LEASE = dt.timedelta(seconds=WEBHOOK_TIMEOUT + 20)
"""How long a claimed row stays invisible to other senders: the POST plus generous time to commit. Every
channel's send ends within WEBHOOK_TIMEOUT in all (an e-mail's too: for smtp_client it is the budget of the
whole conversation, not of each step), so no send outlasts its claim and is made twice."""
MARK_SENT_MARGIN = dt.timedelta(seconds=5)
"""Retrying the mark-sent commit stops this long before the lease ends (clock skew between hosts, the
commit itself), so no other sender re-claims, and re-sends, a row while we still try to record it."""
MARK_SENT_FIRST_PAUSE = 0.1
MARK_SENT_MAX_PAUSE = 2.0
"""Pauses between mark-sent retries: 0.1 s doubling to 2 s, about a dozen tries within the budget."""
MIN_SEND_INTERVAL = dt.timedelta(seconds=1)
"""Slack allows one message per second per webhook (api.slack.com/apis/rate-limits); we keep to it for all."""
BACKOFF_BASE = 5.0
BACKOFF_CAP = 600.0
"""Retry delays: 5 s, 10 s, 20 s ... capped at 10 minutes. Never less than MIN_SEND_INTERVAL."""
BACKOFF_JITTER = 0.2
"""Each delay is spread +-20% so a fleet of monitors alerting to one failing receiver does not retry in step."""
MAX_ATTEMPTS = 8
MAX_AGE = dt.timedelta(hours=1)
"""Give up after 8 failed attempts (about 10 minutes of backoff) or an hour after the event, whichever is
first: an alert older than that describes a state that has likely changed again."""
MAX_RATE_LIMITED = 30
"""429 answers one alert may get before we give up. Kept apart from MAX_ATTEMPTS because a 429 says "later",
not "broken"; bounded because a receiver answering `Retry-After: 1` forever must not keep us busy for the
whole hour. Worst case per alert: 30 requests 1 s apart, plus MAX_ATTEMPTS backed-off ones."""
@dataclass(frozen=True)
class _Claim:
    id: int
    event_id: int
    channel_id: int
    monitor_id: int
    webhook_url: str
    webhook_format: str
    payload: str
    attempts: int
    rate_limited: int
    created_at: dt.datetime
    lease: dt.datetime


class AlertSender:
    """Delivers due alerts. One per process; `post` and `clock` are injectable for tests.

    `clock()` returns naive UTC now (the outbox's time base); `jitter()` returns a float in [0, 1);
    `sleep(seconds)` pauses between mark-sent retries.
    """

    def __init__(self, settings: Settings, guard: AddressGuard, *,
                 post: Callable[..., webhook_client.HttpResponse] | None = None,
                 clock: Callable[[], dt.datetime] = utcnow,
                 jitter: Callable[[], float] = random.random,
                 sleep: Callable[[float], object] = time.sleep,
                 timeout: float = WEBHOOK_TIMEOUT):
        self.settings = settings
        self.guard = guard
        self.post = post or webhook_client.post
        self.clock = clock
        self.jitter = jitter
        self.sleep = sleep
        self.timeout = timeout
        self.transport = channels.Transport(guard, timeout, settings, self.post, clock)

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
        # Two separate NOT EXISTS (not one with OR) so each can use the (destination, state, attempted_at)
        # index. `just_tried` covers every state (a 429'd row is pending, a given-up one failed); the IN list
        # turns into one index range probe per state instead of a walk over the destination's whole history.
        earlier = AlertOutbox.alias("earlier")
        waiting = earlier.select(pw.SQL("1")).where(
            (earlier.destination == AlertOutbox.destination) & (earlier.state == PENDING)
            & (earlier.id < AlertOutbox.id)
        )
        recent = AlertOutbox.alias("recent")
        just_tried = recent.select(pw.SQL("1")).where(
            (recent.destination == AlertOutbox.destination) & recent.state.in_((PENDING, SENT, FAILED))
            & (recent.attempted_at > now - MIN_SEND_INTERVAL)
        )
        query = (
            AlertOutbox.select()
            .where(
                (AlertOutbox.state == PENDING)
                & (AlertOutbox.next_attempt_at <= now)
                & (AlertOutbox.locked_until.is_null() | (AlertOutbox.locked_until <= now))
                & ~pw.fn.EXISTS(waiting)
                & ~pw.fn.EXISTS(just_tried)
            )
            # Most overdue first, which walks the (state, next_attempt_at) index; event order per destination is
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
                AlertOutbox.update(attempts=AlertOutbox.attempts + 1, locked_until=lease, attempted_at=now)
                .where((AlertOutbox.id == row.id) & (AlertOutbox.state == PENDING)
                       & (AlertOutbox.locked_until.is_null() | (AlertOutbox.locked_until <= now)))
                .execute()
            )
            if taken != 1:  # another sender got there first (cannot happen under the locks; kept as a guard)
                return None
        return _Claim(row.id, row.event_id, row.channel_id, row.monitor_id, row.webhook_url, row.webhook_format,
                      row.payload, row.attempts + 1, row.rate_limited, row.created_at, lease)

    def _deliver(self, claim: _Claim) -> None:
        if claim.channel_id != MONITOR_WEBHOOK:
            self._finish(claim, self._send_to_channel(claim))
            return
        headers = {"Content-Type": "application/json"}
        if claim.webhook_format == "json":
            headers["Idempotency-Key"] = idempotency_key(claim.event_id)
        self._finish(claim, channels.http_send(claim.webhook_url, claim.payload.encode("utf-8"), headers,
                                               self.transport))

    def _send_to_channel(self, claim: _Claim) -> Answer:
        """Send through the channel as it is now (its address and secrets are read here, never stored in the
        row). A deleted channel, or one whose type changed since the body was rendered, fails for good."""
        channel = Channel.get_or_none(Channel.id == claim.channel_id)
        label = f"channel {claim.channel_id}"
        if channel is None:
            return Answer(False, True, None, f"{label} was deleted before this alert was sent")
        if channel.type != claim.webhook_format:
            return Answer(False, True, None, f"{label} is now of type {channel.type}; this alert was rendered "
                                             f"for {claim.webhook_format}")
        answer = channels.send(channel.type, channel.config, claim.payload, idempotency_key(claim.event_id),
                               self.transport)
        return answer if answer.ok else dataclasses.replace(answer, error=f"{label} ({channel.type}): {answer.error}")

    def _finish(self, claim: _Claim, answer: Answer) -> None:
        now = self.clock()
        where = (f"webhook={mask_webhook_url(claim.webhook_url)}" if claim.channel_id == MONITOR_WEBHOOK
                 else f"channel={claim.channel_id}")
        who = f"monitor={claim.monitor_id} event={claim.event_id} {where}"
        if answer.ok:
            updated = self._record_sent(claim, who)
            log.info("[WEBHOOK] sent status=%s %s attempt=%d", answer.status or "ok", who, claim.attempts)
            if updated != 1:
                log.warning("[WEBHOOK] %s: lease expired before the send was recorded; it may be sent again", who)
            return

        retry_at = None if answer.permanent else self._retry_time(claim, answer, now)
        when = format_time(now)
        if retry_at is None:
            text = f"{answer.error} at {when}; gave up after {claim.attempts} attempt(s)"
            values = {"state": FAILED, "locked_until": None, "last_error": text}
        else:
            text = f"{answer.error} at {when}; retrying at {format_time(retry_at)}"
            values = {"next_attempt_at": retry_at, "locked_until": None, "last_error": text}
        if answer.status == 429:
            values["rate_limited"] = AlertOutbox.rate_limited + 1
        with database.atomic():
            updated = AlertOutbox.update(values).where(_ours(claim)).execute()
            if updated == 1:  # a sender that lost its lease must not overwrite what the new owner reports
                Monitor.update(last_alert_error=text).where(Monitor.id == claim.monitor_id).execute()
        if updated != 1:
            log.warning("[WEBHOOK] failed %s attempt=%d: %s; lease lost, outcome not recorded", who,
                        claim.attempts, answer.error)
        elif retry_at is None:
            log.error("[WEBHOOK] gave up %s attempt=%d: %s", who, claim.attempts, answer.error)
        else:
            log.warning("[WEBHOOK] failed %s attempt=%d: %s; retry in %.1fs", who, claim.attempts, answer.error,
                        (retry_at - now).total_seconds())

    def _record_sent(self, claim: _Claim, who: str) -> int:
        """Mark the row sent (and clear the monitor's error), retrying database errors with backoff until
        MARK_SENT_MARGIN before the lease ends. Returns the rows updated: 0 when the lease was lost.
        Raises the last database error when the budget is spent (the row is then sent again later)."""
        budget = min(CLAIM_LEASE, claim.lease - self.clock()) - MARK_SENT_MARGIN
        # Both time bases bound the budget: the outbox clock (what other senders compare the lease with)
        # and the monotonic one (so a stuck or injected clock cannot make this loop forever).
        give_up_at = claim.lease - MARK_SENT_MARGIN
        give_up_mono = time.monotonic() + max(budget.total_seconds(), 0.0)
        pause, tries = MARK_SENT_FIRST_PAUSE, 0
        while True:
            tries += 1
            try:
                return self._mark_sent(claim, self.clock())
            except (pw.OperationalError, pw.InterfaceError) as exc:
                error = f"{exc.__class__.__name__}: {redact_text(str(exc))[:200]}"
                left = min((give_up_at - self.clock()).total_seconds(), give_up_mono - time.monotonic())
                if left <= 0:
                    log.error("[WEBHOOK] %s: recording the send failed %d time(s) (%s); giving up, it will be "
                              "sent again when the lease ends", who, tries, error)
                    raise
                log.warning("[WEBHOOK] %s: recording the send failed (try %d, %s); retrying in %.1fs", who, tries,
                            error, min(pause, left))
                _drop_broken_connection()
                self.sleep(min(pause, left))
                pause = min(pause * 2, MARK_SENT_MAX_PAUSE)

    def _mark_sent(self, claim: _Claim, now: dt.datetime) -> int:
        """One try at recording a successful send; the monitor's error is cleared only by the lease holder."""
        with database.atomic():
            updated = (AlertOutbox.update(state=SENT, sent_at=now, locked_until=None, last_error=None)
                       .where(_ours(claim)).execute())
            if updated == 1:
                (Monitor.update(last_alert_error=None)
                 .where((Monitor.id == claim.monitor_id) & Monitor.last_alert_error.is_null(False)).execute())
        return updated

    def _retry_time(self, claim: _Claim, answer: Answer, now: dt.datetime) -> dt.datetime | None:
        """When to try again, or None to give up (too many attempts, too old, or Retry-After past MAX_AGE).
        Never sooner than MIN_SEND_INTERVAL, whatever Retry-After says."""
        if answer.status == 429:
            count = claim.rate_limited + 1
            if count >= MAX_RATE_LIMITED:
                return None
            floor = MIN_SEND_INTERVAL.total_seconds()
            honoured = answer.retry_after is not None and answer.retry_after >= floor
            # Retry-After: 0, a tiny value or a past date would have us hammer the receiver: back off instead.
            delay = answer.retry_after if honoured else self._backoff(count)
        else:
            failures = claim.attempts - claim.rate_limited  # lost leases count too: the POST may have happened
            if failures >= MAX_ATTEMPTS:
                return None
            delay = self._backoff(failures)
        at = now + max(dt.timedelta(seconds=delay), MIN_SEND_INTERVAL)
        return at if at <= claim.created_at + MAX_AGE else None

    def _backoff(self, n: int) -> float:
        """Seconds before try n + 1 after n failures: 5 s doubling, capped, jittered."""
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (max(n, 1) - 1))
        return min(BACKOFF_CAP, delay * (1 + BACKOFF_JITTER * (2 * self.jitter() - 1)))


def _ours(claim: _Claim) -> pw.Expression:
    """Rows still held by this claim: a sender whose lease was taken over must not overwrite the new owner."""
    return ((AlertOutbox.id == claim.id) & (AlertOutbox.state == PENDING)
            & (AlertOutbox.locked_until == claim.lease))


def _drop_broken_connection() -> None:
    """After a failed commit on PostgreSQL the connection may be dead; close it so the next try reconnects.
    SQLite's errors (locked, busy) leave the connection usable, and closing an in-memory one loses data."""
    if is_postgres() and not database.in_transaction():
        with contextlib.suppress(Exception):  # closing a dead connection may fail too; reconnecting will tell
            database.close()
