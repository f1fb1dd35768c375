"""`healthmon up` on the embedded default (SQLite file + database queue): the whole story in one command."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
import requests

from tests.e2e.procs import Proc, base_env, free_port
from tests.e2e.scenario import WEBHOOK_SECRET, Api, flap_monitor_and_watch_alerts
from tests.support.targets import TargetServer
from tests.support.webhook import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_healthmon_up_takes_a_monitor_up_down_and_up_with_one_slack_message_each(tmp_path):
    port = free_port()
    with TargetServer() as target, WebhookReceiver() as slack:
        up = Proc("up", ["up", "--port", str(port)], base_env(WEB_CONCURRENCY=1), tmp_path, cwd=tmp_path)
        try:
            up.wait_for(r"healthmon is ready", 60)
            out = up.output()
            key = re.search(r"export HEALTHMON_API_KEY=(\S+)", out).group(1)
            assert out.count(key) == 1  # shown once, never logged again
            base = f"http://127.0.0.1:{port}"
            assert f"API:        {base}" in out and f"Swagger UI: {base}/docs" in out
            assert f'curl -H "Authorization: Bearer $HEALTHMON_API_KEY" {base}/monitors' in out
            assert requests.get(f"{base}/monitors", timeout=5).status_code == 401

            flap_monitor_and_watch_alerts(Api(base, key), target, slack)

            out = up.output()
            assert "[STATE CHANGE] monitor=1 UNKNOWN -> UP" in out
            assert "[STATE CHANGE] monitor=1 UP -> DOWN" in out
            assert "[STATE CHANGE] monitor=1 DOWN -> UP" in out
            assert "[WEBHOOK] sent status=200" in out
            assert WEBHOOK_SECRET not in out  # a webhook URL's path is its secret: never logged
            code, took = up.stop(40)
            assert code == 0, up.output()[-3000:]
            assert took < 30
        finally:
            up.kill()
    assert (tmp_path / "healthmon.db").exists()  # the embedded default: a SQLite file in the working directory


def test_a_second_start_creates_no_new_key(tmp_path):
    port = free_port()
    env = base_env(WEB_CONCURRENCY=1)
    first = Proc("up1", ["up", "--port", str(port)], env, tmp_path, cwd=tmp_path)
    try:
        first.wait_for(r"healthmon is ready", 60)
        assert first.stop(40)[0] == 0
    finally:
        first.kill()
    second = Proc("up2", ["up", "--port", str(port)], env, tmp_path, cwd=tmp_path)
    try:
        second.wait_for(r"healthmon is ready", 60)
        assert "HEALTHMON_API_KEY=hm" not in second.output()
        assert "API keys already exist" in second.output()
        assert second.stop(40)[0] == 0
    finally:
        second.kill()


def test_up_stops_everything_and_fails_when_one_of_its_processes_dies(tmp_path):
    port = free_port()
    up = Proc("up", ["up", "--port", str(port)], base_env(WEB_CONCURRENCY=1), tmp_path, cwd=tmp_path)
    try:
        up.wait_for(r"healthmon is ready", 60)
        kids = {int(p) for t in Path(f"/proc/{up.pid}/task").glob("*") for p in (t / "children").read_text().split()}
        cmdlines = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in kids}
        (scheduler,) = [pid for pid, cmd in cmdlines.items() if b"scheduler" in cmd]

        os.kill(scheduler, signal.SIGKILL)

        assert up.popen.wait(40) == 1
        assert "scheduler (exit -9) stopped unexpectedly; stopping the rest" in up.output()
        assert all(not Path(f"/proc/{pid}").exists() or pid == scheduler for pid in kids)
    finally:
        up.kill()
