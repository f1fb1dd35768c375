"""POST /monitors/bulk creates many monitors in one request, all or nothing, by the rules of POST /monitors."""

from __future__ import annotations

import io
import json

import pytest

from healthmon import defaults, netguard
from healthmon.models import Monitor
from tests.webapp.conftest import STEP10, ApiClient, monitor_count

VALID = {"name": "Shop", "url": "https://shop.example/health", "check_interval": 30, "timeout": 5}
MASKED = "https://hooks.slack.com/service****"


def _items(n: int, **fields) -> list[dict]:
    return [{**VALID, "name": f"m{i}", "url": f"https://shop.example/health?i={i}", **fields} for i in range(n)]


def _bulk(client: ApiClient, items):
    return client.post("/monitors/bulk", json={"monitors": items})


def _errors(response) -> dict:
    return response.get_json()["errors"]["json"]


def test_it_creates_the_monitors_and_they_are_listed(api):
    response = _bulk(api, _items(5))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert len(created) == 5
    listed = api.get("/monitors").get_json()
    assert listed == created
    assert monitor_count() == 5


def test_the_response_is_in_request_order(api):
    api.post("/monitors", json={**VALID, "name": "before"})
    names = ["zeta", "alpha", "mu", "beta", "omega", "delta"]
    items = [{**VALID, "name": name} for name in names]
    created = _bulk(api, items).get_json()
    assert [m["name"] for m in created] == names
    ids = [m["id"] for m in created]
    assert ids == sorted(ids)
    assert [m["name"] for m in api.get("/monitors").get_json()] == ["before", *names]


def test_monitors_are_stored_as_a_single_create_stores_them(api):
    single = api.post("/monitors", json=STEP10).get_json()
    bulk = _bulk(api, [STEP10]).get_json()[0]
    assert bulk["status"] == "UNKNOWN"
    assert bulk["next_check_at"] == bulk["created_at"] == bulk["updated_at"]
    volatile = {"id", "next_check_at", "created_at", "updated_at"}

    def kept(monitor: dict) -> dict:
        return {k: v for k, v in monitor.items() if k not in volatile}

    assert kept(bulk) == kept(single)
    stored = Monitor.get_by_id(bulk["id"])
    assert stored.webhook_url == STEP10["webhook_url"]
    assert (stored.generation, stored.consecutive_failures, stored.last_slot) == (1, 0, None)


def test_omitted_fields_take_the_single_create_defaults(api):
    body = _bulk(api, [{"name": "  Shop  ", "url": "https://shop.example/"}]).get_json()[0]
    assert body["name"] == "Shop"
    assert (body["check_interval"], body["timeout"], body["expected_status_code"]) == (60, 5, 200)
    assert body["enabled"] is True and body["webhook_url"] is None and body["fail_threshold"] is None


def test_the_webhook_is_masked_in_the_response(api):
    created = _bulk(api, [STEP10, {**STEP10, "name": "two"}])
    assert created.status_code == 201
    assert [m["webhook_url"] for m in created.get_json()] == [MASKED, MASKED]
    assert "SECRETTOKEN" not in created.get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param({"url": "ftp://example.com/"}, "url", "http:// or https://", id="bad-url"),
        pytest.param({"check_interval": 10, "timeout": 10}, "timeout", "less than check_interval",
                     id="timeout-not-below-interval"),
        pytest.param({"check_interval": "30"}, "check_interval", "integer", id="string-for-int"),
        pytest.param({"colour": "red"}, "colour", "Unknown field", id="unknown-field"),
        pytest.param({"webhook_url": "https://hooks.slack.com/services/AAAA****"}, "webhook_url", "masked",
                     id="masked-webhook"),
    ],
)
def test_one_bad_item_in_the_middle_is_named_by_index_and_nothing_is_stored(api, change, field, reason):
    api.post("/monitors", json=VALID)
    before = monitor_count()
    items = _items(7)
    items[3] = {**items[3], **change}
    response = _bulk(api, items)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert list(_errors(response)) == [f"monitors.3.{field}"]
    assert reason.lower() in _errors(response)[f"monitors.3.{field}"][0].lower()
    assert body["message"].startswith(f"monitors.3.{field}: ")
    assert monitor_count() == before


def test_every_bad_item_is_reported_and_the_message_counts_the_rest(api):
    items = _items(5)
    items[1]["name"] = ""
    items[4]["url"] = "https://"
    response = _bulk(api, items)
    assert response.status_code == 422
    assert set(_errors(response)) == {"monitors.1.name", "monitors.4.url"}
    assert response.get_json()["message"].startswith("monitors.1.name: ")
    assert "(and 1 more; see errors)" in response.get_json()["message"]
    assert monitor_count() == 0


def test_an_item_that_is_not_an_object_is_named_by_its_index(api):
    response = _bulk(api, [VALID, "https://shop.example/"])
    assert response.status_code == 422
    assert list(_errors(response)) == ["monitors.1"]
    assert monitor_count() == 0


def test_an_item_at_a_blocked_address_gives_400_and_stores_nothing(api):
    before = monitor_count()
    items = _items(4)
    items[2]["webhook_url"] = "http://169.254.169.254/latest/meta-data/"
    response = _bulk(api, items)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["message"] == (
        "monitors.2.webhook_url: address not allowed: 169.254.169.254 is a link-local or metadata address")
    assert list(_errors(response)) == ["monitors.2.webhook_url"]
    assert monitor_count() == before


def test_each_distinct_host_is_resolved_once_per_request(api, monkeypatch):
    looked_up = []
    real = netguard.resolve
    monkeypatch.setattr(netguard, "resolve", lambda host: looked_up.append(host) or real(host))
    items = _items(50) + [{**VALID, "name": "other", "url": "https://other.example/"}]
    items += [{**item, "webhook_url": STEP10["webhook_url"]} for item in _items(3)]
    assert _bulk(api, items).status_code == 201
    assert sorted(looked_up) == ["hooks.slack.com", "other.example", "shop.example"]
    looked_up.clear()
    assert _bulk(api, _items(2)).status_code == 201
    assert looked_up == ["shop.example"]  # a new request judges the host again


def test_a_host_that_resolves_to_a_blocked_address_is_refused_wherever_it_appears(api, monkeypatch):
    monkeypatch.setattr(netguard, "resolve", lambda host: ["10.1.2.3"] if host == "intranet.example" else [])
    items = _items(6)
    items[4]["url"] = "https://intranet.example/a"
    items[5]["url"] = "https://intranet.example/b"
    response = _bulk(api, items)
    assert response.status_code == 400
    assert list(_errors(response)) == ["monitors.4.url"]
    assert "10.1.2.3 is a private address" in response.get_json()["message"]
    assert monitor_count() == 0


@pytest.mark.parametrize("count", [0, defaults.MAX_BULK_MONITORS + 1])
def test_an_empty_list_or_more_than_1000_items_is_refused_with_a_clear_message(api, count):
    response = _bulk(api, [{"name": "m", "url": "https://shop.example/"}] * count)
    assert response.status_code == 422
    message = "Must hold 1 to 1000 monitors; send a larger set as several requests."
    assert _errors(response) == {"monitors": [message]}
    assert response.get_json()["message"] == f"monitors: {message}"
    assert monitor_count() == 0


@pytest.mark.parametrize(
    "body",
    [pytest.param({}, id="no-monitors"), pytest.param({"monitors": VALID}, id="not-a-list"),
     pytest.param([VALID], id="a-bare-array"), pytest.param({"monitors": [VALID], "dry_run": True}, id="extra-key")],
)
def test_a_body_that_is_not_a_monitors_list_is_refused(api, body):
    response = api.post("/monitors/bulk", json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]
    assert monitor_count() == 0


def test_a_body_that_is_not_json_is_refused(api):
    response = api.post("/monitors/bulk", data="monitors=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.is_json
    assert monitor_count() == 0


def test_a_read_only_key_gets_403(app, ro_key):
    response = _bulk(ApiClient(app.test_client(), ro_key), _items(2))
    assert response.status_code == 403
    assert response.get_json()["message"] == "This API key is read-only."
    assert monitor_count() == 0


def test_no_key_gets_401(anon):
    response = _bulk(anon, _items(2))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert monitor_count() == 0


def _oversized() -> bytes:
    """Over MAX_BULK_REQUEST_BYTES, with a valid item count: only its size is wrong."""
    item = {**VALID, "name": "x" * 200, "url": "https://shop.example/" + "p" * 1200}
    body = json.dumps({"monitors": [item] * defaults.MAX_BULK_MONITORS}).encode()
    assert len(body) > defaults.MAX_BULK_REQUEST_BYTES
    return body


def test_a_body_over_the_bulk_limit_gets_413(api):
    response = api.post("/monitors/bulk", data=_oversized(), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["message"] == f"Request body too large (limit {defaults.MAX_BULK_REQUEST_BYTES} bytes)."
    assert monitor_count() == 0


def test_a_chunked_body_over_the_bulk_limit_gets_413_too(api):
    response = api.post("/monitors/bulk", input_stream=io.BytesIO(_oversized()), content_type="application/json",
                        headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    assert monitor_count() == 0


def test_a_body_over_64_kib_is_accepted_by_bulk_but_not_by_the_single_routes(api):
    items = [{**item, "name": "n" * 200} for item in _items(400)]
    body = json.dumps({"monitors": items}).encode()
    assert defaults.MAX_REQUEST_BYTES < len(body) < defaults.MAX_BULK_REQUEST_BYTES
    chunked = {"headers": {"Transfer-Encoding": "chunked"}, "environ_overrides": {"wsgi.input_terminated": True}}
    assert api.post("/monitors/bulk", input_stream=io.BytesIO(body), content_type="application/json",
                    **chunked).status_code == 201
    response = api.post("/monitors", data=json.dumps({**VALID, "name": "x" * len(body)}),
                        content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["message"] == f"Request body too large (limit {defaults.MAX_REQUEST_BYTES} bytes)."
    assert monitor_count() == 400


def test_1000_monitors_are_created_in_one_request(api):
    items = _items(defaults.MAX_BULK_MONITORS, webhook_url=STEP10["webhook_url"])
    response = _bulk(api, items)
    assert response.status_code == 201
    created = response.get_json()
    assert [m["name"] for m in created] == [item["name"] for item in items]
    assert len({m["id"] for m in created}) == defaults.MAX_BULK_MONITORS
    assert monitor_count() == defaults.MAX_BULK_MONITORS


def test_bulk_is_not_mistaken_for_a_monitor_id(api):
    _bulk(api, _items(1))
    response = api.get("/monitors/bulk")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert api.get("/monitors/1").status_code == 200


def test_the_spec_documents_the_bulk_request_and_its_responses(anon):
    spec = anon.get("/openapi.json").get_json()
    operation = spec["paths"]["/monitors/bulk"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/MonitorBulkCreate"}
    bulk = spec["components"]["schemas"]["MonitorBulkCreate"]
    assert bulk["required"] == ["monitors"] and bulk["additionalProperties"] is False
    monitors = bulk["properties"]["monitors"]
    assert (monitors["type"], monitors["minItems"], monitors["maxItems"]) == ("array", 1, 1000)
    assert monitors["items"] == {"$ref": "#/components/schemas/MonitorCreate"}
    assert {"201", "400", "401", "403", "413", "422"} <= set(operation["responses"])
    created = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"type": "array", "items": {"$ref": "#/components/schemas/Monitor"}}
