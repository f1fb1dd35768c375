"""POST /monitors/{id}/pause and /resume: a paused monitor is PAUSED, not scheduled, its queued job dropped;
resuming starts it afresh; both idempotent, neither alerts. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from checker.record import record_result
from healthmon.db import utcnow
from healthmon.domain.check import CheckSpec, Observation
from healthmon.domain.verdict import evaluate
from healthmon.models import AlertOutbox, Monitor, StateChange
from healthmon.queue.base import CheckJob
from scheduler.due import claim_due
from tests.webapp.conftest import STEP10, ApiClient


def create(api) -> dict:
    body = api.post("/monitors", json={**STEP10, "url": "http://127.0.0.1:9/"}).json
    return body


def test_pause_stops_scheduling_and_drops_a_queued_job_and_resume_starts_afresh(api, settings):
    m = create(api)
    Monitor.update(status="DOWN", consecutive_failures=4).where(Monitor.id == m["id"]).execute()
    job = CheckJob(m["id"], utcnow().replace(microsecond=0), 1)
    paused = api.post(f"/monitors/{m['id']}/pause")
    assert paused.status_code == 200
    assert (paused.json["status"], paused.json["paused"], paused.json["consecutive_failures"]) == ("PAUSED", True, 0)
    assert paused.json["next_check_at"] is None
    assert claim_due(utcnow() + dt.timedelta(hours=1), 10, dt.timedelta(minutes=5)).claims == []
    verdict = evaluate(CheckSpec(url="http://127.0.0.1:9/"), Observation(500, 5.0, None, None, checked_at=utcnow()))
    assert record_result(job, verdict, settings).reason == "paused"
    assert api.get("/monitors?status=PAUSED").json[0]["id"] == m["id"]

    again = api.post(f"/monitors/{m['id']}/pause")
    assert again.status_code == 200 and again.json["status_changed_at"] == paused.json["status_changed_at"]

    resumed = api.post(f"/monitors/{m['id']}/resume")
    assert resumed.status_code == 200
    assert (resumed.json["status"], resumed.json["paused"], resumed.json["consecutive_failures"]) == (
        "UNKNOWN", False, 0)
    claims = claim_due(utcnow() + dt.timedelta(seconds=1), 10, dt.timedelta(minutes=5)).claims
    assert [c.job.monitor_id for c in claims] == [m["id"]]
    assert record_result(job, verdict, settings).reason == "generation"  # a job from before the pause is void
    assert api.post(f"/monitors/{m['id']}/resume").json["status"] == "UNKNOWN"  # idempotent
    events = [(e["from_status"], e["to_status"], e["reason"]) for e in api.get(f"/monitors/{m['id']}/events").json]
    assert events == [("PAUSED", "UNKNOWN", "resumed"), ("DOWN", "PAUSED", "paused")]
    assert AlertOutbox.select().count() == 0  # neither alerts


def test_an_edit_of_a_paused_monitor_keeps_it_paused(api):
    m = create(api)
    api.post(f"/monitors/{m['id']}/pause")
    edited = api.patch(f"/monitors/{m['id']}", json={"url": "http://127.0.0.1:8/", "enabled": True})
    assert edited.status_code == 200 and edited.json["status"] == "PAUSED"
    assert StateChange.select().count() == 1


def test_pause_needs_a_read_write_key_and_an_existing_monitor(api, app, ro_key):
    m = create(api)
    ro_api = ApiClient(app.test_client(), ro_key)
    assert ro_api.post(f"/monitors/{m['id']}/pause").status_code == 403
    assert api.post("/monitors/999999/pause").status_code == 404
    assert api.post("/monitors/999999/resume").status_code == 404


def test_the_status_page_says_a_paused_monitor_is_paused(api):
    m = create(api)
    assert 'class="chip">paused<' not in api.get("/status").get_data(as_text=True)
    api.post(f"/monitors/{m['id']}/pause")
    page = api.get("/status").get_data(as_text=True)
    assert 'class="dot PAUSED"' in page and 'class="chip">paused<' in page
