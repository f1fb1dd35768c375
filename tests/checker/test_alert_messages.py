"""Alert bodies as the receiver sees them: the guide's Slack text, the blocks, the JSON event."""

import datetime as dt
import json

import pytest

from checker import alerts
from healthmon.domain.status import Transition

AT = dt.datetime(2026, 1, 20, 10, 30, 0)


def event(**overrides) -> Transition:
    fields = dict(
        event_id=7, monitor_id=1, name="Google Homepage", url="https://google.com/", from_status="UNKNOWN",
        to_status="UP", at=AT, reason="status 200 in 87 ms", status_code=200, latency_ms=87.4,
    )
    fields.update(overrides)
    return Transition(**fields)


def test_it_renders_the_slack_text_exactly_as_the_guide_shows_it():
    body = json.loads(alerts.render(event(), "slack"))
    assert body["text"] == (
        "🔔 API Status Changed\n"
        "Name: Google Homepage\n"
        "URL: https://google.com/\n"
        "Old: UNKNOWN -> New: UP\n"
        "Time: 2026-01-20T10:30:00.000Z"
    )


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        (dt.datetime(2026, 1, 20, 10, 30, 0, 123456), "2026-01-20T10:30:00.123Z"),
        (dt.datetime(2026, 1, 20, 10, 30, 0, 999999), "2026-01-20T10:30:00.999Z"),
        (dt.datetime(2026, 1, 20, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))), "2026-01-20T10:30:00.000Z"),
    ],
)
def test_it_shows_times_in_utc_with_milliseconds(at, shown):
    assert alerts.format_time(at) == shown


def test_it_never_shows_credentials_from_the_monitor_url():
    e = event(url="https://alice:s3cret@api.example.com:8443/health?x=1")
    slack = alerts.render(e, "slack")
    plain = alerts.render(e, "json")
    for body in (slack, plain):
        assert "s3cret" not in body and "alice" not in body
    assert "URL: https://api.example.com:8443/health?x=1\n" in json.loads(slack)["text"]
    assert json.loads(plain)["monitor"]["url"] == "https://api.example.com:8443/health?x=1"


def test_the_slack_blocks_carry_the_reason_and_the_latency():
    e = event(from_status="UP", to_status="DOWN", reason="timeout: no response within 5 s", status_code=None,
              latency_ms=5001.0)
    blocks = json.loads(alerts.render(e, "slack"))["blocks"]
    text = json.dumps(blocks, ensure_ascii=False)
    assert "timeout: no response within 5 s" in text
    assert "latency 5001 ms" in text
    assert "Google Homepage" in text and "UP -> DOWN" in text and "2026-01-20T10:30:00.000Z" in text
    assert "Down for" not in text


def test_a_recovery_says_how_long_the_monitor_was_down():
    e = event(from_status="DOWN", to_status="UP", down_for_seconds=192)
    blocks = json.loads(alerts.render(e, "slack"))["blocks"]
    assert blocks[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "Down for 3m 12s"}]}
    assert json.loads(alerts.render(e, "json"))["down_for_seconds"] == 192


def test_a_recovery_names_the_incidents_first_error_escaped_for_slack():
    e = event(from_status="DOWN", to_status="UP", down_for_seconds=192, first_error="connect: <refused> & reset")
    blocks = json.loads(alerts.render(e, "slack"))["blocks"]
    assert blocks[-1]["elements"][0]["text"] == "Down for 3m 12s; first error: connect: &lt;refused&gt; &amp; reset"
    assert json.loads(alerts.render(e, "json"))["first_error"] == "connect: <refused> & reset"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (45, "45s"), (192, "3m 12s"), (3600, "1h 0m"), (3905, "1h 5m"), (183600, "2d 3h")]
)
def test_it_writes_durations_for_people(seconds, text):
    assert alerts.human_duration(seconds) == text


def test_the_json_event_has_the_documented_shape():
    body = json.loads(alerts.render(event(from_status="UP", to_status="DOWN", reason="status 503 in 12 ms",
                                          status_code=503, latency_ms=12.04), "json"))
    assert body == {
        "event": "monitor.state_changed",
        "event_id": 7,
        "monitor": {"id": 1, "name": "Google Homepage", "url": "https://google.com/"},
        "old": "UP",
        "new": "DOWN",
        "time": "2026-01-20T10:30:00.000Z",
        "reason": "status 503 in 12 ms",
        "status_code": 503,
        "latency_ms": 12.0,
        "down_for_seconds": None,
        "first_error": None,
    }


def test_slack_markup_in_a_monitor_name_cannot_ping_the_channel():
    body = json.loads(alerts.render(event(name="<!channel> & co"), "slack"))
    assert "Name: &lt;!channel&gt; &amp; co\n" in body["text"]
    assert "<!channel>" not in json.dumps(body)


@pytest.mark.parametrize(
    ("url", "configured", "fmt"),
    [
        ("https://hooks.slack.com/services/T0/B0/xyz", None, "slack"),
        ("https://HOOKS.SLACK.COM./services/T0/B0/xyz", None, "slack"),
        ("https://hooks.slack.com.evil.example/services/x", None, "json"),
        ("https://receiver.example/hook", None, "json"),
        ("https://receiver.example/hook", "slack", "slack"),
        ("https://hooks.slack.com/services/T0/B0/xyz", "json", "json"),
    ],
)
def test_it_picks_the_format_from_the_monitor_or_the_webhook_host(url, configured, fmt):
    assert alerts.resolve_format(url, configured) == fmt


def test_it_rejects_an_unknown_format():
    with pytest.raises(ValueError):
        alerts.render(event(), "xml")
