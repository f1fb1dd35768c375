"""`healthmon apply` and `healthmon export` against a real API over HTTP (the app served on 127.0.0.1 by
werkzeug in this process): plans, dry runs, prune, secrets never printed, API errors at the file's line,
and export-then-apply changes nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import threading

import pytest
from werkzeug.serving import make_server

from healthmon import apply
from healthmon.models import Channel, CheckResult, Monitor
from tests.conftest import make_settings
from tests.webapp.conftest import make_key
from webapp.app import create_app

SECRET = "https://hooks.slack.com/services/T1/B1/SECRETTOKEN"
FILE = """\
defaults: {timeout: 5, tags: [prod]}
monitors:
  - key: api-health
    name: API health
    url: https://api.example.com/health
    check_interval: 30
    tags: [eu]
    webhook_url: "${HOOK}"
    auth: {type: bearer, token: "${TOKEN}"}
    headers: {X-Api-Key: "${TOKEN}", Accept: application/json}
  - key: web
    name: Web
    url: https://www.example.com/
"""


@pytest.fixture
def remote(db_url):
    app = create_app(make_settings(database_url=db_url, min_check_interval=10))
    key = make_key()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield apply.Remote(f"http://127.0.0.1:{server.server_port}", key)
    server.shutdown()


def _apply(remote, tmp_path, text: str, monkeypatch, **flags) -> tuple[int, str, str]:
    monkeypatch.setenv("HOOK", SECRET)
    monkeypatch.setenv("TOKEN", "tok-SECRET-1")
    path = tmp_path / "monitors.yaml"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    code = apply.run_apply(str(path), remote, dry_run=flags.get("dry_run", False), prune=flags.get("prune", False),
                           out=out, err=err)
    assert "SECRET" not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def test_apply_creates_then_finds_nothing_to_change(remote, tmp_path, monkeypatch):
    code, out, _ = _apply(remote, tmp_path, FILE, monkeypatch)
    assert code == 0
    assert out.splitlines() == ["+ create monitor api-health", "+ create monitor web",
                                "Applied: 2 create, 0 change, 0 delete, 0 unchanged."]
    api = Monitor.get(Monitor.key == "api-health")
    assert (api.check_interval, api.tags, api.webhook_url, api.headers["X-Api-Key"]) == (30, ["prod", "eu"], SECRET,
                                                                                        "tok-SECRET-1")
    assert _apply(remote, tmp_path, FILE, monkeypatch) == (0, "No changes: 2 monitors as declared.\n", "")


def test_a_change_is_shown_field_by_field_keeps_the_id_and_history_and_secrets_stay_unprinted(
        remote, tmp_path, monkeypatch):
    _apply(remote, tmp_path, FILE, monkeypatch)
    before = Monitor.get(Monitor.key == "api-health")
    CheckResult.create(monitor=before, slot=before.created_at, ok=True)
    changed = FILE.replace("check_interval: 30", "check_interval: 60").replace('"${HOOK}"', '"${HOOK}x"')
    code, out, _ = _apply(remote, tmp_path, changed, monkeypatch, dry_run=True)
    assert code == 0 and out.splitlines() == [
        "~ change monitor api-health: check_interval 30 -> 60, webhook_url (secret changed)",
        "Dry run: 0 to create, 1 to change, 0 to delete, 1 unchanged; nothing was changed."]
    assert Monitor.get_by_id(before.id).check_interval == 30
    code, out, _ = _apply(remote, tmp_path, changed, monkeypatch)
    after = Monitor.get(Monitor.key == "api-health")
    assert (after.id, after.check_interval, after.webhook_url) == (before.id, 60, SECRET + "x")
    assert CheckResult.select().where(CheckResult.monitor == after.id).count() == 1


def test_prune_deletes_what_the_file_omits_only_when_asked(remote, tmp_path, monkeypatch):
    _apply(remote, tmp_path, FILE, monkeypatch)
    only_api = FILE.split("  - key: web")[0]
    assert _apply(remote, tmp_path, only_api, monkeypatch)[1] == "No changes: 1 monitors as declared.\n"
    code, out, _ = _apply(remote, tmp_path, only_api, monkeypatch, prune=True)
    assert out.splitlines() == ["- delete monitor web", "Applied: 0 create, 0 change, 1 delete, 1 unchanged."]
    assert [m.key for m in Monitor.select()] == ["api-health"]


def test_the_servers_refusal_is_reported_at_the_files_line_and_nothing_changes(remote, tmp_path, monkeypatch):
    text = FILE.replace("    url: https://www.example.com/\n", "    url: https://www.example.com/\n"
                        "    check_interval: 8\n")
    code, out, err = _apply(remote, tmp_path, text, monkeypatch)
    assert code == 1 and out == ""
    assert err.splitlines() == ["monitors.yaml:14: monitors[1].check_interval: Must be greater than or equal to 10 "
                                "and less than or equal to 86400."]
    assert Monitor.select().count() == 0


def test_export_then_apply_changes_nothing(remote, tmp_path, monkeypatch):
    _apply(remote, tmp_path, FILE, monkeypatch)
    remote.call("POST", "/monitors", json={"name": "No key", "url": "https://nokey.example/", "tags": ["x"],
                                           "headers": {"Authorization": "Basic c2VjcmV0"}, "webhook_url": SECRET,
                                           "assertions": [{"target": "json", "path": "$.status", "op": "equals",
                                                           "value": "UP"}], "expected_status_codes": ["200-299"]})
    out = io.StringIO()
    assert apply.run_export(remote, out=out) == 0
    exported = out.getvalue()
    assert "SECRET" not in exported and "c2VjcmV0" not in exported and "key: monitor-" in exported
    code, plan, err = _apply(remote, tmp_path, exported, monkeypatch, prune=True)
    assert (code, plan, err) == (0, "No changes: 3 monitors as declared.\n", "")
    assert Monitor.get(Monitor.name == "No key").key is None  # monitor-<id> matched it, stored nothing
    assert Monitor.get(Monitor.name == "No key").headers["Authorization"] == "Basic c2VjcmV0"


CHANNELS_FILE = """\
channels:
  - name: ops
    type: slack
    config: {webhook_url: "${HOOK}"}
  - name: oncall
    type: webhook
    config: {url: "https://hooks.example.com/oncall", secret: "${TOKEN}-0123456789"}
monitors:
  - key: shop
    name: Shop
    url: https://shop.example.com/
    channels: [ops]
    reminder_minutes: 60
    escalation_minutes: 30
    escalation_channel: oncall
"""


def test_channels_are_matched_by_name_and_monitors_link_them_and_escalate_by_name(remote, tmp_path, monkeypatch):
    code, out, err = _apply(remote, tmp_path, CHANNELS_FILE, monkeypatch)
    assert (code, err) == (0, "")
    assert out.splitlines()[:3] == ["+ create channel ops", "+ create channel oncall", "+ create monitor shop"]
    channels = {c["name"]: c["id"] for c in remote.paged("/channels")}
    shop = Monitor.get(Monitor.key == "shop")
    assert shop.channel_ids == [channels["ops"]] and shop.escalation_channel_id == channels["oncall"]
    # The secrets come from the environment in full; the server compares them: no change, nothing sent.
    assert _apply(remote, tmp_path, CHANNELS_FILE, monkeypatch)[1] == "No changes: 1 monitors as declared.\n"

    exported = io.StringIO()
    assert apply.run_export(remote, out=exported) == 0
    text = exported.getvalue()
    assert "escalation_channel: oncall" in text and "SECRET" not in text
    assert _apply(remote, tmp_path, text, monkeypatch, prune=True)[:2] == (0, "No changes: 1 monitors as declared.\n")
    assert Monitor.get(Monitor.key == "shop").escalation_channel_id == channels["oncall"]


def test_a_rotated_secret_is_planned_as_a_secret_change_sent_and_an_export_keeps_it(remote, tmp_path, monkeypatch):
    _apply(remote, tmp_path, CHANNELS_FILE, monkeypatch)
    rotated = CHANNELS_FILE.replace('"${TOKEN}-0123456789"', '"${TOKEN}-rotated-9876543210"')
    line = "~ change channel oncall: config.secret (secret changed)"
    code, out, _ = _apply(remote, tmp_path, rotated, monkeypatch, dry_run=True)
    assert code == 0 and out.splitlines()[0] == line
    assert Channel.get(Channel.name == "oncall").config["secret"] == "tok-SECRET-1-0123456789"
    code, out, _ = _apply(remote, tmp_path, rotated, monkeypatch)
    assert code == 0 and out.splitlines()[0] == line
    assert Channel.get(Channel.name == "oncall").config["secret"] == "tok-SECRET-1-rotated-9876543210"
    assert _apply(remote, tmp_path, rotated, monkeypatch)[1] == "No changes: 1 monitors as declared.\n"

    exported = io.StringIO()
    assert apply.run_export(remote, out=exported) == 0
    assert "secret: '****'" in exported.getvalue() or 'secret: "****"' in exported.getvalue()
    assert _apply(remote, tmp_path, exported.getvalue(), monkeypatch) == (
        0, "No changes: 1 monitors as declared.\n", "")
    assert Channel.get(Channel.name == "oncall").config["secret"] == "tok-SECRET-1-rotated-9876543210"


def test_a_monitor_naming_an_undeclared_channel_is_an_error_at_its_line(remote, tmp_path, monkeypatch):
    text = CHANNELS_FILE.replace("escalation_channel: oncall", "escalation_channel: pager")
    code, out, err = _apply(remote, tmp_path, text, monkeypatch)
    assert code == 1
    assert err.splitlines() == ["monitors.yaml:15: monitors[0].escalation_channel: no channel named 'pager' "
                                "(declare it under channels:)"]
    assert Monitor.select().count() == 0 and remote.paged("/channels") == []  # nothing created before the error


def test_a_rotated_slack_webhook_whose_masked_form_is_unchanged_is_still_applied(remote, tmp_path, monkeypatch):
    # Every hooks.slack.com URL masks to the same text: only the server, which holds the URL, can tell them apart.
    _apply(remote, tmp_path, CHANNELS_FILE, monkeypatch)
    rotated = CHANNELS_FILE.replace('"${HOOK}"', '"https://hooks.slack.com/services/T1/B2/OTHERSECRET"')
    code, out, err = _apply(remote, tmp_path, rotated, monkeypatch)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "~ change channel ops: config.webhook_url (secret changed)"
    assert Channel.get(Channel.name == "ops").config["webhook_url"] == "https://hooks.slack.com/services/T1/B2/OTHERSECRET"


def test_a_dry_run_finds_a_channel_the_api_would_refuse_at_its_line(remote, tmp_path, monkeypatch):
    text = CHANNELS_FILE.replace('"https://hooks.example.com/oncall"', '"https://10.1.2.3/oncall"')
    code, out, err = _apply(remote, tmp_path, text, monkeypatch, dry_run=True)
    assert (code, out) == (1, "")
    assert err.startswith("monitors.yaml:7: channels[1].config.url: address not allowed")
    assert remote.paged("/channels") == [] and Monitor.select().count() == 0


def test_a_read_only_key_is_reported_as_such_not_as_a_fault_at_a_line(remote, tmp_path, monkeypatch):
    reader = apply.Remote(remote.base_url, make_key(read_only=True))
    code, out, err = _apply(reader, tmp_path, CHANNELS_FILE, monkeypatch, dry_run=True)
    assert (code, out) == (1, "")
    assert err == "the API answered 403: This API key is read-only.\n"


class OlderServer:
    """The API as a server from before POST /channels/plan answers it: 404."""

    def __init__(self, remote):
        self.remote, self.base_url = remote, remote.base_url

    def paged(self, path):
        return self.remote.paged(path)

    def call(self, method, path, **kwargs):
        if path == "/channels/plan":
            raise apply.ApiError(404, "Not Found")
        return self.remote.call(method, path, **kwargs)


def test_a_server_without_the_channel_plan_is_named_as_too_old(remote, tmp_path, monkeypatch):
    code, out, err = _apply(OlderServer(remote), tmp_path, CHANNELS_FILE, monkeypatch)
    assert (code, out) == (1, "")
    assert "the server has no POST /channels/plan: it is older than this healthmon apply" in err
    assert remote.paged("/channels") == []
