"""Process helpers for the end-to-end tests: start `healthmon` subcommands, read their output, stop them.

Each process writes stdout+stderr to its own file (never a pipe: a full pipe would block the child), runs
in its own session (so signals reach exactly the process a test means), and is killed at teardown if a
test left it running.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.net import free_port  # noqa: F401 - the e2e tests import it from here

REPO = Path(__file__).resolve().parents[2]

POLL = 0.1
"""Polling period for every wait in these tests: deadlines are generous, polls are short."""



def base_env(**overrides) -> dict:
    """The environment of a test deployment: loopback targets allowed, 1 s intervals allowed, no AWS
    credentials or database from the developer's shell."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SQS_", "DATABASE_URL", "HEALTHMON_"))}
    env.update(
        MIN_CHECK_INTERVAL="1",
        ALLOWED_PRIVATE_CIDRS="127.0.0.0/8",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO),
        LOG_LEVEL="INFO",
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Proc:
    """One `python -m healthmon.cli ARGS` process with its output in `log_path`."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path, cwd: Path | None = None):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()/kill()
        self.popen = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "healthmon.cli", *args],
            env=env, cwd=str(cwd or REPO), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        """Wait until `pattern` (a regex) appears in the output; fail with the output if it does not, or
        if the process exits first."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            match = rx.search(self.output())
            if match:
                return match
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.popen.returncode} before /{pattern}/:\n"
                                     + self.output()[-4000:])
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no /{pattern}/ within {timeout} s:\n" + self.output()[-4000:])
            time.sleep(POLL)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> tuple[int | None, float]:
        """SIGTERM and wait. Returns (exit code or None if it had to be killed, seconds it took)."""
        started = time.monotonic()
        self.signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        self._log.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        # The whole session, even if the leader is gone: a killed pool parent must not leave workers behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self._log.close()


def wait_until(predicate, timeout: float, what: str, interval: float = POLL):
    """Poll `predicate()` until it returns something truthy (returned) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
