"""`healthmon checker`: a parent that forks N worker processes and one alert sender, and keeps them alive.

Modelled on rq's WorkerPool: children receive `Settings` (a frozen dataclass), never a client; each child
binds its own database, opens its own queue and builds its own CheckEngine after the fork (libpq and
libcurl handles must never cross a fork). The parent opens nothing.

Signals:
- first SIGTERM/SIGINT to the parent: forwarded to the children as SIGTERM; workers stop receiving, drain
  for up to SHUTDOWN_GRACE and release the rest; the parent exits 0 once all children are gone, or kills
  them and exits 1 after shutdown_grace + STOP_MARGIN_SECONDS (25 s by default, under ECS's 30 s).
- a second signal: children are killed and the parent exits at once. Killed workers lose nothing: their
  messages become visible again after the visibility timeout.
Children ignore SIGINT: a Ctrl-C in a terminal reaches the whole process group, and the parent's forwarded
SIGTERM must count as the children's *first* signal, not their second.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from healthmon.backoff import OUTAGE_BACKOFF_MAX, backoff

log = logging.getLogger("healthmon.checker")

STOP_MARGIN_SECONDS = 5.0
"""Parent's wait beyond shutdown_grace for children to exit. A worker's release and close take well under a
second; sending its queued deletes (up to 2 s) and waiting for a long poll in progress (up to 1 s past the
grace, checker/queue_io.py) are bounded well within this."""

RESTART_BACKOFF_MIN = 1.0
RESTART_BACKOFF_MAX = 30.0
"""A child that keeps dying is restarted after 1, 2, 4 ... 30 s, so a crash loop does not spin the CPU."""

STABLE_SECONDS = 60.0
"""A child that ran this long before dying is restarted after the minimum backoff again."""

REAP_INTERVAL = 0.5
"""How often the parent looks for dead children (it also wakes at once when one exits)."""

ALERTS_PER_PASS = 1
"""Alerts sent per `deliver_due` call: one, so a stop request is seen between POSTs (each up to 10 s)."""

ALERT_IDLE_SECONDS = 0.5
"""Alert sender's pause when the outbox had nothing due: bounds alert latency, costs one small query."""

ALERT_ERROR_BACKOFF_MAX = OUTAGE_BACKOFF_MAX
"""After a failed delivery pass (database down) the sender waits 0.5 s, doubling up to 15 s while passes keep
failing, each jittered (healthmon/backoff.py): two log lines a minute in a long outage, not 120."""

EXIT_FORCED = 1
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)

CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"
"""cgroup v2 CPU limit: "<quota> <period>" in microseconds, or "max <period>" when unlimited. In a container
(ECS, Kubernetes, docker --cpus) this is the limit; os.cpu_count() is the host's CPU count."""


def cgroup_cpu_limit(path: str = CGROUP_CPU_MAX) -> int | None:
    """CPUs allowed by the cgroup v2 quota at `path`: ceil(quota / period), at least 1. None when the file is
    missing or unreadable, says "max" (no limit), or cannot be parsed."""
    try:
        fields = Path(path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def usable_cpus(cpu_max_path: str = CGROUP_CPU_MAX) -> int:
    """CPUs this process may actually use: its affinity mask (taskset, cpusets), capped by the cgroup v2 quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit(cpu_max_path)
    return max(1, min(cpus, limit) if limit is not None else cpus)


class _ChildSignals:
    """Child side: first SIGTERM calls `on_stop` (or sets `requested`); a second exits at once."""

    def __init__(self):
        self.requested = False
        self.on_stop = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._handle)
        # The parent blocked these around fork() so no signal could hit its own handler in the child.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            os._exit(EXIT_FORCED)
        self.requested = True
        if self.on_stop is not None:
            self.on_stop()


def _parent_alive(parent_pid: int):
    # If the pool parent is SIGKILLed, its workers must not live on as orphans holding messages.
    return lambda: os.getppid() == parent_pid


def worker_main(settings, concurrency: int, parent_pid: int) -> None:
    """Child entry: build DB binding, queue and engine here (after fork), run a Worker until stopped."""
    signals = _ChildSignals()
    signals.install()
    from checker.engine import CheckEngine
    from checker.worker import Worker
    from healthmon.db import bind
    from healthmon.netguard import AddressGuard
    from healthmon.queue import open_queue

    db = bind(settings.database_url)
    queue = open_queue(settings)
    engine = CheckEngine(AddressGuard(settings.allowed_private_cidrs), max_concurrency=concurrency,
                         ca_bundle=getattr(settings, "ca_bundle", None))
    worker = Worker(settings, queue, engine, concurrency=concurrency)
    signals.on_stop = worker.request_stop
    alive = _parent_alive(parent_pid)
    log.info("[CHECKER] worker started (%d concurrent checks, %s queue)", concurrency, settings.queue_backend)
    try:
        worker.run(lambda: not signals.requested and alive())
    finally:
        engine.close()
        queue.close()
        db.close()
    log.info("[CHECKER] worker stopped: %s", ", ".join(f"{k}={v}" for k, v in worker.stats.items()))


def alerts_main(settings, parent_pid: int) -> None:
    """Child entry: deliver due outbox alerts until stopped (alert delivery lives in the checker service)."""
    signals = _ChildSignals()
    signals.install()
    from checker.delivery import AlertSender
    from healthmon.db import bind
    from healthmon.netguard import AddressGuard

    db = bind(settings.database_url)
    sender = AlertSender(settings, AddressGuard(settings.allowed_private_cidrs))
    alive = _parent_alive(parent_pid)
    log.info("[CHECKER] alert sender started")
    failures = 0
    try:
        while not signals.requested and alive():
            try:
                sent = sender.deliver_due(ALERTS_PER_PASS)
            except Exception as exc:  # noqa: BLE001 - a database blip must not kill the sender
                failures += 1
                pause = backoff(failures, ALERT_IDLE_SECONDS, ALERT_ERROR_BACKOFF_MAX)
                log.warning("[WEBHOOK] delivery pass failed: %s: %s; retrying in %.1fs", exc.__class__.__name__,
                            exc, pause)
                _sleep_unless(lambda: signals.requested, pause)
                continue
            failures = 0
            if not sent:
                _sleep_unless(lambda: signals.requested, ALERT_IDLE_SECONDS)
    finally:
        db.close()
    log.info("[CHECKER] alert sender stopped")


def _sleep_unless(flag, seconds: float, step: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not flag() and time.monotonic() < deadline:
        time.sleep(step)


@dataclass
class Child:
    """One supervised slot: its name, how to start it, the current process and its restart bookkeeping."""

    name: str
    target: object
    args: tuple
    process: multiprocessing.Process | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    restart_at: float | None = None
    history: list[int] = field(default_factory=list)  # exit codes, newest last (for tests and logs)


class Pool:
    """The parent. `start()`, then `tick()` repeatedly; `request_stop()`, then `wait_stopped(timeout)`."""

    def __init__(self, settings, processes: int, concurrency: int, *, clock=time.monotonic):
        self.settings = settings
        self.processes = processes
        self.concurrency = concurrency
        self.stopping = False
        self._clock = clock
        # fork: children start in milliseconds and inherit the logging setup; the parent holds no client.
        self._ctx = multiprocessing.get_context("fork")
        pid = os.getpid()
        self.children = [
            Child(f"worker-{i + 1}", worker_main, (settings, concurrency, pid)) for i in range(processes)
        ]
        self.children.append(Child("alerts", alerts_main, (settings, pid)))

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        process = self._ctx.Process(target=child.target, args=child.args, name=child.name, daemon=False)
        old = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        child.process, child.started_at, child.restart_at = process, self._clock(), None

    def tick(self, timeout: float = REAP_INTERVAL) -> bool:
        """Reap dead children and restart those whose backoff has passed. Returns True if anything changed."""
        live = [c.process.sentinel for c in self.children if c.process is not None]
        if live and timeout > 0:
            multiprocessing.connection.wait(live, timeout)
        elif timeout > 0:
            time.sleep(timeout)
        changed = False
        now = self._clock()
        for child in self.children:
            proc = child.process
            if proc is not None and proc.exitcode is not None:
                changed = True
                pid = proc.pid
                child.history.append(proc.exitcode)
                proc.close()
                child.process = None
                if self.stopping:
                    continue
                lived = now - child.started_at
                child.quick_deaths = 1 if lived >= STABLE_SECONDS else child.quick_deaths + 1
                delay = min(RESTART_BACKOFF_MAX, RESTART_BACKOFF_MIN * 2 ** (child.quick_deaths - 1))
                child.restart_at = now + delay
                log.warning("[CHECKER] %s (pid %s) exited with code %s after %.1f s; restarting in %.0f s",
                            child.name, pid, child.history[-1], lived, delay)
            if child.process is None and child.restart_at is not None and now >= child.restart_at \
                    and not self.stopping:
                self._spawn(child)
                changed = True
                log.info("[CHECKER] %s restarted (pid %s)", child.name, child.process.pid)
        return changed

    def request_stop(self) -> None:
        """Forward SIGTERM to every live child; no more restarts."""
        self.stopping = True
        for child in self.children:
            child.restart_at = None
            self._signal(child, signal.SIGTERM)

    def kill(self) -> None:
        for child in self.children:
            self._signal(child, signal.SIGKILL)

    def alive(self) -> list[Child]:
        return [c for c in self.children if c.process is not None and c.process.exitcode is None]

    def wait_stopped(self, timeout: float) -> bool:
        """Reap until every child exited or `timeout` passed. True when all exited."""
        deadline = self._clock() + timeout
        while self.alive() and self._clock() < deadline:
            self.tick(min(REAP_INTERVAL, max(0.0, deadline - self._clock())))
        self.tick(0)
        return not any(c.process is not None for c in self.children)

    @staticmethod
    def _signal(child: Child, signum: int) -> None:
        proc = child.process
        if proc is not None and proc.exitcode is None and proc.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signum)


def run(settings, processes: int | None = None, concurrency: int | None = None) -> int:
    """Run the pool until SIGTERM/SIGINT. Returns 0 after a clean stop, 1 if children had to be killed."""
    processes = processes or settings.checker_processes or usable_cpus()
    concurrency = concurrency or settings.checker_concurrency
    pool = Pool(settings, processes, concurrency)
    signals_seen = []

    def on_signal(signum, frame):
        signals_seen.append(signum)
        if len(signals_seen) == 1:
            log.info("[CHECKER] %s: stopping (draining up to %.0f s)", signal.Signals(signum).name,
                     settings.shutdown_grace)
            pool.request_stop()
        else:
            log.warning("[CHECKER] second signal: killing workers now; their messages return after the "
                        "visibility timeout")
            pool.kill()
            sys.stderr.flush()
            os._exit(EXIT_FORCED)

    for signum in HANDLED_SIGNALS:
        signal.signal(signum, on_signal)
    pool.start()
    log.info("[CHECKER] pool started: %d worker process(es) x %d concurrent checks + 1 alert sender (%s queue)",
             processes, concurrency, settings.queue_backend)
    while not pool.stopping:
        pool.tick()
    if pool.wait_stopped(settings.shutdown_grace + STOP_MARGIN_SECONDS):
        log.info("[CHECKER] pool stopped cleanly")
        return 0
    log.warning("[CHECKER] workers did not stop in time: killed")
    pool.kill()
    pool.wait_stopped(2.0)
    return EXIT_FORCED
