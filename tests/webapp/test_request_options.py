"""Request options through the API: create, read, PUT, PATCH and bulk create, on SQLite and PostgreSQL.
auth and secret header values are write-only (masked in every response, kept by a masked round trip);
every invalid option is a 422 naming the field and the reason, and stores nothing."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from checker.record import load_spec
from healthmon.db import database
from healthmon.domain.request import MAX_BODY_CHARS, MAX_HEADERS_BYTES, WARN_NO_TLS_VERIFY, WARN_SECRET_IN_CLEAR
from healthmon.logs import QUIET_LOGGERS
from healthmon.models import Monitor
from healthmon.queue.base import CheckJob
from tests.webapp.conftest import monitor_count

SECRET = "Zq7SECRETvalue9"
TOKEN = f"tok.{SECRET}"
BASE = {"name": "Orders", "url": "https://api.example.com/health", "check_interval": 30, "timeout": 5}
FULL = {
    **BASE, "method": "POST",
    "headers": {"Content-Type": "application/json", "X-Api-Key": SECRET, "Cookie": f"sid={SECRET}",
                "X-Trace": "visible"},
    "body": '{"probe": true}',
    "auth": {"type": "bearer", "token": TOKEN},
    "follow_redirects": False, "verify_tls": True, "user_agent": "acme-probe/1.0",
}
MASKED_HEADERS = {"Content-Type": "application/json", "X-Api-Key": "****", "Cookie": "****", "X-Trace": "visible"}


def _stored(monitor_id: int) -> Monitor:
    row = Monitor.get_by_id(monitor_id)
    database.close()
    return row


def _clean(response) -> dict:
    text = response.get_data(as_text=True)
    assert SECRET not in text, text
    return response.get_json()


def test_defaults_are_a_plain_get(api):
    body = api.post("/monitors", json=BASE).get_json()
    assert (body["method"], body["headers"], body["body"], body["auth"]) == ("GET", {}, None, None)
    assert body["follow_redirects"] is True and body["verify_tls"] is True and body["user_agent"] is None
    assert body["warnings"] == []


def test_options_are_stored_and_shown_with_secrets_masked(api):
    response = api.post("/monitors", json=FULL)
    assert response.status_code == 201, response.get_json()
    body = _clean(response)
    assert body["method"] == "POST" and body["body"] == FULL["body"]
    assert body["headers"] == MASKED_HEADERS
    assert body["auth"] == {"type": "bearer", "token": "****"}
    assert body["follow_redirects"] is False and body["user_agent"] == "acme-probe/1.0"
    stored = _stored(body["id"])
    assert stored.headers == FULL["headers"] and stored.auth == FULL["auth"]


def test_headers_keep_the_order_given(api):
    raw = json.dumps({**BASE, "headers": {"X-B": "2", "X-A": "1", "X-C": "3"}})  # the test client sorts keys
    mid = api.post("/monitors", data=raw, content_type="application/json").get_json()["id"]
    assert list(_stored(mid).headers) == ["X-B", "X-A", "X-C"]


def test_basic_auth_is_masked_whole(api):
    created = _clean(api.post("/monitors", json={
        **BASE, "auth": {"type": "basic", "username": f"u{SECRET}", "password": SECRET}}))
    assert created["auth"] == {"type": "basic", "username": "****", "password": "****"}


def test_no_response_and_no_log_line_carries_a_secret(api, caplog):
    caplog.set_level(logging.DEBUG)
    mid = _clean(api.post("/monitors", json=FULL))["id"]
    _clean(api.get(f"/monitors/{mid}"))
    _clean(api.get("/monitors"))
    _clean(api.put(f"/monitors/{mid}", json=FULL))
    _clean(api.patch(f"/monitors/{mid}", json={"name": "renamed"}))
    _clean(api.patch(f"/monitors/{mid}", json={"headers": FULL["headers"], "auth": FULL["auth"]}))
    _clean(api.post("/monitors/bulk", json={"monitors": [FULL, FULL]}))
    bad = {**FULL, "headers": {"X-Api-Key": f"{SECRET}\nInjected: 1"}}
    _clean(api.post("/monitors", json=bad))  # the 422 names the header, never its value
    _clean(api.post("/monitors", json={**FULL, "auth": {"type": "bearer", "token": f"{SECRET} x"}}))
    # peewee logs SQL parameters at DEBUG; healthmon.logs pins it (and the other QUIET_LOGGERS) to WARNING.
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith(QUIET_LOGGERS)]
    assert not [line for line in ours if SECRET in line]


def test_verify_tls_off_and_credentials_over_http_show_warnings(api):
    body = api.post("/monitors", json={**BASE, "verify_tls": False}).get_json()
    assert body["warnings"] == [WARN_NO_TLS_VERIFY]
    body = api.post("/monitors", json={**BASE, "url": "http://api.example.com/",
                                       "auth": {"type": "bearer", "token": TOKEN}}).get_json()
    assert body["warnings"] == [WARN_SECRET_IN_CLEAR]
    body = api.patch(f"/monitors/{body['id']}", json={"url": "https://api.example.com/"}).get_json()
    assert body["warnings"] == []


def test_a_get_modify_put_round_trip_keeps_every_secret_and_resets_nothing(api):
    created = api.post("/monitors", json=FULL).get_json()
    document = api.get(f"/monitors/{created['id']}").get_json()
    Monitor.update(status="UP", consecutive_successes=3).where(Monitor.id == created["id"]).execute()
    database.close()
    body = {k: document[k] for k in FULL}
    body["name"] = "Orders (edited)"
    body["user_agent"] = "acme-probe/2.0"  # names the checker: not a changed check
    response = api.put(f"/monitors/{created['id']}", json=body)
    assert response.status_code == 200, response.get_json()
    stored = _stored(created["id"])
    assert stored.headers == FULL["headers"] and stored.auth == FULL["auth"]
    assert stored.status == "UP" and stored.generation == 1


def test_patching_the_masked_headers_back_keeps_them_and_patch_replaces_the_map(api):
    mid = api.post("/monitors", json=FULL).get_json()["id"]
    new = {"X-Api-Key": "****", "X-New": "1", "Content-Type": "application/json"}
    assert api.patch(f"/monitors/{mid}", json={"headers": new}).status_code == 200
    assert _stored(mid).headers == {"X-Api-Key": SECRET, "X-New": "1", "Content-Type": "application/json"}
    # A header name's case may change: the stored value is found case-insensitively.
    assert api.patch(f"/monitors/{mid}", json={"headers": {"x-api-key": "****"}}).status_code == 200
    assert _stored(mid).headers == {"x-api-key": SECRET}


@pytest.mark.parametrize(("field", "value", "path"), [
    ("auth", {"type": "bearer", "token": "****"}, "auth.token"),
    ("auth", {"type": "basic", "username": "bob", "password": "****"}, "auth.password"),
    ("headers", {"X-Api-Key": "****"}, "headers.X-Api-Key"),
])
def test_a_masked_secret_with_nothing_stored_is_refused(api, field, value, path):
    response = api.post("/monitors", json={**BASE, field: value})
    assert response.status_code == 422
    assert "masked" in response.get_json()["errors"]["json"][path][0]
    bulk = api.post("/monitors/bulk", json={"monitors": [BASE, {**BASE, field: value}]})
    assert bulk.status_code == 422 and f"monitors.1.{path}" in bulk.get_json()["errors"]["json"]
    assert monitor_count() == 0
    # A stored secret of another kind cannot stand in either.
    mid = api.post("/monitors", json={**BASE, "auth": {"type": "bearer", "token": TOKEN}}).get_json()["id"]
    if field == "auth" and value["type"] == "basic":
        response = api.patch(f"/monitors/{mid}", json={field: value})
        assert response.status_code == 422 and path in response.get_json()["errors"]["json"]


def test_a_literal_four_stars_in_a_non_secret_header_is_just_a_value(api):
    body = api.post("/monitors", json={**BASE, "headers": {"X-Rating": "****"}}).get_json()
    assert body["headers"] == {"X-Rating": "****"}


@pytest.mark.parametrize("change", [
    {"method": "HEAD"}, {"headers": {"Accept": "text/html"}}, {"method": "POST", "body": "x"},
    {"auth": {"type": "bearer", "token": "other"}}, {"follow_redirects": False}, {"verify_tls": False},
], ids=lambda c: "+".join(c))
def test_changing_what_is_checked_starts_the_monitor_afresh(api, change):
    mid = api.post("/monitors", json=BASE).get_json()["id"]
    Monitor.update(status="UP", consecutive_successes=3).where(Monitor.id == mid).execute()
    database.close()
    body = api.patch(f"/monitors/{mid}", json=change).get_json()
    assert body["status"] == "UNKNOWN" and body["consecutive_successes"] == 0
    assert _stored(mid).generation == 2
    events = api.get(f"/monitors/{mid}/events").get_json()
    assert events[0]["reason"].startswith("monitor edited (") and SECRET not in events[0]["reason"]


def test_the_user_agent_is_not_a_changed_check(api):
    mid = api.post("/monitors", json=BASE).get_json()["id"]
    Monitor.update(status="UP", consecutive_successes=3).where(Monitor.id == mid).execute()
    database.close()
    body = api.patch(f"/monitors/{mid}", json={"user_agent": "probe/2"}).get_json()
    assert body["status"] == "UP" and body["user_agent"] == "probe/2" and _stored(mid).generation == 1


def _long_headers() -> dict:
    return {f"X-H{i}": "v" * 1000 for i in range(9)}  # 9 x ~1006 bytes > 8192


BAD = [
    pytest.param({"method": "get"}, "method", "one of", id="method-lowercase"),
    pytest.param({"method": "TRACE"}, "method", "one of", id="method-trace"),
    pytest.param({"headers": ["X-A: 1"]}, "headers", "Not a valid mapping", id="headers-not-a-map"),
    pytest.param({"headers": {"X A": "1"}}, "headers.X A", "not a valid header name", id="header-name-space"),
    pytest.param({"headers": {"": "1"}}, "headers.", "1 to 100", id="header-name-empty"),
    pytest.param({"headers": {"X" * 101: "1"}}, "headers." + "X" * 101, "1 to 100", id="header-name-long"),
    pytest.param({"headers": {"Host": "evil.example"}}, "headers.Host", "address guard", id="header-host"),
    pytest.param({"headers": {"Content-Length": "5"}}, "headers.Content-Length", "from the body",
                 id="header-content-length"),
    pytest.param({"headers": {"transfer-encoding": "chunked"}}, "headers.transfer-encoding", "from the body",
                 id="header-transfer-encoding"),
    pytest.param({"headers": {"Connection": "keep-alive"}}, "headers.Connection", "fresh connection",
                 id="header-connection"),
    pytest.param({"headers": {"Expect": "100-continue"}}, "headers.Expect", "100-continue", id="header-expect"),
    pytest.param({"headers": {"Accept-Encoding": "gzip"}}, "headers.Accept-Encoding", "identity",
                 id="header-accept-encoding"),
    pytest.param({"headers": {"User-Agent": "x"}}, "headers.User-Agent", "user_agent field", id="header-user-agent"),
    pytest.param({"headers": {"X-A": "a\r\nX-Injected: 1"}}, "headers.X-A", "printable ASCII", id="header-crlf"),
    pytest.param({"headers": {"X-A": "caf\u00e9"}}, "headers.X-A", "printable ASCII", id="header-non-ascii"),
    pytest.param({"headers": {"X-A": ""}}, "headers.X-A", "between 1 and 4096", id="header-empty"),
    pytest.param({"headers": {"X-A": "v\n"}}, "headers.X-A", "printable ASCII", id="header-trailing-newline"),
    pytest.param({"headers": {"X-A\n": "v"}}, "headers.X-A\n", "not a valid header name", id="name-newline"),
    pytest.param({"headers": {"X-A": "   "}}, "headers.X-A", "blank", id="header-blank"),
    pytest.param({"headers": {"X-A": "v" * 4097}}, "headers.X-A", "between 1 and 4096", id="header-value-long"),
    pytest.param({"headers": {"X-A": 5}}, "headers.X-A", "Not a valid string", id="header-value-not-string"),
    pytest.param({"headers": {f"X-{i}": "1" for i in range(33)}}, "headers", "At most 32", id="headers-33"),
    pytest.param({"headers": _long_headers()}, "headers", f"at most {MAX_HEADERS_BYTES}", id="headers-too-big"),
    pytest.param({"headers": {"X-A": "1", "x-a": "2"}}, "headers", "given twice", id="header-twice"),
    pytest.param({"method": "POST", "body": "x" * (MAX_BODY_CHARS + 1)}, "body",
                 f"Longer than {MAX_BODY_CHARS} characters", id="body-too-large"),
    pytest.param({"method": "POST", "body": "a\u0000b"}, "body", "NUL", id="body-nul"),
    pytest.param({"method": "POST", "body": 5}, "body", "Not a valid string", id="body-not-a-string"),
    pytest.param({"auth": {"type": "digest"}}, "auth.type", "one of", id="auth-type"),
    pytest.param({"auth": {"type": "basic", "username": "bob"}}, "auth.password", "Required for basic",
                 id="basic-without-password"),
    pytest.param({"auth": {"type": "bearer", "token": "t", "username": "bob"}}, "auth.username", "Not used",
                 id="bearer-with-username"),
    pytest.param({"auth": {"type": "bearer", "token": "a b"}}, "auth.token", "Not a bearer token",
                 id="bearer-token-space"),
    pytest.param({"auth": {"type": "basic", "username": "a:b", "password": "p"}}, "auth.username", "colon",
                 id="basic-username-colon"),
    pytest.param({"auth": {"type": "basic", "username": "a", "password": "p\n"}}, "auth.password", "control",
                 id="basic-password-newline"),
    pytest.param({"auth": {"type": "bearer", "token": "t\n"}}, "auth.token", "Not a bearer token",
                 id="bearer-token-newline"),
    pytest.param({"auth": {"type": "bearer", "token": "t", "extra": 1}}, "auth.extra", "Unknown field",
                 id="auth-unknown-field"),
    pytest.param({"follow_redirects": "yes"}, "follow_redirects", "boolean", id="follow-string"),
    pytest.param({"verify_tls": 0}, "verify_tls", "boolean", id="verify-int"),
    pytest.param({"user_agent": "a\nb"}, "user_agent", "Printable ASCII", id="ua-newline"),
    pytest.param({"user_agent": "ab\n"}, "user_agent", "Printable ASCII", id="ua-trailing-newline"),
    pytest.param({"user_agent": "x" * 257}, "user_agent", "between 1 and 256", id="ua-too-long"),
    pytest.param({"user_agent": ""}, "user_agent", "between 1 and 256", id="ua-empty"),
]


def _error(response, path: str) -> str:
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]["json"]
    node = errors
    for part in path.split(".", 1) if path.startswith("headers.") else path.split("."):
        assert part in node, (path, errors)
        node = node[part]
    return " ".join(node) if isinstance(node, list) else str(node)


@pytest.mark.parametrize(("change", "path", "reason"), BAD)
def test_an_invalid_option_is_a_422_naming_the_field(api, change, path, reason):
    response = api.post("/monitors", json={**BASE, **change})
    assert reason.lower() in _error(response, path).lower()
    assert monitor_count() == 0


def test_the_body_limit_counts_characters_as_the_document_does(api):
    body = "\u00e9" * 20_000 + "x" * (MAX_BODY_CHARS - 20_000)  # 32,768 characters, 52,768 bytes of UTF-8
    raw = json.dumps({**BASE, "method": "POST", "body": body}, ensure_ascii=False).encode()
    response = api.post("/monitors", data=raw, content_type="application/json")
    assert response.status_code == 201, response.get_json()
    response = api.post("/monitors", json={**BASE, "method": "POST", "body": "x" * (MAX_BODY_CHARS + 1)})
    assert f"Longer than {MAX_BODY_CHARS} characters" in _error(response, "body")


@pytest.mark.parametrize(("change", "path", "reason"), [p for p in BAD if p.id in (
    "method-lowercase", "header-host", "header-crlf", "body-too-large", "bearer-token-space")])
def test_bulk_and_put_refuse_the_same_options(api, change, path, reason):
    response = api.post("/monitors/bulk", json={"monitors": [BASE, {**BASE, **change}]})
    assert response.status_code == 422
    assert any(key.startswith(f"monitors.1.{path.split('.')[0]}") for key in response.get_json()["errors"]["json"])
    assert monitor_count() == 0
    mid = api.post("/monitors", json=BASE).get_json()["id"]
    assert reason.lower() in _error(api.put(f"/monitors/{mid}", json={**BASE, **change}), path).lower()


def test_options_that_do_not_combine_are_used_as_documented_and_the_warnings_say_how(api, settings):
    # A HEAD does not send its body; auth replaces an Authorization header. Both are accepted (the document
    # allows them) and shown in warnings, and the check does what the warning says.
    created = api.post("/monitors", json={**BASE, "method": "HEAD", "body": "x", "auth": {"type": "bearer",
                                          "token": TOKEN}, "headers": {"Authorization": "Token x"}})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert "method is HEAD: the body is not sent" in body["warnings"]
    assert "auth is set: it replaces the Authorization header given in headers" in body["warnings"]
    spec = load_spec(CheckJob(body["id"], dt.datetime(2026, 1, 1)), settings)
    assert spec.request.body is None
    assert [line for line in spec.request.header_lines if line.startswith("Authorization")] == [
        f"Authorization: Bearer {TOKEN}"]
    patched = api.patch(f"/monitors/{body['id']}", json={"method": "GET"}).get_json()
    assert "method is HEAD: the body is not sent" not in patched["warnings"]
    job = CheckJob(body["id"], dt.datetime(2026, 1, 1), _stored(body["id"]).generation)  # a changed check
    assert load_spec(job, settings).request.body == b"x"


def test_the_checker_builds_the_stored_options_into_its_spec(api, settings):
    mid = api.post("/monitors", json={**FULL, "verify_tls": False}).get_json()["id"]
    spec = load_spec(CheckJob(mid, dt.datetime(2026, 1, 1)), settings)
    request = spec.request
    assert request.method == "POST" and request.body == b'{"probe": true}'
    assert f"X-Api-Key: {SECRET}" in request.header_lines and f"Authorization: Bearer {TOKEN}" in request.header_lines
    assert request.follow_redirects is False and request.verify_tls is False
    assert request.user_agent == "acme-probe/1.0" and request.guard_redirects is False  # not followed at all
    assert SECRET not in repr(spec)
    plain = api.post("/monitors", json=BASE).get_json()["id"]
    assert load_spec(CheckJob(plain, dt.datetime(2026, 1, 1)), settings).request is None
    database.close()


def test_the_document_states_the_rules_with_examples(api):
    doc = api.get("/openapi.json").get_json()
    fields = doc["components"]["schemas"]["MonitorCreate"]["properties"]
    assert fields["method"]["enum"] == ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    assert fields["headers"]["maxProperties"] == 32 and "host" in fields["headers"]["description"]
    assert fields["headers"]["additionalProperties"]["maxLength"] == 4096
    assert fields["body"]["maxLength"] == MAX_BODY_CHARS
    for name in ("method", "headers", "body", "auth", "user_agent"):
        assert "example" in fields[name], name
    basic, bearer = fields["auth"]["oneOf"]  # exactly the fields of each type: no unstated "not used" rule
    assert basic["required"] == ["type", "username", "password"] and basic["additionalProperties"] is False
    assert bearer["required"] == ["type", "token"] and "pattern" in bearer["properties"]["token"]
    assert fields["auth"]["nullable"] is True
    post = doc["paths"]["/monitors"]["post"]["requestBody"]["content"]["application/json"]
    assert post["example"]["method"] == "POST"
    assert "warnings" in doc["components"]["schemas"]["Monitor"]["properties"]
