"""Every /monitors endpoint needs a key; writes need a read-write key; the docs and /health stay open."""

from __future__ import annotations

import pytest

from healthmon import apikeys
from healthmon.db import database
from healthmon.models import ApiKey
from tests.webapp.conftest import STEP10, ApiClient, monitor_count

ENDPOINTS = [
    ("GET", "/monitors", False),
    ("POST", "/monitors", True),
    ("GET", "/monitors/{id}", False),
    ("PUT", "/monitors/{id}", True),
    ("PATCH", "/monitors/{id}", True),
    ("DELETE", "/monitors/{id}", True),
    ("GET", "/monitors/{id}/events", False),
    ("GET", "/monitors/{id}/results", False),
]
BODIES = {"POST": STEP10, "PUT": STEP10, "PATCH": {"name": "changed"}}


@pytest.fixture
def monitor_id(api):
    return api.post("/monitors", json=STEP10).get_json()["id"]


def _call(client, method, path, monitor_id):
    return client.open(method, path.format(id=monitor_id), json=BODIES.get(method))


def _revoked_key() -> str:
    row, token = apikeys.create_key("old")
    apikeys.revoke(row.id)
    database.close()
    return token


BAD_AUTHORIZATION = {
    "no-header": None,
    "empty-bearer": "Bearer",
    "basic-scheme": "Basic dXNlcjpwYXNz",
    "unknown-key": "Bearer hmw_" + "A" * 43,
    "malformed-key": "Bearer not-a-key",
    "revoked-key": "revoked",
}
AUTH_CASES = [
    # Every endpoint without a key and with a revoked one; every kind of bad header on one read and one write.
    pytest.param(method, path, writes, BAD_AUTHORIZATION[kind], id=f"{method} {path} {kind}")
    for method, path, writes in ENDPOINTS
    for kind in BAD_AUTHORIZATION
    if kind in ("no-header", "revoked-key") or (method, path) in (("GET", "/monitors"), ("PATCH", "/monitors/{id}"))
]


@pytest.mark.parametrize(("method", "path", "writes", "authorization"), AUTH_CASES)
def test_it_answers_401_with_a_bearer_challenge(app, monitor_id, method, path, writes, authorization):
    if authorization == "revoked":
        authorization = f"Bearer {_revoked_key()}"
    client = app.test_client()
    headers = {"Authorization": authorization} if authorization else {}
    response = client.open(path.format(id=monitor_id), method=method, json=BODIES.get(method), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["code"] == 401
    assert monitor_count() == 1


@pytest.mark.parametrize(("method", "path", "writes"), ENDPOINTS)
def test_a_read_only_key_reads_but_gets_403_on_writes(app, ro_key, monitor_id, method, path, writes):
    response = _call(ApiClient(app.test_client(), ro_key), method, path, monitor_id)
    if writes:
        assert response.status_code == 403
        assert response.get_json()["message"] == "This API key is read-only."
    else:
        assert response.status_code == 200
    assert monitor_count() == 1


@pytest.mark.parametrize(("method", "path", "writes"), ENDPOINTS)
def test_a_read_write_key_may_do_everything(api, monitor_id, method, path, writes):
    response = _call(api, method, path, monitor_id)
    assert response.status_code in (200, 201, 204)


@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/docs", "/docs/assets/swagger-ui-bundle.js"])
def test_health_and_docs_need_no_key(anon, path):
    assert anon.get(path).status_code == 200


def test_the_scheme_name_is_case_insensitive(app, rw_key):
    response = app.test_client().get("/monitors", headers={"Authorization": f"bearer {rw_key}"})
    assert response.status_code == 200


def test_the_api_keys_table_holds_no_plaintext_key(api, rw_key, ro_key):
    api.get("/monitors")
    rows = database.execute_sql("SELECT * FROM api_keys").fetchall()
    database.close()
    assert len(rows) == 2
    dumped = repr(rows)
    for key in (rw_key, ro_key):
        assert key not in dumped
        assert key[4:] not in dumped
        assert apikeys.hash_key(key) in dumped


def test_an_error_response_never_echoes_the_presented_key(app):
    token = "hmw_" + "S" * 43
    response = app.test_client().get("/monitors", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "SSSS" not in response.get_data(as_text=True)


def test_a_request_marks_the_key_as_used(api, rw_key):
    api.get("/monitors")
    key = ApiKey.get(ApiKey.key_hash == apikeys.hash_key(rw_key))
    database.close()
    assert key.last_used_at is not None
