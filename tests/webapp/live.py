"""Start the real `healthmon api` (gunicorn) as a subprocess on a free port, with a fresh database and key."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import free_port

STARTUP_TIMEOUT = 30.0



def healthmon_command() -> list[str]:
    script = Path(sys.executable).with_name("healthmon")
    if script.exists():
        return [str(script)]
    found = shutil.which("healthmon")
    return [found] if found else [sys.executable, "-m", "healthmon.cli"]


def run_cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*healthmon_command(), *args], env=env, capture_output=True, text=True, timeout=60,
                          check=True)


@dataclass
class LiveApi:
    base_url: str
    key: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def live_api(database_url: str, tmp_path: Path, extra_env: dict | None = None):
    """`healthmon init-db`, `healthmon api-key create`, then `healthmon api --port P` until the block ends."""
    repo = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "DATABASE_URL": database_url, "WEB_CONCURRENCY": "2", "LOG_LEVEL": "INFO",
           "PYTHONPATH": pythonpath, **(extra_env or {})}
    env.pop("DATABASE_URL_FILE", None)
    run_cli(["init-db"], env)
    key = run_cli(["api-key", "create", "--name", "live test"], env).stdout.strip()
    port = free_port()
    log_path = tmp_path / "api.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([*healthmon_command(), "api", "--port", str(port), "--host", "127.0.0.1"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    api = LiveApi(f"http://127.0.0.1:{port}", key, process, log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"healthmon api exited with {process.returncode}:\n{api.log()}")
            try:
                with urllib.request.urlopen(api.base_url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"healthmon api did not answer /health:\n{api.log()}")
            time.sleep(0.1)
        yield api
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
