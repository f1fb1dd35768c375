"""Discord, Microsoft Teams, PagerDuty and e-mail bodies as their receivers see them: golden bodies for a
DOWN, a recovery, a DEGRADED and a TLS warning; the receivers' limits; nothing a monitor's owner typed
pings anyone or adds a mail header."""

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from checker import alerts
from checker import channel_payloads as cp
from healthmon.domain.status import Transition
from healthmon.domain.tls import TlsWarning

AT = dt.datetime(2026, 1, 20, 10, 30, 0)
FP = "aa311baf4e556271d7c9ba5b8befb95ecf6639ddeb512c17a1672cfff54fdf7e"


def change(**overrides) -> Transition:
    fields = dict(event_id=7, monitor_id=3, name="Shop API", url="https://alice:pw@api.example.com/health",
                  from_status="UP", to_status="DOWN", at=AT, reason="status 503 in 12 ms", status_code=503,
                  latency_ms=12.0)
    fields.update(overrides)
    return Transition(**fields)


DOWN = change()
RECOVERY = change(event_id=8, from_status="DOWN", to_status="UP", reason="status 200 in 40 ms", status_code=200,
                  latency_ms=40.0, down_for_seconds=192, first_error="timeout: no response within 5 s")
DEGRADED = change(event_id=9, to_status="DEGRADED", reason="status 200 in 2300 ms", status_code=200,
                  latency_ms=2300.0)
TLS = TlsWarning(warning_id=5, monitor_id=3, name="Shop API", url="https://api.example.com/health",
                 expires_at=AT + dt.timedelta(days=13, hours=2), fingerprint_sha256=FP, threshold_days=14, at=AT)


def test_a_discord_down_alert_is_a_red_embed_with_the_facts_and_pings_nobody():
    assert cp.discord_payload(DOWN) == {
        "content": "DOWN: Shop API",
        "embeds": [{
            "title": "🔔 API Status Changed",
            "color": 0xD32F2F,
            "timestamp": "2026-01-20T10:30:00.000Z",
            "fields": [
                {"name": "Name", "value": "Shop API", "inline": False},
                {"name": "URL", "value": "https://api.example.com/health", "inline": False},
                {"name": "Change", "value": "UP -> DOWN", "inline": True},
                {"name": "Time", "value": "2026-01-20T10:30:00.000Z", "inline": True},
                {"name": "Reason", "value": "status 503 in 12 ms", "inline": False},
            ],
        }],
        "allowed_mentions": {"parse": []},
    }


def test_a_discord_recovery_is_green_and_says_how_long_it_was_down():
    body = cp.discord_payload(RECOVERY)
    embed = body["embeds"][0]
    assert body["content"] == "UP: Shop API"
    assert embed["color"] == 0x2E7D32
    assert embed["fields"][-2:] == [{"name": "Down for", "value": "3m 12s", "inline": True},
                                   {"name": "First error", "value": "timeout: no response within 5 s",
                                    "inline": False}]


@pytest.mark.parametrize(("event", "colour"), [(DEGRADED, 0xFFA000), (TLS, 0xFFA000),
                                               (change(to_status="UNKNOWN"), 0x9E9E9E)])
def test_discord_colours_degraded_and_tls_warnings_amber(event, colour):
    assert cp.discord_payload(event)["embeds"][0]["color"] == colour


def test_a_discord_tls_warning_names_the_certificate_and_which_warning_it_is():
    body = cp.discord_payload(TLS)
    embed = body["embeds"][0]
    assert body["content"] == "TLS certificate expires in 13 days: Shop API"
    assert embed["title"] == "🔒 TLS certificate expires soon"
    assert [(f["name"], f["value"]) for f in embed["fields"]] == [
        ("Name", "Shop API"), ("URL", "https://api.example.com/health"),
        ("Expires", "2026-02-02T12:30:00.000Z (in 13 days)"), ("Certificate (SHA-256)", f"{FP[:16]}…"),
        ("Time", "2026-01-20T10:30:00.000Z")]
    assert embed["footer"] == {"text": "Warning for expiry within 14 days; a renewed certificate ends the warnings."}


def test_a_discord_name_cannot_mention_anyone_or_render_as_a_link():
    body = cp.discord_payload(change(name="@everyone [log in](https://evil.example/) <@&123>"))
    assert body["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in body["content"] and "@&123" not in body["content"]
    shown = "@\u200beveryone \\[log in\\](https://evil.example/) <@\u200b&123>"
    assert body["content"] == "DOWN: " + shown
    assert body["embeds"][0]["fields"][0]["value"] == shown


def test_discord_limits_are_kept_however_long_the_texts():
    body = cp.discord_payload(change(name="n" * 3000, url="https://api.example.com/" + "p" * 3000,
                                     to_status="UP", from_status="DOWN", reason="r" * 5000,
                                     down_for_seconds=10, first_error="e" * 5000))
    embed = body["embeds"][0]
    assert len(body["content"]) == cp.DISCORD_CONTENT_MAX and body["content"].endswith("…")
    assert len(embed["title"]) <= 256
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])
    assert {f["name"] for f in embed["fields"] if len(f["value"]) == 1024} == {"Name", "URL", "Reason",
                                                                                "First error"}
    total = len(embed["title"]) + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= cp.DISCORD_TOTAL_MAX


def test_a_teams_alert_is_one_adaptive_card_with_a_title_and_the_facts():
    assert cp.teams_payload(DOWN) == {
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "DOWN: Shop API", "weight": "Bolder", "size": "Medium",
                     "wrap": True, "color": "Attention"},
                    {"type": "FactSet", "facts": [
                        {"title": "Name", "value": "Shop API"},
                        {"title": "URL", "value": "https://api.example.com/health"},
                        {"title": "Change", "value": "UP -> DOWN"},
                        {"title": "Time", "value": "2026-01-20T10:30:00.000Z"},
                        {"title": "Reason", "value": "status 503 in 12 ms"},
                    ]},
                ],
            },
        }],
    }


@pytest.mark.parametrize(("event", "colour", "last_fact"), [
    (RECOVERY, "Good", {"title": "First error", "value": "timeout: no response within 5 s"}),
    (DEGRADED, "Warning", {"title": "Reason", "value": "status 200 in 2300 ms"}),
    (TLS, "Warning", {"title": "Time", "value": "2026-01-20T10:30:00.000Z"}),
])
def test_teams_cards_are_coloured_by_the_news_and_end_with_its_last_fact(event, colour, last_fact):
    card = cp.teams_payload(event)["attachments"][0]["content"]
    assert card["body"][0]["color"] == colour
    assert card["body"][1]["facts"][-1] == last_fact


def test_a_teams_tls_card_says_which_warning_it_is():
    card = cp.teams_payload(TLS)["attachments"][0]["content"]
    assert card["body"][0]["text"] == "TLS certificate expires in 13 days: Shop API"
    assert card["body"][2] == {"type": "TextBlock", "isSubtle": True, "wrap": True,
                               "text": "Warning for expiry within 14 days; a renewed certificate ends the warnings."}


def test_a_pagerduty_down_triggers_the_monitors_incident():
    assert cp.pagerduty_payload(DOWN, "R0UTINGKEY") == {
        "routing_key": "R0UTINGKEY",
        "event_action": "trigger",
        "dedup_key": "healthmon-monitor-3",
        "client": "healthmon",
        "payload": {
            "summary": "DOWN: Shop API (status 503 in 12 ms)",
            "source": "api.example.com",
            "severity": "critical",
            "timestamp": "2026-01-20T10:30:00.000Z",
            "component": "Shop API",
            "class": "monitor.down",
            "custom_details": alerts.json_payload(DOWN),
        },
    }


def test_a_pagerduty_recovery_resolves_the_same_incident():
    assert cp.pagerduty_payload(RECOVERY, "R0UTINGKEY") == {
        "routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": "healthmon-monitor-3"}
    assert cp.pagerduty_payload(change(from_status="DEGRADED", to_status="UP"), "K")["event_action"] == "resolve"


def test_pagerduty_degraded_is_a_warning_whatever_the_channels_severity():
    body = cp.pagerduty_body(DEGRADED, "critical")
    assert (body["event_action"], body["dedup_key"]) == ("trigger", "healthmon-monitor-3")
    assert body["payload"]["severity"] == "warning"
    assert body["payload"]["class"] == "monitor.degraded"
    assert cp.pagerduty_body(DOWN, "error")["payload"]["severity"] == "error"


def test_pagerduty_hears_nothing_of_a_change_to_unknown():
    assert cp.pagerduty_body(change(to_status="UNKNOWN")) is None
    assert cp.pagerduty_payload(change(to_status="UNKNOWN"), "K") is None


def test_unknown_to_up_resolves_so_an_incident_left_open_by_a_pause_or_an_edit_is_closed():
    assert cp.pagerduty_payload(change(monitor_id=7, from_status="UNKNOWN", to_status="UP"), "K") == {
        "routing_key": "K", "event_action": "resolve", "dedup_key": "healthmon-monitor-7"}


def test_a_pagerduty_tls_warning_triggers_its_own_incident_per_certificate():
    body = cp.pagerduty_body(TLS)
    assert body["dedup_key"] == f"healthmon-tls-3-{FP[:16]}"
    assert body["event_action"] == "trigger"
    assert body["payload"]["severity"] == "warning"
    assert body["payload"]["summary"] == "TLS certificate expires in 13 days: Shop API"
    assert body["payload"]["custom_details"]["fingerprint_sha256"] == FP


def test_the_pagerduty_body_holds_no_routing_key_until_it_is_sent():
    body = cp.pagerduty_body(DOWN)
    assert "routing_key" not in body
    assert cp.with_routing_key(body, "SECRET") == {"routing_key": "SECRET", **body}
    assert "routing_key" not in body


def test_the_pagerduty_summary_is_clipped_and_one_line():
    summary = cp.pagerduty_body(change(name="a\r\nb", reason="x" * 2000))["payload"]["summary"]
    assert len(summary) == 1024 and summary.startswith("DOWN: a b (xxx") and summary.endswith("…")


def test_an_unknown_pagerduty_severity_is_refused():
    with pytest.raises(ValueError, match="severity"):
        cp.pagerduty_body(DOWN, "fatal")


def test_an_email_says_what_changed_in_the_subject_and_the_guides_facts_in_the_body():
    assert cp.email_message(DOWN) == ("[healthmon] DOWN: Shop API", (
        "🔔 API Status Changed\n"
        "Name: Shop API\n"
        "URL: https://api.example.com/health\n"
        "Old: UP -> New: DOWN\n"
        "Time: 2026-01-20T10:30:00.000Z\n"
        "Reason: status 503 in 12 ms\n"))


def test_a_recovery_email_says_how_long_it_was_down():
    subject, text = cp.email_message(RECOVERY)
    assert subject == "[healthmon] UP: Shop API"
    assert text.endswith("Reason: status 200 in 40 ms\nDown for: 3m 12s\n"
                         "First error: timeout: no response within 5 s\n")
    assert cp.email_message(DEGRADED)[0] == "[healthmon] DEGRADED: Shop API"


def test_a_tls_email_says_when_the_certificate_expires():
    assert cp.email_message(TLS) == ("[healthmon] TLS certificate expires in 13 days: Shop API", (
        "🔒 TLS certificate expires soon\n"
        "Name: Shop API\n"
        "URL: https://api.example.com/health\n"
        "Expires: 2026-02-02T12:30:00.000Z (in 13 days)\n"
        "Time: 2026-01-20T10:30:00.000Z\n"
        f"Certificate (SHA-256): {FP[:16]}…\n"
        "\n"
        "Warning for expiry within 14 days; a renewed certificate ends the warnings.\n"))


@pytest.mark.parametrize("name", ["x\r\nBcc: victim@example.com", "x\nBcc: v@e", "x\rBcc: v@e", "x\u2028Bcc: v@e",
                                  "x\x85Bcc: v@e"])
def test_no_line_break_from_a_name_reaches_the_subject_or_forges_a_body_line(name):
    subject, text = cp.email_message(change(name=name))
    assert subject == "[healthmon] DOWN: x Bcc: " + name.split("Bcc: ")[1]
    assert "\nBcc:" not in text and "Name: x Bcc:" in text


def test_no_format_shows_the_credentials_of_the_monitor_url():
    for body in (cp.discord_payload(DOWN), cp.teams_payload(DOWN), cp.pagerduty_body(DOWN),
                 cp.email_message(DOWN)):
        assert "alice" not in json.dumps(body) and ":pw@" not in json.dumps(body)


def test_the_examples_in_docs_alerts_md_are_what_is_sent():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()

    def example(section: str) -> dict:
        text = doc[doc.index(f"\n## {section}\n"):]
        return json.loads(re.search(r"```json\n(.*?)```", text, flags=re.DOTALL).group(1))

    google = change(event_id=42, monitor_id=1, name="Google Homepage", url="https://google.com/")
    assert example("Discord") == cp.discord_payload(google)
    assert example("Microsoft Teams") == cp.teams_payload(google)
    sent = cp.pagerduty_payload(google, "<routing key>")
    shown = example("PagerDuty")
    assert shown["payload"].pop("custom_details") == {"event": "monitor.state_changed", "event_id": 42,
                                                      "...": "the JSON event above"}
    assert sent["payload"].pop("custom_details") == alerts.json_payload(google)
    assert shown == sent
    resolve = json.loads(re.search(r"A resolve is only `(\{.*?\})`", doc).group(1))
    to_up = re.search(r"\| to UP from (.*?) \| `resolve` \|", doc).group(1).replace(" or ", ", ").split(", ")
    assert sorted(to_up) == ["DEGRADED", "DOWN", "UNKNOWN"]
    for old in to_up:
        assert cp.pagerduty_payload(change(monitor_id=1, from_status=old, to_status="UP"), "<routing key>") == resolve


def test_the_email_examples_in_docs_alerts_md_are_what_is_sent():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    section = doc[doc.index("\n## E-mail\n"):doc.index("\n## Delivery\n")]
    subjects, body = re.findall(r"```\n(.*?)```", section, flags=re.DOTALL)[:2]
    google = dict(monitor_id=1, name="Google Homepage", url="https://google.com/")
    assert body == cp.email_message(dataclasses.replace(RECOVERY, **google))[1]
    assert subjects.splitlines()[:3] == [cp.email_message(change(to_status=s, **google))[0]
                                         for s in ("DOWN", "UP", "DEGRADED")]
    assert subjects.splitlines()[3] == cp.email_message(dataclasses.replace(TLS, name="Shop"))[0]
