"""Plain values passed between the check engine, the state machine and the recorder."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from healthmon import defaults

ERROR_KINDS = (
    "timeout",  # the whole-check deadline passed
    "dns",  # the host name did not resolve
    "connect",  # TCP connection refused or unreachable
    "tls",  # handshake or certificate failure
    "too_many_redirects",  # more than MAX_REDIRECTS hops, or a loop
    "body_too_large",  # the body exceeded the read cap
    "blocked_address",  # the address guard refused the destination
    "protocol",  # malformed HTTP, unsupported scheme, reset mid-response
    "unexpected_status",  # the response arrived but its status is not the expected one
)
"""Every error kind a CheckResult may carry."""


@dataclass(frozen=True)
class CheckSpec:
    """What to check. Built from a Monitor row; carries no database handle."""

    url: str
    timeout: float = defaults.DEFAULT_CHECK_TIMEOUT
    expected_status_code: int = defaults.DEFAULT_EXPECTED_STATUS
    max_redirects: int = defaults.MAX_REDIRECTS
    max_body_bytes: int = defaults.DEFAULT_MAX_BODY_BYTES


@dataclass(frozen=True)
class CheckResult:
    """What a check saw. `ok` is true when there was no error and the status was the expected one.

    Times are milliseconds; phase times are None when the connection was reused or never got that far.
    `error` is a short human message that never contains a URL path, query or credential.
    """

    ok: bool
    status_code: int | None
    latency_ms: float
    error_kind: str | None = None
    error: str | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None
    redirects: int = 0
    checked_at: dt.datetime | None = None

    @property
    def reason(self) -> str:
        """One line for a state-change reason: the error, or the status code and latency."""
        if self.error_kind and self.error_kind != "unexpected_status":
            return f"{self.error_kind}: {self.error}" if self.error else self.error_kind
        return f"status {self.status_code} in {self.latency_ms:.0f} ms"
