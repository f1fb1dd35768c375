"""/maintenance: create, read, list, replace, patch and delete windows; every refusal names its field and
stores nothing; a monitor in a window shows it. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from healthmon.db import utcnow
from healthmon.models import AlertOutbox, MaintenanceWindow, Monitor, StateChange
from tests.webapp.conftest import STEP10

WEEKLY = {"name": "db upgrade", "all": True, "timezone": "Europe/Berlin",
          "recurrence": {"weekly": {"days": ["sun", "MON"], "start": "02:00", "duration_minutes": 60}}}


def test_a_window_is_created_read_listed_patched_replaced_and_deleted(api):
    created = api.post("/maintenance", json=WEEKLY)
    assert created.status_code == 201
    body = created.json
    assert body["recurrence"] == {"weekly": {"days": ["mon", "sun"], "start": "02:00", "duration_minutes": 60}}
    assert body["all"] is True and body["monitor_ids"] is None and len(body["next_occurrences"]) == 3
    wid = body["id"]
    assert api.get(f"/maintenance/{wid}").json == body
    assert [w["id"] for w in api.get("/maintenance").json] == [wid]
    m = api.post("/monitors", json={**STEP10, "url": "http://127.0.0.1:9/"}).json
    patched = api.patch(f"/maintenance/{wid}", json={"monitor_ids": [m["id"]], "starts_at": "2026-03-29T02:00:00+02:00",
                                                   "ends_at": "2026-03-29T03:00:00+02:00"})
    assert patched.status_code == 200
    assert (patched.json["all"], patched.json["monitor_ids"], patched.json["recurrence"]) == (False, [m["id"]], None)
    assert (patched.json["starts_at"], patched.json["ends_at"]) == ("2026-03-29T00:00:00.000Z",
                                                                    "2026-03-29T01:00:00.000Z")
    replaced = api.put(f"/maintenance/{wid}", json={"name": "now", "all": True, "starts_at": "2020-01-01T00:00:00Z",
                                                  "ends_at": "2099-01-01T00:00:00Z"})
    assert replaced.status_code == 200 and replaced.json["active"] is True
    shown = api.get(f"/monitors/{m['id']}").json
    assert shown["maintenance"]["id"] == wid and shown["status"] == "UNKNOWN"
    stats = api.get("/stats").json["monitors"]
    assert (stats["maintenance"], stats["unknown"]) == (1, 0)
    assert api.delete(f"/maintenance/{wid}").status_code == 204
    assert api.get(f"/maintenance/{wid}").status_code == 404
    assert api.get(f"/monitors/{m['id']}").json["maintenance"] is None


ONE_OFF = {"name": "w", "all": True, "starts_at": "2026-05-01T02:00:00Z", "ends_at": "2026-05-01T03:00:00Z"}


@pytest.mark.parametrize(("change", "field"), [
    ({"all": False, "monitor_ids": None}, "monitor_ids"),
    ({"monitor_ids": [1]}, "all"),
    ({"all": False, "monitor_ids": [424242]}, "monitor_ids"),
    ({"all": False, "monitor_ids": []}, "monitor_ids"),
    ({"all": False, "monitor_ids": [0]}, "monitor_ids"),
    ({"all": False, "monitor_ids": [2**31]}, "monitor_ids"),  # ids are 32-bit
    ({"all": False, "monitor_ids": list(range(1_000_000_000, 1_000_001_001))}, "monitor_ids"),  # 1,001 ids
    ({"ends_at": "2026-05-01T01:00:00Z"}, "ends_at"),
    ({"ends_at": "2026-05-01T02:00:00Z"}, "ends_at"),
    ({"starts_at": "2026-05-01T02:00:00"}, "starts_at"),  # no offset
    ({"ends_at": None}, "ends_at"),
    ({"starts_at": None, "ends_at": None}, "starts_at"),
    ({"recurrence": {"cron": "0 2 * * 0", "duration_minutes": 60}}, "recurrence"),
    ({"starts_at": None, "ends_at": None, "recurrence": {"cron": "0 2 * *", "duration_minutes": 60}},
     "recurrence.cron"),
    ({"starts_at": None, "ends_at": None, "recurrence": {"cron": "0 2 * * 0"}}, "recurrence.duration_minutes"),
    ({"starts_at": None, "ends_at": None, "recurrence": {"cron": "0 2 * * 0", "duration_minutes": 0}},
     "recurrence.duration_minutes"),
    ({"starts_at": None, "ends_at": None,
      "recurrence": {"weekly": {"days": ["someday"], "start": "02:00", "duration_minutes": 5}}},
     "recurrence.weekly.days"),
    ({"starts_at": None, "ends_at": None,
      "recurrence": {"weekly": {"days": ["sun"], "start": "25:00", "duration_minutes": 5}}},
     "recurrence.weekly.start"),
    ({"starts_at": None, "ends_at": None, "recurrence": {"cron": "² * * * *", "duration_minutes": 5}},
     "recurrence.cron"),  # a digit to str.isdigit(), not to int()
    ({"starts_at": None, "ends_at": None, "recurrence": {"cron": "0 * * * *", "duration_minutes": 120}},
     "recurrence.duration_minutes"),  # every hour for two hours: occurrences would overlap
    ({"starts_at": None, "ends_at": None, "recurrence": {"cron": "* * * * *", "duration_minutes": 10080}},
     "recurrence.duration_minutes"),
    ({"starts_at": None, "ends_at": None, "recurrence": {"cron": "0 2,14 * * *", "duration_minutes": 721}},
     "recurrence.duration_minutes"),  # twice a day: at most 12 hours
    ({"starts_at": None, "ends_at": None,
      "recurrence": {"weekly": {"days": ["mon", "tue"], "start": "02:00", "duration_minutes": 1441}}},
     "recurrence.weekly.duration_minutes"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
])
def test_a_refused_window_names_the_field_and_stores_nothing(api, change, field):
    response = api.post("/maintenance", json={**ONE_OFF, **change})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"], response.json
    assert MaintenanceWindow.select().count() == 0


def test_a_thousand_ten_digit_monitor_ids_fit_the_body_limit_and_are_checked(api):
    """The most ids a window may list, each as long as an id gets, is within the 64 KiB body limit: the answer
    is about the ids (unknown ones), not a 413 for the body's size."""
    response = api.post("/maintenance", json={**ONE_OFF, "all": False,
                                                   "monitor_ids": list(range(2**31 - 1000, 2**31))})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["monitor_ids"][0].startswith("unknown monitor id(s): 2147482648")
    assert MaintenanceWindow.select().count() == 0


def test_writes_need_a_read_write_key_and_an_unknown_window_is_404(api, app, ro_key):
    from tests.webapp.conftest import ApiClient

    ro = ApiClient(app.test_client(), ro_key)
    assert ro.post("/maintenance", json=ONE_OFF).status_code == 403
    assert ro.get("/maintenance").status_code == 200
    for method in ("get", "delete"):
        assert getattr(api, method)("/maintenance/999").status_code == 404
    assert api.patch("/maintenance/999", json={"name": "x"}).status_code == 404


@pytest.mark.parametrize("recurrence", [
    {"cron": "* * * * *", "duration_minutes": 1},
    {"cron": "0 2,14 * * *", "duration_minutes": 720},
    {"weekly": {"days": ["mon", "thu"], "start": "02:00", "duration_minutes": 3 * 1440}},
])
def test_a_recurring_window_as_long_as_the_time_to_its_next_start_is_accepted(api, recurrence):
    made = api.post("/maintenance", json={"name": "w", "all": True, "recurrence": recurrence})
    assert made.status_code == 201, made.json
    starts = [dt.datetime.fromisoformat(o["starts_at"].replace("Z", "+00:00")) for o in made.json["next_occurrences"]]
    assert len(starts) == 3 and starts == sorted(set(starts))


def test_deleting_a_window_that_is_on_reports_what_changed_during_it_at_once(api):
    m = api.post("/monitors", json={"name": "Shop", "url": "https://shop.example/",
                                    "webhook_url": "https://hooks.example/x", "webhook_format": "json"}).json
    now = utcnow()
    window = api.post("/maintenance", json={"name": "deploy", "monitor_ids": [m["id"]],
                                            "starts_at": (now - dt.timedelta(minutes=5)).isoformat() + "Z",
                                            "ends_at": (now + dt.timedelta(hours=1)).isoformat() + "Z"}).json
    StateChange.create(monitor=m["id"], from_status="UNKNOWN", to_status="DOWN", reason="test",
                       created_at=now - dt.timedelta(minutes=1))
    Monitor.update(status="DOWN").where(Monitor.id == m["id"]).execute()
    assert api.delete(f"/maintenance/{window['id']}").status_code == 204
    (row,) = AlertOutbox.select()
    body = json.loads(row.payload)
    assert (body["event"], body["old"], body["new"]) == ("monitor.maintenance_report", "UNKNOWN", "DOWN")
    assert body["maintenance"]["name"] == "deploy"


def test_ending_a_window_early_reports_it_once_and_a_window_still_on_is_left_to_its_end(api):
    m = api.post("/monitors", json={"name": "Shop", "url": "https://shop.example/",
                                    "webhook_url": "https://hooks.example/x", "webhook_format": "json"}).json
    now = utcnow()
    window = api.post("/maintenance", json={"name": "deploy", "all": True,
                                            "starts_at": (now - dt.timedelta(minutes=5)).isoformat() + "Z",
                                            "ends_at": (now + dt.timedelta(hours=1)).isoformat() + "Z"}).json
    StateChange.create(monitor=m["id"], from_status="UNKNOWN", to_status="UP", reason="test",
                       created_at=now - dt.timedelta(minutes=1))
    Monitor.update(status="UP").where(Monitor.id == m["id"]).execute()
    later = (now + dt.timedelta(minutes=30)).isoformat() + "Z"
    assert api.patch(f"/maintenance/{window['id']}", json={"ends_at": later}).status_code == 200
    assert AlertOutbox.select().count() == 0  # still on: reported when it ends
    ended = (now - dt.timedelta(seconds=1)).isoformat() + "Z"
    assert api.patch(f"/maintenance/{window['id']}", json={"ends_at": ended}).status_code == 200
    assert AlertOutbox.select().count() == 1
    assert api.delete(f"/maintenance/{window['id']}").status_code == 204
    assert AlertOutbox.select().count() == 1  # not on any more: nothing to report twice


def test_an_unknown_query_parameter_of_the_list_is_a_422_naming_it(api):
    assert api.post("/maintenance", json=ONE_OFF).status_code == 201
    refused = api.get("/maintenance?pagesize=5")
    assert refused.status_code == 422
    assert list(refused.json["errors"]["query"]) == ["pagesize"]
    assert len(api.get("/maintenance?page_size=5").json) == 1
