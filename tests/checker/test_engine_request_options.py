"""Request options on the wire: what a target receives for each method, header, body, auth, redirect, TLS and
User-Agent option, and that a pooled handle carries nothing of one check's options into the next."""

from __future__ import annotations

import base64
import ipaddress
import json
import time

import pytest

from checker.engine import USER_AGENT, CheckEngine, perform_check
from healthmon.domain.check import CheckSpec
from healthmon.domain.request import METHODS, request_options
from healthmon.domain.verdict import evaluate
from healthmon.netguard import AddressGuard
from tests.support.targets import TargetServer

pytestmark = pytest.mark.timeout(60)
LOOPBACK = AddressGuard([ipaddress.ip_network("127.0.0.0/8")])
SECRET = "s3cr3t-Tok3n"


def opts(method="GET", headers=None, body=None, auth=None, follow_redirects=True, verify_tls=True,
         user_agent=None):
    return request_options(method, headers, body, auth, follow_redirects, verify_tls, user_agent)


def check(url, request=None, guard=LOOPBACK, **kw):
    kw.setdefault("timeout", 3)
    ca_bundle = kw.pop("ca_bundle", None)
    spec = CheckSpec(url=url, request=request, **kw)
    return evaluate(spec, perform_check(spec, guard, ca_bundle=ca_bundle))


def echoed(target) -> dict:
    """What the target's last request was: method, lowercased headers, body."""
    last = target.requests[-1]
    return {"method": last["method"], "headers": {k.lower(): v for k, v in last["headers"].items()},
            "body": last["body"]}


def test_a_monitor_without_options_has_no_request_options():
    assert opts() is None
    assert request_options(None, None, None, None, None, None, None) is None  # a row from before the options


@pytest.mark.parametrize("method", [m for m in METHODS if m != "HEAD"])
def test_each_method_reaches_the_target(target, method):
    result = check(target.url("/echo-request"), opts(method), capture_body=True)
    assert result.ok, result
    assert json.loads(result.observation.body)["method"] == method


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "GET", "DELETE", "OPTIONS"])
def test_a_body_is_sent_with_a_text_content_type_unless_the_headers_name_one(target, method):
    assert check(target.url("/echo-request"), opts(method, body="ping ✓")).ok
    seen = echoed(target)
    assert seen["method"] == method and seen["body"] == "ping ✓".encode()
    assert seen["headers"]["content-type"] == "text/plain; charset=utf-8"
    assert seen["headers"]["content-length"] == str(len("ping ✓".encode()))
    assert "expect" not in seen["headers"]
    check(target.url("/echo-request"), opts(method, headers={"Content-Type": "application/json"}, body='{"a": 1}'))
    seen = echoed(target)
    assert seen["headers"]["content-type"] == "application/json" and seen["body"] == b'{"a": 1}'


def test_a_head_sends_no_body_even_when_the_monitor_has_one(target):
    assert check(target.url("/echo-request"), opts("HEAD", body="ignored")).ok
    seen = echoed(target)
    assert seen["method"] == "HEAD" and seen["body"] == b"" and "content-type" not in seen["headers"]


def test_a_post_without_a_body_sends_an_empty_one(target):
    assert check(target.url("/echo-request"), opts("POST")).ok
    seen = echoed(target)
    assert seen["method"] == "POST" and seen["headers"]["content-length"] == "0" and seen["body"] == b""


def test_head_does_not_wait_for_a_body(target):
    start = time.monotonic()
    result = check(target.url("/drip"), opts("HEAD"), timeout=5)  # GET would time out: the body never ends
    assert result.ok and result.observation.status_code == 200, result
    assert time.monotonic() - start < 2.5
    assert echoed(target)["method"] == "HEAD"
    # The announced length of a body HEAD never gets is no reason to fail.
    assert check(target.url("/big/5000000"), opts("HEAD"), max_body_bytes=1024).ok


def test_headers_are_sent_and_replace_the_engine_defaults_of_the_same_name(target):
    headers = {"X-Trace": "abc 123", "Accept": "application/json"}
    assert check(target.url("/echo-request"), opts(headers=headers)).ok
    seen = echoed(target)["headers"]
    assert seen["x-trace"] == "abc 123" and seen["accept"] == "application/json"
    assert seen["accept-encoding"] == "identity"  # the engine's own: never decoded, never past the cap
    assert seen["user-agent"] == USER_AGENT


def test_basic_and_bearer_auth_send_an_authorization_header(target):
    check(target.url("/echo-request"), opts(auth={"type": "basic", "username": "alice", "password": SECRET}))
    expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert echoed(target)["headers"]["authorization"] == expected
    check(target.url("/echo-request"), opts(auth={"type": "bearer", "token": SECRET}))
    assert echoed(target)["headers"]["authorization"] == f"Bearer {SECRET}"


def test_a_custom_user_agent_is_sent(target):
    check(target.url("/echo-request"), opts(user_agent="acme-probe/2.0 (+ops@example.com)"))
    assert echoed(target)["headers"]["user-agent"] == "acme-probe/2.0 (+ops@example.com)"


def test_without_follow_redirects_the_3xx_is_the_response(target):
    result = check(target.url("/redirect/1"), opts(follow_redirects=False), expected_status_code=302)
    assert result.ok and result.observation.status_code == 302 and result.observation.redirects == 0
    assert target.count("/redirect/0") == 0
    assert check(target.url("/redirect/1")).observation.redirects == 1  # the default still follows


def test_without_verify_tls_a_self_signed_certificate_passes(self_signed_target, tls_pki):
    url = self_signed_target.url("/")
    assert check(url, ca_bundle=tls_pki.ca_file).error_kind == "tls"
    result = check(url, opts(verify_tls=False), ca_bundle=tls_pki.ca_file)
    assert result.ok and result.observation.tls_ms is not None, result


def test_the_address_guard_still_refuses_whatever_the_options(target):
    nothing_allowed = AddressGuard([])
    everything = opts("POST", headers={"X-Api-Key": SECRET}, body="x", auth={"type": "bearer", "token": SECRET},
                      follow_redirects=False, verify_tls=False, user_agent="ua")
    result = check(target.url("/echo-request"), everything, guard=nothing_allowed)
    assert result.error_kind == "blocked_address"
    assert target.connections == 0
    assert SECRET not in result.error


def test_a_redirect_to_a_blocked_address_is_refused_with_options():
    with TargetServer() as first, TargetServer(host="127.0.0.2") as internal:
        only_first = AddressGuard([ipaddress.ip_network("127.0.0.1/32")])
        url = first.url(f"/redirect-to?url={internal.url('/echo-request')}")
        result = check(url, opts("PUT", body="x", verify_tls=False), guard=only_first)
        assert result.error_kind == "blocked_address"
        assert internal.connections == 0


def test_a_secret_header_is_never_sent_to_another_origin_on_a_redirect(target):
    with TargetServer() as other:
        away = target.url(f"/redirect-to?url={other.url('/echo-request')}")
        result = check(away, opts(headers={"X-Api-Key": SECRET}))
        assert result.error_kind == "protocol" and "not followed" in result.error, result
        assert SECRET not in result.error
        assert other.connections == 0
        # The same origin is followed, with the header.
        same = target.url(f"/redirect-to?url={target.url('/echo-request')}")
        assert check(same, opts(headers={"X-Api-Key": SECRET})).ok
        assert echoed(target)["headers"]["x-api-key"] == SECRET
        # Without follow_redirects the 3xx is simply observed.
        assert check(away, opts(headers={"X-Api-Key": SECRET}, follow_redirects=False),
                     expected_status_code=302).ok


def test_auth_is_dropped_not_leaked_on_a_redirect_to_another_origin(target):
    with TargetServer() as other:
        away = target.url(f"/redirect-to?url={other.url('/echo-request')}")
        result = check(away, opts(auth={"type": "bearer", "token": SECRET}))
        assert result.ok, result  # libcurl follows, without the credentials
        assert "authorization" not in {k.lower() for k in other.requests[-1]["headers"]}


def test_error_text_and_the_spec_repr_never_carry_a_secret(target):
    spec_opts = opts("POST", headers={"X-Api-Key": SECRET}, body=SECRET, auth={"type": "bearer", "token": SECRET})
    result = check(target.url("/drip"), spec_opts, timeout=1)
    assert result.error_kind == "timeout" and SECRET not in result.error
    assert SECRET not in repr(CheckSpec(url=target.url("/"), request=spec_opts))


def _run(engine: CheckEngine, spec: CheckSpec):
    engine.submit(spec, "t")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = engine.poll(0.5)
        if done:
            return evaluate(spec, done[0][1])
    raise AssertionError("no result")


def test_a_pooled_handle_carries_no_option_into_the_next_plain_check(target, self_signed_target, tls_pki):
    engine = CheckEngine(LOOPBACK, ca_bundle=tls_pki.ca_file, max_concurrency=1)
    try:
        loaded = opts("PATCH", headers={"X-Api-Key": SECRET, "Accept": "text/html"}, body="payload",
                      auth={"type": "basic", "username": "u", "password": SECRET}, follow_redirects=False,
                      verify_tls=False, user_agent="custom-agent")
        assert _run(engine, CheckSpec(url=target.url("/echo-request"), timeout=3, request=loaded)).ok
        handle = engine._free[0].handle
        assert echoed(target)["method"] == "PATCH"

        plain = _run(engine, CheckSpec(url=target.url("/echo-request"), timeout=3))
        assert plain.ok and engine._free[0].handle is handle  # the same pooled handle
        seen = echoed(target)
        assert seen["method"] == "GET" and seen["body"] == b""
        assert seen["headers"]["user-agent"] == USER_AGENT and seen["headers"]["accept"] == "*/*"
        assert not {"authorization", "x-api-key", "content-type", "content-length"} & set(seen["headers"])
        assert _run(engine, CheckSpec(url=target.url("/redirect/1"), timeout=3)).observation.redirects == 1
        assert _run(engine, CheckSpec(url=self_signed_target.url("/"), timeout=3)).error_kind == "tls"

        assert _run(engine, CheckSpec(url=target.url("/big/5000"), timeout=3, max_body_bytes=1024,
                                      request=opts("HEAD"))).ok
        after_head = _run(engine, CheckSpec(url=target.url("/big/5000"), timeout=3, max_body_bytes=1024))
        assert after_head.error_kind == "body_too_large"  # GET again, and the cap is back
        assert engine._free[0].handle is handle
    finally:
        engine.close()


def test_options_switch_between_monitors_on_one_handle(target):
    engine = CheckEngine(LOOPBACK, max_concurrency=1)
    try:
        a = opts("POST", headers={"X-A": "1"}, body="a")
        b = opts("DELETE", headers={"X-B": "2"})
        for request, method, present, absent in [(a, "POST", "x-a", "x-b"), (b, "DELETE", "x-b", "x-a"),
                                                 (a, "POST", "x-a", "x-b")]:
            assert _run(engine, CheckSpec(url=target.url("/echo-request"), timeout=3, request=request)).ok
            seen = echoed(target)
            assert seen["method"] == method and present in seen["headers"] and absent not in seen["headers"]
        assert echoed(target)["body"] == b"a"
    finally:
        engine.close()


@pytest.mark.parametrize(("method", "status", "then"), [
    ("POST", 303, "GET"), ("POST", 302, "GET"), ("POST", 307, "POST"), ("PUT", 303, "PUT"), ("DELETE", 302, "DELETE"),
])
def test_what_a_redirect_does_to_the_method_is_what_the_docs_say(target, method, status, then):
    body = "b" if method in ("POST", "PUT") else None
    url = target.url(f"/redirect-status/{status}?url=/echo-request")
    assert check(url, opts(method, body=body)).ok
    assert echoed(target)["method"] == then
