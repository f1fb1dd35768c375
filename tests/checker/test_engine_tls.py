"""The engine observes the server's certificate when the spec asks: its notAfter and SHA-256 fingerprint, from
libcurl's CERTINFO, against local HTTPS targets with short-lived certificates."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress

import pytest

from checker.engine import CheckEngine, perform_check
from healthmon.domain.check import CheckSpec
from healthmon.domain.tls import whole_days_left
from healthmon.domain.verdict import evaluate
from healthmon.netguard import AddressGuard
from tests.support.targets import TargetServer, make_leaf_certificates

pytestmark = pytest.mark.timeout(60)
LOOPBACK = AddressGuard([ipaddress.ip_network("127.0.0.0/8")])


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_leaf_certificates(tmp_path_factory.mktemp("expiry"), {
        "2d": dt.timedelta(days=2), "10d": dt.timedelta(days=10), "expired": dt.timedelta(hours=-5)})


@pytest.fixture
def https(certs):
    with TargetServer(tls=certs.leaves["10d"]) as server:
        yield server


def run(engine: CheckEngine, spec: CheckSpec):
    engine.submit(spec, "token")
    for _ in range(100):
        done = engine.poll(1.0)
        if done:
            return done[0][1]
    raise AssertionError("no result")


def test_it_reads_the_expiry_and_fingerprint_of_the_certificate_served(certs, https):
    seen = perform_check(CheckSpec(url=https.url("/"), observe_tls=True), LOOPBACK, ca_bundle=certs.ca_file)
    assert seen.error_kind is None and seen.status_code == 200
    assert seen.tls.expires_at == certs.not_after["10d"]
    assert seen.tls.fingerprint_sha256 == hashlib.sha256(certs.der["10d"]).hexdigest()
    assert whole_days_left(seen.tls.expires_at, seen.checked_at) == 9  # 10 days minus the seconds since


def test_it_reads_nothing_unless_asked_nor_for_http(certs, https, target):
    assert perform_check(CheckSpec(url=https.url("/")), LOOPBACK, ca_bundle=certs.ca_file).tls is None
    seen = perform_check(CheckSpec(url=target.url("/"), observe_tls=True), LOOPBACK)
    assert seen.status_code == 200 and seen.tls is None


def test_a_pooled_handle_switches_certinfo_on_and_off_per_check(certs, https):
    engine = CheckEngine(LOOPBACK, ca_bundle=certs.ca_file, max_concurrency=1)  # one handle, reused
    try:
        url = https.url("/")
        on, off = CheckSpec(url=url, observe_tls=True), CheckSpec(url=url)
        first, second, third = run(engine, on), run(engine, off), run(engine, on)
        assert first.tls is not None and second.tls is None and third.tls == first.tls
        assert all(s.status_code == 200 for s in (first, second, third))
    finally:
        engine.close()


def test_a_renewed_certificate_has_a_new_fingerprint(certs, https):
    spec = CheckSpec(url=https.url("/"), observe_tls=True)
    before = perform_check(spec, LOOPBACK, ca_bundle=certs.ca_file).tls
    https.set_certificate(*certs.leaves["2d"])
    after = perform_check(spec, LOOPBACK, ca_bundle=certs.ca_file).tls
    assert after.fingerprint_sha256 == hashlib.sha256(certs.der["2d"]).hexdigest() != before.fingerprint_sha256
    assert after.expires_at == certs.not_after["2d"] < before.expires_at


def test_an_expired_certificate_still_fails_the_check_and_is_still_seen(certs):
    with TargetServer(tls=certs.leaves["expired"]) as server:
        spec = CheckSpec(url=server.url("/"), observe_tls=True)
        verdict = evaluate(spec, perform_check(spec, LOOPBACK, ca_bundle=certs.ca_file))
    assert not verdict.ok and verdict.error_kind == "tls"
    assert verdict.error == "TLS certificate expired with 127.0.0.1"  # said precisely, not "not trusted"
    seen = verdict.observation.tls
    assert seen.expires_at == certs.not_after["expired"]
    assert whole_days_left(seen.expires_at, verdict.observation.checked_at) == -1


def test_the_certificate_of_the_last_https_hop_is_reported(certs, https, target):
    with TargetServer(tls=certs.leaves["2d"]) as other:
        url = https.url("/redirect-to?url=" + other.url("/"))
        seen = perform_check(CheckSpec(url=url, observe_tls=True), LOOPBACK, ca_bundle=certs.ca_file)
    assert seen.redirects == 1 and seen.tls.expires_at == certs.not_after["2d"]
