"""The masked-webhook rule is in the OpenAPI document, and the API keeps to what it says: on POST a
webhook_url ending in `****` is refused by the documented pattern (422); on PUT and PATCH the pattern
allows it, the monitor's own masked value keeps the stored secret, and any other is a documented 409."""

from __future__ import annotations

import re

import pytest

from healthmon.db import database
from healthmon.models import Monitor

BASE = {"name": "Shop", "url": "https://shop.example/", "check_interval": 30, "timeout": 5}
SECRET = "https://hooks.slack.com/services/T0/B0/SECRETSECRETSECRET"


def _component(document: dict, ref: dict) -> dict:
    return document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def _request_schema(document: dict, path: str, method: str) -> dict:
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return _component(document, body)


def _webhook_pattern(document: dict, path: str, method: str) -> str:
    return _request_schema(document, path, method)["properties"]["webhook_url"]["pattern"]


def test_the_document_states_the_rule_for_each_operation(api):
    document = api.get("/openapi.json").get_json()
    on_create = _webhook_pattern(document, "/monitors", "post")
    bulk_item = _component(document, _request_schema(document, "/monitors/bulk", "post")["properties"]["monitors"]
                           ["items"])["properties"]["webhook_url"]["pattern"]
    assert on_create == bulk_item
    assert not re.search(on_create, "https://hooks.slack.com/service****")
    for method in ("put", "patch"):
        assert re.search(_webhook_pattern(document, "/monitors/{monitor_id}", method),
                         "https://hooks.slack.com/service****")
        operation = document["paths"]["/monitors/{monitor_id}"][method]
        assert "409" in operation["responses"], method
        description = _request_schema(document, "/monitors/{monitor_id}", method)["properties"]["webhook_url"]
        assert "****" in description["description"] and "409" in description["description"]


@pytest.mark.parametrize("value", [
    "https://hooks.slack.com/service****", "https://h.example/a*****", "https://h.example****",
    "https://h.example/a***", "https://h.example/*", "https://h.example/a****b",
])
def test_a_create_is_refused_exactly_when_the_documented_pattern_refuses(api, value):
    pattern = _webhook_pattern(api.get("/openapi.json").get_json(), "/monitors", "post")
    response = api.post("/monitors", json={**BASE, "webhook_url": value})
    assert (response.status_code == 201) is bool(re.search(pattern, value)), response.get_json()
    if response.status_code != 201:
        assert response.status_code == 422
        assert "masked" in response.get_json()["errors"]["json"]["webhook_url"][0]


def test_a_bulk_create_names_the_item_with_a_masked_webhook(api):
    items = [BASE, {**BASE, "webhook_url": "https://hooks.slack.com/service****"}]
    response = api.post("/monitors/bulk", json={"monitors": items})
    assert response.status_code == 422
    assert "masked" in response.get_json()["errors"]["json"]["monitors.1.webhook_url"][0]
    assert api.get("/monitors").get_json() == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_the_monitors_own_masked_value_keeps_the_secret(api, method):
    created = api.post("/monitors", json={**BASE, "webhook_url": SECRET}).get_json()
    response = api.open(method, f"/monitors/{created['id']}", json={**BASE, "webhook_url": created["webhook_url"]})
    assert response.status_code == 200, response.get_json()
    assert Monitor.get_by_id(created["id"]).webhook_url == SECRET
    database.close()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_masked_value_on_a_monitor_without_a_webhook_is_a_conflict(api, method):
    created = api.post("/monitors", json=BASE).get_json()
    response = api.open(method, f"/monitors/{created['id']}",
                        json={**BASE, "webhook_url": "https://hooks.slack.com/service****"})
    assert response.status_code == 409, response.get_json()
    assert "not this monitor's webhook" in response.get_json()["errors"]["json"]["webhook_url"][0]
    assert api.get(f"/monitors/{created['id']}").get_json() == created
