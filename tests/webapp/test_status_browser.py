"""The status page in a real browser, with JavaScript off: Debian's Chromium through Playwright against the
real `healthmon api` (gunicorn, STATUS_PAGE=public) over generated history (bench/history.py). It shows the
statuses, the 90-day bars and the latency chart, loads nothing from another host, fits a phone's width,
and screenshots are saved as test artifacts: TEST_ARTIFACTS_DIR (default test-artifacts/ in the
repository, ignored by git) /status-overview.png, status-monitor.png and status-phone.png.

Skipped when /usr/bin/chromium or playwright is missing, except under CI=true, where that fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.history import generate
from healthmon.db import bind, database
from healthmon.migrations import init_db
from tests.support.browser import launch, local_only, require_browser
from tests.webapp.live import live_api

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR") or Path(__file__).resolve().parents[2] / "test-artifacts")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]


def test_the_status_page_shows_statuses_bars_and_charts_without_javascript(tmp_path):
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    url = f"sqlite:///{tmp_path}/healthmon.db"
    bind(url)
    init_db()
    generate(24, days=90, down=3)
    database.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with live_api(url, tmp_path, {"STATUS_PAGE": "public"}) as api, sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            foreign = local_only(page)
            page.goto(api.base_url + "/status")
            expect(page.locator(".banner")).to_have_text("3 of 24 monitors down")
            expect(page.locator(".mon")).to_have_count(24)
            expect(page.locator(".mon .dot.DOWN")).to_have_count(3)
            expect(page.locator(".mon .dot.UP")).to_have_count(21)
            expect(page.locator("svg.bar")).to_have_count(24)
            bar = page.locator("svg.bar").first.bounding_box()
            assert bar["width"] > 150 and bar["height"] > 10  # the bars are drawn, not collapsed
            assert page.locator("svg.bar rect title").count() >= 24  # a tooltip on every run of days
            expect(page.get_by_text("Open incidents")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "status-overview.png"), full_page=True)

            page.locator(".mon a").first.click()
            expect(page.locator("h2", has_text="Latency, last 24 hours")).to_be_visible()
            chart = page.locator(".chart svg").first
            assert chart.bounding_box()["height"] > 100
            assert page.locator(".chart polyline.p50").count() == 2
            assert page.locator(".chart polyline.p95").count() == 2
            expect(page.locator("td", has_text="365d")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "status-monitor.png"), full_page=True)

            phone = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844},
                                        device_scale_factor=2, is_mobile=True)
            small = phone.new_page()
            foreign += local_only(small)
            small.goto(api.base_url + "/status")
            box = small.locator("svg.bar").first.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # no sideways scrolling on a phone
            small.screenshot(path=str(ARTIFACTS / "status-phone.png"), full_page=False)
        finally:
            browser.close()
        assert foreign == [], f"the status page tried to reach other hosts: {foreign}"
