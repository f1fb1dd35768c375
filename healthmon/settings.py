"""One `Settings` object, read once from the environment, strictly.

Every process (API, scheduler, checker) calls `Settings.from_env()` at start. A bad value raises
`SettingsError` whose message is one line naming the variable and the accepted values; the CLI prints
it and exits with status 2, so a misconfigured container fails fast instead of misbehaving later.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from healthmon import defaults


class SettingsError(ValueError):
    """A configuration value is missing or malformed. `str(err)` is a one-line explanation."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not valid: expected an integer from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={raw!r} is not valid: expected an integer from {lo} to {hi}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not valid: expected a number from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={raw!r} is not valid: expected a number from {lo} to {hi}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    if value.upper() in choices:
        return value.upper()
    if value.lower() in choices:
        return value.lower()
    raise SettingsError(f"{name}={raw!r} is not valid: expected one of {', '.join(choices)}")


def _secret(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (for ECS secrets / Docker secrets)."""
    file_var = f"{name}_FILE"
    path = env.get(file_var)
    if path:
        if env.get(name):
            raise SettingsError(f"{name} and {file_var} are both set: set only one of them")
        try:
            with open(path, encoding="utf-8") as fh:
                value = fh.read().strip()
        except OSError as exc:
            raise SettingsError(f"{file_var}={path!r} is not valid: cannot read it ({exc.strerror})") from None
        if not value:
            raise SettingsError(f"{file_var}={path!r} is not valid: the file is empty")
        return value
    raw = env.get(name)
    return raw.strip() if raw and raw.strip() else default


def _database_url(env: Mapping[str, str]) -> str:
    url = _secret(env, "DATABASE_URL", defaults.DEFAULT_DATABASE_URL)
    assert url is not None
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("sqlite", "postgres", "postgresql"):
        # Never echo the value: a database URL usually carries a password.
        raise SettingsError(
            "DATABASE_URL is not valid: expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB"
        )
    return url


def _cidrs(env: Mapping[str, str], name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    raw = env.get(name, "")
    nets = []
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"{name}={raw!r} is not valid: {part!r} is not a CIDR (expected e.g. 10.0.0.0/8,fd12::/16)"
            ) from None
    return tuple(nets)


def _existing_file_or_none(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if not os.path.isfile(value):
        raise SettingsError(f"{name}={raw!r} is not valid: expected the path of an existing PEM file")
    return value


_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def _aws_region(env: Mapping[str, str]) -> str:
    name = "AWS_REGION" if env.get("AWS_REGION") else "AWS_DEFAULT_REGION"
    raw = env.get(name) or "us-east-1"
    if not _AWS_REGION.match(raw.strip()):
        raise SettingsError(f"{name}={raw!r} is not valid: expected an AWS region such as us-east-1")
    return raw.strip()


def _host(env: Mapping[str, str]) -> str:
    raw = env.get("HOST")
    if raw is None or raw.strip() == "":
        return "0.0.0.0"  # noqa: S104 - the API is reached through the load balancer
    value = raw.strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        raise SettingsError(f"HOST={raw!r} is not valid: expected an IP address or a host name to bind")
    return value


def _url_or_none(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={raw!r} is not valid: expected an http:// or https:// URL")
    return value


PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
"""PagerDuty's Events API v2 endpoint: the default of PAGERDUTY_EVENTS_URL."""

ACCESS_CHOICES = ("public", "private", "off")
"""Who may read a page that is not the API (STATUS_PAGE, METRICS): anyone, holders of an API key, nobody."""


@dataclass(frozen=True)
class Settings:
    """Process configuration. Build with `Settings.from_env()`; tests use `Settings.from_env({...})`."""

    database_url: str = defaults.DEFAULT_DATABASE_URL
    sqs_queue_url: str | None = None
    sqs_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    fail_threshold: int = defaults.DEFAULT_FAIL_THRESHOLD
    success_threshold: int = defaults.DEFAULT_SUCCESS_THRESHOLD
    min_check_interval: int = defaults.DEFAULT_MIN_CHECK_INTERVAL
    port: int = 8000
    host: str = "0.0.0.0"  # noqa: S104 - the API is meant to be reached from the load balancer
    web_concurrency: int = 2
    log_level: str = "INFO"
    allowed_private_cidrs: tuple = field(default_factory=tuple)
    checker_processes: int = 0  # 0 = one per CPU
    checker_concurrency: int = defaults.DEFAULT_CHECKER_CONCURRENCY
    max_body_bytes: int = defaults.DEFAULT_MAX_BODY_BYTES
    scheduler_tick: float = defaults.DEFAULT_SCHEDULER_TICK
    scheduler_batch: int = defaults.DEFAULT_SCHEDULER_BATCH
    queue_visibility_timeout: int = defaults.DEFAULT_VISIBILITY_TIMEOUT
    queue_max_receives: int = defaults.DEFAULT_MAX_RECEIVES
    queue_wait_seconds: int = defaults.MAX_WAIT_TIME_SECONDS
    shutdown_grace: float = defaults.DEFAULT_SHUTDOWN_GRACE
    result_retention_days: int = defaults.DEFAULT_RESULT_RETENTION_DAYS
    ca_bundle: str | None = None  # PEM file of CAs HTTPS checks trust; None: certifi's bundle
    status_page: str = "private"  # /status: public (no key), private (any API key), off (404)
    metrics: str = "private"  # /metrics: the same choices
    # Where PagerDuty channels send their events (Events API v2); tests point it at a local receiver.
    pagerduty_events_url: str = PAGERDUTY_EVENTS_URL

    @property
    def queue_backend(self) -> str:
        """'sqs' when SQS_QUEUE_URL is set, else the durable database queue."""
        return "sqs" if self.sqs_queue_url else "database"

    @property
    def pending_expiry_seconds(self) -> int:
        """How long a monitor's pending job blocks new ones (scheduler/due.py), and the age past which a
        checker skips a job unchecked (checker/worker.py). By then the message has been received
        QUEUE_MAX_RECEIVES times, each within the visibility timeout, and dead-lettered, or has sat in a
        queue nobody read: the scheduler has enqueued a fresher job for the monitor."""
        return self.queue_visibility_timeout * self.queue_max_receives

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.lower().startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=_database_url(env),
            sqs_queue_url=_url_or_none(env, "SQS_QUEUE_URL"),
            sqs_endpoint_url=_url_or_none(env, "SQS_ENDPOINT_URL"),
            aws_region=_aws_region(env),
            fail_threshold=_int(env, "FAIL_THRESHOLD", defaults.DEFAULT_FAIL_THRESHOLD, 1, 10),
            success_threshold=_int(env, "SUCCESS_THRESHOLD", defaults.DEFAULT_SUCCESS_THRESHOLD, 1, 10),
            min_check_interval=_int(
                env, "MIN_CHECK_INTERVAL", defaults.DEFAULT_MIN_CHECK_INTERVAL, 1, defaults.MAX_CHECK_INTERVAL
            ),
            port=_int(env, "PORT", 8000, 1, 65535),
            host=_host(env),
            web_concurrency=_int(env, "WEB_CONCURRENCY", 2, 1, 64),
            log_level=_choice(env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            allowed_private_cidrs=_cidrs(env, "ALLOWED_PRIVATE_CIDRS"),
            checker_processes=_int(env, "CHECKER_PROCESSES", 0, 0, 256),
            checker_concurrency=_int(
                env, "CHECKER_CONCURRENCY", defaults.DEFAULT_CHECKER_CONCURRENCY, 1, defaults.MAX_CHECKER_CONCURRENCY
            ),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", defaults.DEFAULT_MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
            scheduler_tick=_float(env, "SCHEDULER_TICK", defaults.DEFAULT_SCHEDULER_TICK, 0.05, 1.0),
            scheduler_batch=_int(
                env, "SCHEDULER_BATCH", defaults.DEFAULT_SCHEDULER_BATCH, 1, defaults.MAX_SCHEDULER_BATCH
            ),
            queue_visibility_timeout=_int(
                env, "QUEUE_VISIBILITY_TIMEOUT", defaults.DEFAULT_VISIBILITY_TIMEOUT,
                defaults.MAX_CHECK_TIMEOUT + 10, defaults.MAX_VISIBILITY_TIMEOUT,
            ),
            queue_max_receives=_int(env, "QUEUE_MAX_RECEIVES", defaults.DEFAULT_MAX_RECEIVES, 1, 1000),
            queue_wait_seconds=_int(env, "QUEUE_WAIT_SECONDS", defaults.MAX_WAIT_TIME_SECONDS, 0,
                                    defaults.MAX_WAIT_TIME_SECONDS),
            shutdown_grace=_float(env, "SHUTDOWN_GRACE", defaults.DEFAULT_SHUTDOWN_GRACE, 1, 115),
            result_retention_days=_int(env, "RESULT_RETENTION_DAYS", defaults.DEFAULT_RESULT_RETENTION_DAYS, 1, 3650),
            ca_bundle=_existing_file_or_none(env, "CA_BUNDLE"),
            status_page=_choice(env, "STATUS_PAGE", "private", ACCESS_CHOICES),
            metrics=_choice(env, "METRICS", "private", ACCESS_CHOICES),
            pagerduty_events_url=_url_or_none(env, "PAGERDUTY_EVENTS_URL") or PAGERDUTY_EVENTS_URL,
        )

    def as_safe_dict(self) -> dict:
        """Settings for display: the database password is masked."""
        from healthmon.redact import redact_database_url

        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["database_url"] = redact_database_url(self.database_url)
        out["allowed_private_cidrs"] = [str(n) for n in self.allowed_private_cidrs]
        return out
