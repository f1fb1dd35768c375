"""Accepted status ranges, assertions and max_response_time_ms through the API: stored normalised, shown as
stored, refused with a 422 naming the field and the reason (and nothing stored), an edit of what counts as
good starts the monitor afresh."""

from __future__ import annotations

import pytest

from healthmon.models import Monitor
from webapp.schemas import flatten_errors

BASE = {"name": "API", "url": "https://api.example.com/health"}
ASSERTIONS = [
    {"target": "json", "path": "$.status", "op": "equals", "value": "UP"},
    {"target": "body", "op": "not_contains", "value": "maintenance"},
    {"target": "header", "name": "Content-Type", "op": "contains", "value": "json"},
    {"target": "body", "op": "matches", "value": r"\"version\":\s*\"1\."},
    {"target": "json", "path": "$.queue.depth", "op": "lt", "value": 100},
    {"target": "json", "path": "$.maintenance", "op": "not_exists"},
]


def test_a_monitor_with_conditions_is_stored_and_shown_normalised(api):
    created = api.post("/monitors", json={**BASE, "expected_status_codes": ["200-299", 301, "399-302"],
                                          "assertions": ASSERTIONS, "max_response_time_ms": 800})
    assert created.status_code == 201, created.get_json()
    body = api.get(f"/monitors/{created.get_json()['id']}").get_json()
    assert body["expected_status_codes"] == ["200-299", 301, "302-399"]
    assert body["assertions"][2] == {"target": "header", "name": "content-type", "op": "contains", "value": "json"}
    assert body["assertions"][5] == {"target": "json", "path": "$.maintenance", "op": "not_exists"}
    assert body["assertions"][:2] == ASSERTIONS[:2] and body["assertions"][3:5] == ASSERTIONS[3:5]
    assert (body["max_response_time_ms"], body["consecutive_slow"], body["consecutive_fast"]) == (800, 0, 0)


def test_a_monitor_without_conditions_shows_nulls_and_checks_expected_status_code(api):
    body = api.post("/monitors", json=BASE).get_json()
    assert (body["expected_status_codes"], body["assertions"], body["max_response_time_ms"]) == (None, None, None)
    assert body["expected_status_code"] == 200


@pytest.mark.parametrize(("fields", "where", "reason"), [
    ({"expected_status_codes": ["200-700"]}, "expected_status_codes.0", "status code"),
    ({"expected_status_codes": ["2xx"]}, "expected_status_codes.0", "range such as"),
    ({"expected_status_codes": []}, "expected_status_codes", "Length"),
    ({"assertions": [{"target": "body", "op": "matches", "value": "(a)\\1"}]}, "assertions.0.value",
     "not a usable regular expression"),
    ({"assertions": [{"target": "body", "op": "matches", "value": "(?=x)"}]}, "assertions.0.value",
     "lookarounds are not supported"),
    ({"assertions": [{"target": "json", "path": "$..x", "op": "exists"}]}, "assertions.0.path",
     "not a valid JSON path step at character 2"),
    ({"assertions": [{"target": "json", "path": "$.n", "op": "gt", "value": "5"}]}, "assertions.0.value",
     "value must be a number"),
    ({"assertions": [{"target": "xml", "op": "contains", "value": "x"}]}, "assertions.0.target",
     "target must be one of body, json, header"),
    ({"assertions": [ASSERTIONS[0], {"target": "header", "op": "exists"}]}, "assertions.1.name",
     "HTTP header name"),
    ({"assertions": [ASSERTIONS[0]] * 21}, "assertions", "Length"),
    ({"max_response_time_ms": 0}, "max_response_time_ms", "greater than or equal to 1"),
])
def test_a_bad_condition_is_a_422_naming_the_field_and_nothing_is_stored(api, fields, where, reason):
    response = api.post("/monitors", json={**BASE, **fields})
    assert response.status_code == 422, response.get_json()
    errors = flatten_errors(response.get_json()["errors"]["json"])
    assert where in errors, errors
    assert any(reason.lower() in message.lower() for message in errors[where]), errors[where]
    assert Monitor.select().count() == 0


def test_the_same_rule_applies_to_each_monitor_of_a_bulk_create(api):
    response = api.post("/monitors/bulk", json={"monitors": [
        {**BASE, "assertions": ASSERTIONS}, {**BASE, "assertions": [{"target": "json", "path": "x", "op": "exists"}]}]})
    assert response.status_code == 422
    assert "monitors.1.assertions.0.path" in response.get_json()["errors"]["json"]
    assert Monitor.select().count() == 0


@pytest.mark.parametrize(("change", "resets"), [
    ({"assertions": [ASSERTIONS[1]]}, True),
    ({"expected_status_codes": ["200-204"]}, True),
    ({"max_response_time_ms": 300}, False),
])
def test_changing_what_counts_as_good_starts_the_monitor_afresh(api, change, resets):
    mid = api.post("/monitors", json={**BASE, "assertions": ASSERTIONS}).get_json()["id"]
    Monitor.update(status="UP", consecutive_successes=4, consecutive_fast=4).where(Monitor.id == mid).execute()
    body = api.patch(f"/monitors/{mid}", json=change).get_json()
    assert (body["status"], body["consecutive_successes"]) == (("UNKNOWN", 0) if resets else ("UP", 4))


def test_the_openapi_document_shows_each_assertion_kind_with_an_example(api):
    spec = api.get("/openapi.json").get_json()
    props = spec["components"]["schemas"]["MonitorCreate"]["properties"]
    kinds = props["assertions"]["items"]["oneOf"]
    assert {tuple(k["properties"]["target"]["enum"]) for k in kinds} == {("body",), ("json",), ("header",)}
    ops = {op for k in kinds for op in k["properties"]["op"]["enum"]}
    assert ops == {"contains", "not_contains", "matches", "exists", "not_exists", "equals", "not_equals", "lt",
                   "le", "gt", "ge"}
    assert props["assertions"]["example"][0] == {"target": "json", "path": "$.status", "op": "equals", "value": "UP"}
    assert props["expected_status_codes"]["example"] == ["200-299", 301]
