"""peewee models: persistence only, no behaviour beyond small derived properties.

All timestamps are naive UTC (`healthmon.db.utcnow`). Table names are explicit because the
reference deployment guide names the `monitors` table.
"""

from __future__ import annotations

import json

import peewee as pw

from healthmon import sql
from healthmon.db import database, utcnow
from healthmon.domain.status import PAUSED
from healthmon.domain.tls import DEFAULT_EXPIRY_DAYS, whole_days_left


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class JsonField(pw.TextField):
    """A JSON value in a text column (the same on SQLite and PostgreSQL), as compact ASCII JSON (non-ASCII
    escaped, so a lone surrogate from a JSON request is stored as its escape, never as text PostgreSQL would
    refuse). An empty value is stored as NULL and read back as `empty()` ({} or None), so an edit that sends
    the empty value changes nothing. The checker's hot path reads the text itself."""

    def __init__(self, *args, empty=lambda: None, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty = empty

    def db_value(self, value):
        return json.dumps(value, separators=(",", ":")) if value else None

    def python_value(self, value):
        return self.empty() if value is None else json.loads(value)


class DefaultedField:
    """A column added to existing rows later: NULL (a row written by an older version) reads as the default."""

    def python_value(self, value):
        return self.default if value is None else super().python_value(value)


class DefaultedCharField(DefaultedField, pw.CharField):
    pass


class DefaultedBooleanField(DefaultedField, pw.BooleanField):
    pass


class Monitor(BaseModel):
    """A registered HTTP(S) endpoint, its configuration and its current state."""

    name = pw.CharField(max_length=200)
    url = pw.TextField()
    check_interval = pw.IntegerField()
    timeout = pw.IntegerField()
    expected_status_code = pw.IntegerField(default=200)
    # JSON lists in their normalised API form (healthmon.domain.conditions): accepted status codes and ranges
    # (None: expected_status_code decides) and assertions on the body, a JSON value or a header (None: none).
    expected_status_codes = JsonField(null=True)
    assertions = JsonField(null=True)
    max_response_time_ms = pw.IntegerField(null=True)  # slower passed checks make the monitor DEGRADED
    webhook_url = pw.TextField(null=True)
    webhook_format = pw.CharField(max_length=8, null=True)  # None: chosen by host; "slack" or "json"
    enabled = pw.BooleanField(default=True)
    fail_threshold = pw.IntegerField(null=True)  # None: FAIL_THRESHOLD from the environment
    success_threshold = pw.IntegerField(null=True)  # None: SUCCESS_THRESHOLD from the environment
    # Request options (healthmon.domain.request; migration 5). `auth` and the values of secret headers are
    # write-only: the API masks them.
    method = DefaultedCharField(max_length=8, null=True, default="GET")
    headers = JsonField(null=True, empty=dict)  # {name: value}, in the order given
    body = pw.TextField(null=True)
    auth = JsonField(null=True)  # {"type": "basic", "username", "password"} or {"type": "bearer", "token"}
    follow_redirects = DefaultedBooleanField(null=True, default=True)
    verify_tls = DefaultedBooleanField(null=True, default=True)
    user_agent = pw.CharField(max_length=256, null=True)  # None: healthmon/<version>
    # The stable name a config file gives the monitor (healthmon.domain.tags; migration 10). Unique; NULL
    # (no key) may repeat on both engines.
    key = pw.CharField(max_length=100, null=True, unique=True)

    status = pw.CharField(max_length=8, default="UNKNOWN")
    consecutive_failures = pw.IntegerField(default=0)
    consecutive_successes = pw.IntegerField(default=0)
    consecutive_slow = pw.IntegerField(default=0)  # among the passed checks, the current run of slow ones
    consecutive_fast = pw.IntegerField(default=0)  # ... or of fast ones
    status_changed_at = pw.DateTimeField(null=True)
    last_checked_at = pw.DateTimeField(null=True)
    last_status_code = pw.IntegerField(null=True)
    last_latency_ms = pw.FloatField(null=True)
    last_error = pw.TextField(null=True)
    # The slot (scheduled time) of the newest recorded result. A message for a slot at or before it is a
    # duplicate or arrived out of order, and is dropped.
    last_slot = pw.DateTimeField(null=True)
    # Bumped when the url or expectation changes; a result computed for an older generation is dropped.
    generation = pw.IntegerField(default=1)
    next_check_at = pw.DateTimeField(null=True)
    # Backpressure: the slot of the job the scheduler enqueued and no checker has recorded or dropped yet.
    # While it is set the scheduler enqueues nothing more for this monitor (one pending job at most) and
    # counts each slot it passes over in `skipped_slots` instead.
    pending_slot = pw.DateTimeField(null=True)
    skipped_slots = pw.IntegerField(default=0)
    last_alert_error = pw.TextField(null=True)
    # TLS certificate expiry (healthmon.domain.tls): warn this many days before (None: never), and the leaf
    # certificate last seen (https only; collected at most hourly), with the lowest threshold already warned
    # for that certificate and when.
    tls_expiry_days = pw.IntegerField(null=True, default=DEFAULT_EXPIRY_DAYS)
    tls_expires_at = pw.DateTimeField(null=True)
    tls_fingerprint = pw.CharField(max_length=64, null=True)
    tls_observed_at = pw.DateTimeField(null=True)
    tls_warned_days = pw.IntegerField(null=True)
    tls_warned_at = pw.DateTimeField(null=True)
    # While DOWN (healthmon.domain.reminders; migration 11): a reminder every `reminder_minutes` (None: never),
    # and after `escalation_minutes` one alert to the channel `escalation_channel_id` (None: no escalation).
    # A plain id, not a foreign key (SQLite cannot add one to an existing table): deleting the channel clears
    # it (webapp/channel_service.py).
    reminder_minutes = pw.IntegerField(null=True)
    escalation_minutes = pw.IntegerField(null=True)
    escalation_channel_id = pw.IntegerField(null=True)

    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "monitors"
        indexes = ((("enabled", "next_check_at"), False),)

    @property
    def tags(self) -> list[str]:
        """The monitor's tags in their order (rows of MonitorTag). Read once and cached on the instance;
        webapp.service.attach_tags fills the cache of a whole page in one query. Setting it only sets the
        cache: the service writes the rows in the same transaction."""
        cached = self.__dict__.get("_tags")
        if cached is None:
            cached = [t for (t,) in MonitorTag.select(MonitorTag.tag).where(MonitorTag.monitor == self.id)
                      .order_by(MonitorTag.position).tuples()] if self.id is not None else []
            self.__dict__["_tags"] = cached
        return cached

    @tags.setter
    def tags(self, value: list[str]) -> None:
        self.__dict__["_tags"] = list(value)

    @property
    def channel_ids(self) -> list[int]:
        """The linked channels' ids, ascending. A list view preloads them for a page in one query
        (`preload_channel_ids`); otherwise this reads them."""
        ids = getattr(self, "_channel_ids", None)
        if ids is None:
            ids = self._channel_ids = [link.channel_id for link in MonitorChannel.select(MonitorChannel.channel)
                                       .where(MonitorChannel.monitor == self.id).order_by(MonitorChannel.channel)]
        return ids

    @property
    def paused(self) -> bool:
        return self.status == PAUSED

    @property
    def maintenance(self) -> dict | None:
        """The maintenance occurrence covering the monitor now, as the API shows it, or None."""
        from healthmon.maintenance import shown_now  # the rules cache reads this module's tables

        occurrence = shown_now(self.id)
        return None if occurrence is None else {"id": occurrence.window_id, "name": occurrence.name,
                                                "starts_at": occurrence.start, "ends_at": occurrence.end}

    @property
    def tls(self) -> dict | None:
        """The certificate facts as the API shows them (None before an https check saw a certificate)."""
        if self.tls_expires_at is None or self.tls_fingerprint is None:
            return None
        return {"expires_at": self.tls_expires_at, "days_left": whole_days_left(self.tls_expires_at, utcnow()),
                "fingerprint_sha256": self.tls_fingerprint, "observed_at": self.tls_observed_at,
                "warned_days": self.tls_warned_days, "warned_at": self.tls_warned_at}


class MonitorTag(BaseModel):
    """One tag of a monitor (migration 10), `position` keeping the order given.

    A table rather than a JSON column on monitors: "monitors tagged prod and eu" is then two probes of the
    (tag, monitor) index, the same plan on PostgreSQL and SQLite, at 10,000 monitors or 1,000,000, where a
    JSON column needs a LIKE scan of every row (or PostgreSQL-only jsonb operators). The primary key
    (monitor, tag) reads a monitor's tags and forbids a duplicate; rows go with their monitor (cascade).
    """

    monitor = pw.ForeignKeyField(Monitor, backref="tag_rows", on_delete="CASCADE")
    tag = pw.CharField(max_length=50)
    position = pw.SmallIntegerField()

    class Meta:
        table_name = "monitor_tags"
        primary_key = pw.CompositeKey("monitor", "tag")
        indexes = ((("tag", "monitor"), False),)


class CheckResult(BaseModel):
    """One performed check. Unique per (monitor, slot): a duplicate delivery records nothing."""

    monitor = pw.ForeignKeyField(Monitor, backref="results", on_delete="CASCADE")
    slot = pw.DateTimeField()
    checked_at = pw.DateTimeField(default=utcnow)
    ok = pw.BooleanField()
    status_code = pw.IntegerField(null=True)
    latency_ms = pw.FloatField(null=True)
    error_kind = pw.CharField(max_length=32, null=True)
    error = pw.TextField(null=True)
    dns_ms = pw.FloatField(null=True)
    connect_ms = pw.FloatField(null=True)
    tls_ms = pw.FloatField(null=True)
    first_byte_ms = pw.FloatField(null=True)

    class Meta:
        table_name = "check_results"
        indexes = ((("monitor", "slot"), True), (("checked_at",), False))


class StateChange(BaseModel):
    """A transition of a monitor's status (the event log). Written with the state it records."""

    monitor = pw.ForeignKeyField(Monitor, backref="state_changes", on_delete="CASCADE")
    from_status = pw.CharField(max_length=8)
    to_status = pw.CharField(max_length=8)
    reason = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "state_changes"
        indexes = ((("monitor", "created_at"), False),)


class AlertOutbox(BaseModel):
    """An alert to deliver to one destination, written in the same transaction as its event
    (checker/outbox.py `enqueue` is the only writer).

    No foreign keys: deleting a monitor or a channel must not cancel an alert about something that happened.
    Unique per (event_id, channel_id), so one event can never produce two alerts to one destination:
    - `event_id`: a StateChange id (positive), minus a TlsWarning id for a certificate expiry warning
      (-1 .. -(2**31 - 1)), minus (2**31 + a MaintenanceReport id) for an end-of-maintenance report (a
      64-bit column since migration 9);
    - `channel_id`: the Channel the alert goes to, or 0 (MONITOR_WEBHOOK) for the monitor's own
      `webhook_url`. Not NULL for that: NULLs are distinct in a UNIQUE index on PostgreSQL and SQLite, so a
      NULL would let the same event reach the monitor's webhook twice. Channel ids start at 1 and are never
      reused (NeverReusedAutoField), so a row never meets another channel than the one it was written for.
    `destination` is the key of the per-destination order and rate rule (checker/delivery.py): the
    monitor's webhook URL for channel 0 rows (as before channels existed), `channel:<id>` for a channel.
    A channel row stores no address or secret: `webhook_url` is '' and the sender reads the channel's
    address and secrets when it sends; `webhook_format` is the channel type the payload was rendered for.
    """

    event_id = pw.BigIntegerField()
    channel_id = pw.IntegerField(default=0)
    monitor_id = pw.IntegerField()
    destination = pw.TextField()
    webhook_url = pw.TextField(default="")
    webhook_format = pw.CharField(max_length=16)  # slack or json (channel 0), else the channel's type
    payload = pw.TextField()  # the body as rendered at record time
    state = pw.CharField(max_length=8, default="pending")  # pending, sent, failed
    attempts = pw.IntegerField(default=0)  # every claim, whatever its answer
    rate_limited = pw.IntegerField(default=0)  # how many of those were answered 429 (their own, larger cap)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    attempted_at = pw.DateTimeField(null=True)  # start of the latest attempt: the per-destination rate rule reads it
    locked_until = pw.DateTimeField(null=True)
    last_error = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "alert_outbox"
        indexes = (
            (("event_id", "channel_id"), True),
            (("state", "next_attempt_at"), False),
            # The sender's per-destination order and rate checks (checker/delivery.py) probe this for every
            # candidate; without it a claim scans the whole history (~0.6 s at 200k rows on SQLite). The rate
            # check asks `state IN (all states) AND attempted_at > ?`: one range probe per state.
            (("destination", "state", "attempted_at"), False),
        )


class NeverReusedAutoField(pw.AutoField):
    """An id no later row gets again, even after the row is deleted: PostgreSQL's sequence never reuses one,
    and on SQLite AUTOINCREMENT stops the default reuse of the largest rowid. For ids other tables keep after
    the row is gone (an outbox event id). Only for tables created with it: an existing SQLite table cannot gain
    AUTOINCREMENT without a rebuild, so monitors and state_changes get the same guarantee from
    healthmon.ids.fresh_ids instead."""

    def ddl(self, ctx):
        node = super().ddl(ctx)
        if isinstance(self.model._meta.database.obj, pw.SqliteDatabase):
            return pw.NodeList((node, pw.SQL("AUTOINCREMENT")))
        return node


class TlsWarning(BaseModel):
    """A certificate expiry warning (healthmon.domain.tls): one per monitor, certificate and threshold.

    Written with its AlertOutbox row, whose event_id is minus this id (state changes have positive ones).
    """

    id = NeverReusedAutoField()
    monitor = pw.ForeignKeyField(Monitor, backref="tls_warnings", on_delete="CASCADE")
    fingerprint = pw.CharField(max_length=64)
    threshold_days = pw.IntegerField()
    expires_at = pw.DateTimeField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "tls_warnings"
        indexes = ((("monitor", "fingerprint", "threshold_days"), True),)


CHANNEL_TYPES = ("slack", "webhook", "discord", "teams", "pagerduty", "email")
"""Where a channel sends alerts (webapp/channel_config.py validates each type's config, checker/channels.py
renders and sends)."""


class Channel(BaseModel):
    """A named alert destination that monitors link to (MonitorChannel). `config` is type-specific JSON and
    holds its secrets (webhook URLs, keys, passwords): the API never shows them (webapp/channel_config.py)."""

    id = NeverReusedAutoField()
    name = pw.CharField(max_length=100, unique=True)
    type = pw.CharField(max_length=16)
    config = JsonField(null=True, empty=dict)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "channels"


class MonitorChannel(BaseModel):
    """A monitor sends its alerts to this channel too. Deleting either side deletes the link."""

    monitor = pw.ForeignKeyField(Monitor, backref="channel_links", on_delete="CASCADE")
    channel = pw.ForeignKeyField(Channel, backref="monitor_links", on_delete="CASCADE")

    class Meta:
        table_name = "monitor_channels"
        primary_key = pw.CompositeKey("monitor", "channel")


class DownNotice(BaseModel):
    """A reminder or an escalation sent about one incident (healthmon.domain.reminders): unique per (monitor,
    incident start, kind, number), and written in the transaction of its outbox rows, whose event_id is
    checker.outbox.notice_event_id(id). Two schedulers, or a step repeated after a crash, cannot send one
    twice. A recovery reads it to know the incident was escalated."""

    id = NeverReusedAutoField()
    monitor = pw.ForeignKeyField(Monitor, backref="down_notices", on_delete="CASCADE")
    incident_at = pw.DateTimeField()  # the monitor's status_changed_at when it went DOWN
    kind = pw.CharField(max_length=16)  # reminder, escalation
    number = pw.IntegerField()  # reminder n (n periods into the incident); 0 for the escalation
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "down_notices"
        indexes = ((("monitor", "incident_at", "kind", "number"), True),)


class QueueMessage(BaseModel):
    """The embedded queue backend: SQS semantics (visibility timeout, receive count, dead letter)."""

    queue = pw.CharField(max_length=64, default="checks")
    body = pw.TextField()
    visible_at = pw.DateTimeField(default=utcnow)
    receive_count = pw.IntegerField(default=0)
    receipt = pw.CharField(max_length=64, null=True)
    created_at = pw.DateTimeField(default=utcnow)
    dead_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "queue_messages"
        indexes = ((("queue", "dead_at", "visible_at"), False),)


class ApiKey(BaseModel):
    """An API key. Only its SHA-256 is stored; the prefix finds the row, the hash proves the key."""

    name = pw.CharField(max_length=100)
    prefix = pw.CharField(max_length=16, index=True)
    key_hash = pw.CharField(max_length=64, unique=True)
    read_only = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)
    revoked_at = pw.DateTimeField(null=True)
    last_used_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "api_keys"


LATENCY_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
"""Upper bounds (inclusive, ms) of the rollups' latency histogram; an 11th bucket holds the rest. Fixed, so
two rollups merge by adding their counts, and percentiles are read from the cumulative counts."""

HISTOGRAM_COLUMNS = tuple(f"le_{ms}" for ms in LATENCY_BUCKETS_MS) + ("le_inf",)


class Rollup(BaseModel):
    """Aggregated check results of one monitor over one hour (`period` "h") or one UTC day ("d"); "a" is
    the all-time remainder of pruned daily rows (only its counts are read: the checks counters of /metrics).

    Every column adds up, so a merge of two rollups of the same bucket is a plain sum (min/max aside).
    Latency figures count successful checks only: a timed-out check's latency is its timeout.
    """

    monitor = pw.ForeignKeyField(Monitor, backref="rollups", on_delete="CASCADE")
    period = pw.CharField(max_length=1)
    bucket = pw.DateTimeField()  # start of the hour or day, naive UTC
    checks = pw.IntegerField(default=0)
    failures = pw.IntegerField(default=0)
    latency_sum = pw.DoubleField(default=0)  # a year of sums: float4 (peewee's FloatField on PostgreSQL) drifts
    latency_count = pw.IntegerField(default=0)
    latency_min = pw.FloatField(null=True)
    latency_max = pw.FloatField(null=True)

    class Meta:
        table_name = "rollups"
        indexes = ((("monitor", "period", "bucket"), True), (("period", "bucket"), False))


for _column in HISTOGRAM_COLUMNS:
    Rollup._meta.add_field(_column, pw.IntegerField(default=0))


class Job(BaseModel):
    """A background job that one process at a time runs: claimed by a conditional UPDATE of its lease, so
    two schedulers never run it at once; `watermark` is how far it got (rollups: results before it are in)."""

    name = pw.CharField(max_length=32, primary_key=True)
    lease_until = pw.DateTimeField(null=True)
    owner = pw.CharField(max_length=64, null=True)
    watermark = pw.DateTimeField(null=True)

    class Meta:
        table_name = "jobs"


class IdHighWater(BaseModel):
    """The highest id ever given to a row of `table` (SQLite only). SQLite gives a new row the highest id in
    the table + 1, so deleting the newest monitor made the next one get its id back: stale links, scripts
    and queued jobs for the deleted monitor then pointed at a different one. PostgreSQL's sequence never
    reuses an id and needs no row here."""

    table = pw.CharField(max_length=32, primary_key=True)
    value = pw.BigIntegerField()

    class Meta:
        table_name = "id_high_water"


class MaintenanceWindow(BaseModel):
    """A maintenance window (healthmon.domain.maintenance): while it is on, the monitors it covers are checked
    and recorded as usual but send no alert; when it ends, what changed is reported once per monitor.

    Which monitors: `all_monitors`, else the ids in `monitor_ids` (a JSON list; a deleted monitor's id stays
    and covers nothing). When: `starts_at`/`ends_at` (naive UTC) for a one-off window, else `recurrence` (the
    API's JSON object) read in `timezone` (an IANA name)."""

    id = NeverReusedAutoField()
    name = pw.CharField(max_length=200)
    all_monitors = pw.BooleanField(default=False)
    monitor_ids = JsonField(null=True, empty=list)
    starts_at = pw.DateTimeField(null=True)
    ends_at = pw.DateTimeField(null=True)
    recurrence = JsonField(null=True)
    timezone = pw.CharField(max_length=64, default="UTC")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "maintenance_windows"


class MaintenanceReport(BaseModel):
    """The end-of-window report for one monitor and one occurrence of a window: the claim that makes it
    exactly once (unique per window, occurrence start and monitor), written in the same transaction as its
    AlertOutbox row (event_id minus (2**31 + id)). No foreign keys: like the outbox, a report outlives a
    deleted window or monitor."""

    id = NeverReusedAutoField()
    window_id = pw.IntegerField()
    occurrence_start = pw.DateTimeField()
    monitor_id = pw.IntegerField()
    from_status = pw.CharField(max_length=8)
    to_status = pw.CharField(max_length=8)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "maintenance_reports"
        indexes = ((("window_id", "occurrence_start", "monitor_id"), True),)


class SchemaMigration(BaseModel):
    version = pw.IntegerField(primary_key=True)
    applied_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "schema_migrations"


def preload_channel_ids(monitors: list[Monitor]) -> list[Monitor]:
    """Set `channel_ids` of every monitor in `monitors` with one query (per 500 ids); returns them."""
    links: dict[int, list[int]] = {m.id: [] for m in monitors}
    ids = sorted(links)
    for chunk in sql.chunks(ids):
        query = (MonitorChannel.select(MonitorChannel.monitor, MonitorChannel.channel)
                 .where(MonitorChannel.monitor.in_(chunk)).order_by(MonitorChannel.channel).tuples())
        for monitor_id, channel_id in query:
            links[monitor_id].append(channel_id)
    for m in monitors:
        m._channel_ids = links[m.id]
    return monitors


MODELS = (Monitor, CheckResult, StateChange, AlertOutbox, QueueMessage, ApiKey, Rollup, Job, TlsWarning,
          IdHighWater, Channel, MonitorChannel, MonitorTag, MaintenanceWindow, MaintenanceReport,
          DownNotice)
"""Every application table, in creation order (SchemaMigration is managed by migrations.py)."""
