"""Masking of secrets for logs, errors and API output.

Webhook URLs are bearer credentials (the path is the token), API keys are credentials, and database URLs
carry passwords. Everything that may reach a log line or a response goes through these helpers.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_DB_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?P<tail>@)")
_SLACK_PATH = re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_API_KEY = re.compile(r"\bhm[rw]_[A-Za-z0-9_-]{8,}")
WEBHOOK_PREFIX_CHARS = 8
"""Most characters of the webhook path shown when masked: enough to tell two webhooks apart, not enough
to use. Never more than a third of the path, so a short secret path (`/t0ken`) is not shown whole."""


def redact_database_url(url: str) -> str:
    """`postgresql://u:secret@h/db` -> `postgresql://u:***@h/db`."""
    return _DB_PASSWORD.sub(r"\g<head>***\g<tail>", url)


def mask_webhook_url(url: str | None) -> str | None:
    """Scheme, host and a short prefix of the path; the rest is replaced by `****`."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "****"
    path = parts.path or "/"
    shown = min(WEBHOOK_PREFIX_CHARS, len(path) // 3)
    return f"{parts.scheme}://{host}{path[:shown]}****"


def redact_text(text: str) -> str:
    """Remove anything that looks like a credential from free text (log messages, stored errors)."""
    text = _DB_PASSWORD.sub(r"\g<head>***\g<tail>", text)
    text = _SLACK_PATH.sub(r"\1****", text)
    text = _BEARER.sub(r"\1****", text)
    return _API_KEY.sub("hm?_****", text)
