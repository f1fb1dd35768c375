"""How a webhook's answer is judged: sent, retry later, or give up. Pure functions, no database.

Only a small set of known Slack error codes is ever read from a body (and only from a 4xx): whatever else a
receiver answers (an error page, an echo of the request) is never shown in `last_alert_error` or the logs.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass

from checker.webhook_client import HttpResponse
from healthmon.db import utcnow

RETRYABLE_4XX = (408, 425, 429)
"""4xx answers that mean "later"; every other 4xx (and a 3xx: redirects are not followed) is permanent."""
SLACK_PERMANENT_ERRORS = frozenset({
    "invalid_token", "no_service", "no_service_id", "no_team", "team_disabled", "channel_not_found",
    "channel_is_archived", "action_prohibited", "posting_to_general_channel_denied", "user_not_found",
    "invalid_payload",
})
"""Slack's webhook error codes (plain-text bodies) that no retry can fix."""
SLACK_ERROR_TOKENS = SLACK_PERMANENT_ERRORS | {
    "rate_limited", "no_text", "missing_text_or_fallback_or_attachments", "invalid_blocks",
    "invalid_blocks_format", "invalid_attachments", "too_many_attachments", "msg_too_long", "rollup_error",
}
"""Every code we show in `last_alert_error`. Read only from 4xx bodies; any other body text (which could be
an error page, an echo of the request, anything the receiver likes) is never shown or stored."""


@dataclass(frozen=True)
class Answer:
    """One answer's meaning. `error` is short and safe (no URL, no body text); `retry_after` is the
    receiver's Retry-After in seconds (429 only, None when absent or unreadable)."""

    ok: bool
    permanent: bool
    status: int | None
    error: str
    retry_after: float | None = None


def judge_response(response: HttpResponse, now: dt.datetime) -> Answer:
    """2xx is sent; 5xx, 408, 425 and 429 are "later"; any other status, or a permanent Slack code, is final."""
    status = response.status
    if 200 <= status < 300:
        return Answer(True, False, status, "")
    token = error_token(response.body) if 400 <= status < 500 else None
    error = f"webhook returned {status}" + (f" ({token})" if token else "")
    if status == 429:
        wait = parse_retry_after(response.headers.get("retry-after"), now)
        return Answer(False, False, status, error, retry_after=wait)
    if token in SLACK_PERMANENT_ERRORS:
        return Answer(False, True, status, error)
    if status >= 500 or status in RETRYABLE_4XX:
        return Answer(False, False, status, error)
    return Answer(False, True, status, error)


def error_token(body: bytes) -> str | None:
    """Slack's error code when the body is exactly a known one, else None: arbitrary bodies are never echoed."""
    text = body[:80].decode("utf-8", "replace").strip()
    return text if text in SLACK_ERROR_TOKENS else None


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds: delay-seconds, or an HTTP-date (RFC 9110 10.2.3). None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    now = now or utcnow()
    return max((when.astimezone(dt.UTC).replace(tzinfo=None) - now).total_seconds(), 0.0)
