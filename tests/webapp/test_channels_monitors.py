"""A monitor's `channels`: set on POST, PUT, PATCH and the bulk create, shown in every monitor output; an
unknown id is a 400 naming it and nothing is stored; deleting a channel unlinks it. SQLite and PostgreSQL."""

import pytest

from healthmon.models import MonitorChannel
from tests.webapp.conftest import STEP10, monitor_count

SLACK_URL = "https://hooks.slack.com/services/T0000SECRET/B0000SECRET/XXXXXXXXSECRETTOKEN"
MONITOR = {"name": "Orders", "url": "https://example.com/health"}


@pytest.fixture
def channel_ids(api):
    ids = []
    for name in ("a", "b", "c"):
        response = api.post("/channels", json={"name": name, "type": "slack", "config": {"webhook_url": SLACK_URL}})
        assert response.status_code == 201
        ids.append(response.json["id"])
    return ids


def test_a_monitor_is_created_with_channels_and_shows_them(api, channel_ids):
    a, b, c = channel_ids
    made = api.post("/monitors", json={**MONITOR, "channels": [c, a]})
    assert made.status_code == 201 and made.json["channels"] == [a, c]
    assert api.get(f"/monitors/{made.json['id']}").json["channels"] == [a, c]
    assert [m["channels"] for m in api.get("/monitors").json] == [[a, c]]


def test_the_guides_payload_still_works_and_has_no_channels(api):
    made = api.post("/monitors", json=STEP10)
    assert made.status_code == 201 and made.json["channels"] == []
    assert made.json["webhook_url"].endswith("****")


def test_an_unknown_channel_id_is_a_400_naming_it_and_nothing_is_stored(api, channel_ids):
    refused = api.post("/monitors", json={**MONITOR, "channels": [channel_ids[0], 999]})
    assert refused.status_code == 400
    assert refused.json["message"] == "channels: channel 999 does not exist"
    assert refused.json["errors"]["json"] == {"channels": ["channel 999 does not exist"]}
    assert monitor_count() == 0 and MonitorChannel.select().count() == 0


def test_a_channel_listed_twice_is_refused(api, channel_ids):
    refused = api.post("/monitors", json={**MONITOR, "channels": [channel_ids[0], channel_ids[0]]})
    assert refused.status_code == 422 and "channels" in refused.json["errors"]["json"]


def test_put_replaces_the_channels_and_omitting_them_removes_them(api, channel_ids):
    a, b, c = channel_ids
    mid = api.post("/monitors", json={**MONITOR, "channels": [a]}).json["id"]
    assert api.put(f"/monitors/{mid}", json={**MONITOR, "channels": [b, c]}).json["channels"] == [b, c]
    assert api.put(f"/monitors/{mid}", json=MONITOR).json["channels"] == []


def test_patch_keeps_the_channels_unless_given(api, channel_ids):
    a, b, _ = channel_ids
    mid = api.post("/monitors", json={**MONITOR, "channels": [a]}).json["id"]
    assert api.patch(f"/monitors/{mid}", json={"name": "Renamed"}).json["channels"] == [a]
    changed = api.patch(f"/monitors/{mid}", json={"channels": [b]})
    assert changed.status_code == 200 and changed.json["channels"] == [b]
    refused = api.patch(f"/monitors/{mid}", json={"channels": [b, 12345], "name": "Not stored"})
    assert refused.status_code == 400 and refused.json["message"] == "channels: channel 12345 does not exist"
    kept = api.get(f"/monitors/{mid}").json
    assert (kept["channels"], kept["name"]) == ([b], "Renamed")


def test_the_bulk_create_links_each_item_and_names_a_bad_one_by_index(api, channel_ids):
    a, b, _ = channel_ids
    made = api.post("/monitors/bulk", json={"monitors": [{**MONITOR, "channels": [a]}, {**MONITOR, "name": "Two"},
                                                         {**MONITOR, "name": "Three", "channels": [a, b]}]})
    assert made.status_code == 201 and [m["channels"] for m in made.json] == [[a], [], [a, b]]
    refused = api.post("/monitors/bulk", json={"monitors": [MONITOR, {**MONITOR, "channels": [777]}]})
    assert refused.status_code == 400
    assert refused.json["message"] == "monitors.1.channels: channel 777 does not exist"
    assert monitor_count() == 3


def test_deleting_a_channel_unlinks_it_from_its_monitors(api, channel_ids):
    a, b, _ = channel_ids
    mid = api.post("/monitors", json={**MONITOR, "channels": [a, b]}).json["id"]
    assert api.delete(f"/channels/{a}").status_code == 204
    assert api.get(f"/monitors/{mid}").json["channels"] == [b]


def test_deleting_a_monitor_removes_its_links(api, channel_ids):
    mid = api.post("/monitors", json={**MONITOR, "channels": channel_ids}).json["id"]
    assert api.delete(f"/monitors/{mid}").status_code == 204
    assert MonitorChannel.select().count() == 0
    assert len(api.get("/channels").json) == 3
