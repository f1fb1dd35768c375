"""Monitors and webhooks may not point at loopback, private, link-local or metadata addresses."""

from __future__ import annotations

import pytest

from healthmon.settings import Settings
from tests.webapp.conftest import STEP10, ApiClient, make_key, monitor_count
from webapp.app import create_app

BLOCKED_HOSTS = [
    "127.0.0.1", "localhost", "127.1", "0x7f000001", "2130706433", "017700000001", "[::1]",
    "[::ffff:127.0.0.1]", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "169.254.170.2",
    "100.64.0.1", "[fc00::1]", "[fd00:ec2::254]", "[fe80::1]", "224.0.0.1", "0.0.0.0", "[64:ff9b::a9fe:a9fe]",
    "[2002:7f00:1::]",
]


def _client(db_url: str, **env) -> ApiClient:
    """An app WITHOUT the test default ALLOWED_PRIVATE_CIDRS=127.0.0.0/8."""
    settings = Settings.from_env({"DATABASE_URL": db_url, "MIN_CHECK_INTERVAL": "1", **env})
    app = create_app(settings, TESTING=True)
    return ApiClient(app.test_client(), make_key())


@pytest.fixture
def strict(db_url):
    return _client(db_url)


@pytest.mark.parametrize(
    ("field", "host"),
    [("url", host) for host in BLOCKED_HOSTS]
    + [("webhook_url", host) for host in ("localhost", "0x7f000001", "[::ffff:127.0.0.1]", "169.254.169.254",
                                          "[fd00:ec2::254]", "10.0.0.1")],
)
def test_it_refuses_a_blocked_address_on_create(strict, field, host):
    response = strict.post("/monitors", json={**STEP10, field: f"http://{host}/hook"})
    assert response.status_code == 400, response.get_json()
    reason = response.get_json()["errors"]["json"][field][0]
    assert reason.startswith("address not allowed: ")
    assert monitor_count() == 0


@pytest.mark.parametrize("host", ["127.1", "169.254.169.254", "[64:ff9b::a9fe:a9fe]"])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_it_refuses_a_blocked_address_on_edit(strict, host, method):
    created = strict.post("/monitors", json=STEP10).get_json()
    body = {**STEP10, "url": f"https://{host}:8443/"} if method == "PUT" else {"url": f"https://{host}:8443/"}
    response = strict.open(method, f"/monitors/{created['id']}", json=body)
    assert response.status_code == 400
    assert "url" in response.get_json()["errors"]["json"]
    assert strict.get(f"/monitors/{created['id']}").get_json() == created


def test_the_reason_names_the_kind_of_address(strict):
    response = strict.post("/monitors", json={**STEP10, "url": "http://169.254.169.254/latest/meta-data/"})
    assert response.get_json()["message"] == "url: address not allowed: 169.254.169.254 is a link-local or " \
                                             "metadata address"


def test_allowed_private_cidrs_opens_a_range_but_never_the_metadata_service(db_url):
    client = _client(db_url, ALLOWED_PRIVATE_CIDRS="10.0.0.0/8")
    assert client.post("/monitors", json={**STEP10, "url": "http://10.1.2.3:8080/health"}).status_code == 201
    response = client.post("/monitors", json={**STEP10, "url": "http://169.254.169.254/"})
    assert response.status_code == 400
    assert client.post("/monitors", json={**STEP10, "url": "http://192.168.1.1/"}).status_code == 400
    assert monitor_count() == 1
