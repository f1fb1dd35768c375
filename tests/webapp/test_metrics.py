"""GET /metrics: Prometheus text read from the database at scrape time, so two workers answer the same and
the check counters never go down (through the rollup job and retention); METRICS public/private/off."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from healthmon import rollups, sql
from healthmon.db import database, utcnow
from healthmon.models import AlertOutbox, Monitor, QueueMessage
from healthmon.retention import prune
from tests.conftest import make_settings
from tests.webapp.conftest import make_key
from webapp.app import create_app


def _app(db_url, mode="public"):
    return create_app(make_settings(database_url=db_url, metrics=mode), TESTING=True)


def scrape(client, **kw) -> dict[tuple, float]:
    response = client.get("/metrics", **kw)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _results(monitor_id, start, n, fail_every=0):
    rows = [(monitor_id, start + dt.timedelta(minutes=i), start + dt.timedelta(minutes=i),
             not (fail_every and i % fail_every == 0), 200, 50.0) for i in range(n)]
    with database.atomic():
        sql.insert_rows("check_results", ("monitor_id", "slot", "checked_at", "ok", "status_code", "latency_ms"), rows)


def _checks(samples, monitor_id, name):
    return tuple(samples[("healthmon_monitor_checks_total",
                          (("monitor_id", str(monitor_id)), ("name", name), ("outcome", outcome)))]
                 for outcome in ("ok", "failed"))


def test_metrics_read_the_database(db_url):
    up = Monitor.create(name="shop", url="https://example.com/", check_interval=60, timeout=5, status="UP",
                        last_latency_ms=120.0)
    down = Monitor.create(name="api", url="https://example.com/", check_interval=60, timeout=5, status="DOWN")
    Monitor.create(name="new", url="https://example.com/", check_interval=60, timeout=5)
    slow = Monitor.create(name="slow", url="https://example.com/", check_interval=60, timeout=5, status="DEGRADED")
    _results(up.id, utcnow() - dt.timedelta(hours=1), 30, fail_every=10)
    for i, state in enumerate(("pending", "sent", "sent", "failed")):
        AlertOutbox.create(event_id=i, monitor_id=up.id, destination="https://example.com/h",
                           webhook_url="https://example.com/h", webhook_format="json", payload="{}", state=state)
    QueueMessage.create(body="{}")
    QueueMessage.create(body="{}", dead_at=utcnow())
    database.close()
    samples = scrape(_app(db_url).test_client())
    assert samples[("healthmon_monitor_up", (("monitor_id", str(up.id)), ("name", "shop")))] == 1
    assert samples[("healthmon_monitor_up", (("monitor_id", str(down.id)), ("name", "api")))] == 0
    assert samples[("healthmon_monitor_up", (("monitor_id", str(slow.id)), ("name", "slow")))] == 1  # up, slowly
    assert samples[("healthmon_monitors", (("status", "DEGRADED"),))] == 1
    assert not any(k[0] == "healthmon_monitor_up" and ("name", "new") in k[1] for k in samples)  # UNKNOWN
    assert samples[("healthmon_monitor_latency_seconds", (("monitor_id", str(up.id)), ("name", "shop")))] == 0.12
    assert _checks(samples, up.id, "shop") == (27, 3)
    assert samples[("healthmon_monitors", (("status", "UNKNOWN"),))] == 1
    assert samples[("healthmon_alerts", (("state", "sent"),))] == 2
    assert samples[("healthmon_alerts", (("state", "pending"),))] == 1
    assert samples[("healthmon_queue_depth", ())] == 1 and samples[("healthmon_queue_dead_letters", ())] == 1
    for name in ("healthmon_schedule_overdue_monitors", "healthmon_schedule_behind_monitors",
                 "healthmon_schedule_pending_checks", "healthmon_schedule_oldest_overdue_seconds",
                 "healthmon_skipped_slots", "healthmon_rollup_lag_seconds"):
        assert (name, ()) in samples, name


def test_two_workers_answer_the_same_and_counters_never_go_down(db_url):
    m = Monitor.create(name="shop", url="https://example.com/", check_interval=60, timeout=5, status="UP")
    now = utcnow()
    _results(m.id, now - dt.timedelta(days=420), 100, fail_every=4)
    _results(m.id, now - dt.timedelta(hours=3), 100, fail_every=5)
    database.close()
    one, two = _app(db_url).test_client(), _app(db_url).test_client()
    seen = [_checks(scrape(one), m.id, "shop")]
    assert seen[0] == (155, 45) and _checks(scrape(two), m.id, "shop") == seen[0]
    with database.connection_context():
        while not rollups.rollup_step(now, chunk=dt.timedelta(days=100)).caught_up:
            pass
    seen.append(_checks(scrape(one), m.id, "shop"))
    with database.connection_context():
        prune(14, now=now)  # old raw rows go, the 420-day-old daily row moves into the all-time row
        assert sql.query("SELECT COUNT(*) FROM check_results")[0][0] == 100
        assert sql.query("SELECT COUNT(*) FROM rollups WHERE period = 'a'")[0][0] == 1
    seen.append(_checks(scrape(two), m.id, "shop"))
    assert seen == [(155, 45)] * 3


def test_private_needs_a_key_and_off_is_not_found(db_url):
    key = make_key(read_only=True)
    client = _app(db_url, "private").test_client()
    denied = client.get("/metrics")
    assert denied.status_code == 401 and "Basic" in denied.headers["WWW-Authenticate"]
    assert scrape(client, headers={"Authorization": f"Bearer {key}"})
    assert _app(db_url, "off").test_client().get("/metrics").status_code == 404


def test_the_setting_is_strict():
    from healthmon.settings import Settings, SettingsError

    assert Settings.from_env({}).metrics == "private"
    assert Settings.from_env({"METRICS": "off"}).metrics == "off"
    with pytest.raises(SettingsError, match="METRICS='yes' is not valid"):
        Settings.from_env({"METRICS": "yes"})


def test_the_certificate_expiry_of_each_https_monitor_is_a_unix_timestamp(db_url):
    expires = dt.datetime(2027, 2, 2, 12, 30)
    served = Monitor.create(name="shop", url="https://example.com/", check_interval=60, timeout=5, status="UP",
                            tls_expires_at=expires, tls_fingerprint="aa" * 32, tls_observed_at=utcnow())
    Monitor.create(name="plain", url="http://example.com/", check_interval=60, timeout=5, status="UP")
    Monitor.create(name="off", url="https://example.org/", check_interval=60, timeout=5, enabled=False,
                   tls_expires_at=expires, tls_fingerprint="bb" * 32)
    Monitor.create(name="paused", url="https://example.net/", check_interval=60, timeout=5, status="PAUSED",
                   tls_expires_at=expires, tls_fingerprint="cc" * 32)
    database.close()

    samples = scrape(_app(db_url).test_client())

    expiry = {dict(labels)["name"]: value for (name, labels), value in samples.items()
              if name == "healthmon_monitor_tls_expiry_timestamp_seconds"}
    # 2027-02-02T12:30:00Z; none for http, a disabled monitor, or a paused one (its certificate may be stale)
    assert expiry == {"shop": 1801571400.0}
    assert ("healthmon_monitor_tls_expiry_timestamp_seconds",
            (("monitor_id", str(served.id)), ("name", "shop"))) in samples
