"""Masking of secrets for logs, errors and API output.

Webhook URLs are bearer credentials (the path is the token), API keys are credentials, and database URLs
carry passwords. Everything that may reach a log line or a response goes through these helpers.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_DB_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>\S*)(?P<tail>@)")
# Any URL in free text: kept to scheme and host, because a path or query may be a token (webhooks,
# `?token=`), and userinfo is a credential.
_ANY_URL = re.compile(
    r"\b(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s?#@]*@)?(?P<host>[^/\s?#@'\"<>]+)(?P<rest>[/?#][^\s\"'<>]*)?"
)
_SECRET_PARAMS = frozenset({"password", "sslpassword", "passwd", "pwd", "secret", "token", "key", "api_key"})
_SLACK_PATH = re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_API_KEY = re.compile(r"\bhm[rw]_[A-Za-z0-9_-]{8,}")
WEBHOOK_PREFIX_CHARS = 8
"""Most characters of the webhook path shown when masked: enough to tell two webhooks apart, not enough
to use. Never more than a third of the path, so a short secret path (`/t0ken`) is not shown whole."""


def redact_database_url(url: str) -> str:
    """`postgresql://u:secret@h/db?password=x` -> `postgresql://u:***@h/db?password=***`.

    Parsed, not pattern-matched, so a password holding `@` or `:` is masked whole."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
        params = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in params], safe="*")
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "***"


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
    """Remove anything that looks like a credential from free text (log messages, stored errors):
    every URL is cut to scheme and host (`https://hooks.slack.com/****`), bearer tokens and API keys are
    masked."""
    text = _DB_PASSWORD.sub(r"\g<head>***\g<tail>", text)
    text = _SLACK_PATH.sub(r"\1****", text)
    text = _ANY_URL.sub(_cut_url, text)
    text = _BEARER.sub(r"\1****", text)
    return _API_KEY.sub("hm?_****", text)


def _cut_url(match: re.Match) -> str:
    rest = match.group("rest")
    tail = "/****" if rest and rest not in ("/",) else (rest or "")
    return f"{match.group('scheme')}{match.group('host')}{tail}"
