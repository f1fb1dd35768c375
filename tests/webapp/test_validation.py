"""Every bad request is refused with a JSON body naming the field and its reason, and stores nothing."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import make_settings
from tests.webapp.conftest import STEP10, ApiClient, make_key, monitor_count
from webapp.app import create_app

VALID = {"name": "Shop", "url": "https://shop.example/health", "check_interval": 30, "timeout": 5}

BAD_FIELDS = [
    pytest.param({"colour": "red"}, "colour", "Unknown field", id="unknown-field"),
    pytest.param({"check_interval": "30"}, "check_interval", "integer", id="string-for-int"),
    pytest.param({"check_interval": 30.0}, "check_interval", "integer", id="float-for-int"),
    pytest.param({"check_interval": 30.5}, "check_interval", "integer", id="fraction-for-int"),
    pytest.param({"check_interval": True}, "check_interval", "integer", id="bool-for-int"),
    pytest.param({"timeout": False}, "timeout", "integer", id="bool-for-timeout"),
    pytest.param({"expected_status_code": "200"}, "expected_status_code", "integer", id="string-for-status"),
    pytest.param({"expected_status_code": 99}, "expected_status_code", "greater than or equal", id="status-below-100"),
    pytest.param({"expected_status_code": 600}, "expected_status_code", "greater than or equal", id="status-above-599"),
    pytest.param({"enabled": "true"}, "enabled", "boolean", id="string-for-bool"),
    pytest.param({"enabled": 1}, "enabled", "boolean", id="int-for-bool"),
    pytest.param({"url": "ftp://example.com/file"}, "url", "http:// or https://", id="ftp-url"),
    pytest.param({"url": "https://"}, "url", "no host", id="url-without-host"),
    pytest.param({"url": "https:///path"}, "url", "no host", id="url-with-empty-host"),
    pytest.param({"url": "example.com/health"}, "url", "http:// or https://", id="url-without-scheme"),
    pytest.param({"url": "https://exa mple.com/"}, "url", "Not a valid URL", id="url-with-space"),
    pytest.param({"url": "https://example.com:99999/"}, "url", "Not a valid URL", id="url-with-bad-port"),
    pytest.param({"url": "https://example.com/" + "a" * 2029}, "url", "Longer than maximum length 2048",
                 id="url-2049-chars"),
    pytest.param({"url": 42}, "url", "string", id="url-not-a-string"),
    pytest.param({"url": None}, "url", "null", id="url-null"),
    pytest.param({"webhook_url": "javascript:alert(1)"}, "webhook_url", "http:// or https://", id="webhook-scheme"),
    pytest.param({"webhook_url": "https://hooks.slack.com/services/AAAA****"}, "webhook_url", "masked",
                 id="webhook-masked-on-create"),
    pytest.param({"webhook_format": "xml"}, "webhook_format", "one of", id="webhook-format"),
    pytest.param({"check_interval": 86401}, "check_interval", "greater than or equal", id="interval-above-max"),
    pytest.param({"check_interval": 0}, "check_interval", "greater than or equal", id="interval-zero"),
    pytest.param({"check_interval": 10, "timeout": 10}, "timeout", "less than check_interval",
                 id="timeout-equals-interval"),
    pytest.param({"check_interval": 10, "timeout": 20}, "timeout", "less than check_interval",
                 id="timeout-above-interval"),
    pytest.param({"timeout": 0}, "timeout", "greater than or equal", id="timeout-zero"),
    pytest.param({"timeout": 31}, "timeout", "greater than or equal", id="timeout-above-30"),
    pytest.param({"name": ""}, "name", "Must have a visible character", id="empty-name"),
    pytest.param({"name": "   "}, "name", "Must have a visible character", id="blank-name"),
    pytest.param({"name": "x" * 201}, "name", "Length must be between 1 and 200", id="long-name"),
    pytest.param({"name": "x" * 201}, "name", "Length must be between 1 and 200", id="name-201-chars"),
    pytest.param({"fail_threshold": 0}, "fail_threshold", "greater than or equal", id="fail-threshold-zero"),
    pytest.param({"success_threshold": 11}, "success_threshold", "greater than or equal", id="success-threshold-11"),
]


def _errors(response) -> dict:
    body = response.get_json()
    assert body is not None, response.data[:200]
    return body.get("errors", {}).get("json", {})


def _assert_refused(response, field: str, reason: str, before: int, edit: bool = False) -> None:
    """`edit`: a PUT or PATCH, where a masked webhook that is not the monitor's is a conflict (409)."""
    conflict = edit and field == "webhook_url" and reason == "masked"
    assert response.status_code in ((409,) if conflict else (400, 422)), response.get_json()
    assert response.is_json
    messages = " ".join(_errors(response).get(field, []))
    assert reason.lower() in messages.lower(), response.get_json()
    assert monitor_count() == before


@pytest.mark.parametrize(("change", "field", "reason"), BAD_FIELDS)
def test_it_refuses_a_bad_field_on_create_and_stores_nothing(api, change, field, reason):
    before = monitor_count()
    response = api.post("/monitors", json={**VALID, **change})
    _assert_refused(response, field, reason, before)


@pytest.mark.parametrize(("change", "field", "reason"), BAD_FIELDS)
def test_it_refuses_a_bad_field_on_put_and_changes_nothing(api, change, field, reason):
    created = api.post("/monitors", json=VALID).get_json()
    response = api.put(f"/monitors/{created['id']}", json={**VALID, **change})
    _assert_refused(response, field, reason, 1, edit=True)
    assert api.get(f"/monitors/{created['id']}").get_json() == created


@pytest.mark.parametrize(("change", "field", "reason"), BAD_FIELDS)
def test_it_refuses_a_bad_field_on_patch_and_changes_nothing(api, change, field, reason):
    created = api.post("/monitors", json=VALID).get_json()
    response = api.patch(f"/monitors/{created['id']}", json=change)
    _assert_refused(response, field, reason, 1, edit=True)
    assert api.get(f"/monitors/{created['id']}").get_json() == created


@pytest.mark.parametrize(("change", "field"), [
    ({"check_interval": 20}, "check_interval"), ({"timeout": 30}, "timeout"),
])
def test_a_patch_that_breaks_the_timeout_rule_with_the_stored_value_is_a_conflict(api, change, field):
    """The patch cannot be applied to the stored state (RFC 5789: 409), which the schema cannot know."""
    created = api.post("/monitors", json={**VALID, "check_interval": 30, "timeout": 20}).get_json()
    response = api.patch(f"/monitors/{created['id']}", json=change)
    assert response.status_code == 409, response.get_json()
    assert "less than check_interval" in " ".join(_errors(response)[field])
    assert api.get(f"/monitors/{created['id']}").get_json() == created


@pytest.mark.parametrize("missing", ["name", "url"])
def test_it_requires_name_and_url(api, missing):
    body = {k: v for k, v in VALID.items() if k != missing}
    response = api.post("/monitors", json=body)
    _assert_refused(response, missing, "Missing data", 0)


def test_it_refuses_an_interval_below_min_check_interval(db_url):
    app = create_app(make_settings(database_url=db_url, min_check_interval=10), TESTING=True)
    api = ApiClient(app.test_client(), make_key())
    response = api.post("/monitors", json={**VALID, "check_interval": 9})
    _assert_refused(response, "check_interval", "greater than or equal to 10 and less than or equal to 86400", 0)
    assert api.post("/monitors", json={**VALID, "check_interval": 10}).status_code == 201


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        pytest.param("name=Shop&url=https://shop.example/", "application/x-www-form-urlencoded", id="form"),
        pytest.param(json.dumps(VALID), "text/plain", id="json-as-text-plain"),
        pytest.param("{not json", "application/json", id="broken-json"),
        pytest.param("", "application/json", id="empty-body"),
        pytest.param("[1, 2]", "application/json", id="json-array"),
        pytest.param("null", "application/json", id="json-null"),
        pytest.param('"Shop"', "application/json", id="json-string"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_it_refuses_a_body_that_is_not_a_json_object(api, data, content_type, method):
    created = api.post("/monitors", json=VALID).get_json()
    path = "/monitors" if method == "POST" else f"/monitors/{created['id']}"
    response = api.open(method, path, data=data, content_type=content_type)
    assert response.status_code in (400, 422)
    assert response.is_json and response.get_json()["code"] == response.status_code
    assert response.get_json().get("errors"), response.get_json()
    assert monitor_count() == 1
    assert api.get(f"/monitors/{created['id']}").get_json() == created


def test_it_answers_413_json_to_a_body_over_64_kib(api):
    body = json.dumps({**VALID, "name": "x" * (64 * 1024)})
    response = api.post("/monitors", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["code"] == 413
    assert "too large" in response.get_json()["message"]
    assert monitor_count() == 0


def test_it_reports_every_bad_field_at_once(api):
    response = api.post("/monitors", json={"name": "", "url": "ftp://x", "timeout": "5", "extra": 1})
    assert response.status_code == 422
    assert set(_errors(response)) == {"name", "url", "timeout", "extra"}
    assert monitor_count() == 0


def test_the_step10_payload_with_a_bad_interval_is_refused(api):
    response = api.post("/monitors", json={**STEP10, "check_interval": "30"})
    _assert_refused(response, "check_interval", "integer", 0)


def test_it_answers_413_to_a_chunked_body_over_64_kib_too(api):
    body = json.dumps({**VALID, "name": "x" * (64 * 1024)}).encode()
    response = api.post("/monitors", input_stream=io.BytesIO(body), content_type="application/json",
                        headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    assert response.get_json()["code"] == 413
    assert monitor_count() == 0


def test_a_small_chunked_body_is_accepted(api):
    body = json.dumps(VALID).encode()
    response = api.post("/monitors", input_stream=io.BytesIO(body), content_type="application/json",
                        headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("name", ["bad\x00name", "two\nlines", "esc\x1b[31m", "\x85", "c1\x9bcontrol"])
def test_a_name_with_control_characters_is_refused_naming_the_field(api, name):
    response = api.post("/monitors", json={"name": name, "url": "https://example.com/"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["name"] == [
        "Must have a visible character and no control characters (such as NUL, a newline or U+0085)."]
    bulk = api.post("/monitors/bulk", json={"monitors": [{"name": name, "url": "https://example.com/"}]})
    assert bulk.status_code == 422 and "monitors.0.name" in bulk.get_json()["errors"]["json"]
    assert api.get("/monitors").get_json() == []


@pytest.mark.parametrize(("sent", "stored"), [("  Shop  ", "Shop"), ("\u3000wide\u3000", "\u3000wide\u3000"),
                                              ("Zürich API", "Zürich API")])
def test_a_name_is_stored_as_sent_but_for_surrounding_spaces(api, sent, stored):
    response = api.post("/monitors", json={"name": sent, "url": "https://example.com/"})
    assert response.status_code == 201 and response.get_json()["name"] == stored
