"""tls_expiry_days and the certificate last seen (`tls`) through the API: the default, the limits (a 422
naming the field, nothing stored), the facts shown once a check saw a certificate, what an edit does to
them, and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from checker.record import record_result
from healthmon.db import utcnow
from healthmon.domain.check import CheckSpec, Observation
from healthmon.domain.tls import TlsFacts
from healthmon.domain.verdict import evaluate
from healthmon.models import Monitor
from healthmon.queue.base import CheckJob
from tests.conftest import make_settings
from webapp.schemas import flatten_errors

BASE = {"name": "Shop", "url": "https://shop.example.com/health"}
FINGERPRINT = "c3" * 32
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def saw_certificate(monitor_id: int, days: float, db_url: str) -> None:
    """Record one check of the monitor that saw a certificate expiring in `days` (as the worker would)."""
    now = utcnow()
    facts = TlsFacts((now + dt.timedelta(days=days)).replace(microsecond=0), FINGERPRINT)
    verdict = evaluate(CheckSpec(url=BASE["url"]), Observation(200, 30.0, checked_at=now, tls=facts))
    m = Monitor.get_by_id(monitor_id)
    slot = (m.last_slot or dt.datetime(2026, 1, 1)) + dt.timedelta(seconds=30)
    outcome = record_result(CheckJob(monitor_id, slot, m.generation), verdict, make_settings(database_url=db_url))
    assert outcome.recorded


def test_a_new_monitor_warns_14_days_ahead_and_shows_no_certificate_yet(api):
    body = api.post("/monitors", json=BASE).get_json()
    assert (body["tls_expiry_days"], body["tls"]) == (14, None)


@pytest.mark.parametrize("days", [1, 30, 365, None])
def test_tls_expiry_days_is_stored_as_sent(api, days):
    created = api.post("/monitors", json={**BASE, "tls_expiry_days": days})
    assert created.status_code == 201 and created.get_json()["tls_expiry_days"] == days


@pytest.mark.parametrize(("value", "reason"), [
    (0, "greater than or equal to 1"), (366, "less than or equal to 365"), (-1, "greater than or equal to 1"),
    ("14", "Not a valid integer"), (14.5, "Not a valid integer"), (True, "Not a valid integer"),
])
def test_a_limit_outside_1_to_365_is_a_422_naming_the_field_and_nothing_is_stored(api, value, reason):
    response = api.post("/monitors", json={**BASE, "tls_expiry_days": value})
    assert response.status_code == 422, response.get_json()
    errors = flatten_errors(response.get_json()["errors"]["json"])
    assert any(reason.lower() in m.lower() for m in errors["tls_expiry_days"]), errors
    assert Monitor.select().count() == 0


def test_a_patch_with_an_invalid_limit_is_a_422_and_changes_nothing(api):
    mid = api.post("/monitors", json=BASE).get_json()["id"]
    assert api.patch(f"/monitors/{mid}", json={"tls_expiry_days": 366}).status_code == 422
    assert api.get(f"/monitors/{mid}").get_json()["tls_expiry_days"] == 14


def test_the_certificate_seen_is_shown_with_the_warning_sent(api, db_url):
    mid = api.post("/monitors", json=BASE).get_json()["id"]
    saw_certificate(mid, 10, db_url)
    tls = api.get(f"/monitors/{mid}").get_json()["tls"]
    assert set(tls) == {"expires_at", "days_left", "fingerprint_sha256", "observed_at", "warned_days", "warned_at"}
    assert (tls["days_left"], tls["fingerprint_sha256"], tls["warned_days"]) == (9, FINGERPRINT, 14)
    assert all(ISO_Z.match(tls[k]) for k in ("expires_at", "observed_at", "warned_at")), tls
    listed = api.get("/monitors").get_json()
    assert listed[0]["tls"] == tls


def test_an_http_monitor_shows_no_certificate(api):
    body = api.post("/monitors", json={**BASE, "url": "http://shop.example.com/"}).get_json()
    assert body["tls"] is None


def test_a_changed_url_forgets_the_certificate_a_changed_limit_keeps_it_and_both_look_again(api, db_url):
    mid = api.post("/monitors", json=BASE).get_json()["id"]
    saw_certificate(mid, 40, db_url)
    body = api.patch(f"/monitors/{mid}", json={"tls_expiry_days": 60}).get_json()
    assert body["tls_expiry_days"] == 60 and body["tls"]["fingerprint_sha256"] == FINGERPRINT
    assert Monitor.get_by_id(mid).tls_observed_at is None  # the next check collects it (and warns at once)
    saw_certificate(mid, 40, db_url)
    assert api.get(f"/monitors/{mid}").get_json()["tls"]["warned_days"] == 60
    body = api.patch(f"/monitors/{mid}", json={"url": "https://other.example.com/"}).get_json()
    assert body["tls"] is None


def test_a_put_without_the_field_restores_the_default(api):
    mid = api.post("/monitors", json={**BASE, "tls_expiry_days": None}).get_json()["id"]
    assert api.put(f"/monitors/{mid}", json=BASE).get_json()["tls_expiry_days"] == 14


def test_the_openapi_document_states_the_limits_and_the_output(api):
    spec = api.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    field = schemas["MonitorCreate"]["properties"]["tls_expiry_days"]
    assert (field["minimum"], field["maximum"], field["default"], field["example"]) == (1, 365, 14, 14)
    assert "null" in str(field.get("type")) or field.get("nullable") is True
    assert "3 days" in field["description"]
    out = schemas["Monitor"]["properties"]
    assert "tls" in out and "tls_expiry_days" in out
    assert set(schemas["Tls"]["properties"]) == {"expires_at", "days_left", "fingerprint_sha256", "observed_at",
                                                 "warned_days", "warned_at"}
