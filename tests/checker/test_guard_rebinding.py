"""DNS rebinding, end to end: a name that resolved to a public address when the monitor was saved and
resolves to 127.0.0.1 when it is checked is refused at connect time, for the check and for its alert,
and not one connection reaches the local listeners."""

from __future__ import annotations

import dataclasses

import pytest

from checker.delivery import AlertSender
from checker.engine import perform_check
from checker.record import load_spec, record_result
from healthmon import netguard
from healthmon.db import database
from healthmon.domain.verdict import evaluate
from healthmon.models import AlertOutbox, CheckResult, Monitor
from healthmon.netguard import AddressGuard
from healthmon.queue.base import CheckJob
from tests.support.targets import TargetServer
from tests.webapp.conftest import ApiClient, make_key
from webapp.app import create_app

PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def strict_settings(settings):
    """Production defaults: no private range is allowed, so 127.0.0.1 is blocked."""
    return dataclasses.replace(settings, allowed_private_cidrs=())


def test_a_rebound_name_is_refused_for_the_check_and_the_alert_without_a_connection(strict_settings, monkeypatch):
    with TargetServer() as target, TargetServer() as receiver:
        # Save time: the name resolves to a public address, so the API accepts both URLs.
        monkeypatch.setattr(netguard, "resolve", lambda host: [PUBLIC_ADDRESS])
        api = ApiClient(create_app(strict_settings, TESTING=True).test_client(), make_key())
        created = api.post("/monitors", json={
            "name": "rebinding", "url": target.url("/", host="localhost"), "check_interval": 10, "timeout": 2,
            "webhook_url": receiver.url("/hook/T0KEN", host="localhost"), "webhook_format": "json",
            "fail_threshold": 1,
        })
        assert created.status_code == 201, created.get_json()
        monkeypatch.undo()  # check time: the same name now resolves to 127.0.0.1

        monitor = Monitor.get_by_id(created.get_json()["id"])
        job = CheckJob(monitor.id, monitor.next_check_at, monitor.generation)
        spec = load_spec(job, strict_settings)
        guard = AddressGuard(strict_settings.allowed_private_cidrs)
        outcome = record_result(job, evaluate(spec, perform_check(spec, guard)), strict_settings)
        assert outcome.transition is not None and outcome.transition.to_status == "DOWN"
        assert AlertSender(strict_settings, guard).deliver_due() >= 1
        database.close()

        result = CheckResult.get(CheckResult.monitor == monitor.id)
        assert result.error_kind == "blocked_address"
        assert "loopback" in result.error
        alert = AlertOutbox.get(AlertOutbox.monitor_id == monitor.id)
        assert alert.state == "failed"
        body = api.get(f"/monitors/{monitor.id}").get_json()
        assert body["status"] == "DOWN"
        assert "blocked" in body["last_alert_error"]
        assert "T0KEN" not in str(body)
        assert target.connections == 0
        assert receiver.connections == 0
