"""TLS certificate expiry warnings as the receiver sees them: their own Slack text and blocks, their own JSON
event, and an idempotency key no state change shares."""

import datetime as dt
import json

import pytest

from checker import alerts
from healthmon.domain.tls import TlsWarning

AT = dt.datetime(2026, 1, 20, 10, 30, 0)
FP = "aa311baf4e556271d7c9ba5b8befb95ecf6639ddeb512c17a1672cfff54fdf7e"


def warning(left: dt.timedelta = dt.timedelta(days=13, hours=2), **overrides) -> TlsWarning:
    fields = dict(warning_id=5, monitor_id=1, name="Shop", url="https://user:pw@shop.example.com/health",
                  expires_at=AT + left, fingerprint_sha256=FP, threshold_days=14, at=AT)
    fields.update(overrides)
    return TlsWarning(**fields)


def test_the_slack_text_says_which_certificate_expires_when():
    body = json.loads(alerts.render(warning(), "slack"))
    assert body["text"] == (
        "🔒 TLS certificate expires soon\n"
        "Name: Shop\n"
        "URL: https://shop.example.com/health\n"  # never the credentials
        "Expires: 2026-02-02T12:30:00.000Z (in 13 days)\n"
        "Time: 2026-01-20T10:30:00.000Z"
    )
    header, section, context = body["blocks"]
    assert header["text"]["text"] == "🔒 TLS certificate expires soon"
    assert [f["text"].split(":*")[0] for f in section["fields"]] == ["*Name", "*URL", "*Expires",
                                                                    "*Certificate (SHA-256)"]
    assert section["fields"][3]["text"].endswith(f"`{FP[:16]}…`")
    assert context["elements"][0]["text"] == ("Warning for expiry within 14 days; a renewed certificate ends the "
                                              "warnings.")


@pytest.mark.parametrize(("left", "shown"), [
    (dt.timedelta(days=13, hours=23), "in 13 days"), (dt.timedelta(days=2), "in 2 days"),
    (dt.timedelta(days=1, hours=23, minutes=59), "in 1d 23h"), (dt.timedelta(hours=5, minutes=12), "in 5h 12m"),
])
def test_under_two_days_the_time_left_is_said_in_hours(left, shown):
    assert f"({shown})" in alerts.tls_slack_text(warning(left))


def test_a_name_cannot_ping_the_channel():
    body = json.loads(alerts.render(warning(name="<!channel> & co"), "slack"))
    assert "Name: &lt;!channel&gt; &amp; co\n" in body["text"]
    assert "<!channel>" not in json.dumps(body)


def test_the_json_event_is_its_own_kind():
    body = json.loads(alerts.render(warning(threshold_days=3, left=dt.timedelta(days=2, hours=6)), "json"))
    assert body == {
        "event": "monitor.tls_expiring", "warning_id": 5,
        "monitor": {"id": 1, "name": "Shop", "url": "https://shop.example.com/health"},
        "time": "2026-01-20T10:30:00.000Z", "expires_at": "2026-01-22T16:30:00.000Z", "days_left": 2,
        "threshold_days": 3, "fingerprint_sha256": FP,
    }


def test_a_warning_never_shares_an_event_id_or_idempotency_key_with_a_state_change():
    assert alerts.tls_event_id(5) == -5
    assert alerts.idempotency_key(alerts.tls_event_id(5)) == "healthmon-tls-warning-5"
    assert alerts.idempotency_key(5) == "healthmon-event-5"
