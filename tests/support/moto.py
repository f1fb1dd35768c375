"""A real `moto_server` (SQS over plain HTTP on 127.0.0.1) for integration and end-to-end tests.

Usage in a test module:

    from tests.support.moto import moto_server  # noqa: F401  (registers the fixture)

    def test_it_...(moto_server, monkeypatch):
        for k, v in moto_server.env.items():
            monkeypatch.setenv(k, v)          # or pass moto_server.env to a subprocess
        queue_url, dlq_url = moto_server.create_queue("name")

One server per pytest session; give each test its own queue name (`moto_server.unique_name()`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from unittest import mock
from urllib.request import urlopen

import pytest

from tests.support.net import free_port

START_TIMEOUT = 20.0
"""Seconds to wait for moto_server to answer; its first start imports many modules."""

DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Never route loopback traffic through a proxy configured on the machine.
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
"""Credentials moto accepts; they reach nothing but the local server."""



def _moto_command(port: int) -> list[str]:
    script = Path(sys.executable).parent / "moto_server"
    if script.exists():
        return [str(script), "-p", str(port), "-H", "127.0.0.1"]
    return [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"]


class MotoServer:
    """A running moto_server process. `url` is the endpoint; `env` the variables a client needs."""

    def __init__(self, port: int, process: subprocess.Popen):
        self.port = port
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**DUMMY_AWS_ENV, "SQS_ENDPOINT_URL": self.url}

    @staticmethod
    def unique_name(prefix: str = "hm-test") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def settings(self, **overrides):
        """Settings pointing at this server (queue URL, if any, passed as sqs_queue_url=...)."""
        from tests.conftest import make_settings

        return make_settings(sqs_endpoint_url=self.url, aws_region="us-east-1", **overrides)

    def create_queue(self, name: str | None = None, max_receives: int = 5, visibility_timeout: int = 60):
        """Create a queue with a DLQ on this server. Returns (queue_url, dlq_url)."""
        from healthmon.queue.sqs import ensure_queue

        name = name or self.unique_name()
        with mock.patch.dict(os.environ, self.env):  # boto3 reads the dummy credentials from here
            return ensure_queue(self.settings(), name, f"{name}-dlq", max_receives, visibility_timeout)


def _wait_until_up(server: MotoServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {server.process.returncode}")
        try:
            with urlopen(f"{server.url}/moto-api/", timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {server.url} within {START_TIMEOUT}s")


@pytest.fixture(scope="session")
def moto_server():
    """A moto_server subprocess on a free loopback port for the whole session."""
    port = free_port()
    env = {**os.environ, **DUMMY_AWS_ENV}
    process = subprocess.Popen(
        _moto_command(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = MotoServer(port, process)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
