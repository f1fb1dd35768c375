"""The webhook URL is write-only: no response ever carries it unmasked, and round trips keep it."""

from __future__ import annotations

import pytest

from healthmon.db import database
from healthmon.models import Monitor
from tests.webapp.conftest import STEP10

SECRET = "XXXXXXXXSECRETTOKEN"
MASKED = "https://hooks.slack.com/service****"


def _stored_webhook(monitor_id: int) -> str | None:
    value = Monitor.get_by_id(monitor_id).webhook_url
    database.close()
    return value


def _assert_masked(response):
    text = response.get_data(as_text=True)
    assert "SECRET" not in text and "T0000" not in text, text
    return response.get_json()


def test_no_response_carries_the_webhook_unmasked(api):
    created = _assert_masked(api.post("/monitors", json=STEP10))
    assert created["webhook_url"] == MASKED
    mid = created["id"]
    assert _assert_masked(api.get(f"/monitors/{mid}"))["webhook_url"] == MASKED
    assert _assert_masked(api.get("/monitors"))[0]["webhook_url"] == MASKED
    assert _assert_masked(api.put(f"/monitors/{mid}", json=STEP10))["webhook_url"] == MASKED
    assert _assert_masked(api.patch(f"/monitors/{mid}", json={"webhook_url": STEP10["webhook_url"]}))
    assert _assert_masked(api.patch(f"/monitors/{mid}", json={"name": "renamed"}))["webhook_url"] == MASKED
    assert _stored_webhook(mid) == STEP10["webhook_url"]


def test_a_get_modify_put_round_trip_keeps_the_stored_webhook(api):
    created = api.post("/monitors", json=STEP10).get_json()
    document = api.get(f"/monitors/{created['id']}").get_json()
    body = {k: document[k] for k in STEP10}
    body["name"] = "Google (edited)"
    assert body["webhook_url"] == MASKED
    response = api.put(f"/monitors/{created['id']}", json=body)
    assert response.status_code == 200
    assert response.get_json()["name"] == "Google (edited)"
    assert _stored_webhook(created["id"]) == STEP10["webhook_url"]


def test_patching_the_masked_value_back_keeps_the_webhook(api):
    created = api.post("/monitors", json=STEP10).get_json()
    response = api.patch(f"/monitors/{created['id']}", json={"webhook_url": MASKED})
    assert response.status_code == 200
    assert _stored_webhook(created["id"]) == STEP10["webhook_url"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_masked_value_that_is_not_this_monitors_is_a_conflict(api, method):
    created = api.post("/monitors", json=STEP10).get_json()
    body = {**STEP10, "webhook_url": "https://hooks.slack.com/other****"}
    response = api.open(method, f"/monitors/{created['id']}", json=body)
    assert response.status_code == 409
    assert "masked" in response.get_json()["errors"]["json"]["webhook_url"][0]
    assert _stored_webhook(created["id"]) == STEP10["webhook_url"]


def test_a_new_webhook_replaces_the_old_one(api):
    created = api.post("/monitors", json=STEP10).get_json()
    new = "https://hooks.slack.com/services/T9/B9/NEWNEWNEW"
    body = api.put(f"/monitors/{created['id']}", json={**STEP10, "webhook_url": new}).get_json()
    assert "NEWNEW" not in repr(body)
    assert _stored_webhook(created["id"]) == new
