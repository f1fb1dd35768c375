"""Channel types at record and at send time: `render` turns an event into the body stored in the outbox,
`send` delivers a stored body through a channel's config. The API half of each type (its config fields,
which of them are secret, validation and masking) is webapp/channel_config.py.

- slack: the guide's Slack message (checker/alerts.py), POSTed to `webhook_url`.
- webhook: the generic JSON event (docs/alerts.md) POSTed to `url`, with `Idempotency-Key` and, when the
  channel has a `secret`, `X-Healthmon-Signature: sha256=<hex HMAC-SHA256 of the exact body, key = secret>`.
- discord, teams: their payloads (checker/channel_payloads.py) POSTed to `webhook_url`.
- pagerduty: an Events v2 event POSTed to PAGERDUTY_EVENTS_URL (none for an event PagerDuty has nothing to
  do with: render gives None). The routing key is a secret, so the stored body leaves it out; `send` adds
  it as the first member (the same bytes at every retry with one key).
- email: subject and text stored as JSON, sent by checker/smtp_client.py.
Every answer is judged as a webhook's (checker/webhook_answers.py); a transport error is retried, except a
blocked address or a refused mail. Error texts name no URL, key or password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from checker import alerts, channel_payloads, smtp_client, webhook_client
from checker.webhook_answers import Answer, judge_response
from healthmon.db import utcnow
from healthmon.domain.reminders import StillDown
from healthmon.domain.status import Transition
from healthmon.domain.tls import TlsWarning
from healthmon.netguard import AddressGuard
from healthmon.redact import redact_text
from healthmon.settings import Settings

Event = Transition | TlsWarning | StillDown
SIGNATURE_HEADER = "X-Healthmon-Signature"
PERMANENT_TRANSPORT_ERRORS = frozenset({"blocked_address", "smtp_refused"})
"""Transport errors no retry can fix: the guard refused the address, or the mail server refused the mail."""


@dataclass(frozen=True)
class Transport:
    """What a send may use: the address guard (applied to every socket), a timeout per attempt, the
    settings (CA_BUNDLE, PAGERDUTY_EVENTS_URL) and the HTTP POST (checker.webhook_client.post; tests may
    replace it)."""

    guard: AddressGuard
    timeout: float
    settings: Settings
    post: Callable[..., webhook_client.HttpResponse] = webhook_client.post
    clock: Callable[[], dt.datetime] = utcnow  # naive UTC: a Retry-After date is read against it


def http_send(url: str, body: bytes, headers: dict[str, str], transport: Transport, label: str = "webhook") -> Answer:
    """One POST, judged. Never raises: an unexpected client error is a retryable Answer."""
    extra = {"ca_bundle": transport.settings.ca_bundle} if getattr(transport.settings, "ca_bundle", None) else {}
    try:
        response = transport.post(url, body, headers, transport.timeout, transport.guard, **extra)
        return judge_response(response, transport.clock())
    except webhook_client.TransportError as exc:
        return transport_answer(label, exc)
    except Exception as exc:  # noqa: BLE001 - an unexpected client bug must not wedge the row
        return Answer(False, False, None, f"{label} request failed ({exc.__class__.__name__})")


def transport_answer(label: str, exc: webhook_client.TransportError) -> Answer:
    return Answer(False, exc.kind in PERMANENT_TRANSPORT_ERRORS, None,
                  f"{label} {exc.kind}: {redact_text(exc.message)[:200]}")


def signature(secret: str, body: bytes) -> str:
    """The X-Healthmon-Signature value: `sha256=` and the hex HMAC-SHA256 of `body` keyed with `secret` (UTF-8)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _dumps(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


JSON = {"Content-Type": "application/json"}

# ---- per type ---------------------------------------------------------------------------------------------


def _render_slack(event: Event, config: dict) -> str:
    return alerts.render(event, "slack")


def _send_slack(config: dict, body: str, key: str, transport: Transport) -> Answer:
    return http_send(config["webhook_url"], body.encode("utf-8"), dict(JSON), transport)


def _render_webhook(event: Event, config: dict) -> str:
    return alerts.render(event, "json")


def _send_webhook(config: dict, body: str, key: str, transport: Transport) -> Answer:
    data = body.encode("utf-8")
    headers = {**JSON, "Idempotency-Key": key}
    if config.get("secret"):
        headers[SIGNATURE_HEADER] = signature(config["secret"], data)
    return http_send(config["url"], data, headers, transport)


def _render_discord(event: Event, config: dict) -> str:
    return _dumps(channel_payloads.discord_payload(event))


def _render_teams(event: Event, config: dict) -> str:
    return _dumps(channel_payloads.teams_payload(event))


def _send_to_webhook_url(config: dict, body: str, key: str, transport: Transport) -> Answer:
    return http_send(config["webhook_url"], body.encode("utf-8"), dict(JSON), transport)


PAGERDUTY_SEVERITY = "critical"


def _render_pagerduty(event: Event, config: dict) -> str | None:
    body = channel_payloads.pagerduty_body(event, config.get("severity") or PAGERDUTY_SEVERITY)
    return None if body is None else _dumps(body)  # the routing key (a secret) is added at send time


def _send_pagerduty(config: dict, body: str, key: str, transport: Transport) -> Answer:
    data = _dumps(channel_payloads.with_routing_key(json.loads(body), config["routing_key"])).encode("utf-8")
    return http_send(transport.settings.pagerduty_events_url, data, dict(JSON), transport, label="pagerduty")


def _render_email(event: Event, config: dict) -> str:
    subject, text = channel_payloads.email_message(event)
    return _dumps({"subject": subject, "text": text})


def _send_email(config: dict, body: str, key: str, transport: Transport) -> Answer:
    mail = json.loads(body)
    try:
        smtp_client.send_mail(host=config["host"], port=config["port"], security=config["security"],
                              username=config.get("username"), password=config.get("password"),
                              sender=config["from"], recipients=list(config["to"]), subject=mail["subject"],
                              text=mail["text"], timeout=transport.timeout, guard=transport.guard,
                              ca_bundle=getattr(transport.settings, "ca_bundle", None))
    except webhook_client.TransportError as exc:
        return transport_answer("email", exc)
    except Exception as exc:  # noqa: BLE001 - as http_send
        return Answer(False, False, None, f"email request failed ({exc.__class__.__name__})")
    return Answer(True, False, None, "")


@dataclass(frozen=True)
class Kind:
    """A channel type: `render(event, config) -> body` at record time (None: this type sends nothing for the
    event, e.g. PagerDuty for a reminder), `send(config, body, idempotency_key, transport)
    -> Answer` at delivery time."""

    render: Callable[[Event, dict], str | None]
    send: Callable[[dict, str, str, Transport], Answer]


KINDS: dict[str, Kind] = {
    "slack": Kind(_render_slack, _send_slack),
    "webhook": Kind(_render_webhook, _send_webhook),
    "discord": Kind(_render_discord, _send_to_webhook_url),
    "teams": Kind(_render_teams, _send_to_webhook_url),
    "pagerduty": Kind(_render_pagerduty, _send_pagerduty),
    "email": Kind(_render_email, _send_email),
}


def render(kind: str, event: Event, config: dict) -> str | None:
    """The body to store for `event` on a channel of type `kind` with `config`; None: nothing to send."""
    return KINDS[kind].render(event, config)


def send(kind: str, config: dict, body: str, idempotency_key: str, transport: Transport) -> Answer:
    """Deliver a stored `body` through a channel of type `kind`; never raises."""
    return KINDS[kind].send(config, body, idempotency_key, transport)


def test_event(channel_name: str, at: dt.datetime) -> Transition:
    """The made-up recovery POST /channels/{id}/test sends (monitor id 0: no monitor has it; DOWN -> UP, so
    every type has something to send: PagerDuty resolves an alert that does not exist)."""
    return Transition(event_id=0, monitor_id=0, name=f"healthmon test message ({channel_name})",
                      url="https://example.com/", from_status="DOWN", to_status="UP", at=at,
                      reason="a test message sent from the API; no monitor changed", status_code=200,
                      latency_ms=None)
