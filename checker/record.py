"""Recording check results: the one place where a result changes a monitor.

`record_results` records a batch of results in one transaction: it locks the batch's monitors (FOR UPDATE
in id order on PostgreSQL; on SQLite the IMMEDIATE transaction already holds the database's write lock),
re-checks that each job still applies, and, per monitor in slot order, moves the counters and the status
through the pure state machine (healthmon.domain.status); then it inserts the CheckResults (unique per
monitor and slot), writes each monitor's new state once, and, for each Transition, the StateChange and its
AlertOutbox rows (one per destination: checker/outbox.py); for a check that saw the server's certificate,
the certificate facts and a due expiry warning (healthmon.domain.tls) with its TlsWarning and AlertOutbox
rows. While a maintenance window covers the monitor (healthmon.domain.maintenance.alerts_suppressed, decided
once per batch from the cached windows) the StateChange is still written but no AlertOutbox row, and a due
TLS warning waits until the first certificate check after the window. Either all of that commits or none of
it, so a crash can never leave a state change without its alert, and a message delivered twice (SQS is
at-least-once) records once: the second delivery finds the slot taken.

Why batches: one transaction per result spent most of a checker's CPU building SQL and, on PostgreSQL, one
WAL flush per check (bench/scale.py; docs/PERFORMANCE.md). The hot statements are fixed SQL texts run with
executemany (healthmon/sql.py); the rare ones (state changes, alerts) stay ORM calls.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from checker import alerts, outbox
from healthmon import defaults, history, maintenance, sql
from healthmon.db import database, is_postgres, utcnow
from healthmon.domain import conditions, tls
from healthmon.domain.check import CheckSpec, captures
from healthmon.domain.maintenance import alerts_suppressed
from healthmon.domain.request import request_options
from healthmon.domain.status import ANSWERING, DOWN, PAUSED, MonitorState, Transition, next_state
from healthmon.domain.verdict import Verdict
from healthmon.ids import fresh_id
from healthmon.models import StateChange, TlsWarning
from healthmon.queue.base import CheckJob
from healthmon.redact import redact_text
from healthmon.settings import Settings

log = logging.getLogger("healthmon.checker")

MAX_ERROR_CHARS = 500
"""Stored error messages are clipped: they are shown in the API, not used for debugging dumps."""
_URL = re.compile(r"\b(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s?#@]*@)?(?P<host>[^/\s?#@]+)[^\s\"'<>]*")


def safe_text(text: str) -> str:
    """`text` with credentials masked and every URL cut to scheme and host: a URL's path, query and
    userinfo may be tokens. The engine already promises this; stored text is cleaned again regardless."""
    text = _URL.sub(r"\g<scheme>\g<host>", redact_text(text))
    return text[:MAX_ERROR_CHARS]


@dataclass(frozen=True)
class RecordOutcome:
    """What `record_result` did. `recorded` is false when the job was dropped; `reason` says why:
    "recorded", "deleted", "disabled", "paused", "generation", "duplicate", "stale" or "skipped".
    `suppressed`: a transition recorded while a maintenance window covered the monitor (no alert)."""

    recorded: bool
    reason: str
    transition: Transition | None = None
    tls_warning: tls.TlsWarning | None = None
    suppressed: bool = False


def _drop_reason(monitor, job: CheckJob) -> str | None:
    """Why `job` must not be checked or recorded now, or None if it applies. `monitor` is a `_Locked`
    (or None when the monitor is gone)."""
    if monitor is None:
        return "deleted"
    if not monitor.enabled:
        return "disabled"
    if monitor.status == PAUSED:
        return "paused"
    if monitor.generation != job.generation:
        return "generation"
    if monitor.last_slot is not None and monitor.last_slot >= job.slot:
        return "duplicate" if monitor.last_slot == job.slot else "stale"
    return None


_SPEC_COLUMNS = ("id, enabled, generation, last_slot, status, url, timeout, expected_status_code, "
                 "expected_status_codes, assertions, max_response_time_ms, method, headers, body, auth, "
                 "follow_redirects, verify_tls, user_agent, tls_observed_at")


def load_specs(jobs: list[CheckJob], settings: Settings) -> list[CheckSpec | None]:
    """For each job, what to check, or None when its message should be deleted unchecked (monitor deleted
    or disabled, configuration changed since the job was scheduled, or this or a later slot already
    recorded). One query for the whole list; reads without locking: `record_results` checks again under
    the lock. An https check also collects the certificate when tls.observe_due says so."""
    now = utcnow()
    ids = sorted({j.monitor_id for j in jobs})
    rows = {}
    for chunk in sql.chunks(ids):
        for row in sql.query(f"SELECT {_SPEC_COLUMNS} FROM monitors WHERE id IN ({sql.marks(len(chunk))})", chunk):
            rows[row[0]] = row
    out: list[CheckSpec | None] = []
    for job in jobs:
        row = rows.get(job.monitor_id)
        view = None if row is None else _SpecView(bool(row[1]), row[2], sql.as_datetime(row[3]), row[4])
        if _drop_reason(view, job) is not None:
            out.append(None)
            continue
        statuses, assertions = conditions.load_stored(row[8], row[9])
        headers, auth = row[12], row[14]
        request = request_options(row[11], json.loads(headers) if headers else None, row[13],
                                  json.loads(auth) if auth else None, row[15], row[16], row[17])
        out.append(CheckSpec(url=row[5], timeout=float(row[6]), expected_status_code=row[7],
                             max_redirects=defaults.MAX_REDIRECTS, max_body_bytes=settings.max_body_bytes,
                             accepted_statuses=statuses, assertions=assertions, max_response_time_ms=row[10],
                             request=request, observe_tls=tls.observe_due(row[5], sql.as_datetime(row[18]), now),
                             **captures(assertions)))
    return out


def load_spec(job: CheckJob, settings: Settings) -> CheckSpec | None:
    """`load_specs` for one job: its CheckSpec, or None."""
    return load_specs([job], settings)[0]


@dataclass
class _SpecView:
    enabled: bool
    generation: int
    last_slot: dt.datetime | None
    status: str


def _clean_error(verdict: Verdict) -> str | None:
    return safe_text(verdict.error) if verdict.error else None


_STATE_COLUMNS = (
    "id, name, url, enabled, generation, last_slot, status, consecutive_failures, consecutive_successes, "
    "consecutive_slow, consecutive_fast, status_changed_at, fail_threshold, success_threshold, webhook_url, "
    "webhook_format, pending_slot, skipped_slots, last_checked_at, last_status_code, last_latency_ms, last_error"
)

_WRITE_STATE = (
    "UPDATE monitors SET last_checked_at = ?, last_status_code = ?, last_latency_ms = ?, last_error = ?, "
    "last_slot = ?, consecutive_failures = ?, consecutive_successes = ?, consecutive_slow = ?, consecutive_fast = ?, "
    "status = ?, status_changed_at = ?, pending_slot = ?, skipped_slots = ? WHERE id = ?"
)

_RESULT_COLUMNS = ("monitor_id", "slot", "checked_at", "ok", "status_code", "latency_ms", "error_kind", "error",
                   "dns_ms", "connect_ms", "tls_ms", "first_byte_ms")


class _Locked:
    """A monitor's row as read under the lock; the batch moves it in memory and writes it back once."""

    __slots__ = ("id", "name", "url", "enabled", "generation", "last_slot", "status", "failures", "successes",
                 "slow", "fast", "status_changed_at", "fail_threshold", "success_threshold", "webhook_url",
                 "webhook_format", "pending_slot", "skipped_slots", "last_checked_at", "last_status_code",
                 "last_latency_ms", "last_error", "dirty")

    def __init__(self, row: tuple):
        (self.id, self.name, self.url, enabled, self.generation, last_slot, self.status, self.failures,
         self.successes, self.slow, self.fast, changed_at, self.fail_threshold, self.success_threshold,
         self.webhook_url, self.webhook_format, pending, self.skipped_slots, checked_at, self.last_status_code,
         self.last_latency_ms, self.last_error) = row
        self.enabled = bool(enabled)
        self.last_slot = sql.as_datetime(last_slot)
        self.status_changed_at = sql.as_datetime(changed_at)
        self.pending_slot = sql.as_datetime(pending)
        self.last_checked_at = sql.as_datetime(checked_at)
        self.dirty = False

    def settle(self, job: CheckJob) -> None:
        """`job`'s message is done with: if it is the monitor's pending job, the scheduler may enqueue again."""
        if self.pending_slot is not None and self.pending_slot == job.slot:
            self.pending_slot = None
            self.dirty = True

    def state_row(self) -> tuple:
        return (self.last_checked_at, self.last_status_code, self.last_latency_ms, self.last_error, self.last_slot,
                self.failures, self.successes, self.slow, self.fast, self.status, self.status_changed_at,
                self.pending_slot, self.skipped_slots, self.id)


def _lock(ids: list[int]) -> dict[int, _Locked]:
    lock = " ORDER BY id FOR UPDATE" if is_postgres() else ""
    out: dict[int, _Locked] = {}
    for chunk in sql.chunks(ids):
        query = f"SELECT {_STATE_COLUMNS} FROM monitors WHERE id IN ({sql.marks(len(chunk))}){lock}"
        for row in sql.query(query, chunk):
            out[row[0]] = _Locked(row)
    return out


def _apply(m: _Locked, job: CheckJob, verdict: Verdict, error: str | None, settings: Settings,
           now: dt.datetime, fanout: outbox.Fanout, suppressed: bool) -> Transition | None:
    """Move `m` by one verdict (in memory; `error` is the verdict's cleaned error); on a transition insert its
    StateChange and, unless `suppressed` (a maintenance window covers the monitor), one alert per destination
    (the monitor's webhook, its channels)."""
    seen = verdict.observation
    checked_at = seen.checked_at or now
    state = next_state(
        MonitorState(m.status, m.failures, m.successes, m.slow, m.fast), verdict.ok,
        m.fail_threshold or settings.fail_threshold, m.success_threshold or settings.success_threshold,
        slow=verdict.slow,
    )
    from_status = m.status
    m.last_checked_at, m.last_status_code, m.last_latency_ms = checked_at, seen.status_code, seen.latency_ms
    m.last_error, m.last_slot = error, job.slot
    m.failures, m.successes, m.slow, m.fast = state.failures, state.successes, state.slow, state.fast
    m.status, m.dirty = state.status, True
    m.settle(job)
    if state.status == from_status:
        return None
    reason = safe_text(verdict.reason)
    row = StateChange.create(**fresh_id(StateChange), monitor=m.id, from_status=from_status,
                             to_status=state.status, reason=reason, created_at=now)
    destinations = [] if suppressed else fanout.of(m.id, m.webhook_url, m.webhook_format)
    down_for = first_error = None
    if from_status == DOWN and state.status in ANSWERING and m.status_changed_at is not None:
        down_for = max(int((now - m.status_changed_at).total_seconds()), 0)
        escalated = [d for d in outbox.escalated_to(m.id, m.status_changed_at) if d not in destinations]
        destinations = destinations + escalated  # the channel that was told of the incident hears it is over
        if destinations:  # one query per recovery; none when nobody is told
            first_error = safe_text(history.incident_first_error(m.id, m.status_changed_at, "")) or None
    m.status_changed_at = now
    transition = Transition(
        event_id=row.id, monitor_id=m.id, name=m.name, url=m.url, from_status=from_status, to_status=state.status,
        at=now, reason=reason, status_code=seen.status_code, latency_ms=seen.latency_ms,
        down_for_seconds=down_for, first_error=first_error,
    )
    outbox.enqueue(m.id, transition, destinations, now)
    return transition


_TLS_COLUMNS = "id, tls_expiry_days, tls_fingerprint, tls_warned_days, tls_warned_at"
_WRITE_TLS = ("UPDATE monitors SET tls_expires_at = ?, tls_fingerprint = ?, tls_observed_at = ?, tls_warned_days = ?, "
              "tls_warned_at = ? WHERE id = ?")


def _record_tls(monitors: dict[int, _Locked], seen: list[tuple[int, int, dt.datetime, tls.TlsFacts, bool]],
                now: dt.datetime, fanout: outbox.Fanout) -> dict[int, tls.TlsWarning]:
    """Store the certificate facts of the batch's recorded checks (`seen`: item index, monitor id, checked at,
    facts, whether a warning may be sent now: not for a failed TLS verification, nor in maintenance, where it
    waits for the first certificate check after the window; in slot order) and insert the warnings due.
    Returns them by item index. Rare (a monitor's certificate is collected at most once per
    tls.OBSERVE_INTERVAL), so it runs its own statements and leaves the hot ones alone; the monitors are
    already locked."""
    if not seen:
        return {}
    ids = sorted({monitor_id for _, monitor_id, _, _, _ in seen})
    state: dict[int, list] = {}
    for chunk in sql.chunks(ids):
        for row in sql.query(f"SELECT {_TLS_COLUMNS} FROM monitors WHERE id IN ({sql.marks(len(chunk))})", chunk):
            state[row[0]] = [row[1], row[2], row[3], sql.as_datetime(row[4])]
    out: dict[int, tls.TlsWarning] = {}
    writes: dict[int, tuple] = {}
    for index, monitor_id, checked_at, facts, may_warn in seen:
        expiry_days, fingerprint, warned_days, warned_at = state[monitor_id]
        if facts.fingerprint_sha256 != fingerprint:  # another certificate: what was warned for it, if ever
            fingerprint = facts.fingerprint_sha256
            first = (TlsWarning.select(TlsWarning.threshold_days, TlsWarning.created_at)
                     .where((TlsWarning.monitor == monitor_id) & (TlsWarning.fingerprint == fingerprint))
                     .order_by(TlsWarning.threshold_days).tuples().first())
            warned_days, warned_at = first if first else (None, None)
        warned = {} if warned_days is None else {fingerprint: warned_days}
        level = tls.warning_due(tls.days_left(facts.expires_at, checked_at), fingerprint, warned, expiry_days)
        if level is not None and may_warn:
            m = monitors[monitor_id]
            row = TlsWarning.create(monitor=monitor_id, fingerprint=fingerprint, threshold_days=level,
                                    expires_at=facts.expires_at, created_at=now)
            warning = tls.TlsWarning(warning_id=row.id, monitor_id=monitor_id, name=m.name, url=m.url,
                                     expires_at=facts.expires_at, fingerprint_sha256=fingerprint,
                                     threshold_days=level, at=now)
            outbox.enqueue(monitor_id, warning, fanout.of(monitor_id, m.webhook_url, m.webhook_format), now)
            warned_days, warned_at = level, now
            out[index] = warning
        state[monitor_id] = [expiry_days, fingerprint, warned_days, warned_at]
        writes[monitor_id] = (facts.expires_at, fingerprint, checked_at, warned_days, warned_at, monitor_id)
    sql.execute_many(_WRITE_TLS, list(writes.values()))
    return out


SKIPPED = None
"""The verdict of a job that was not checked because it came too late (see `record_results`)."""


def record_results(items: list[tuple[CheckJob, Verdict | None]], settings: Settings,
                   also: Callable[[], None] | None = None) -> list[RecordOutcome]:
    """Record a batch in one transaction; idempotent per (monitor, slot). Returns one outcome per item,
    in order.

    An item whose verdict is SKIPPED (None) was received too late to be worth checking: it records no
    result, counts one skipped slot on its monitor and frees the monitor's pending job.
    `also`, if given, runs inside the same transaction after the writes (the database queue deletes the
    batch's messages there, so a result and its message's deletion commit together).

    Side effects on commit: a CheckResult row per recorded item; each monitor's last_* fields, last_slot,
    counters, status and pending job; per transition a StateChange row and one AlertOutbox row per destination
    (the monitor's webhook_url, its channels: checker/outbox.py; none while a maintenance window covers the
    monitor); per check that saw the certificate, the monitor's tls_* facts and, when a warning is due
    (tls.warning_due; never for a check whose TLS verification failed: its error already fails it; in
    maintenance not yet), a TlsWarning row and its AlertOutbox rows, one per destination; then the log lines
    `[STATE CHANGE] monitor=N OLD -> NEW` and `[TLS WARNING] monitor=N ...`. Raises only on database errors,
    and then nothing is written (the caller leaves the messages on the queue).
    """
    now = utcnow()
    outcomes: list[RecordOutcome | None] = [None] * len(items)
    transitions: list[tuple[Transition, bool]] = []
    certificates: list[tuple[int, int, dt.datetime, tls.TlsFacts, bool]] = []
    order = sorted(range(len(items)), key=lambda i: (items[i][0].monitor_id, items[i][0].slot))
    in_maintenance = maintenance.active_now(now)  # once per batch, from cached rules: no query per result
    with database.atomic():
        monitors = _lock(sorted({job.monitor_id for job, _ in items}))
        fanout = outbox.Fanout(list(monitors))
        results: list[tuple] = []
        for i in order:
            job, verdict = items[i]
            m = monitors.get(job.monitor_id)
            reason = _drop_reason(m, job)
            if verdict is SKIPPED:
                if m is not None:
                    m.settle(job)
                    if reason is None:  # a moot job (monitor disabled, edited, slot recorded) misses nothing
                        m.skipped_slots, m.dirty = m.skipped_slots + 1, True
                outcomes[i] = RecordOutcome(False, "skipped")
                continue
            if reason is not None:
                if m is not None:
                    m.settle(job)
                outcomes[i] = RecordOutcome(False, reason)
                continue
            error = _clean_error(verdict)
            seen = verdict.observation
            results.append((m.id, job.slot, seen.checked_at or now, verdict.ok, seen.status_code,
                            seen.latency_ms, verdict.error_kind, error, seen.dns_ms,
                            seen.connect_ms, seen.tls_ms, seen.first_byte_ms))
            suppressed = alerts_suppressed(in_maintenance, m.id)
            transition = _apply(m, job, verdict, error, settings, now, fanout, suppressed)
            if transition is not None:
                transitions.append((transition, suppressed))
            if seen.tls is not None:
                may_warn = seen.error_kind != "tls" and not suppressed
                certificates.append((i, m.id, seen.checked_at or now, seen.tls, may_warn))
            outcomes[i] = RecordOutcome(True, "recorded", transition, suppressed=suppressed and transition is not None)
        warnings = _record_tls(monitors, certificates, now, fanout)
        for i, warning in warnings.items():
            outcomes[i] = RecordOutcome(True, "recorded", outcomes[i].transition, warning, outcomes[i].suppressed)
        sql.insert_rows("check_results", _RESULT_COLUMNS, results, ignore_conflicts=True)
        sql.execute_many(_WRITE_STATE, [m.state_row() for m in monitors.values() if m.dirty])
        if also is not None:
            also()
    for t, quiet in transitions:
        log.info("[STATE CHANGE] monitor=%d %s -> %s%s", t.monitor_id, t.from_status, t.to_status,
                 " (in maintenance: no alert)" if quiet else "")
    for w in warnings.values():
        log.info("[TLS WARNING] monitor=%d certificate %s... expires %s, within %d day(s)", w.monitor_id,
                 w.fingerprint_sha256[:tls.FINGERPRINT_SHOWN], alerts.format_time(w.expires_at), w.threshold_days)
    return outcomes  # type: ignore[return-value]


def record_result(job: CheckJob, verdict: Verdict, settings: Settings) -> RecordOutcome:
    """`record_results` for one verdict."""
    return record_results([(job, verdict)], settings)[0]
