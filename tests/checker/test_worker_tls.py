"""TLS certificate expiry end to end: a real worker checks a local HTTPS target serving a certificate that
expires in 10 days, then a renewal expiring in 2; each certificate is warned about once per threshold, the
warning goes out through the outbox like any alert, and the monitor stays UP. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import pytest

from checker.delivery import AlertSender
from healthmon.db import utcnow
from healthmon.models import AlertOutbox, Monitor, StateChange, TlsWarning
from healthmon.netguard import AddressGuard
from tests.checker.worker_support import job_for, make_monitor, make_worker, step_until, stop_workers  # noqa: F401
from tests.support.targets import TargetServer, make_leaf_certificates
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_leaf_certificates(tmp_path_factory.mktemp("expiry"), {
        "10d": dt.timedelta(days=10), "2d": dt.timedelta(days=2)})


def check_once(worker, monitor, seconds_ago: float) -> Monitor:
    before = Monitor.get_by_id(monitor.id).last_slot
    worker.queue.send_jobs([job_for(monitor, seconds_ago=seconds_ago)])
    step_until(worker, lambda: Monitor.get_by_id(monitor.id).last_slot != before)
    return Monitor.get_by_id(monitor.id)


def look_again(monitor) -> None:
    """As if the last certificate check was over an hour ago: the next check collects it again."""
    Monitor.update(tls_observed_at=utcnow() - dt.timedelta(hours=2)).where(Monitor.id == monitor.id).execute()


def test_each_certificate_is_warned_about_once_per_threshold_through_the_outbox(settings, certs):
    with TargetServer(tls=certs.leaves["10d"]) as https, WebhookReceiver() as hook:
        monitor = make_monitor(https.url("/"), fail_threshold=1, success_threshold=1, webhook_url=hook.url,
                               webhook_format="json")
        worker = make_worker(settings, ca_bundle=certs.ca_file)

        m = check_once(worker, monitor, seconds_ago=9)
        assert m.status == "UP" and m.tls_expires_at == certs.not_after["10d"]
        assert m.tls_fingerprint == hashlib.sha256(certs.der["10d"]).hexdigest()
        assert [w.threshold_days for w in TlsWarning.select()] == [14]
        check_once(worker, monitor, seconds_ago=8)  # within the hour: the certificate is not collected
        look_again(monitor)
        check_once(worker, monitor, seconds_ago=7)  # collected again: the same certificate, already warned
        assert TlsWarning.select().count() == 1

        https.set_certificate(*certs.leaves["2d"])  # renewed, badly: it expires in 2 days
        look_again(monitor)
        m = check_once(worker, monitor, seconds_ago=6)
        assert m.tls_fingerprint == hashlib.sha256(certs.der["2d"]).hexdigest()
        look_again(monitor)
        check_once(worker, monitor, seconds_ago=5)
        assert [(w.fingerprint, w.threshold_days) for w in TlsWarning.select().order_by(TlsWarning.id)] == [
            (hashlib.sha256(certs.der["10d"]).hexdigest(), 14), (m.tls_fingerprint, 3)]
        assert (m.status, m.tls_warned_days) == ("UP", 3)
        assert [(c.from_status, c.to_status) for c in StateChange.select()] == [("UNKNOWN", "UP")]

        sender = AlertSender(settings, AddressGuard(settings.allowed_private_cidrs))
        deadline = time.monotonic() + 30  # the UP alert and the two warnings, at most one a second per webhook
        while AlertOutbox.select().where(AlertOutbox.state == "pending").exists() and time.monotonic() < deadline:
            sender.deliver_due()
            time.sleep(0.1)
        received = hook.wait_for(3)
        assert len(hook.requests) == 3
        kinds = [(r.json["event"], r.headers.get("Idempotency-Key")) for r in received]
        ids = [w.id for w in TlsWarning.select().order_by(TlsWarning.id)]
        assert kinds[1:] == [("monitor.tls_expiring", f"healthmon-tls-warning-{i}") for i in ids]
        assert kinds[0][0] == "monitor.state_changed"
        last = received[2].json
        assert (last["threshold_days"], last["days_left"], last["fingerprint_sha256"]) == (3, 1, m.tls_fingerprint)
