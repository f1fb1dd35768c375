"""Create, list, read, replace, patch and delete monitors the way the deployment guide does."""

from __future__ import annotations

import datetime as dt
import json
import re

from healthmon.db import database, utcnow
from healthmon.models import CheckResult, Monitor, StateChange
from tests.webapp.conftest import STEP10, monitor_count

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
OUT_FIELDS = {
    "id", "name", "url", "check_interval", "timeout", "expected_status_code", "webhook_url", "webhook_format",
    "enabled", "fail_threshold", "success_threshold", "status", "paused", "maintenance", "consecutive_failures",
    "consecutive_successes",
    "status_changed_at", "last_checked_at", "last_status_code", "last_latency_ms", "last_error",
    "last_alert_error", "next_check_at", "skipped_slots", "created_at", "updated_at",
    "expected_status_codes", "assertions", "max_response_time_ms", "consecutive_slow", "consecutive_fast",
    "method", "headers", "body", "auth", "follow_redirects", "verify_tls", "user_agent", "warnings",
    "tls_expiry_days", "tls", "key", "tags", "channels", "reminder_minutes", "escalation_minutes", "escalation_channel",
}
PUT_EXAMPLE = {  # the guide's "Update Monitor" body
    "name": "Updated Name",
    "url": "https://example.com",
    "check_interval": 120,
    "timeout": 10,
    "expected_status_code": 200,
    "webhook_url": "https://hooks.slack.com/services/T1/B1/NEWSECRETNEWSECRET",
    "enabled": False,
}


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).replace(tzinfo=None)


def test_health_answers_ok_without_a_key(anon):
    response = anon.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_it_creates_the_step10_monitor_unknown_and_due_now(api):
    before = utcnow() - dt.timedelta(seconds=1)
    response = api.post("/monitors", json=STEP10)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == OUT_FIELDS
    for key in ("name", "url", "check_interval", "timeout", "expected_status_code", "enabled"):
        assert body[key] == STEP10[key]
    assert body["status"] == "UNKNOWN"
    assert body["consecutive_failures"] == body["consecutive_successes"] == body["skipped_slots"] == 0
    assert body["fail_threshold"] is None and body["success_threshold"] is None
    for key in ("created_at", "updated_at", "next_check_at"):
        assert ISO_Z.match(body[key]), body[key]
    assert before <= _parse(body["next_check_at"]) <= utcnow() + dt.timedelta(seconds=1)
    assert monitor_count() == 1


def test_it_fills_defaults_for_omitted_fields(api):
    body = api.post("/monitors", json={"name": "  Shop  ", "url": "https://shop.example/"}).get_json()
    assert body["name"] == "Shop"
    assert (body["check_interval"], body["timeout"], body["expected_status_code"]) == (60, 5, 200)
    assert body["enabled"] is True and body["webhook_url"] is None and body["webhook_format"] is None


def test_list_is_a_json_array_with_pagination_in_a_header(api):
    ids = [api.post("/monitors", json={**STEP10, "name": f"m{i}"}).get_json()["id"] for i in range(3)]
    response = api.get("/monitors")
    assert response.status_code == 200
    assert [m["id"] for m in response.get_json()] == ids
    assert json.loads(response.headers["X-Pagination"])["total"] == 3

    page = api.get("/monitors?page=2&page_size=2")
    assert [m["id"] for m in page.get_json()] == ids[2:]
    meta = json.loads(page.headers["X-Pagination"])
    assert (meta["page"], meta["total_pages"], meta["previous_page"]) == (2, 2, 1)


def test_list_refuses_a_page_size_above_the_maximum(api):
    response = api.get("/monitors?page_size=1001")
    assert response.status_code == 422
    assert "page_size" in response.get_json()["errors"]["query"]


def test_list_filters_by_enabled_and_status(api):
    on = api.post("/monitors", json={**STEP10, "name": "on"}).get_json()
    off = api.post("/monitors", json={**STEP10, "name": "off", "enabled": False}).get_json()
    Monitor.update(status="DOWN").where(Monitor.id == off["id"]).execute()
    database.close()
    assert [m["id"] for m in api.get("/monitors?enabled=true").get_json()] == [on["id"]]
    assert [m["id"] for m in api.get("/monitors?enabled=false").get_json()] == [off["id"]]
    assert [m["id"] for m in api.get("/monitors?status=DOWN").get_json()] == [off["id"]]
    assert api.get("/monitors?status=UNKNOWN&enabled=false").get_json() == []
    assert api.get("/monitors?status=SIDEWAYS").status_code == 422


def test_get_returns_what_post_returned(api):
    created = api.post("/monitors", json=STEP10).get_json()
    response = api.get(f"/monitors/{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == created


def test_put_replaces_the_monitor_with_the_guides_update_body(api):
    created = api.post("/monitors", json=STEP10).get_json()
    response = api.put(f"/monitors/{created['id']}", json=PUT_EXAMPLE)
    assert response.status_code == 200
    body = response.get_json()
    for key in ("name", "url", "check_interval", "timeout", "expected_status_code", "enabled"):
        assert body[key] == PUT_EXAMPLE[key]
    assert body["webhook_url"] == "https://hooks.slack.com/service****"
    assert Monitor.get_by_id(created["id"]).webhook_url == PUT_EXAMPLE["webhook_url"]
    assert api.get(f"/monitors/{created['id']}").get_json() == body


def test_put_resets_omitted_optional_fields_to_their_defaults(api):
    created = api.post("/monitors", json={**STEP10, "fail_threshold": 3, "webhook_format": "json"}).get_json()
    body = api.put(f"/monitors/{created['id']}", json={"name": "n", "url": "https://google.com/"}).get_json()
    assert (body["check_interval"], body["timeout"], body["fail_threshold"], body["webhook_format"]) == (60, 5, None,
                                                                                                        None)
    assert body["webhook_url"] is None
    assert Monitor.get_by_id(created["id"]).webhook_url is None


def test_patch_changes_only_the_given_fields(api):
    created = api.post("/monitors", json=STEP10).get_json()
    response = api.patch(f"/monitors/{created['id']}", json={"name": "Renamed", "fail_threshold": 4})
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Renamed" and body["fail_threshold"] == 4
    unchanged = {k: v for k, v in created.items() if k not in ("name", "fail_threshold", "updated_at")}
    assert {k: body[k] for k in unchanged} == unchanged
    assert Monitor.get_by_id(created["id"]).webhook_url == STEP10["webhook_url"]


def test_patch_with_null_removes_the_webhook(api):
    created = api.post("/monitors", json=STEP10).get_json()
    body = api.patch(f"/monitors/{created['id']}", json={"webhook_url": None}).get_json()
    assert body["webhook_url"] is None
    assert Monitor.get_by_id(created["id"]).webhook_url is None


def test_delete_answers_204_and_the_monitor_is_gone_with_its_history(api):
    created = api.post("/monitors", json=STEP10).get_json()
    CheckResult.create(monitor=created["id"], slot=utcnow(), ok=True, status_code=200, latency_ms=12.5)
    StateChange.create(monitor=created["id"], from_status="UNKNOWN", to_status="UP", reason="2 good checks")
    database.close()
    response = api.delete(f"/monitors/{created['id']}")
    assert response.status_code == 204
    assert response.data == b""
    assert api.get(f"/monitors/{created['id']}").status_code == 404
    assert CheckResult.select().count() == 0 and StateChange.select().count() == 0
    assert monitor_count() == 0


def test_unknown_ids_answer_404_json(api):
    for method in ("GET", "DELETE"):
        response = api.open(method, "/monitors/999")
        assert response.status_code == 404
        assert response.get_json()["message"] == "Monitor 999 not found."
    for method in ("PUT", "PATCH"):
        response = api.open(method, "/monitors/999", json=STEP10 if method == "PUT" else {"name": "x"})
        assert response.status_code == 404 and response.is_json
    for path in ("/monitors/999/events", "/monitors/999/results", f"/monitors/{2**63}", f"/monitors/{2**31}"):
        response = api.get(path)
        assert response.status_code == 404 and response.is_json
    assert monitor_count() == 0


def test_events_and_results_are_listed_newest_first(api):
    created = api.post("/monitors", json=STEP10).get_json()
    t0 = utcnow().replace(microsecond=0)
    for i in range(3):
        CheckResult.create(monitor=created["id"], slot=t0 + dt.timedelta(seconds=30 * i), ok=i != 1,
                           status_code=200 if i != 1 else None, error_kind=None if i != 1 else "timeout",
                           error=None if i != 1 else "timed out after 5 s")
    StateChange.create(monitor=created["id"], from_status="UNKNOWN", to_status="UP", reason="up",
                       created_at=t0)
    StateChange.create(monitor=created["id"], from_status="UP", to_status="DOWN", reason="down",
                       created_at=t0 + dt.timedelta(seconds=60))
    database.close()

    results = api.get(f"/monitors/{created['id']}/results")
    assert results.status_code == 200
    slots = [r["slot"] for r in results.get_json()]
    assert slots == sorted(slots, reverse=True) and len(slots) == 3
    assert results.get_json()[1]["error_kind"] == "timeout"
    assert json.loads(results.headers["X-Pagination"])["total"] == 3

    events = api.get(f"/monitors/{created['id']}/events?page_size=1").get_json()
    assert [(e["from_status"], e["to_status"]) for e in events] == [("UP", "DOWN")]


def test_an_unknown_query_parameter_is_refused_not_ignored(api):
    response = api.get("/monitors?enabeld=false")
    assert response.status_code == 422
    assert "enabeld" in response.get_json()["errors"]["query"]
    assert api.get("/monitors?page=1&page_size=5&enabled=true").status_code == 200


def test_a_page_past_the_end_is_empty(api):
    api.post("/monitors", json=STEP10)
    response = api.get(f"/monitors?page={2**40}")
    assert response.status_code == 200 and response.get_json() == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 1


def test_a_deleted_monitors_id_is_never_given_to_a_new_one(api):
    first, newest = (api.post("/monitors", json={"name": n, "url": "https://example.com/"}).get_json()["id"]
                     for n in ("a", "b"))
    assert api.delete(f"/monitors/{newest}").status_code == 204
    again = api.post("/monitors", json={"name": "c", "url": "https://example.com/"}).get_json()["id"]
    assert again > newest > first
    assert api.get(f"/monitors/{newest}").status_code == 404  # a stale link finds nothing, not monitor c
    bulk = api.post("/monitors/bulk", json={"monitors": [{"name": f"d{i}", "url": "https://example.com/"}
                                                         for i in range(3)]}).get_json()
    assert api.delete(f"/monitors/{bulk[-1]['id']}").status_code == 204
    later = api.post("/monitors/bulk", json={"monitors": [{"name": "e", "url": "https://example.com/"}]}).get_json()
    assert [m["id"] for m in bulk] == [again + 1, again + 2, again + 3] and later[0]["id"] == again + 4
