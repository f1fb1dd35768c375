"""The config file: YAML with the line of every value, ${VAR} from the environment, defaults merged, every
monitor checked by the API's own schema; problems read `file:line: monitors[3].field: reason`."""

from __future__ import annotations

import pytest

from healthmon.config_file import ConfigError, parse, validate

GOOD = """\
defaults: {check_interval: 60, timeout: 10, tags: [prod]}
monitors:
  - key: api-health
    name: API health
    url: https://api.example.com/health
    check_interval: 30
    tags: [eu]
    channels: [ops-slack]
  - key: web
    name: Web
    url: https://www.example.com/
    webhook_url: "${SLACK_WEBHOOK_URL}"
channels:
  - name: ops-slack
    type: slack
    config: {webhook_url: "${SLACK_WEBHOOK_URL}"}
"""
ENV = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/SECRET"}


def _problems(text: str, env=None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate(parse(text, "monitors.yaml", env if env is not None else ENV))
    return [str(p) for p in caught.value.problems]


def test_a_good_file_merges_defaults_and_expands_variables():
    cfg = parse(GOOD, "monitors.yaml", ENV)
    validate(cfg)
    first, second = cfg.monitors
    assert (first["check_interval"], first["timeout"], first["tags"]) == (30, 10, ["prod", "eu"])
    assert (second["check_interval"], second["tags"]) == (60, ["prod"])
    assert second["webhook_url"] == ENV["SLACK_WEBHOOK_URL"]
    assert cfg.channels[0]["config"]["webhook_url"] == ENV["SLACK_WEBHOOK_URL"]


def test_a_bad_field_is_named_with_its_line_and_path():
    text = GOOD.replace("check_interval: 30", "check_interval: 0").replace("url: https://www", "url: ftp://www")
    assert _problems(text) == [
        "monitors.yaml:6: monitors[0].check_interval: Must be greater than or equal to 1 and less than or equal "
        "to 86400.",
        "monitors.yaml:11: monitors[1].url: Must be an http:// or https:// URL.",
    ]


def test_a_value_from_defaults_is_named_at_its_line_in_defaults():
    assert _problems(GOOD.replace("timeout: 10", "timeout: 99")) == [
        "monitors.yaml:1: monitors[0].timeout: Must be greater than or equal to 1 and less than or equal to 30.",
        "monitors.yaml:1: monitors[1].timeout: Must be greater than or equal to 1 and less than or equal to 30."]


def test_missing_keys_unknown_fields_and_duplicate_keys_are_each_reported():
    text = GOOD.replace("  - key: web\n", "  - key: api-health\n").replace("    name: Web\n", "    nmae: Web\n")
    problems = _problems(text)
    assert "monitors.yaml:9: monitors[1].key: the same key as monitors[0]" in problems
    assert "monitors.yaml:10: monitors[1].nmae: Unknown field." in problems
    assert "monitors.yaml:9: monitors[1].name: Missing data for required field." in problems
    no_key = _problems("monitors:\n  - name: x\n    url: https://x.example/\n")
    assert no_key == ["monitors.yaml:2: monitors[0].key: Missing data for required field."]


def test_an_unset_variable_is_named_and_its_value_never_printed():
    problems = _problems(GOOD, env={})
    assert problems == ["monitors.yaml:12: monitors[1].webhook_url: environment variable SLACK_WEBHOOK_URL is not set",
                        "monitors.yaml:16: channels[0].config.webhook_url: environment variable SLACK_WEBHOOK_URL "
                        "is not set"]
    assert "$$" not in parse("monitors: []\nchannels: [{name: a, type: webhook, config: {x: 'a$$b'}}]", env={}
                             ).channels[0]["config"]["x"]
    secret = GOOD.replace("url: https://www.example.com/", "url: ${SLACK_WEBHOOK_URL}x")
    validate(parse(secret, "m.yaml", ENV))  # valid: nothing printed
    bad = _problems(GOOD.replace("timeout: 10", "timeout: ${SLACK_WEBHOOK_URL}"))
    assert all("SECRET" not in line for line in bad)


def test_yaml_errors_and_wrong_shapes_name_the_line():
    assert _problems("monitors:\n  - key: a\n    name: [unclosed\n") [0].startswith("monitors.yaml:4: not valid YAML")
    assert _problems("monitor:\n  - key: a\n") == [
        "monitors.yaml:1: monitor: unknown section (allowed: defaults, monitors, channels)"]
    assert _problems("monitors: {key: a}\n") == ["monitors.yaml:1: monitors: must be a list of mappings"]


def test_channels_are_checked_for_name_type_and_config():
    text = "monitors: []\nchannels:\n  - name: a\n    type: sms\n  - name: a\n    type: slack\n    config: x\n"
    assert _problems(text) == [
        "monitors.yaml:4: channels[0].type: must be one of: slack, webhook, discord, teams, pagerduty, email",
        "monitors.yaml:5: channels[1].name: the same name as channels[0]",
        "monitors.yaml:7: channels[1].config: must be a mapping"]
