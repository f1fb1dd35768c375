"""With the database unreachable: 503 with a clear message and Retry-After, never a stack trace; /health stays
200 (liveness) while /health/ready says 503 (readiness)."""

from __future__ import annotations

import logging

import pytest

from healthmon.settings import Settings
from tests.support.net import free_port
from webapp.app import create_app


@pytest.fixture
def down_app():
    # A PostgreSQL URL on a loopback port where nothing listens: every connection is refused at once.
    url = f"postgresql://healthmon:s3cret-pw@127.0.0.1:{free_port()}/healthmon"
    return create_app(Settings.from_env({"DATABASE_URL": url}), TESTING=True)


def test_readiness_answers_ok_when_the_database_answers(app):
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_readiness_answers_503_while_the_database_is_unreachable_and_liveness_stays_ok(down_app):
    client = down_app.test_client()
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "database": "unreachable (OperationalError)"}
    assert client.get("/health").get_json() == {"status": "ok"}


def test_an_api_call_during_an_outage_gets_503_with_retry_after_and_no_secret(down_app, caplog):
    caplog.set_level(logging.DEBUG)
    response = down_app.test_client().get("/monitors", headers={"Authorization": "Bearer hmw_x_y"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["message"] == "The database is unavailable; retry in a few seconds."
    text = response.get_data(as_text=True) + caplog.text
    assert "s3cret-pw" not in text and "Traceback" not in text
    assert "database unavailable in GET /monitors (OperationalError)" in caplog.text
