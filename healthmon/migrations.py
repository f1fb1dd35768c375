"""Schema creation and upgrades, idempotent and safe to run from several processes at once.

`init_db()` applies every migration newer than the database's recorded version, each in its own
transaction, and records it in `schema_migrations`. Migrations after the first only add (columns,
tables, indexes) and keep existing rows. Running it twice, or from two db-init tasks at once, is a no-op
the second time: PostgreSQL serialises on an advisory lock, SQLite on its IMMEDIATE write lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

from healthmon.db import database, is_postgres
from healthmon.domain.tls import DEFAULT_EXPIRY_DAYS
from healthmon.models import MODELS, SchemaMigration

log = logging.getLogger("healthmon.db")

MIGRATION_LOCK_ID = 0x6865616C  # "heal": pg_advisory_xact_lock key shared by every db-init


def _v1_initial(db: pw.Database) -> None:
    db.create_tables(MODELS, safe=True)


def add_column_if_missing(db: pw.Database, table: str, column: str, field: pw.Field) -> None:
    """Add a column unless it exists: later migrations use this so a re-run never fails."""
    if column in {c.name for c in db.get_columns(table)}:
        return
    migrator = PostgresqlMigrator(db) if is_postgres() else SqliteMigrator(db)
    migrate(migrator.add_column(table, column, field))


def _v2_backpressure(db: pw.Database) -> None:
    add_column_if_missing(db, "monitors", "pending_slot", pw.DateTimeField(null=True))
    add_column_if_missing(db, "monitors", "skipped_slots", pw.IntegerField(default=0))


def _v3_rollups(db: pw.Database) -> None:
    from healthmon.models import Job, Rollup

    db.create_tables([Rollup, Job], safe=True)


def _v4_conditions(db: pw.Database) -> None:
    add_column_if_missing(db, "monitors", "expected_status_codes", pw.TextField(null=True))
    add_column_if_missing(db, "monitors", "assertions", pw.TextField(null=True))
    add_column_if_missing(db, "monitors", "max_response_time_ms", pw.IntegerField(null=True))
    add_column_if_missing(db, "monitors", "consecutive_slow", pw.IntegerField(default=0))
    add_column_if_missing(db, "monitors", "consecutive_fast", pw.IntegerField(default=0))


def _v5_request_options(db: pw.Database) -> None:
    from healthmon.models import Monitor

    columns = {"method": pw.CharField(max_length=8, null=True), "headers": pw.TextField(null=True),
               "body": pw.TextField(null=True), "auth": pw.TextField(null=True),
               "follow_redirects": pw.BooleanField(null=True), "verify_tls": pw.BooleanField(null=True),
               "user_agent": pw.CharField(max_length=256, null=True)}
    for name, field in columns.items():
        add_column_if_missing(db, "monitors", name, field)
    # Existing monitors keep doing what they did: a GET that follows redirects and verifies TLS.
    Monitor.update(method="GET", follow_redirects=True, verify_tls=True).where(Monitor.method.is_null()).execute()


def _v6_tls_expiry(db: pw.Database) -> None:
    from healthmon.models import TlsWarning

    if "tls_expiry_days" not in {c.name for c in db.get_columns("monitors")}:
        add_column_if_missing(db, "monitors", "tls_expiry_days", pw.IntegerField(null=True))
        # Existing monitors get the default a new one gets.
        db.execute_sql(f"UPDATE monitors SET tls_expiry_days = {int(DEFAULT_EXPIRY_DAYS)}")
    add_column_if_missing(db, "monitors", "tls_expires_at", pw.DateTimeField(null=True))
    add_column_if_missing(db, "monitors", "tls_fingerprint", pw.CharField(max_length=64, null=True))
    add_column_if_missing(db, "monitors", "tls_observed_at", pw.DateTimeField(null=True))
    add_column_if_missing(db, "monitors", "tls_warned_days", pw.IntegerField(null=True))
    add_column_if_missing(db, "monitors", "tls_warned_at", pw.DateTimeField(null=True))
    db.create_tables([TlsWarning], safe=True)


def _v7_id_high_water(db: pw.Database) -> None:
    from healthmon.models import IdHighWater

    db.create_tables([IdHighWater], safe=True)


def _v8_channels(db: pw.Database) -> None:
    """Channels and their links to monitors; the outbox keyed per (event, destination)."""
    from healthmon.models import AlertOutbox, Channel, MonitorChannel

    db.create_tables([Channel, MonitorChannel], safe=True)
    add_column_if_missing(db, "alert_outbox", "channel_id", pw.IntegerField(default=0))
    if "destination" not in {c.name for c in db.get_columns("alert_outbox")}:
        # Nullable here (SQLite cannot add NOT NULL without a rebuild); every row has one from now on.
        add_column_if_missing(db, "alert_outbox", "destination", pw.TextField(null=True))
        db.execute_sql("UPDATE alert_outbox SET destination = webhook_url")
    if is_postgres():  # "pagerduty" is 9 characters; SQLite does not enforce the length
        db.execute_sql("ALTER TABLE alert_outbox ALTER COLUMN webhook_format TYPE VARCHAR(16)")
    # One alert per (event, destination) instead of one per event; the order and rate rule keys on the
    # destination instead of the webhook URL.
    db.execute_sql('DROP INDEX IF EXISTS "alert_outbox_event_id"')
    db.execute_sql('DROP INDEX IF EXISTS "alert_outbox_webhook_url_state_attempted_at"')
    AlertOutbox._schema.create_indexes(safe=True)


def _v9_maintenance(db: pw.Database) -> None:
    from healthmon.models import MaintenanceReport, MaintenanceWindow

    db.create_tables([MaintenanceWindow, MaintenanceReport], safe=True)
    if is_postgres():
        # End-of-maintenance reports take outbox event ids below -(2**31) (healthmon.models.AlertOutbox).
        # SQLite's INTEGER is already 64-bit. A paused monitor needs no column: its status is PAUSED.
        db.execute_sql("ALTER TABLE alert_outbox ALTER COLUMN event_id TYPE BIGINT")


def _v10_tags_and_keys(db: pw.Database) -> None:
    from healthmon.models import MonitorTag

    add_column_if_missing(db, "monitors", "key", pw.CharField(max_length=100, null=True))
    # The name peewee gives the unique index of Monitor.key, so a database created at v1 and one upgraded
    # here have the same schema.
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS "monitors_key" ON "monitors" ("key")')
    db.create_tables([MonitorTag], safe=True)


def _v11_reminders(db: pw.Database) -> None:
    """Reminders and escalation while DOWN: three monitor columns and the notices sent."""
    from healthmon.models import DownNotice

    for column in ("reminder_minutes", "escalation_minutes", "escalation_channel_id"):
        add_column_if_missing(db, "monitors", column, pw.IntegerField(null=True))
    db.create_tables([DownNotice], safe=True)


MIGRATIONS: list[tuple[int, str, Callable[[pw.Database], None]]] = [
    (1, "initial schema", _v1_initial),
    (2, "monitors.pending_slot and skipped_slots (scheduler backpressure)", _v2_backpressure),
    (3, "rollups (hourly and daily aggregates) and jobs (leases and watermarks of background jobs)", _v3_rollups),
    (4, "monitors: accepted status ranges, assertions, max_response_time_ms and the slow/fast counters (DEGRADED)",
     _v4_conditions),
    (5, "monitors request options: method, headers, body, auth, follow_redirects, verify_tls, user_agent",
     _v5_request_options),
    (6, "monitors: tls_expiry_days and the certificate last seen; tls_warnings (certificate expiry warnings)",
     _v6_tls_expiry),
    (7, "id_high_water: SQLite never gives the id of a deleted monitor or state change again", _v7_id_high_water),
    (8, "channels and monitor_channels; alert_outbox.channel_id and destination, unique per (event, channel)",
     _v8_channels),
    (9, "maintenance_windows and maintenance_reports; alert_outbox.event_id 64-bit (pause needs no column)",
     _v9_maintenance),
    (10, "monitors.key (unique) and monitor_tags (tags, indexed by tag)", _v10_tags_and_keys),
    (11, "monitors: reminder_minutes, escalation_minutes, escalation_channel_id; down_notices", _v11_reminders),
]
"""(version, description, function). Append only; never edit a released migration."""


def current_version() -> int:
    if not database.table_exists(SchemaMigration._meta.table_name):
        return 0
    row = SchemaMigration.select(pw.fn.MAX(SchemaMigration.version)).scalar()
    return int(row or 0)


def init_db() -> list[int]:
    """Create or upgrade the schema. Returns the versions applied by this call (empty if up to date)."""
    db = database.obj
    applied: list[int] = []
    with db.connection_context():
        for version, description, fn in MIGRATIONS:
            with db.atomic():
                if is_postgres():
                    # Concurrent CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL; the lock
                    # makes a second db-init wait and then find everything done.
                    db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
                db.create_tables([SchemaMigration], safe=True)
                if SchemaMigration.select().where(SchemaMigration.version == version).exists():
                    continue
                fn(db)
                SchemaMigration.create(version=version)
                applied.append(version)
                log.info("[DB INIT] applied migration %d: %s", version, description)
    return applied
