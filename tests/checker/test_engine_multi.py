"""Many checks at once on one CheckEngine: submit, poll, abort, reuse of handles."""

from __future__ import annotations

import ipaddress
import time

import pytest

from checker.engine import CheckEngine
from healthmon.domain.check import CheckSpec
from healthmon.netguard import AddressGuard
from tests.support.targets import closed_port

pytestmark = pytest.mark.timeout(60)
LOOPBACK = AddressGuard([ipaddress.ip_network("127.0.0.0/8")])


@pytest.fixture
def engine():
    eng = CheckEngine(LOOPBACK, max_concurrency=100)
    yield eng
    eng.close()


def drain(engine, limit=15.0):
    out = {}
    end = time.monotonic() + limit
    while engine.in_flight() and time.monotonic() < end:
        for token, result in engine.poll(0.5):
            out[token] = result
    return out


def test_it_returns_each_observation_with_its_token_and_judges_none(engine, target):
    engine.submit(CheckSpec(url=target.url("/")), "ok")
    engine.submit(CheckSpec(url=target.url("/status/500")), "bad")
    engine.submit(CheckSpec(url=f"http://127.0.0.1:{closed_port()}/"), "closed")
    assert engine.in_flight() == 3
    results = drain(engine)
    assert engine.in_flight() == 0
    assert (results["ok"].status_code, results["ok"].error_kind) == (200, None)
    # The engine observes; a 500 is a response like any other (its verdict is healthmon.domain.verdict's).
    assert (results["bad"].status_code, results["bad"].error_kind) == (500, None)
    assert results["closed"].error_kind == "connect"


def test_fifty_slow_targets_finish_in_about_one_timeout(engine, target):
    start = time.monotonic()
    for i in range(50):
        engine.submit(CheckSpec(url=target.url("/drip"), timeout=2), i)
    results = drain(engine)
    elapsed = time.monotonic() - start
    assert len(results) == 50
    assert all(r.error_kind == "timeout" for r in results.values())
    assert elapsed < 5.0  # one deadline (2 s) plus slack, not 50 of them


def test_a_slow_check_does_not_hold_back_a_fast_one(engine, target):
    engine.submit(CheckSpec(url=target.url("/drip"), timeout=3), "slow")
    engine.submit(CheckSpec(url=target.url("/")), "fast")
    start = time.monotonic()
    first = []
    while not first:
        first = engine.poll(1.0)
    assert [token for token, _ in first] == ["fast"]
    assert time.monotonic() - start < 1.0


def test_reused_handles_carry_nothing_over(target, https_target, tls_pki):
    engine = CheckEngine(LOOPBACK, ca_bundle=tls_pki.ca_file, max_concurrency=10)
    for round_ in range(3):
        engine.submit(CheckSpec(url=target.url("/redirect/2")), ("redir", round_))
        engine.submit(CheckSpec(url=target.url("/big/2048"), max_body_bytes=1024), ("big", round_))
        engine.submit(CheckSpec(url=https_target.url("/", host="localhost")), ("tls", round_))
        results = drain(engine)
        assert results[("redir", round_)].status_code == 200 and results[("redir", round_)].redirects == 2
        assert results[("big", round_)].error_kind == "body_too_large"
        assert results[("tls", round_)].status_code == 200 and results[("tls", round_)].tls_ms
    assert target.connections == 3 * 4  # 3 hops + 1 big per round: every check opened its own connections
    engine.close()


def test_poll_returns_at_once_when_nothing_is_in_flight(engine):
    start = time.monotonic()
    assert engine.poll(2.0) == []
    assert time.monotonic() - start < 0.1


def test_poll_gives_up_after_its_timeout(engine, target):
    engine.submit(CheckSpec(url=target.url("/drip"), timeout=5), "slow")
    start = time.monotonic()
    assert engine.poll(0.3) == []
    assert 0.25 <= time.monotonic() - start < 1.0
    assert engine.in_flight() == 1


def test_abort_all_returns_the_unfinished_tokens_and_frees_the_engine(engine, target):
    for i in range(3):
        engine.submit(CheckSpec(url=target.url("/drip"), timeout=5), i)
    engine.poll(0.2)
    assert sorted(engine.abort_all()) == [0, 1, 2]
    assert engine.in_flight() == 0
    engine.submit(CheckSpec(url=target.url("/")), "after")
    assert drain(engine)["after"].status_code == 200


def test_submit_refuses_past_max_concurrency(target):
    eng = CheckEngine(LOOPBACK, max_concurrency=2)
    try:
        eng.submit(CheckSpec(url=target.url("/drip"), timeout=2), 1)
        eng.submit(CheckSpec(url=target.url("/drip"), timeout=2), 2)
        assert eng.free_slots() == 0
        with pytest.raises(RuntimeError):
            eng.submit(CheckSpec(url=target.url("/")), 3)
    finally:
        eng.close()


def test_a_pooled_handle_switches_between_keeping_headers_and_not(target):
    engine = CheckEngine(LOOPBACK, max_concurrency=1)  # one handle, reused by every check
    try:
        seen = []
        for capture in (True, False, True):
            engine.submit(CheckSpec(url=target.url("/big/3"), capture_headers=capture), capture)
            seen += drain(engine).values()
        assert [s.headers and s.headers["content-length"] for s in seen] == ["3", None, "3"]
        assert all(s.status_code == 200 and s.error_kind is None for s in seen)
    finally:
        engine.close()
