"""`healthmon up`: the whole service on one machine, in one command.

Runs init-db, creates an API key on first start (printed once), then starts `healthmon api`,
`healthmon scheduler` and `healthmon checker` as child processes of this one. With no configuration it
uses the embedded default (a SQLite file in the working directory and the database queue); with
DATABASE_URL / SQS_QUEUE_URL set, the children use PostgreSQL / SQS exactly as the separate services do.

Children run in their own session, so a Ctrl-C in the terminal reaches only this process, which then
stops them all with SIGTERM (the checker drains its in-flight checks). A second Ctrl-C kills them.

If a child dies on its own, `up` stops the others and exits 1 rather than restarting it: `up` is meant to
be run under something that already restarts (a terminal user, systemd, a container restart policy), a
dead API or scheduler almost always means a configuration or port problem that a restart loop would only
hide, and the checker pool already restarts its own crashed workers internally.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

log = logging.getLogger("healthmon.up")

DEFAULT_HOST = "127.0.0.1"
"""`up` is the local, single-machine runner: bind loopback unless asked otherwise."""

READY_TIMEOUT_SECONDS = 60.0
"""How long to wait for the API's /health to answer 200 (gunicorn imports Flask; slow disks are slow)."""

READY_POLL_SECONDS = 0.2

STOP_MARGIN_SECONDS = 8.0
"""Wait for children beyond SHUTDOWN_GRACE: the checker pool itself allows grace + 5 s."""

WATCH_INTERVAL = 0.5

KEY_NAME = "healthmon up"
"""Name of the API key `up` creates on first start."""

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if `up` dies without stopping it (e.g. SIGKILL). Best effort."""
    with contextlib.suppress(Exception):  # not Linux, or no prctl: nothing to do
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _ensure_schema_and_key(settings) -> str | None:
    """Run the migrations; create an API key if none exists. Returns the new key's plaintext, or None."""
    from healthmon.apikeys import create_key
    from healthmon.db import bind
    from healthmon.migrations import init_db
    from healthmon.models import ApiKey

    db = bind(settings.database_url)
    try:
        init_db()
        with db.connection_context():
            if ApiKey.select().exists():
                return None
        _row, plaintext = create_key(KEY_NAME, read_only=False)
        return plaintext
    finally:
        if not db.is_closed():
            db.close()


def _describe_storage(settings) -> str:
    from healthmon.redact import redact_database_url

    db = "SQLite " + settings.database_url.split("///", 1)[-1] if settings.is_sqlite else \
        "PostgreSQL " + redact_database_url(settings.database_url)
    queue = "SQS" if settings.queue_backend == "sqs" else "the database queue"
    return f"{db}, {queue}"


def _print_key(key: str | None) -> None:
    if key:
        print("[API KEY] created the first API key; it is shown only this once, keep it:", flush=True)
        print(f"export HEALTHMON_API_KEY={key}", flush=True)
    else:
        print("[API KEY] API keys already exist (create another with: healthmon api-key create --name NAME)",
              flush=True)


class Supervisor:
    """The children of `up`: start them, notice one dying, stop them all."""

    def __init__(self):
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str]) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.children[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "healthmon.cli", *args],
            env=env, start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def dead(self) -> list[tuple[str, int]]:
        return [(name, p.returncode) for name, p in self.children.items() if p.poll() is not None]

    def signal_all(self, signum: int) -> None:
        for p in self.children.values():
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signum)

    def stop(self, timeout: float) -> bool:
        """SIGTERM everything, wait up to `timeout`; SIGKILL what is left. True when all stopped in time."""
        self.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(max(0.0, deadline - time.monotonic()))
        clean = all(p.poll() is not None for p in self.children.values())
        if not clean:
            self.signal_all(signal.SIGKILL)
            for p in self.children.values():
                p.wait()
        return clean


def _wait_ready(url: str, sup: Supervisor, deadline: float, stop_requested) -> bool:
    while time.monotonic() < deadline and not stop_requested() and not sup.dead():
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own loopback URL
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(READY_POLL_SECONDS)
    return False


def run(settings, port: int | None = None, host: str | None = None, processes: int | None = None) -> int:
    """Run everything until Ctrl-C/SIGTERM (returns 0) or until a child dies (returns 1)."""
    host = host or DEFAULT_HOST
    port = port or settings.port
    stop_signals: list[int] = []
    sup = Supervisor()

    def on_signal(signum, frame):
        stop_signals.append(signum)
        if len(stop_signals) > 1:
            print("healthmon: second signal: killing everything now", flush=True)
            sup.signal_all(signal.SIGKILL)
            os._exit(1)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)

    print(f"healthmon: starting on {_describe_storage(settings)}", flush=True)
    key = _ensure_schema_and_key(settings)
    print("[DB INIT] monitors table ensured", flush=True)

    sup.start("api", ["api", "--port", str(port), "--host", host])
    sup.start("scheduler", ["scheduler"])
    # No --processes: the pool then runs CHECKER_PROCESSES, or one per usable CPU (checker/pool.py), so `up`
    # uses every core it is given.
    sup.start("checker", ["checker", "--processes", str(processes)] if processes else ["checker"])

    probe_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    if ":" in probe_host and not probe_host.startswith("["):
        probe_host = f"[{probe_host}]"
    base = f"http://{probe_host}:{port}"

    stop_timeout = settings.shutdown_grace + STOP_MARGIN_SECONDS
    if not _wait_ready(f"{base}/health", sup, time.monotonic() + READY_TIMEOUT_SECONDS, lambda: stop_signals):
        _print_key(key)  # created now, so shown now: the next start will not create another
        if stop_signals:
            return 0 if sup.stop(stop_timeout) else 1
        dead = ", ".join(f"{n} (exit {c})" for n, c in sup.dead()) or "none, but /health never answered"
        print(f"healthmon: not ready; exited: {dead}", file=sys.stderr, flush=True)
        sup.stop(stop_timeout)
        return 1
    # After the children's start-up logs, so the part a user needs is the last thing on the screen.
    _print_key(key)
    print(f"API:        {base}", flush=True)
    print(f"Swagger UI: {base}/docs", flush=True)
    print("Try:", flush=True)
    print(f'  curl -H "Authorization: Bearer $HEALTHMON_API_KEY" {base}/monitors', flush=True)
    print("healthmon is ready (Ctrl-C stops it)", flush=True)

    while not stop_signals:
        dead = sup.dead()
        if dead:
            names = ", ".join(f"{n} (exit {c})" for n, c in dead)
            print(f"healthmon: {names} stopped unexpectedly; stopping the rest", file=sys.stderr, flush=True)
            sup.stop(stop_timeout)
            return 1
        time.sleep(WATCH_INTERVAL)
    print("healthmon: stopping (the checker finishes in-flight checks first)", flush=True)
    clean = sup.stop(stop_timeout)
    print("healthmon: stopped" if clean else "healthmon: some processes had to be killed", flush=True)
    return 0 if clean else 1
