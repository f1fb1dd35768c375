"""The embedded setup (`healthmon up`: SQLite and the database queue) on a disk that fills up, and on a read-only
one. The disk is a small tmpfs mounted for the test (as root) and unmounted at the end, whatever happens.

The user sees: a clear error in the log ("database or disk is full", "readonly database"); `healthmon up` either
keeps retrying or exits non-zero; the database file is never corrupt (PRAGMA integrity_check); and once space is
back, results are recorded again without anyone restarting anything.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from healthmon.cli import EXIT_DATABASE_ERROR
from tests.e2e.procs import Proc, base_env, free_port, wait_until
from tests.e2e.scenario import Api

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

DISK_BYTES = 8 * 1024 * 1024
"""The tmpfs holding the database: room for the schema and a few thousand results, small enough to fill at once."""

DISK_FULL_SECONDS = 5
"""How long the disk stays full while `healthmon up` runs: several scheduler ticks and checker commits fail."""

RECOVERY_DEADLINE = 30
"""Results are recorded again this long after space comes back (the outage back-off is capped at 15 s)."""

MONITORS = 10
INTERVAL = 2

DISK_FULL = "database or disk is full"


def _root_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")


@contextlib.contextmanager
def small_disk(path: Path, size: int = DISK_BYTES):
    """A tmpfs of `size` bytes at `path`; unmounted (lazily if still busy) on the way out."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)  # noqa: S603, S607
    try:
        yield path
    finally:
        done = subprocess.run(["umount", str(path)], check=False, capture_output=True)  # noqa: S603, S607
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)  # noqa: S603, S607


def _fill(directory: Path) -> Path:
    """Write a file until the disk has no byte left. Returns it."""
    filler = directory / "filler"
    with open(filler, "wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def _integrity(db_file: Path, read_only_disk: bool = False) -> str:
    # On a read-only disk SQLite cannot create the WAL's shared-memory file: read the file as immutable.
    conn = sqlite3.connect(f"file:{db_file}?{'immutable=1' if read_only_disk else 'mode=ro'}", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def _results(db_file: Path) -> tuple[int, int, int]:
    """(results, doubled (monitor, slot) pairs, pending jobs) read-only from the file."""
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT monitor_id || '@' || slot) "
                                       "FROM check_results").fetchone()
        return total, total - distinct, conn.execute("SELECT COUNT(*) FROM queue_messages").fetchone()[0]
    finally:
        conn.close()


def _start_up(directory: Path, log_dir: Path, name: str) -> tuple[Proc, int]:
    port = free_port()
    env = base_env(DATABASE_URL=f"sqlite:///{directory}/healthmon.db", CHECKER_PROCESSES=1)
    return Proc(name, ["up", "--port", str(port)], env, log_dir, cwd=directory), port


def test_healthmon_up_on_a_full_disk_retries_never_corrupts_and_goes_on_when_space_returns(tmp_path):
    _root_or_skip()
    from tests.support.targets import TargetServer

    with small_disk(tmp_path / "disk") as disk, TargetServer() as target:
        db_file = disk / "healthmon.db"
        up, port = _start_up(disk, tmp_path, "up")
        try:
            up.wait_for(r"healthmon is ready", 60)
            key = re.search(r"export HEALTHMON_API_KEY=(\S+)", up.output()).group(1)
            api = Api(f"http://127.0.0.1:{port}", key)
            for i in range(MONITORS):
                api.create_monitor(name=f"svc {i}", url=target.url(f"/?m={i}"), check_interval=INTERVAL, timeout=1)
            wait_until(lambda: _results(db_file)[0] >= 2 * MONITORS, 30, "the first results")

            filler = _fill(disk)
            full_at = len(up.output())
            time.sleep(DISK_FULL_SECONDS)
            during = up.output()[full_at:]
            still_running = up.popen.poll() is None
            before = _results(db_file)[0]
            filler.unlink()
            freed = time.monotonic()
            wait_until(lambda: _results(db_file)[0] > before + MONITORS, RECOVERY_DEADLINE, "results again")
            recovered = time.monotonic() - freed
            code, _took = up.stop(40)
        finally:
            up.kill()
        total, doubled, queued = _results(db_file)
        integrity = _integrity(db_file)
        errors = len(re.findall(DISK_FULL, during))
        print(f"\nSQLite disk full {DISK_FULL_SECONDS} s: '{DISK_FULL}' logged {errors} time(s), up still running="
              f"{still_running}; checks stored={total} doubled={doubled} left in the queue={queued}; recording again "
              f"{recovered:.1f} s after space returned; integrity_check={integrity}; exit code {code}")

    assert errors > 0 and "Traceback" not in during, during[-3000:]
    assert still_running and code == 0, up.output()[-3000:]
    assert recovered <= RECOVERY_DEADLINE
    assert integrity == "ok" and doubled == 0


def test_healthmon_up_on_a_read_only_database_says_so_and_exits_non_zero(tmp_path):
    _root_or_skip()
    with small_disk(tmp_path / "disk") as disk:
        first, _port = _start_up(disk, tmp_path, "first")  # creates the schema and a key, then stops
        first.wait_for(r"healthmon is ready", 60)
        assert first.stop(40)[0] == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)  # noqa: S603, S607

        up, _port = _start_up(disk, tmp_path, "up")
        try:
            code = up.popen.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail("healthmon up on a read-only database did not exit within 60 s:\n" + up.output()[-3000:])
        finally:
            up.kill()
        out = up.output()
        integrity = _integrity(disk / "healthmon.db", read_only_disk=True)
        print(f"\nSQLite read-only: exit code {code}; last line: {out.strip().splitlines()[-1]!r}; "
              f"integrity_check={integrity}")

    assert code == EXIT_DATABASE_ERROR
    assert re.search(r"healthmon: cannot use the database SQLite /\S+: .*(unable to open|readonly)", out), out
    assert "Traceback" not in out, out[-3000:]
    assert integrity == "ok"
