"""The distributed deployment for end-to-end tests: PostgreSQL + SQS (moto_server) + separate processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.procs import REPO, Proc, base_env, free_port
from tests.e2e.scenario import Api, wait_ready
from tests.support.moto import moto_server  # noqa: F401 - registers the fixture


class Distributed:
    """One deployment: its own PostgreSQL database and SQS queue (with a DLQ); processes started on demand
    and killed at teardown."""

    def __init__(self, db_url: str, moto, log_dir: Path, max_receives: int = 5):
        self.db_url = db_url
        self.moto = moto
        self.log_dir = log_dir
        self.queue_url, self.dlq_url = moto.create_queue(max_receives=max_receives)
        # QUEUE_WAIT_SECONDS 2: a stopping checker waits for its open long poll (checker/queue_io.py), and a
        # short one keeps each stop of an idle pool short; tests about the defaults set 20 again.
        self.env = base_env(DATABASE_URL=db_url, SQS_QUEUE_URL=self.queue_url, WEB_CONCURRENCY=1,
                            QUEUE_WAIT_SECONDS=2, **moto.env)
        self.procs: list[Proc] = []
        self._cli("init-db")

    def _cli(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "healthmon.cli", *args], env=self.env, cwd=str(REPO),
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def create_key(self, name: str = "e2e") -> str:
        return self._cli("api-key", "create", "--name", name).strip()

    def start(self, name: str, *args: str, **env) -> Proc:
        proc = Proc(name, list(args), {**self.env, **{k: str(v) for k, v in env.items()}}, self.log_dir)
        self.procs.append(proc)
        return proc

    def start_api(self) -> tuple[Proc, Api]:
        port = free_port()
        proc = self.start("api", "api", "--port", str(port), "--host", "127.0.0.1")
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        return proc, Api(base, self.create_key())

    def sqs(self):
        import boto3

        return boto3.client("sqs", endpoint_url=self.moto.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def queued(self, queue_url: str | None = None) -> int:
        """Messages in the queue, visible or in flight (moto's counts are exact)."""
        attrs = self.sqs().get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def counts(self, queue_url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages of the queue (moto's counts are exact)."""
        attrs = self.sqs().get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()


@pytest.fixture
def distributed(pg_server, moto_server, tmp_path):  # noqa: F811 - the imported fixture
    deployment = Distributed(pg_server.create_database(), moto_server, tmp_path)
    yield deployment
    deployment.close()
