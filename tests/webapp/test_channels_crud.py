"""/channels: create, list, read, replace, patch, delete; per-type config rules as 400s naming the field;
write-only secrets (masked, kept when the masked value is sent back); the test send. SQLite and PostgreSQL."""

import json

import pytest

from healthmon.models import Channel
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = pytest.mark.timeout(60)

SLACK_URL = "https://hooks.slack.com/services/T0000SECRET/B0000SECRET/XXXXXXXXSECRETTOKEN"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def create(api, name="ops", kind="slack", config=None, status=201):
    body = {"name": name, "type": kind, "config": config if config is not None else {"webhook_url": SLACK_URL}}
    response = api.post("/channels", json=body)
    assert response.status_code == status, response.json
    return response.json


def test_a_channel_is_created_listed_read_and_its_secret_never_shown(api):
    made = create(api)
    assert made["config"] == {"webhook_url": "https://hooks.slack.com/service****"}
    assert (made["name"], made["type"]) == ("ops", "slack")
    listed = api.get("/channels")
    assert listed.status_code == 200 and [c["id"] for c in listed.json] == [made["id"]]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    assert api.get(f"/channels/{made['id']}").json == made
    for response in (listed, api.get(f"/channels/{made['id']}")):
        assert "SECRET" not in response.get_data(as_text=True)
    assert Channel.get_by_id(made["id"]).config == {"webhook_url": SLACK_URL}


@pytest.mark.parametrize(("kind", "config", "field", "reason"), [
    ("slack", {}, "config.webhook_url", "required for a slack channel"),
    ("slack", {"webhook_url": "ftp://x.example/"}, "config.webhook_url", "not a valid http(s) URL"),
    ("slack", {"webhook_url": SLACK_URL, "channel": "#x"}, "config.channel", "unknown field"),
    ("webhook", {"url": "https://example.com/h", "secret": "short"}, "config.secret", "16 to 256"),
    ("pagerduty", {"routing_key": "abc"}, "config.routing_key", "32 letters and digits"),
    ("pagerduty", {"routing_key": ROUTING_KEY, "severity": "fatal"}, "config.severity", "one of critical"),
    ("email", {"host": "smtp.example.com", "from": "a@example.com", "to": []}, "config.to", "1 to 20"),
    ("email", {"host": "smtp.example.com", "from": "a@example.com", "to": ["x@example.com\nBcc: y@z"]},
     "config.to", "item 0 must be an e-mail address"),
    ("email", {"host": "smtp.example.com", "from": "a@example.com", "to": ["x@example.com"], "username": "u"},
     "config.password", "username and password go together"),
    ("email", {"host": "smtp.example.com", "port": True, "from": "a@example.com", "to": ["x@example.com"]},
     "config.port", "integer"),
    ("discord", {"webhook_url": "https://10.0.0.1/api/webhooks/1/x"}, "config.webhook_url", "address not allowed"),
    ("email", {"host": "169.254.169.254", "from": "a@example.com", "to": ["x@example.com"]}, "config.host",
     "address not allowed"),
])
def test_a_config_that_breaks_its_types_rules_is_a_400_naming_the_field(api, kind, config, field, reason):
    body = create(api, kind=kind, config=config, status=400)
    assert body["message"].startswith(f"{field}: ") and reason in body["message"]
    assert list(body["errors"]["json"]) == [field]
    assert Channel.select().count() == 0


def test_a_secret_is_never_quoted_in_an_error(api):
    body = create(api, kind="pagerduty", config={"routing_key": "s3cr3t-but-wrong"}, status=400)
    assert "s3cr3t" not in json.dumps(body)


def test_defaults_are_filled_in_and_shown(api):
    mail = create(api, kind="email", config={"host": "smtp.example.com", "from": "a@example.com",
                                             "to": ["x@example.com"], "username": "u", "password": "pw-secret"})
    assert mail["config"] == {"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "u",
                              "password": "****", "from": "a@example.com", "to": ["x@example.com"]}
    pager = create(api, name="pd", kind="pagerduty", config={"routing_key": ROUTING_KEY})
    assert pager["config"] == {"routing_key": "****", "severity": "critical"}


def test_the_masked_value_sent_back_keeps_the_secret_on_put_and_patch(api):
    made = create(api, kind="webhook", config={"url": "https://example.com/hooks/tok3n", "secret": "x" * 20})
    put = api.put(f"/channels/{made['id']}", json={"name": "renamed", "type": "webhook", "config": made["config"]})
    assert put.status_code == 200 and put.json["name"] == "renamed"
    assert Channel.get_by_id(made["id"]).config == {"url": "https://example.com/hooks/tok3n", "secret": "x" * 20}
    patch = api.patch(f"/channels/{made['id']}", json={"config": {**made["config"], "secret": "y" * 20}})
    assert patch.status_code == 200
    assert Channel.get_by_id(made["id"]).config == {"url": "https://example.com/hooks/tok3n", "secret": "y" * 20}


def test_a_masked_value_that_is_not_this_channels_is_a_conflict(api):
    made = create(api)
    other = api.patch(f"/channels/{made['id']}", json={"config": {"webhook_url": "https://hooks.slack.com/x****"}})
    assert other.status_code == 409 and other.json["message"].startswith("config.webhook_url: ")
    masked_on_create = create(api, name="new", config={"webhook_url": made["config"]["webhook_url"]}, status=400)
    assert masked_on_create["message"].startswith("config.webhook_url: ")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_secret_ending_in_the_mask_that_is_not_the_stored_ones_mask_is_a_conflict_and_not_stored(api, method):
    stored = {"url": "https://example.com/hooks/tok3n", "secret": "x" * 20}
    made = create(api, kind="webhook", config=stored)
    body = {"name": "ops", "type": "webhook", "config": {**made["config"], "secret": "abcdefghijklmnop****"}}
    response = getattr(api, method)(f"/channels/{made['id']}", json=body)
    assert response.status_code == 409 and response.json["message"].startswith("config.secret: ")
    assert list(response.json["errors"]["json"]) == ["config.secret"]
    assert Channel.get_by_id(made["id"]).config == stored


def test_changing_the_type_needs_a_config_of_the_new_type(api):
    made = create(api)
    refused = api.patch(f"/channels/{made['id']}", json={"type": "pagerduty"})
    assert refused.status_code == 400 and refused.json["message"].startswith("config.")
    changed = api.patch(f"/channels/{made['id']}", json={"type": "pagerduty", "config": {"routing_key": ROUTING_KEY}})
    assert changed.status_code == 200 and changed.json["type"] == "pagerduty"


def test_names_are_unique(api):
    first = create(api, name="same")
    assert create(api, name="same", status=409)["message"].startswith("name: ")
    second = create(api, name="other")
    clash = api.patch(f"/channels/{second['id']}", json={"name": "same"})
    assert clash.status_code == 409
    assert api.patch(f"/channels/{first['id']}", json={"name": "same"}).status_code == 200


def test_delete_removes_it_and_its_id_is_never_given_again(api):
    made = create(api)
    assert api.delete(f"/channels/{made['id']}").status_code == 204
    assert api.get(f"/channels/{made['id']}").status_code == 404
    assert api.delete(f"/channels/{made['id']}").status_code == 404
    assert create(api)["id"] > made["id"]


def test_a_read_only_key_reads_but_cannot_write_or_test(app, api, ro_key):
    from tests.webapp.conftest import ApiClient

    made = create(api)
    reader = ApiClient(app.test_client(), ro_key)
    assert reader.get("/channels").status_code == 200
    assert reader.post("/channels", json={"name": "x", "type": "slack", "config": {}}).status_code == 403
    assert reader.post(f"/channels/{made['id']}/test").status_code == 403
    assert reader.delete(f"/channels/{made['id']}").status_code == 403


def test_the_test_send_delivers_one_message_and_reports_the_answer(api):
    with WebhookReceiver() as hook:
        made = create(api, kind="webhook", config={"url": hook.url + "?token=s3cret", "secret": "k" * 16})
        result = api.post(f"/channels/{made['id']}/test")
        assert result.status_code == 200 and result.json == {"ok": True, "status": 200, "error": None}
        (request,) = hook.requests
        assert request.json["monitor"]["name"] == "healthmon test message (ops)"
        assert "X-Healthmon-Signature" in request.headers

        hook.script(Reply.slack_error("no_service", 404))
        failed = api.post(f"/channels/{made['id']}/test")
        assert failed.status_code == 200
        assert failed.json == {"ok": False, "status": 404, "error": "webhook returned 404 (no_service)"}


def test_a_test_send_that_gets_no_answer_names_no_secret(api):
    made = create(api, kind="slack", config={"webhook_url": "http://127.0.0.1:9/services/T/B/s3cret"})
    result = api.post(f"/channels/{made['id']}/test")
    assert result.status_code == 200 and result.json["ok"] is False and result.json["status"] is None
    assert result.json["error"].startswith("webhook ") and "s3cret" not in result.json["error"]


def test_an_unknown_channel_is_a_404(api):
    assert api.get("/channels/999").status_code == 404
    assert api.post("/channels/999/test").status_code == 404
    assert api.put("/channels/999", json={"name": "x", "type": "slack",
                                          "config": {"webhook_url": SLACK_URL}}).status_code == 404
