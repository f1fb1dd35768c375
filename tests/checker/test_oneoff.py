"""`healthmon check URL`: a readable result and an exit code a script can use."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)


def healthmon_check(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in ("CA_BUNDLE", "ALLOWED_PRIVATE_CIDRS")}
    full_env.update({"ALLOWED_PRIVATE_CIDRS": "127.0.0.0/8", "LOG_LEVEL": "WARNING"}, **env)
    return subprocess.run([sys.executable, "-m", "healthmon.cli", "check", *args], capture_output=True,
                          text=True, env=full_env, timeout=30)


def test_it_exits_0_and_prints_the_timings_for_a_healthy_url(target):
    proc = healthmon_check(target.url("/"))
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout and "status:      200" in proc.stdout
    assert "latency:" in proc.stdout and "connect:" in proc.stdout


def test_it_exits_1_and_prints_the_error_for_an_unexpected_status(target):
    proc = healthmon_check(target.url("/status/503"))
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout and "unexpected_status: expected 200, got 503" in proc.stdout


def test_it_honours_expected_status_and_timeout(target):
    assert healthmon_check(target.url("/status/503"), "--expected-status", "503").returncode == 0
    proc = healthmon_check(target.url("/drip"), "--timeout", "1")
    assert proc.returncode == 1 and "timeout" in proc.stdout


def test_it_applies_the_address_guard_from_the_settings(target):
    proc = healthmon_check(target.url("/"), ALLOWED_PRIVATE_CIDRS="")
    assert proc.returncode == 1 and "blocked_address" in proc.stdout
    assert target.connections == 0


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http:///nohost", "not a url", "file:///etc/passwd"])
def test_it_exits_2_for_an_invalid_url(url):
    proc = healthmon_check(url)
    assert proc.returncode == 2
    assert "healthmon check:" in proc.stderr and proc.stdout == ""


def test_it_prints_the_certificate_of_an_https_url(tmp_path):
    import datetime as dt
    import hashlib

    from tests.support.targets import TargetServer, make_leaf_certificates

    certs = make_leaf_certificates(tmp_path, {"10d": dt.timedelta(days=10)})
    with TargetServer(tls=certs.leaves["10d"]) as https:
        proc = healthmon_check(https.url("/"), CA_BUNDLE=certs.ca_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fingerprint = hashlib.sha256(certs.der["10d"]).hexdigest()
    assert f"certificate: expires {certs.not_after['10d']:%Y-%m-%dT%H:%M:%S}.000Z (in 9 days), sha256 {fingerprint}" \
        in proc.stdout
