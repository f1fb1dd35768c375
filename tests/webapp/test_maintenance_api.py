"""/maintenance: create, read, list, replace, patch and delete windows; every refusal names its field and
stores nothing; a monitor in a window shows it. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from healthmon.models import MaintenanceWindow
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


def test_an_unknown_query_parameter_of_the_list_is_a_422_naming_it(api):
    assert api.post("/maintenance", json=ONE_OFF).status_code == 201
    refused = api.get("/maintenance?pagesize=5")
    assert refused.status_code == 422
    assert list(refused.json["errors"]["query"]) == ["pagesize"]
    assert len(api.get("/maintenance?page_size=5").json) == 1
