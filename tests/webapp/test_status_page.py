"""/status and /status/{id}: server-rendered, self-contained HTML from generated history; STATUS_PAGE
public/private/off; never a credential, a URL path or a webhook; a bounded number of queries."""

from __future__ import annotations

import base64
import re

import pytest

from bench.history import generate
from healthmon.db import database
from healthmon.models import Monitor, Rollup
from tests.conftest import make_settings
from tests.webapp.conftest import make_key
from webapp.app import create_app

WEBHOOK = "https://hooks.slack.com/services/T0000SECRET/B0000SECRET/XXXXXXXXSECRETTOKEN"


def _app(db_url, mode="public"):
    return create_app(make_settings(database_url=db_url, status_page=mode), TESTING=True)


@pytest.fixture
def history(db_url):
    made = generate(12, days=90, down=2)
    Monitor.update(webhook_url=WEBHOOK).execute()
    database.close()
    return made


def test_the_overview_lists_every_monitor_with_bars_uptime_and_open_incidents(db_url, history):
    page = _app(db_url).test_client().get("/status")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert html.count('class="mon"') == 12
    assert "2 of 12 monitors down" in html and "Open incidents" in html
    assert html.count('<svg class="bar"') == 12
    assert "timeout: no answer within 5 s" in html  # the open incidents' error
    assert re.search(r"\d{4}-\d\d-\d\d( to \d{4}-\d\d-\d\d)?: (100%|\d+\.\d\d%) up, \d+ checks", html)  # tooltips
    assert '<meta http-equiv="refresh"' in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_nothing_external_no_credentials_no_paths_no_webhooks(db_url, history):
    client = _app(db_url).test_client()
    for path in ("/status", "/status/1", "/status/2"):
        html = client.get(path).get_data(as_text=True)
        assert "svc-0001.example.com" in html or path != "/status"
        for secret in ("secret", "user:", "token=", "/health", "hooks.slack.com", "SECRETTOKEN"):
            assert secret not in html, (path, secret)
        assert not re.search(r'(src|href)="(https?:)?//', html), path  # no external asset or link
        assert "<script" not in html  # works with JavaScript off: there is none


def test_a_monitor_page_shows_windows_charts_and_incidents(db_url, history):
    page = _app(db_url).test_client().get("/status/1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for window in ("24h", "7d", "30d", "90d", "365d"):
        assert f"<td>{window}</td>" in html
    assert html.count('<polyline class="p50"') == 2 and html.count('<polyline class="p95"') == 2
    assert "Latency, last 24 hours" in html and "Latency, last 7 days" in html
    assert "ongoing" in html  # monitor 1 is DOWN now
    assert _app(db_url).test_client().get("/status/999").status_code == 404


def test_private_needs_a_key_as_basic_password_or_bearer(db_url, history):
    app = _app(db_url, "private")
    key = make_key(read_only=True)
    client = app.test_client()
    denied = client.get("/status")
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Basic ")
    assert client.get("/status", headers={"Authorization": "Bearer hmr_wrong"}).status_code == 401
    basic = base64.b64encode(f"anyone:{key}".encode()).decode()
    assert client.get("/status", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert client.get("/status/1", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.get("/status", headers={"Authorization": "Basic !!!"}).status_code == 401


def test_off_is_not_found(db_url, history):
    client = _app(db_url, "off").test_client()
    assert client.get("/status").status_code == 404 and client.get("/status/1").status_code == 404


def test_the_overview_runs_a_fixed_number_of_queries(db_url, history, monkeypatch):
    client = _app(db_url).test_client()
    client.get("/status")
    counted = []
    real = type(database.obj).execute_sql

    def counting(self, sql, params=None, *args, **kwargs):
        counted.append(sql)
        return real(self, sql, params, *args, **kwargs)

    monkeypatch.setattr(type(database.obj), "execute_sql", counting)
    client.get("/status")
    few = len(counted)
    generate(30, days=10, down=0)
    database.close()
    counted.clear()
    client.get("/status")
    assert len(counted) == few <= 15, counted


def test_a_degraded_monitor_turns_the_banner_amber_and_a_down_one_red(db_url):
    client = _app(db_url).test_client()
    Monitor.create(name="slow", url="https://example.com/", check_interval=60, timeout=5, status="DEGRADED")
    Monitor.create(name="fine", url="https://example.com/", check_interval=60, timeout=5, status="UP")
    database.close()
    html = client.get("/status").get_data(as_text=True)
    assert '<div class="banner slow">1 of 2 monitors degraded (up but slow)</div>' in html
    assert '<span class="dot DEGRADED" title="DEGRADED">' in html
    Monitor.create(name="gone", url="https://example.com/", check_interval=60, timeout=5, status="DOWN")
    database.close()
    assert '<div class="banner bad">1 of 3 monitors down</div>' in client.get("/status").get_data(as_text=True)


def test_an_empty_installation_renders(db_url):
    html = _app(db_url).test_client().get("/status").get_data(as_text=True)
    assert "All systems operational" in html and "No monitors yet" in html


def test_the_setting_is_strict():
    from healthmon.settings import Settings, SettingsError

    assert Settings.from_env({"STATUS_PAGE": "PUBLIC"}).status_page == "public"
    assert Settings.from_env({}).status_page == "private"
    with pytest.raises(SettingsError, match="STATUS_PAGE='open' is not valid: expected one of public, private, off"):
        Settings.from_env({"STATUS_PAGE": "open"})


def test_the_bar_shows_gaps_failures_and_runs_of_good_days(db_url):
    import datetime as dt

    from healthmon import sql
    from healthmon.db import utcnow
    from webapp.status import bar_svg, daily_cells

    m = Monitor.create(name="m", url="https://example.com/", check_interval=60, timeout=5).id
    now = utcnow()
    today = now.date()
    for ago, failures in ((12, 0), (11, 0), (10, 50), (9, 0), (5, 0), (4, 3), (3, 0), (2, 0)):  # a gap: 8-6 days ago
        day = dt.datetime.combine(today - dt.timedelta(days=ago), dt.time())
        Rollup.create(monitor=m, period="d", bucket=day, checks=1440, failures=failures)
    sql.execute("INSERT INTO jobs (name, watermark) VALUES (?, ?)", ("rollups", now - dt.timedelta(minutes=2)))
    cells = daily_cells(now)[m]
    svg = bar_svg(cells, today, count=14)
    classes = re.findall(r'class="(\w)"><title>([^<]*)</title>', svg)
    assert [c for c, _ in classes] == ["n", "u", "d", "u", "n", "u", "w", "u", "n"]
    assert classes[2][1].endswith("96.52% up, 1440 checks, 50 failed")  # 96.527: truncated, never rounded up
    assert classes[4][1] == f"{today - dt.timedelta(days=8)} to {today - dt.timedelta(days=6)}: no checks"
    assert classes[-1][1] == f"{today - dt.timedelta(days=1)} to {today}: no checks"
