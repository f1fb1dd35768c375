"""The SQS endpoint goes away for 30 s while the scheduler and a pool of two checker processes run twenty
monitors: first black-holed (calls in progress stall, new connections hang), then refusing connections. moto
keeps its queues in memory, so the outage is a proxy in front of the session's moto_server, never a restart.

The user sees: no process crashes; the scheduler and the checkers retry with growing, jittered pauses (at most
15 s); results resume on their own after the return; no slot recorded twice, no job lost, nothing dead-lettered.
"""

from __future__ import annotations

import re
import time

import pytest

from healthmon.db import bind, database, utcnow
from healthmon.models import CheckResult
from tests.e2e.conftest import Distributed
from tests.e2e.procs import wait_until
from tests.e2e.test_distributed import _worker_stats as worker_stats
from tests.faults.outage_support import Outage, TcpProxy, recorded_counts
from tests.support.moto import MotoServer
from tests.support.targets import TargetServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

OUTAGE_SECONDS = 30
"""How long the SQS endpoint is unreachable (the issue's figure): half black-holed, half refusing."""

CATCH_UP_DEADLINE = 30
"""Every monitor has a newly scheduled result this long after the endpoint is back."""

BACKOFF_CAP = 15.0
"""The longest pause a process may take between two attempts (healthmon.backoff.OUTAGE_BACKOFF_MAX)."""

MONITORS = 20
INTERVAL = 2
WARM_UP_CHECKS = 2


def _delays(output: str, pattern: str) -> list[float]:
    return [float(d) for d in re.findall(pattern, output)]


def test_sqs_unreachable_for_30_seconds_backs_off_with_jitter_and_catches_up(pg_server, moto_server, tmp_path):
    with TcpProxy(moto_server.port) as proxy, TargetServer() as target:
        deployment = Distributed(pg_server.create_database(), MotoServer(proxy.port, moto_server.process), tmp_path)
        try:
            _run(deployment, proxy, target)
        finally:
            deployment.close()
            if database.obj is not None:
                database.close()


def _run(deployment, proxy, target) -> None:
    bind(deployment.db_url)
    api_proc, api = deployment.start_api()
    scheduler = deployment.start("scheduler", "scheduler")
    checker = deployment.start("checker", "checker", "--processes", "2", "--concurrency", "10")
    checker.wait_for(r"(?s)worker started.*worker started", 30)
    ids = [api.create_monitor(name=f"svc {i}", url=target.url(f"/?m={i}"), check_interval=INTERVAL,
                              timeout=1)["id"] for i in range(MONITORS)]
    wait_until(lambda: all(CheckResult.select().where(CheckResult.monitor == m).count() >= WARM_UP_CHECKS
                           for m in ids), 40, "every monitor checked twice")

    outage = Outage(proxy, OUTAGE_SECONDS).start()
    outage.join()
    back_at = utcnow()
    wait_until(lambda: all(CheckResult.select().where((CheckResult.monitor == m) & (CheckResult.slot > back_at))
                           .exists() for m in ids), CATCH_UP_DEADLINE + 10, "a fresh result for every monitor")
    caught_up = time.monotonic() - outage.returned

    assert scheduler.stop(30)[0] == 0, scheduler.output()[-3000:]
    wait_until(lambda: deployment.queued() == 0, 90, "the queue to drain")
    assert checker.stop(30)[0] == 0, checker.output()[-3000:]
    counts = recorded_counts()
    dead = deployment.queued(deployment.dlq_url)
    stats = worker_stats(checker.output())
    tick_delays = _delays(scheduler.output(), r"tick failed .*; retrying in ([\d.]+)s")
    receive_delays = _delays(checker.output(), r"receive failed: .*; next receive in ([\d.]+)s")
    print(f"\nSQS outage {OUTAGE_SECONDS} s: checks stored={counts['stored']} doubled={counts['doubled']} "
          f"jobs lost={counts['pending']} dead-lettered={dead}; scheduler retried after {tick_delays} s; "
          f"checker receives retried after {receive_delays} s; every monitor checked again {caught_up:.1f} s after "
          f"the return; recorded per worker {[s['recorded'] for s in stats]}")

    # Nobody crashed: both workers stopped cleanly, the pool restarted nobody, every process exited 0.
    assert len(stats) == 2 and "exited with code" not in checker.output()
    # Backed off: pauses grew, stayed under the cap and were jittered (not the bare 1, 2, 4 ... sequence).
    for delays in (tick_delays, receive_delays):
        assert len(delays) >= 2 and max(delays) <= BACKOFF_CAP
        assert max(delays) > 2 * min(delays)
    nominal = {1.0, 2.0, 4.0, 8.0, 16.0, BACKOFF_CAP}
    assert not set(tick_delays + receive_delays) <= nominal, "no jitter"
    # Caught up, nothing lost or twice, nothing dead-lettered because of the outage.
    assert caught_up <= CATCH_UP_DEADLINE
    assert counts["doubled"] == 0 and counts["pending"] == 0 and dead == 0
    assert sum(s["recorded"] for s in stats) == counts["stored"]
    api_proc.stop(30)
