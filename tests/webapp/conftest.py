"""Fixtures for the API tests: an app on the parametrized database, keys, and an authorised client."""

from __future__ import annotations

import pytest

from healthmon import apikeys
from healthmon.db import database
from healthmon.models import Monitor
from webapp.app import create_app

STEP10 = {
    "name": "Google Homepage",
    "url": "https://google.com/",
    "check_interval": 30,
    "timeout": 5,
    "expected_status_code": 200,
    "webhook_url": "https://hooks.slack.com/services/T0000SECRET/B0000SECRET/XXXXXXXXSECRETTOKEN",
    "enabled": True,
}
"""The deployment guide's STEP 10 payload (google.com is never contacted and does not resolve here)."""


class ApiClient:
    """Flask test client that sends `Authorization: Bearer <key>` (or nothing when key is None)."""

    def __init__(self, client, key: str | None):
        self.client, self.key = client, key

    def open(self, method: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.key is not None:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def put(self, path, **kw):
        return self.open("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


def monitor_count() -> int:
    count = Monitor.select().count()
    if not database.is_closed():
        database.close()
    return count


def make_key(read_only: bool = False) -> str:
    _, token = apikeys.create_key("test", read_only=read_only)
    database.close()
    return token


@pytest.fixture
def app(settings):
    return create_app(settings, TESTING=True)


@pytest.fixture
def rw_key(app):
    return make_key(read_only=False)


@pytest.fixture
def ro_key(app):
    return make_key(read_only=True)


@pytest.fixture
def api(app, rw_key):
    """A client holding a read-write key."""
    return ApiClient(app.test_client(), rw_key)


@pytest.fixture
def anon(app):
    """A client without a key."""
    return ApiClient(app.test_client(), None)
