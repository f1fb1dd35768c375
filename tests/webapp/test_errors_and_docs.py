"""Errors are JSON without internals; the OpenAPI document and Swagger UI are complete and offline."""

from __future__ import annotations

import re

import pytest

from healthmon.models import Monitor
from tests.webapp.conftest import ApiClient, make_key
from webapp.app import create_app


def test_an_unknown_route_is_404_json(anon):
    response = anon.get("/nowhere")
    assert response.status_code == 404
    assert response.get_json() == {"code": 404, "status": "Not Found", "message": "No such resource."}


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/monitors"), ("POST", "/monitors/1"), ("POST", "/health")])
def test_a_wrong_method_is_405_json_with_allow(api, method, path):
    response = api.open(method, path, json={})
    assert response.status_code == 405
    assert response.get_json()["code"] == 405
    assert "GET" in response.headers["Allow"]


def test_a_trailing_slash_on_the_collection_is_accepted(api):
    assert api.get("/monitors/").status_code == 200


def test_an_unexpected_error_is_a_500_without_internals(settings, monkeypatch):
    app = create_app(settings)  # not TESTING: exceptions are handled, not propagated
    client = ApiClient(app.test_client(), make_key())

    def explode(*args, **kwargs):
        raise RuntimeError("postgresql://app:hunter2@db/hm exploded")

    monkeypatch.setattr(Monitor, "select", explode)
    response = client.get("/monitors")
    assert response.status_code == 500
    assert response.get_json() == {"code": 500, "status": "Internal Server Error", "message": "Internal server error."}
    assert "hunter2" not in response.get_data(as_text=True)


@pytest.fixture
def spec(anon):
    response = anon.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_spec_declares_every_bound(spec):
    props = spec["components"]["schemas"]["MonitorCreate"]["properties"]
    assert (props["name"]["minLength"], props["name"]["maxLength"]) == (1, 200)
    assert props["url"]["maxLength"] == 2048 and props["webhook_url"]["maxLength"] == 2048
    assert (props["check_interval"]["minimum"], props["check_interval"]["maximum"]) == (1, 86400)
    assert (props["timeout"]["minimum"], props["timeout"]["maximum"]) == (1, 30)
    assert (props["expected_status_code"]["minimum"], props["expected_status_code"]["maximum"]) == (100, 599)
    assert (props["fail_threshold"]["minimum"], props["fail_threshold"]["maximum"]) == (1, 10)
    assert (props["success_threshold"]["minimum"], props["success_threshold"]["maximum"]) == (1, 10)
    assert set(props["webhook_format"]["enum"]) == {"slack", "json", None}
    assert spec["components"]["schemas"]["MonitorCreate"]["additionalProperties"] is False
    statuses = spec["components"]["schemas"]["Monitor"]["properties"]["status"]["enum"]
    assert statuses == ["UNKNOWN", "UP", "DEGRADED", "DOWN", "PAUSED"]
    assert spec["components"]["schemas"]["MonitorPatch"].get("required") is None
    assert (props["max_response_time_ms"]["minimum"], props["max_response_time_ms"]["maximum"]) == (1, 30000)
    assert props["expected_status_codes"]["maxItems"] == 20 and props["assertions"]["maxItems"] == 20
    kinds = props["assertions"]["items"]["oneOf"]
    assert all(k["additionalProperties"] is False and {"target", "op"} <= set(k["required"]) for k in kinds)


def test_the_spec_uses_the_configured_min_check_interval(db_url):
    from tests.conftest import make_settings

    app = create_app(make_settings(database_url=db_url, min_check_interval=15))
    props = app.test_client().get("/openapi.json").get_json()["components"]["schemas"]["MonitorCreate"]["properties"]
    assert props["check_interval"]["minimum"] == 15


def test_the_spec_declares_bearer_auth_and_leaves_health_open(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert set(spec["paths"]["/monitors"]) == {"get", "post"}
    assert set(spec["paths"]["/monitors/{monitor_id}"]) >= {"get", "put", "patch", "delete"}
    assert "401" in spec["paths"]["/monitors"]["get"]["responses"]
    assert "403" in spec["paths"]["/monitors"]["post"]["responses"]
    assert spec["paths"]["/monitors"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "type"] == "array"


def test_swagger_ui_is_served_without_any_cdn(anon):
    page = anon.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/openapi.json" in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/docs/assets/") for u in urls), urls
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    for url in urls:
        asset = anon.get(url)
        assert asset.status_code == 200 and len(asset.data) > 1000


def test_only_the_swagger_assets_are_served(anon):
    assert anon.get("/docs/assets/index.html").status_code == 404
    assert anon.get("/docs/assets/../../setup.cfg").status_code == 404
