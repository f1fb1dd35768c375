"""Every benchmark in bench/ runs in its --smoke mode and prints its figures. No timing is asserted: these
tests only keep the benchmarks working while the code they measure changes.

PostgreSQL variants use the suite's server (tests/conftest.py): skipped when it is unreachable, failed
under CI=true.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def run_bench(*args: str, timeout: float = TIMEOUT) -> str:
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def pg_admin_url(request) -> str | None:
    """The PostgreSQL server's URL, or None outside CI when it is unreachable (pg_server fails in CI)."""
    try:
        return request.getfixturevalue("pg_server").url
    except pytest.skip.Exception:
        return None


def test_engine_cpu_smoke():
    out = run_bench("bench/engine_cpu.py", "--smoke")
    assert "CPU per check (us)" in out
    assert "CheckEngine" in out and "requests (new Session per check)" in out


def test_scheduler_tick_smoke(pg_admin_url):
    out = run_bench("bench/scheduler_tick.py", "--smoke", "--pg", pg_admin_url or "")
    assert "sqlite      checked  50 due of 200" in out
    assert "sqs(1ms)    sub-batch 10: tick" in out
    if pg_admin_url:
        assert "postgresql  backlog" in out


def test_worker_throughput_smoke():
    out = run_bench("-m", "bench.worker_throughput", "--smoke")
    assert "100 checks (" in out and "checks/s" in out


def test_alert_claim_smoke_sqlite():
    assert "sqlite rows=2000 webhooks=500 claims=50 per_claim_ms=" in run_bench("bench/alert_claim.py", "--smoke")


def test_alert_claim_smoke_postgresql(pg_server):
    out = run_bench("bench/alert_claim.py", "--smoke", pg_server.create_database())
    assert "postgresql rows=2000 webhooks=500 claims=50 per_claim_ms=" in out


def test_history_smoke(pg_admin_url):
    out = run_bench("bench/history.py", "--smoke", "--pg", pg_admin_url or "")
    assert "sqlite      storage: 2 monitors x 20 days every 60 s = 57,600 checks" in out
    assert "sqlite      uptime 365d (one monitor, 31 daily rows): median" in out
    assert "sqlite      GET /status (20 monitors," in out
    if pg_admin_url:
        assert "postgresql  GET /status (20 monitors," in out and "postgresql  storage:" in out


def _scale(tmp_path: Path, *args: str) -> dict:
    report = tmp_path / "scale.json"
    out = run_bench("bench/scale.py", "--smoke", "--json", str(report), *args)
    for figure in ("checks/s achieved", "lag ms p50 / p99 / max", "missed slots", "ms/check", "GET /monitors/{id}"):
        assert figure in out
    result = json.loads(report.read_text())
    assert result["checks"]["results"] > 0
    assert result["cpu_seconds_by_kind"]["checker"] >= 0
    assert result["stop"]["exit"] == 0, result["up_log_tail"]
    return result


@pytest.mark.slow
def test_scale_smoke_embedded(tmp_path):
    result = _scale(tmp_path, "--setup", "embedded")
    assert result["setup"] == "embedded"


@pytest.mark.slow
def test_scale_smoke_embedded_asyncio_targets(tmp_path):
    """The farm a machine without nginx gets."""
    result = _scale(tmp_path, "--setup", "embedded", "--farm", "asyncio")
    assert result["farm"]["kind"] == "asyncio"


@pytest.mark.slow
def test_scale_smoke_postgres(tmp_path, pg_server):
    result = _scale(tmp_path, "--setup", "postgres", "--pg-admin-url", pg_server.url)
    assert "postgres" in result["cpu_seconds_by_kind"]


def test_apply_quick():
    out = run_bench("bench/apply.py", "--quick", timeout=300)
    assert "apply of 1,000 monitors" in out
    for line in ("re-apply (no changes)", "apply of the export (no changes)"):
        assert line in out
    assert out.count("No changes: 1000 monitors as declared.") == 2
    assert "Applied: 1000 create" in out and "Applied: 0 create, 100 change" in out
