"""A monitor's reminder and escalation fields: off by default, validated (the two escalation fields together,
the channel existing) with a 4xx naming the field and nothing stored; deleting the channel turns the
escalation off. SQLite and PostgreSQL."""

from tests.webapp.conftest import STEP10, monitor_count

MONITOR = {"name": "Orders", "url": "https://example.com/health"}


def channel(api, name: str = "oncall") -> int:
    made = api.post("/channels", json={"name": name, "type": "webhook", "config": {"url": "https://hooks.example/x"}})
    assert made.status_code == 201
    return made.json["id"]


def test_the_guides_monitor_has_no_reminders_and_no_escalation(api):
    made = api.post("/monitors", json=STEP10).json
    assert (made["reminder_minutes"], made["escalation_minutes"], made["escalation_channel"]) == (None, None, None)


def test_reminders_and_an_escalation_are_set_and_shown(api):
    oncall = channel(api)
    made = api.post("/monitors", json={**MONITOR, "reminder_minutes": 60, "escalation_minutes": 30,
                                       "escalation_channel": oncall})
    assert made.status_code == 201
    shown = api.get(f"/monitors/{made.json['id']}").json
    assert (shown["reminder_minutes"], shown["escalation_minutes"], shown["escalation_channel"]) == (60, 30, oncall)
    off = api.patch(f"/monitors/{made.json['id']}", json={"reminder_minutes": None})
    assert off.status_code == 200 and off.json["reminder_minutes"] is None and off.json["escalation_minutes"] == 30


def test_a_reminder_more_often_than_every_five_minutes_is_refused(api):
    refused = api.post("/monitors", json={**MONITOR, "reminder_minutes": 4})
    assert refused.status_code == 422 and "reminder_minutes" in refused.json["errors"]["json"]
    assert monitor_count() == 0


def test_an_escalation_needs_both_its_time_and_its_channel(api):
    oncall = channel(api)
    refused = api.post("/monitors", json={**MONITOR, "escalation_minutes": 30})
    assert refused.status_code == 400
    assert refused.json["errors"]["json"] == {"escalation_channel": ["required with escalation_minutes"]}
    refused = api.post("/monitors", json={**MONITOR, "escalation_channel": oncall})
    assert refused.json["errors"]["json"] == {"escalation_minutes": ["required with escalation_channel"]}
    assert monitor_count() == 0

    made = api.post("/monitors", json=MONITOR).json
    patched = api.patch(f"/monitors/{made['id']}", json={"escalation_minutes": 10})
    assert patched.status_code == 400 and "escalation_channel" in patched.json["errors"]["json"]
    assert api.get(f"/monitors/{made['id']}").json["escalation_minutes"] is None


def test_an_unknown_escalation_channel_is_a_400_naming_it(api):
    refused = api.post("/monitors", json={**MONITOR, "escalation_minutes": 30, "escalation_channel": 999})
    assert refused.status_code == 400
    assert refused.json["message"] == "escalation_channel: channel 999 does not exist"
    bulk = api.post("/monitors/bulk", json={"monitors": [MONITOR, {**MONITOR, "escalation_minutes": 30,
                                                                      "escalation_channel": 999}]})
    assert bulk.status_code == 400 and "1.escalation_channel" in str(bulk.json)
    assert monitor_count() == 0


def test_deleting_the_escalation_channel_turns_the_escalation_off(api):
    oncall = channel(api)
    made = api.post("/monitors", json={**MONITOR, "escalation_minutes": 30, "escalation_channel": oncall}).json
    assert api.delete(f"/channels/{oncall}").status_code == 204
    shown = api.get(f"/monitors/{made['id']}").json
    assert (shown["escalation_minutes"], shown["escalation_channel"]) == (None, None)
    assert api.patch(f"/monitors/{made['id']}", json={"name": "Orders 2"}).status_code == 200


def test_apply_names_an_escalation_change_by_its_api_field_and_turns_it_off(api):
    oncall = channel(api)
    made = api.post("/monitors", json={**MONITOR, "key": "orders", "escalation_minutes": 30,
                                       "escalation_channel": oncall}).json
    applied = api.post("/apply", json={"monitors": [{**MONITOR, "key": "orders"}]})
    assert applied.status_code == 200, applied.json
    fields = {f["field"]: f for f in applied.json["changes"][0]["fields"]}
    assert fields["escalation_channel"] == {"field": "escalation_channel", "old": oncall, "new": None, "secret": False}
    assert fields["escalation_minutes"]["old"] == 30
    shown = api.get(f"/monitors/{made['id']}").json
    assert (shown["escalation_minutes"], shown["escalation_channel"]) == (None, None)


def test_apply_with_an_unknown_escalation_channel_is_a_400_naming_it_and_changes_nothing(api):
    made = api.post("/monitors", json={**MONITOR, "key": "orders"}).json
    refused = api.post("/apply", json={"monitors": [{**MONITOR, "key": "orders", "name": "Renamed",
                                                     "escalation_minutes": 30, "escalation_channel": 999}]})
    assert refused.status_code == 400
    assert refused.json["message"] == "monitors.0.escalation_channel: channel 999 does not exist"
    shown = api.get(f"/monitors/{made['id']}").json
    assert (shown["name"], shown["escalation_minutes"], shown["escalation_channel"]) == ("Orders", None, None)
