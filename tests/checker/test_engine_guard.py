"""The address guard runs on every socket libcurl opens: a refused destination never sees a packet."""

from __future__ import annotations

import ipaddress

import pytest

from checker.engine import CheckEngine, perform_check
from checker.webhook_client import TransportError, post
from healthmon.domain.check import CheckSpec
from healthmon.netguard import AddressGuard
from tests.support.targets import TargetServer

pytestmark = pytest.mark.timeout(60)
ONLY_127_0_0_1 = AddressGuard([ipaddress.ip_network("127.0.0.1/32")])


def test_a_blocked_address_fails_without_a_single_connection(target):
    result = perform_check(CheckSpec(url=target.url("/"), timeout=2), AddressGuard())
    assert result.error_kind == "blocked_address" and result.status_code is None
    assert "loopback" in result.error
    assert target.connections == 0


def test_a_name_resolving_to_a_blocked_address_is_refused_after_dns(target):
    result = perform_check(CheckSpec(url=target.url("/", host="localhost"), timeout=2), AddressGuard())
    assert result.error_kind == "blocked_address"
    assert target.connections == 0


def test_a_redirect_to_a_blocked_address_is_refused_at_the_hop(target):
    with TargetServer(host="127.0.0.2") as internal:
        hop = target.url(f"/redirect-to?url={internal.url('/secret-admin')}")
        result = perform_check(CheckSpec(url=hop, timeout=2), ONLY_127_0_0_1)
        assert result.error_kind == "blocked_address", result
        assert "127.0.0.2" in result.error and "secret-admin" not in result.error
        assert target.count("/redirect-to") == 1
        assert internal.connections == 0


def test_the_engine_applies_the_guard_too(target):
    engine = CheckEngine(AddressGuard(), max_concurrency=2)
    try:
        engine.submit(CheckSpec(url=target.url("/"), timeout=2), "t")
        results = []
        while engine.in_flight():
            results += engine.poll(1.0)
    finally:
        engine.close()
    assert results[0][1].error_kind == "blocked_address"
    assert target.connections == 0


def test_a_post_to_a_blocked_address_raises_without_connecting(target):
    with pytest.raises(TransportError) as err:
        post(target.url("/services/T/B/secret"), b"{}", {}, 2, AddressGuard())
    assert err.value.kind == "blocked_address" and "secret" not in err.value.message
    assert target.connections == 0


def test_the_metadata_address_stays_blocked_even_when_everything_is_allowed():
    everything = AddressGuard([ipaddress.ip_network("0.0.0.0/0")])
    result = perform_check(CheckSpec(url="http://169.254.169.254/latest/meta-data/", timeout=2), everything)
    assert result.error_kind == "blocked_address"
