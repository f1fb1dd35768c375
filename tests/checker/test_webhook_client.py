"""post(): one webhook POST, no redirects, guard applied, errors that never show the webhook path."""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

from checker.webhook_client import TransportError, post
from healthmon.netguard import AddressGuard
from tests.support.targets import closed_port

pytestmark = pytest.mark.timeout(30)
LOOPBACK = AddressGuard([ipaddress.ip_network("127.0.0.0/8")])
TOKEN = "B0000/XXXXsecretXXXX"


def test_it_posts_the_body_and_headers_and_returns_the_response(target):
    response = post(target.url("/echo"), b'{"text": "down"}', {"Content-Type": "application/json"}, 5, LOOPBACK)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    echoed = json.loads(response.body)
    assert echoed["body"] == '{"text": "down"}'
    assert echoed["content-type"] == "application/json"
    assert target.requests[-1]["path"] == "/echo"


def test_it_returns_error_statuses_instead_of_raising(target):
    assert post(target.url("/status/404"), b"x", {}, 5, LOOPBACK).status == 404


def test_it_does_not_follow_redirects(target):
    response = post(target.url("/redirect/1"), b"x", {}, 5, LOOPBACK)
    assert response.status == 302
    assert target.count("/redirect/0") == 0


def test_it_caps_the_response_body_at_64_kib(target):
    response = post(target.url("/endless"), b"x", {}, 5, LOOPBACK)
    assert response.status == 200 and len(response.body) == 64 * 1024


def test_a_slow_receiver_times_out_within_the_deadline(target):
    start = time.monotonic()
    with pytest.raises(TransportError) as err:
        post(target.url(f"/slow-headers/5?t={TOKEN}"), b"x", {}, 1, LOOPBACK)
    assert err.value.kind == "timeout"
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("url_kind", ["closed", "dns"])
def test_transport_errors_carry_a_kind_and_no_token(url_kind):
    url = {"closed": f"http://127.0.0.1:{closed_port()}/services/{TOKEN}",
           "dns": f"https://hooks.nonexistent.invalid/services/{TOKEN}"}[url_kind]
    with pytest.raises(TransportError) as err:
        post(url, b"x", {}, 2, LOOPBACK)
    assert err.value.kind == {"closed": "connect", "dns": "dns"}[url_kind]
    assert "secret" not in str(err.value)


def test_an_untrusted_certificate_is_a_tls_error(self_signed_target):
    with pytest.raises(TransportError) as err:
        post(self_signed_target.url(f"/services/{TOKEN}"), b"x", {}, 2, LOOPBACK)
    assert err.value.kind == "tls" and "secret" not in str(err.value)


def test_a_non_http_url_is_refused():
    with pytest.raises(TransportError) as err:
        post("file:///etc/passwd", b"x", {}, 2, LOOPBACK)
    assert err.value.kind == "protocol"
