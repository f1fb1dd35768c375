"""`healthmon api` serves the API with gunicorn and prints no secret."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.webapp.conftest import STEP10
from tests.webapp.live import live_api

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def _request(api, method: str, path: str, body=None, key: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api.base_url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:{password}@{parts.hostname}:"
                                            f"{parts.port or 5432}"))


def test_the_api_runs_under_gunicorn_and_logs_no_secret(pg_server, tmp_path):
    password = "pw-9f8e7d6c5b"  # PostgreSQL trusts local connections: the password is never asked for
    database_url = _with_password(pg_server.create_database(), password)
    with live_api(database_url, tmp_path) as api:
        status, _, body = _request(api, "GET", "/health")
        assert (status, body) == (200, {"status": "ok"})
        status, _, body = _request(api, "POST", "/monitors", STEP10, key=api.key)
        assert status == 201 and body["status"] == "UNKNOWN"
        status, headers, listing = _request(api, "GET", "/monitors", key=api.key)
        assert status == 200 and [m["id"] for m in listing] == [body["id"]]
        assert json.loads(headers["X-Pagination"])["total"] == 1
        status, headers, _ = _request(api, "GET", "/monitors")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        api.process.send_signal(signal.SIGTERM)
        assert api.process.wait(timeout=30) == 0
        log = api.log()
    assert "gunicorn" in log.lower() or "Booting worker" in log
    assert '"POST /monitors HTTP/1.1" 201' in log  # access log on stderr
    for secret in (password, api.key, api.key[4:], "XXXXXXXXSECRETTOKEN"):
        assert secret not in log
