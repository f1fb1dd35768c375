"""Each channel type's `config` as the API takes and shows it: its fields, which are secret, their rules.
Pure (no Flask, no database); checker/channels.py is the other half of a type (render and send).

- `validate(type, config)` returns the config as stored (defaults filled in, URLs normalised) or raises
  ConfigProblem naming the field (`config.webhook_url`) and the reason; no message quotes a value.
- Secrets are write-only: `mask(type, config)` shows a secret URL as `mask_webhook_url` does (scheme, host,
  a short path prefix, `****`) and any other secret as `****`. `keep_secrets` turns the masked value sent
  back on PUT or PATCH into the stored secret ("keep"), like a monitor's webhook_url.
- `addresses(type, config)` lists the URLs and hosts the address guard must allow (webapp/channel_service.py
  checks them when a channel is saved; the sender's socket guard applies again at every send).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from healthmon import defaults
from healthmon.redact import mask_webhook_url
from webapp.urls import UrlProblem, normalise_url

MASK = "****"
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
EMAIL_SECURITY = {"starttls": 587, "tls": 465, "none": 25}
"""SMTP connection security and the port each uses by default (submission, implicit TLS, plain SMTP)."""
MAX_RECIPIENTS = 20
MIN_HMAC_SECRET_CHARS = 16
MAX_SECRET_CHARS = 256

_ADDRESS = re.compile(r"^[^\s@<>,;:\"()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?\.?$|^\[?[0-9A-Fa-f:.]+\]?$")
_ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ConfigProblem(Exception):
    """`field` (`config.<name>`) is unacceptable; `status` 400 (invalid or refused) or 409 (a masked value
    that is not this channel's secret)."""

    def __init__(self, field: str, reason: str, status: int = 400):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.status = field, reason, status


def _url(value) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be an http:// or https:// URL")
    if value.endswith(MASK):
        raise ValueError("looks like a masked value (it ends in ****); send the full URL")
    if len(value) > defaults.MAX_URL_LENGTH or value != value.strip():
        raise ValueError(f"must be an http(s) URL of at most {defaults.MAX_URL_LENGTH} characters, no spaces")
    try:
        return normalise_url(value)
    except UrlProblem as problem:
        raise ValueError("is not a valid http(s) URL with a host" + (f" ({problem.detail})" if problem.detail else
                                                                     "")) from None


def _text(lo: int, hi: int) -> Callable[[object], str]:
    def check(value) -> str:
        if not isinstance(value, str) or not lo <= len(value) <= hi or _CONTROL.search(value):
            raise ValueError(f"must be text of {lo} to {hi} characters without control characters")
        return value
    return check


def _choice(choices) -> Callable[[object], str]:
    def check(value) -> str:
        if value not in choices:
            raise ValueError("must be one of " + ", ".join(choices))
        return value
    return check


def _routing_key(value) -> str:
    if not isinstance(value, str) or not _ROUTING_KEY.match(value):
        raise ValueError("must be a PagerDuty integration key: 32 letters and digits")
    return value


def _host(value) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 253 or not _HOST.match(value):
        raise ValueError("must be a host name or an IP address")
    return value.strip("[]")


def _port(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError("must be an integer from 1 to 65535")
    return value


def _address(value) -> str:
    if not isinstance(value, str) or len(value) > 254 or not _ADDRESS.match(value):
        raise ValueError("must be an e-mail address like ops@example.com")
    return value


def _recipients(value) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RECIPIENTS:
        raise ValueError(f"must be a list of 1 to {MAX_RECIPIENTS} e-mail addresses")
    out = []
    for index, item in enumerate(value):
        try:
            out.append(_address(item))
        except ValueError as exc:
            raise ValueError(f"item {index} {exc}") from None
    if len({a.lower() for a in out}) != len(out):
        raise ValueError("must name each address once")
    return out


@dataclass(frozen=True)
class Field:
    """One config field. `address`: "url" or "host" when the address guard must allow it."""

    name: str
    check: Callable[[object], object]
    required: bool = True
    secret: bool = False
    address: str | None = None


SPECS: dict[str, tuple[Field, ...]] = {
    "slack": (Field("webhook_url", _url, secret=True, address="url"),),
    "webhook": (Field("url", _url, secret=True, address="url"),
                Field("secret", _text(MIN_HMAC_SECRET_CHARS, MAX_SECRET_CHARS), required=False, secret=True)),
    "discord": (Field("webhook_url", _url, secret=True, address="url"),),
    "teams": (Field("webhook_url", _url, secret=True, address="url"),),
    "pagerduty": (Field("routing_key", _routing_key, secret=True),
                  Field("severity", _choice(PAGERDUTY_SEVERITIES), required=False)),
    "email": (Field("host", _host, address="host"), Field("port", _port, required=False),
              Field("security", _choice(tuple(EMAIL_SECURITY)), required=False),
              Field("username", _text(1, MAX_SECRET_CHARS), required=False),
              Field("password", _text(1, MAX_SECRET_CHARS), required=False, secret=True),
              Field("from", _address), Field("to", _recipients)),
}
"""The fields of each type's config, in the order documented (docs/api.md "Channels")."""


def _defaults(channel_type: str, config: dict) -> dict:
    if channel_type == "pagerduty":
        config.setdefault("severity", "critical")
    if channel_type == "email":
        config.setdefault("security", "starttls")
        config.setdefault("port", EMAIL_SECURITY[config["security"]])
        if ("username" in config) != ("password" in config):
            missing = "password" if "username" in config else "username"
            raise ConfigProblem(f"config.{missing}", "username and password go together: send both or neither")
    return config


def validate(channel_type: str, config) -> dict:
    """The config to store for a channel of `channel_type`. Raises ConfigProblem (400)."""
    if not isinstance(config, dict):
        raise ConfigProblem("config", "must be a JSON object")
    spec = {f.name: f for f in SPECS[channel_type]}
    for name in config:
        if name not in spec:
            raise ConfigProblem(f"config.{name}", f"unknown field for a {channel_type} channel (known: "
                                + ", ".join(spec) + ")")
    out: dict = {}
    for name, field in spec.items():
        if name not in config or config[name] is None:
            if field.required:
                raise ConfigProblem(f"config.{name}", f"required for a {channel_type} channel")
            continue
        try:
            out[name] = field.check(config[name])
        except ValueError as exc:
            raise ConfigProblem(f"config.{name}", str(exc)) from None
    return _defaults(channel_type, out)


def _masked(field: Field, value) -> str:
    return mask_webhook_url(value) if field.address == "url" else MASK


def mask(channel_type: str, config: dict) -> dict:
    """`config` as responses show it: every secret masked."""
    spec = {f.name: f for f in SPECS.get(channel_type, ())}
    return {k: (_masked(spec[k], v) if k in spec and spec[k].secret else v) for k, v in config.items()}


def keep_secrets(channel_type: str, config, stored_type: str | None, stored: dict | None) -> dict:
    """`config` with each secret that is the masked form of the stored one replaced by it ("keep").
    `stored_type` None is a create: a masked value there is refused (400). Any other value ending in the mark
    (another channel's masked value, the secret changed, the type did, or a made-up `abc****`) is a 409: it
    is never stored as the secret."""
    if not isinstance(config, dict):
        return config
    out = dict(config)
    for field in SPECS[channel_type]:
        value = out.get(field.name)
        if not field.secret or not isinstance(value, str) or not value.endswith(MASK):
            continue
        old = (stored or {}).get(field.name) if stored_type == channel_type else None
        if old is not None and value == _masked(field, old):
            out[field.name] = old
        elif stored_type is None:
            raise ConfigProblem(f"config.{field.name}", "is a masked value; send the secret itself")
        else:
            raise ConfigProblem(f"config.{field.name}", "ends in **** as a masked value does, and is not "
                                "this channel's masked value (it changed, or there is none); send the secret itself "
                                "(a secret cannot end in ****), or the current masked value to keep it",
                                status=409)
    return out


def addresses(channel_type: str, config: dict) -> list[tuple[str, str]]:
    """(field, URL) pairs the address guard must allow; an SMTP host is given as `smtp://host`."""
    out = []
    for field in SPECS[channel_type]:
        value = config.get(field.name)
        if field.address == "url" and value:
            out.append((f"config.{field.name}", value))
        elif field.address == "host" and value:
            out.append((f"config.{field.name}", f"smtp://[{value}]" if ":" in value else f"smtp://{value}"))
    return out
