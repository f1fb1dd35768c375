"""POST /channels/plan: what saving each declared channel would change, compared where the secrets are
stored, answered without a secret's value; checked as a save checks; nothing stored. SQLite and PostgreSQL."""

import pytest

from healthmon.models import Channel
from tests.webapp.conftest import ApiClient
from tests.webapp.test_channels_crud import ROUTING_KEY, SLACK_URL, create

pytestmark = pytest.mark.timeout(60)

ROTATED_URL = "https://hooks.slack.com/services/T0000SECRET/B1111SECRET/YYYYYYYYSECRETTOKEN"
"""Another webhook of the same workspace: its masked form is the first one's (`https://hooks.slack.com/service****`)."""


def plan(api, *channels, status=200):
    response = api.post("/channels/plan", json={"channels": list(channels)})
    assert response.status_code == status, response.json
    assert "SECRET" not in response.get_data(as_text=True) and ROUTING_KEY not in response.get_data(as_text=True)
    return response.json


def slack(url=SLACK_URL, name="ops"):
    return {"name": name, "type": "slack", "config": {"webhook_url": url}}


def pager(key=ROUTING_KEY, severity="critical", name="pager"):
    return {"name": name, "type": "pagerduty", "config": {"routing_key": key, "severity": severity}}


def test_each_declared_channel_is_planned_as_a_create_a_change_or_unchanged_by_name(api):
    ops = create(api)
    pd = create(api, "pager", "pagerduty", {"routing_key": ROUTING_KEY})

    answer = plan(api, slack(), pager(severity="warning"), slack(name="new"))

    assert answer == {"channels": [
        {"name": "ops", "id": ops["id"], "action": "unchanged", "fields": []},
        {"name": "pager", "id": pd["id"], "action": "change",
         "fields": [{"field": "config.severity", "secret": False, "old": "critical", "new": "warning"}]},
        {"name": "new", "id": None, "action": "create", "fields": []},
    ]}
    assert Channel.select().count() == 2 and Channel.get_by_id(pd["id"]).config["severity"] == "critical"


def test_a_secret_is_compared_in_full_though_its_masked_form_is_the_same(api):
    ops = create(api)
    assert api.get(f"/channels/{ops['id']}").json["config"]["webhook_url"] == "https://hooks.slack.com/service****"

    answer = plan(api, slack(ROTATED_URL), pager())

    assert answer["channels"][0] == {"name": "ops", "id": ops["id"], "action": "change",
                                     "fields": [{"field": "config.webhook_url", "secret": True}]}
    assert Channel.get_by_id(ops["id"]).config["webhook_url"] == SLACK_URL


def test_a_secret_shown_only_as_stars_is_unchanged_when_sent_again_in_full_or_masked_and_changed_when_rotated(api):
    create(api, "pager", "pagerduty", {"routing_key": ROUTING_KEY})
    rotated = ROUTING_KEY[::-1]

    assert plan(api, pager())["channels"][0]["action"] == "unchanged"
    assert plan(api, pager(key="****"))["channels"][0]["action"] == "unchanged"  # as export writes it
    assert plan(api, pager(key=rotated))["channels"][0]["fields"] == [{"field": "config.routing_key", "secret": True}]


def test_a_type_change_names_the_type_and_the_fields_of_both_types(api):
    create(api, "pager", "pagerduty", {"routing_key": ROUTING_KEY})

    fields = plan(api, slack(name="pager"))["channels"][0]["fields"]

    assert fields == [{"field": "type", "secret": False, "old": "pagerduty", "new": "slack"},
                      {"field": "config.routing_key", "secret": True},
                      {"field": "config.severity", "secret": False, "old": "critical", "new": None},
                      {"field": "config.webhook_url", "secret": True}]


@pytest.mark.parametrize(("channel", "status", "field", "reason"), [
    (slack("https://10.0.0.1/hook", name="other"), 400, "channels.1.config.webhook_url", "address not allowed"),
    (pager(key="abc", name="other"), 400, "channels.1.config.routing_key", "32 letters and digits"),
    (slack("https://hooks.slack.com/services/T9/****"), 409, "channels.1.config.webhook_url", "masked value"),
    (pager(), 422, "channels.1.name", "given earlier in the list"),
    ({"name": "x", "type": "sms", "config": {}}, 422, "channels.1.type", "Must be one of"),
])
def test_a_channel_a_save_would_refuse_is_refused_naming_its_index_and_field(api, channel, status, field, reason):
    create(api)
    body = plan(api, pager(), channel, status=status)
    assert reason in body["errors"]["json"][field][0]
    assert body["message"].startswith(f"{field}: ")


def test_a_masked_secret_for_a_channel_that_does_not_exist_yet_is_refused(api):
    body = plan(api, slack("https://hooks.slack.com/service****", name="new"), status=400)
    assert "send the secret itself" in body["errors"]["json"]["channels.0.config.webhook_url"][0]


def test_a_read_only_key_cannot_ask_for_a_plan(app, ro_key):
    reader = ApiClient(app.test_client(), ro_key)
    assert reader.post("/channels/plan", json={"channels": [slack()]}).status_code == 403


def test_a_plan_takes_up_to_a_thousand_channels(api):
    mail = {"host": "smtp.example.com", "from": "alerts@example.com", "username": "u", "password": "p" * 256,
            "to": [f"{'x' * 60}{i:02d}@{'d' * 179}.example.com" for i in range(20)]}  # 254 characters each
    many = [{"name": f"mail {i}", "type": "email", "config": mail} for i in range(1000)]
    answer = plan(api, *many)
    assert [c["action"] for c in answer["channels"]] == ["create"] * 1000

    body = plan(api, *many, slack(), status=422)
    assert list(body["errors"]["json"]) == ["channels"]
    assert Channel.select().count() == 0
