"""`healthmon scheduler`: ticks until SIGTERM, then exits 0; a failed tick does not end the loop."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from healthmon.db import database, utcnow
from healthmon.models import CheckResult, QueueMessage
from scheduler import service
from tests.scheduler.support import add_monitors

pytestmark = pytest.mark.timeout(60)


def healthmon_command() -> list[str]:
    script = Path(sys.executable).parent / "healthmon"
    return [str(script)] if script.exists() else [sys.executable, "-m", "healthmon.cli"]


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_scheduler_process_enqueues_due_checks_and_exits_0_on_sigterm(settings, tmp_path):
    add_monitors(3, next_check_at=utcnow(), interval=60)
    database.close()
    env = {k: v for k, v in os.environ.items() if k not in ("SQS_QUEUE_URL", "SQS_ENDPOINT_URL")}
    env.update(DATABASE_URL=settings.database_url, SCHEDULER_TICK="0.1", LOG_LEVEL="INFO")
    stderr_path = tmp_path / "scheduler.log"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen([*healthmon_command(), "scheduler"], env=env, stderr=stderr)
        try:
            enqueued = wait_for(lambda: QueueMessage.select().count() == 3, timeout=20)
            database.close()
            stop_sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=10)
            stopped_in = time.monotonic() - stop_sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log = stderr_path.read_text()
    assert enqueued, log
    assert status == 0, log
    assert stopped_in < 5
    assert "[SCHEDULER] started" in log
    assert "[SCHEDULER] stopped" in log
    assert QueueMessage.select().count() == 3  # later ticks enqueued nothing more


class FlakyScheduler:
    """Fails its first tick with a secret in the message, then works, then asks the process to stop."""

    def __init__(self, settings, queue):
        self.ticks = 0
        self.skipped = 0

    def tick(self):
        self.ticks += 1
        if self.ticks == 1:
            raise ConnectionError("could not connect to postgresql://hm:s3cr3t-pw@db.example:5432/hm")
        if self.ticks == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return 1


def test_a_failed_tick_is_logged_without_secrets_and_the_loop_goes_on(settings, monkeypatch, caplog):
    monkeypatch.setattr(service, "Scheduler", FlakyScheduler)
    monkeypatch.setattr(service, "BACKOFF_START", 0.01)
    before = signal.getsignal(signal.SIGTERM)
    caplog.set_level(logging.INFO, logger="healthmon.scheduler")

    assert service.run(dataclasses.replace(settings, scheduler_tick=0.05)) == 0

    assert signal.getsignal(signal.SIGTERM) is before
    text = caplog.text
    assert "[SCHEDULER] tick failed (ConnectionError)" in text
    assert "s3cr3t-pw" not in text
    assert "[SCHEDULER] stopped" in text


class StopAfterOneTick:
    """A Scheduler whose first tick asks the loop to stop, so run() does exactly one iteration."""

    skipped = 0

    def __init__(self, settings, queue):
        pass

    def tick(self):
        os.kill(os.getpid(), signal.SIGTERM)
        return 0


def test_the_scheduler_prunes_results_older_than_the_retention_period(settings):
    monitor = add_monitors(1)[0]
    old = utcnow() - dt.timedelta(days=settings.result_retention_days + 1)
    CheckResult.create(monitor=monitor, slot=old, checked_at=old, ok=True, status_code=200, latency_ms=1)
    CheckResult.create(monitor=monitor, slot=utcnow(), ok=True, status_code=200, latency_ms=1)
    original = service.Scheduler
    service.Scheduler = StopAfterOneTick
    try:
        assert service.run(settings) == 0
    finally:
        service.Scheduler = original
    assert [r.checked_at > old for r in CheckResult.select()] == [True]


class ClosingQueue:
    """A queue that notes which SIGTERM handler is in place while the scheduler closes it."""

    handler_at_close = None

    def close(self):
        ClosingQueue.handler_at_close = signal.getsignal(signal.SIGTERM)


def test_a_second_sigterm_during_the_shutdown_cannot_kill_the_scheduler(settings, monkeypatch):
    monkeypatch.setattr(service, "Scheduler", StopAfterOneTick)
    monkeypatch.setattr(service, "open_queue", lambda settings: ClosingQueue())
    before = signal.getsignal(signal.SIGTERM)

    assert service.run(settings) == 0

    # While it cleans up, a repeated SIGTERM only asks again to stop; the default handler (which would end
    # the process with -15 before it finished) is back only once it is done.
    assert ClosingQueue.handler_at_close not in (signal.SIG_DFL, before)
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_scheduler_process_keeps_its_stop_handler_until_it_exits(settings, monkeypatch):
    monkeypatch.setattr(service, "Scheduler", StopAfterOneTick)
    before, before_int = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        assert service.run(settings, restore_signals=False) == 0
        # What `healthmon scheduler` runs: after the loop, up to the exit, a SIGTERM is ignored (a Python
        # handler would be reset to the default action while the interpreter shuts down).
        os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)
        signal.signal(signal.SIGINT, before_int)
