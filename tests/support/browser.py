"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium through Playwright (never
`playwright install`), and a route that lets a page reach 127.0.0.1 only, recording everything else."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


def require_browser() -> None:
    """Skip (fail under CI=true) unless Chromium and playwright are installed."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install playwright; never `playwright install`)"
    if problem:
        if IN_CI:
            pytest.fail(problem + " (CI=true: the browser test must run)")
        pytest.skip(problem)


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)


def local_only(page, seen: list[str] | None = None) -> list[str]:
    """Route every request of `page`: 127.0.0.1 goes through, anything else is aborted and listed in the
    returned list (`seen`, when given, gets every URL)."""
    blocked: list[str] = []

    def route(r):
        if seen is not None:
            seen.append(r.request.url)
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return blocked
