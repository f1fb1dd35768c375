"""One check at a time: what a user sees for each kind of target (perform_check and the engine share options)."""

from __future__ import annotations

import ipaddress
import time

import pytest

from checker.engine import USER_AGENT, perform_check
from healthmon.domain.check import ERROR_KINDS, CheckSpec
from healthmon.domain.verdict import evaluate
from healthmon.netguard import AddressGuard
from tests.support.targets import closed_port

pytestmark = pytest.mark.timeout(60)
LOOPBACK = AddressGuard([ipaddress.ip_network("127.0.0.0/8")])


def check(url, **kw):
    """The verdict of one check of `url` (its observation in `.observation`)."""
    kw.setdefault("timeout", 2)
    ca_bundle = kw.pop("ca_bundle", None)
    spec = CheckSpec(url=url, **kw)
    return evaluate(spec, perform_check(spec, LOOPBACK, ca_bundle=ca_bundle))


def test_it_reports_a_200_as_ok_with_timings(target):
    result = check(target.url("/"))
    assert result.ok and result.observation.status_code == 200 and result.error_kind is None
    seen = result.observation
    assert seen.latency_ms > 0 and seen.connect_ms is not None and seen.first_byte_ms is not None
    assert seen.tls_ms is None and seen.checked_at is not None


def test_it_reports_a_500_as_unexpected_status(target):
    result = check(target.url("/status/500"))
    assert not result.ok
    assert result.observation.status_code == 500
    assert result.error_kind == "unexpected_status"
    assert result.error == "expected 200, got 500"


def test_it_accepts_the_status_the_monitor_expects(target):
    assert check(target.url("/status/204"), expected_status_code=204).ok
    assert not check(target.url("/"), expected_status_code=204).ok


def test_it_follows_the_flapping_target(target):
    target.set_status(503)
    assert check(target.url("/flap")).observation.status_code == 503
    target.set_status(200)
    assert check(target.url("/flap")).ok


def test_it_sends_identity_encoding_and_its_user_agent(target):
    check(target.url("/echo"))
    headers = {k.lower(): v for k, v in target.requests[-1]["headers"].items()}
    assert headers["accept-encoding"] == "identity"
    assert headers["user-agent"] == USER_AGENT


def test_it_opens_a_new_connection_for_every_check(target):
    for _ in range(3):
        assert check(target.url("/")).ok
    assert target.connections == 3


def test_a_dripping_target_fails_with_timeout_at_the_deadline(target):
    start = time.monotonic()
    result = check(target.url("/drip"), timeout=2)
    elapsed = time.monotonic() - start
    assert result.error_kind == "timeout" and not result.ok
    assert result.observation.status_code == 200  # the headers came; the body never ended
    assert 1.8 <= elapsed < 3.0


def test_the_deadline_covers_the_whole_check_with_the_default_timeout(target):
    start = time.monotonic()
    result = check(target.url("/drip"), timeout=5)
    assert result.error_kind == "timeout"
    assert time.monotonic() - start < 6.0


def test_slow_headers_time_out(target):
    result = check(target.url("/slow-headers/5"), timeout=1)
    assert result.error_kind == "timeout" and result.observation.status_code is None


def test_an_endless_body_fails_fast_with_body_too_large(target):
    start = time.monotonic()
    result = check(target.url("/endless"), max_body_bytes=1024 * 1024)
    assert result.error_kind == "body_too_large" and not result.ok
    assert result.observation.status_code == 200
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("query", ["", "?chunked=1"])
def test_a_body_over_the_cap_fails_and_one_at_the_cap_passes(target, query):
    assert check(target.url(f"/big/1024{query}"), max_body_bytes=1024).ok
    result = check(target.url(f"/big/1025{query}"), max_body_bytes=1024)
    assert result.error_kind == "body_too_large"


@pytest.mark.parametrize("hops", [1, 5])
def test_it_follows_up_to_five_redirects(target, hops):
    result = check(target.url(f"/redirect/{hops}"))
    assert result.ok and result.observation.redirects == hops


def test_six_redirects_are_too_many(target):
    result = check(target.url("/redirect/6"))
    assert result.error_kind == "too_many_redirects" and not result.ok
    assert target.count("/redirect/0") == 0


def test_a_redirect_loop_is_too_many_redirects(target):
    result = check(target.url("/loop"))
    assert result.error_kind == "too_many_redirects"
    assert target.count("/loop") == 6  # the first request and five hops


def test_a_redirect_to_another_scheme_is_refused(target):
    result = check(target.url("/redirect-to?url=file:///etc/passwd"))
    assert result.error_kind == "protocol"


def test_a_non_http_url_is_a_protocol_error():
    result = check("ftp://127.0.0.1/x")
    assert result.error_kind == "protocol"


def test_a_closed_port_is_a_connect_error():
    result = check(f"http://127.0.0.1:{closed_port()}/")
    assert result.error_kind == "connect" and result.observation.status_code is None


def test_an_unresolvable_name_is_a_dns_error():
    result = check("http://nonexistent.invalid/")
    assert result.error_kind == "dns"
    assert "nonexistent.invalid" in result.error


def test_a_self_signed_certificate_is_a_tls_error(self_signed_target, tls_pki):
    result = check(self_signed_target.url("/"), ca_bundle=tls_pki.ca_file)
    assert result.error_kind == "tls" and not result.ok


def test_a_certificate_from_a_trusted_ca_passes_with_tls_timing(https_target, tls_pki):
    result = check(https_target.url("/", host="localhost"), ca_bundle=tls_pki.ca_file)
    assert result.ok, result
    assert result.observation.tls_ms is not None and result.observation.tls_ms > 0


def test_the_default_ca_bundle_does_not_trust_the_test_ca(https_target):
    result = check(https_target.url("/"))
    assert result.error_kind == "tls"


SECRET = "tok3n-s3cr3t"


@pytest.mark.parametrize("path", ["/drip", "/endless", "/redirect/9", "/loop", "/status/500"])
def test_error_strings_never_contain_the_url_path_query_or_credentials(target, path):
    url = f"http://user:{SECRET}@127.0.0.1:{target.port}{path}?key={SECRET}&p=/{SECRET}/"
    result = check(url, timeout=1)
    assert result.error and SECRET not in result.error and "user" not in result.error


@pytest.mark.parametrize("url", [
    f"http://nonexistent.invalid/{SECRET}?k={SECRET}",
    f"http://127.0.0.1:{closed_port()}/{SECRET}",
    f"http://user:{SECRET}@nonexistent.invalid/",
], ids=["dns", "connect", "userinfo"])  # fixed ids: the closed port differs per collection (pytest-xdist)
def test_transport_error_strings_name_only_the_host(url):
    result = check(url)
    assert result.error and SECRET not in result.error


def test_every_error_kind_used_is_a_known_one(target):
    for path in ["/drip", "/endless", "/loop", "/status/500"]:
        assert check(target.url(path), timeout=1).error_kind in ERROR_KINDS


def test_headers_and_body_are_kept_only_when_the_spec_asks(target):
    plain = check(target.url("/big/10")).observation
    assert plain.headers is None and plain.body is None
    kept = check(target.url("/big/10"), capture_headers=True, capture_body=True).observation
    assert kept.body == b"y" * 10
    assert kept.headers["content-length"] == "10"


def test_captured_headers_are_those_of_the_last_redirect_hop(target):
    seen = check(target.url("/redirect/2"), capture_headers=True).observation
    assert seen.redirects == 2 and seen.status_code == 200 and "location" not in seen.headers
