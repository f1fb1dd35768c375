"""A person can use /docs in a real browser: authorize with a key, try POST /monitors, get a 201.

Drives Debian's Chromium through Playwright against the real `healthmon api` (gunicorn) with every request
that is not to 127.0.0.1 blocked and recorded: the page must work offline and contact nobody else.
Skipped when /usr/bin/chromium or playwright is missing, except under CI=true, where that fails.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.support.browser import launch, local_only, require_browser
from tests.webapp.live import live_api

BODY = {"name": "From Swagger UI", "url": "https://google.com/", "check_interval": 30, "timeout": 5,
        "expected_status_code": 200, "enabled": True}

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]


def test_swagger_ui_creates_a_monitor_offline(tmp_path):
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    with live_api(f"sqlite:///{tmp_path}/healthmon.db", tmp_path) as api, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            seen: list[str] = []
            blocked = local_only(page, seen)
            page.goto(api.base_url + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("healthmon", timeout=20_000)

            page.locator(".scheme-container button.authorize").click()
            modal = page.locator(".modal-ux")
            modal.locator("input").first.fill(api.key)
            modal.locator("button.authorize").click()
            modal.locator("button.btn-done").click()

            post = page.locator(".opblock-post").filter(has=page.locator(".opblock-summary-path", has_text="/monitors"))
            post.first.locator(".opblock-summary").click()
            post.first.locator("button.try-out__btn").click()
            post.first.locator("textarea.body-param__text").fill(json.dumps(BODY, indent=2))
            post.first.locator("button.execute").click()
            status = post.first.locator(".live-responses-table .response .response-col_status").first
            expect(status).to_have_text("201", timeout=20_000)
            created = json.loads(post.first.locator(".live-responses-table .highlight-code pre").first.inner_text())
        finally:
            browser.close()

        request = urllib.request.Request(f"{api.base_url}/monitors/{created['id']}",
                                         headers={"Authorization": f"Bearer {api.key}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            stored = json.loads(response.read())
        assert stored["name"] == BODY["name"] and stored["status"] == "UNKNOWN"
        assert blocked == [], f"the docs page tried to reach other hosts: {blocked}"
        assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in seen)  # the route saw traffic
