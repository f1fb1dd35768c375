"""init-db creates the schema once and is a no-op afterwards, on SQLite and PostgreSQL."""

import subprocess
import sys

import pytest

from healthmon.migrations import MIGRATIONS, current_version, init_db
from healthmon.models import Monitor


def test_it_is_idempotent_and_keeps_rows(db):
    Monitor.create(name="kept", url="https://example.com/", check_interval=60, timeout=5)
    assert init_db() == []
    assert current_version() == MIGRATIONS[-1][0]
    assert [m.name for m in Monitor.select()] == ["kept"]


def test_the_cli_prints_the_guides_line_and_can_run_twice(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "healthmon.cli", "init-db"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "[DB INIT] monitors table ensured"


def test_the_cli_stops_with_one_line_on_a_bad_variable(tmp_path):
    env = {"FAIL_THRESHOLD": "many", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "healthmon.cli", "init-db"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "healthmon: configuration error: FAIL_THRESHOLD='many' is not valid: expected an integer from 1 to 10"
    )


def test_two_db_init_tasks_at_once_both_succeed_on_postgresql(pg_server):
    url = pg_server.create_database()
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-m", "healthmon.cli", "init-db"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outs]


def test_a_percent_escaped_password_reaches_postgresql_decoded():
    from healthmon.db import make_database

    db = make_database("postgresql://app:p%40ss%2Fw0rd@db.internal:5432/healthmon")
    assert db.connect_params["password"] == "p@ss/w0rd"
    assert db.connect_params["user"] == "app"


REQUEST_COLUMNS = ("method", "headers", "body", "auth", "follow_redirects", "verify_tls", "user_agent")


def test_migration_5_gives_existing_monitors_the_plain_request_options(db):
    from healthmon.models import SchemaMigration

    Monitor.create(name="old", url="https://example.com/", check_interval=60, timeout=5)
    for column in REQUEST_COLUMNS:  # the schema as version 3 left it
        db.execute_sql(f"ALTER TABLE monitors DROP COLUMN {column}")
    SchemaMigration.delete().where(SchemaMigration.version == 5).execute()
    assert init_db() == [5]
    assert {c.name for c in db.get_columns("monitors")} >= set(REQUEST_COLUMNS)
    old = Monitor.get()
    assert (old.method, old.headers, old.body, old.auth, old.follow_redirects, old.verify_tls, old.user_agent) == (
        "GET", {}, None, None, True, True, None)
    row = db.execute_sql("SELECT method, follow_redirects, verify_tls FROM monitors").fetchone()
    assert row[0] == "GET" and bool(row[1]) and bool(row[2])  # stored, not only read as defaults
    assert init_db() == []


TLS_COLUMNS = ("tls_expiry_days", "tls_expires_at", "tls_fingerprint", "tls_observed_at", "tls_warned_days",
               "tls_warned_at")


def test_migration_6_gives_existing_monitors_the_default_tls_limit(db):
    from healthmon.db import is_postgres
    from healthmon.models import SchemaMigration

    Monitor.create(name="kept", url="https://example.com/", check_interval=60, timeout=5)
    # The schema as migration 5 left it: no TLS columns, no tls_warnings table.
    db.execute_sql("DROP TABLE tls_warnings")
    for column in TLS_COLUMNS:
        db.execute_sql(f"ALTER TABLE monitors DROP COLUMN {column}")
    SchemaMigration.delete().where(SchemaMigration.version == 6).execute()

    assert 6 in init_db()
    (kept,) = Monitor.select()
    assert (kept.name, kept.tls_expiry_days, kept.tls) == ("kept", 14, None)
    if not is_postgres():  # SQLite would reuse the largest id after a delete; AUTOINCREMENT never does
        (ddl,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'tls_warnings'").fetchone()
        assert "AUTOINCREMENT" in ddl


def test_migration_8_keys_the_outbox_per_destination_and_keeps_pending_alerts(db):
    import peewee as pw

    from healthmon.models import AlertOutbox, Channel, SchemaMigration

    # The schema as migration 7 left it: no channels, an outbox unique per event keyed on webhook_url.
    db.execute_sql("DROP TABLE monitor_channels")
    db.execute_sql("DROP TABLE channels")
    db.execute_sql('DROP INDEX "alert_outbox_event_id_channel_id"')
    db.execute_sql('DROP INDEX "alert_outbox_destination_state_attempted_at"')
    for column in ("channel_id", "destination"):
        db.execute_sql(f"ALTER TABLE alert_outbox DROP COLUMN {column}")
    db.execute_sql('CREATE UNIQUE INDEX "alert_outbox_event_id" ON "alert_outbox" ("event_id")')
    db.execute_sql('CREATE INDEX "alert_outbox_webhook_url_state_attempted_at" ON "alert_outbox" '
                   '("webhook_url", "state", "attempted_at")')
    db.execute_sql("INSERT INTO alert_outbox (event_id, monitor_id, webhook_url, webhook_format, payload, state, "
                   "attempts, rate_limited, next_attempt_at, created_at) VALUES (5, 1, 'https://hooks.example/x', "
                   "'json', '{}', 'pending', 0, 0, '2026-01-20 10:30:00', '2026-01-20 10:30:00')")
    SchemaMigration.delete().where(SchemaMigration.version == 8).execute()

    assert init_db() == [8]
    (old,) = AlertOutbox.select()
    assert (old.event_id, old.channel_id, old.destination) == (5, 0, "https://hooks.example/x")
    assert {i.name for i in db.get_indexes("alert_outbox")} >= {
        "alert_outbox_event_id_channel_id", "alert_outbox_destination_state_attempted_at"}
    channel = Channel.create(name="pager", type="pagerduty", config={"routing_key": "k" * 32})
    AlertOutbox.create(event_id=5, channel_id=channel.id, monitor_id=1, destination=f"channel:{channel.id}",
                       webhook_format="pagerduty", payload="{}")  # the same event, another destination
    with pytest.raises(pw.IntegrityError), db.atomic():
        AlertOutbox.create(event_id=5, channel_id=0, monitor_id=1, destination="https://hooks.example/x",
                           webhook_url="https://hooks.example/x", webhook_format="json", payload="{}")
    assert init_db() == []


def test_migration_10_adds_a_unique_key_and_the_tag_table_to_existing_monitors(db):
    import peewee

    from healthmon.models import MonitorTag, SchemaMigration

    Monitor.create(name="kept", url="https://example.com/", check_interval=60, timeout=5)
    # The schema as migration 7 left it: no key column, no monitor_tags table.
    db.execute_sql("DROP TABLE monitor_tags")
    db.execute_sql('DROP INDEX "monitors_key"')
    db.execute_sql('ALTER TABLE monitors DROP COLUMN "key"')
    SchemaMigration.delete().where(SchemaMigration.version == 10).execute()

    assert init_db() == [10]
    (kept,) = Monitor.select()
    assert (kept.name, kept.key, kept.tags) == ("kept", None, [])
    MonitorTag.create(monitor=kept, tag="prod", position=0)
    kept.key = "kept"
    kept.save()
    other = Monitor.create(name="other", url="https://example.com/", check_interval=60, timeout=5)
    other.key = "kept"
    with pytest.raises(peewee.IntegrityError), db.atomic():
        other.save()
    assert [m.name for m in Monitor.select().join(MonitorTag).where(MonitorTag.tag == "prod")] == ["kept"]
    assert init_db() == []
