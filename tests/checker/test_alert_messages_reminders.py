"""The bodies of a reminder and an escalation are the ones docs/alerts.md shows, for every channel type."""

import datetime as dt
import json
import re
from pathlib import Path

from checker import alerts, channel_payloads
from healthmon.domain.reminders import ESCALATION, REMINDER, StillDown

DOWN_SINCE = dt.datetime(2026, 1, 20, 10, 30, 0)
REMINDER_1 = StillDown(7, 1, "Google Homepage", "https://google.com/", REMINDER, 1, DOWN_SINCE,
                       DOWN_SINCE + dt.timedelta(hours=1), "http_status: status 503")
ESCALATED = StillDown(8, 1, "Google <!channel>", "https://google.com/", ESCALATION, 0, DOWN_SINCE,
                      DOWN_SINCE + dt.timedelta(minutes=30))


def _doc_blocks() -> list[str]:
    text = Path(__file__).resolve().parents[2].joinpath("docs", "alerts.md").read_text()
    section = text.split("## Reminders and escalation", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\w*\n(.*?)```", section, re.S)


def test_the_slack_text_and_the_json_event_are_the_documented_ones():
    slack, event = _doc_blocks()[:2]
    assert json.loads(alerts.render(REMINDER_1, "slack"))["text"] == slack.strip()
    assert json.loads(alerts.render(REMINDER_1, "json")) == json.loads(event)


def test_an_escalation_has_its_own_title_and_event_and_a_name_cannot_ping_the_channel():
    slack = json.loads(alerts.render(ESCALATED, "slack"))
    assert slack["text"].splitlines()[:2] == ["🚨 Escalated: still DOWN", "Name: Google &lt;!channel&gt;"]
    event = json.loads(alerts.render(ESCALATED, "json"))
    assert (event["event"], event["reminder"], event["down_for_seconds"]) == ("monitor.escalated", None, 1800)


def test_the_other_formats_say_still_down_with_the_same_facts():
    subject, body = channel_payloads.email_message(REMINDER_1)
    assert subject == "[healthmon] Still DOWN for 1h 0m: Google Homepage"
    assert "Down since: 2026-01-20T10:30:00.000Z" in body and "Last error: http_status: status 503" in body
    discord = channel_payloads.discord_payload(REMINDER_1)
    assert discord["embeds"][0]["title"] == "⏰ Still DOWN" and discord["embeds"][0]["color"] == 0xD32F2F
    teams = channel_payloads.teams_payload(ESCALATED)
    assert teams["attachments"][0]["content"]["body"][0]["text"] == "Escalated, DOWN for 30m 0s: Google <!channel>"
    assert channel_payloads.pagerduty_body(REMINDER_1) is None
    trigger = channel_payloads.pagerduty_body(ESCALATED, "error")
    assert (trigger["event_action"], trigger["payload"]["severity"]) == ("trigger", "error")
    assert alerts.idempotency_key(-(2**40 + 7)) == "healthmon-notice-7"
