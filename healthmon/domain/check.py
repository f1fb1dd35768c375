"""What to check (`CheckSpec`) and what a check saw (`Observation`): plain values, no I/O.

The engine (checker.engine) turns a CheckSpec into an Observation and judges nothing; `verdict.evaluate`
decides what the Observation means for the spec.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from healthmon import defaults
from healthmon.domain.conditions import Assertion, StatusRange
from healthmon.domain.request import RequestOptions
from healthmon.domain.tls import TlsFacts

ERROR_KINDS = (
    "timeout",  # the whole-check deadline passed
    "dns",  # the host name did not resolve
    "connect",  # TCP connection refused or unreachable
    "tls",  # handshake or certificate failure
    "too_many_redirects",  # more than MAX_REDIRECTS hops, or a loop
    "body_too_large",  # the body exceeded the read cap
    "blocked_address",  # the address guard refused the destination
    "protocol",  # malformed HTTP, unsupported scheme, reset mid-response
    "unexpected_status",  # the response arrived but its status is not an accepted one (a verdict's kind)
    "assertion_failed",  # the response arrived but a body, JSON or header assertion failed (a verdict's kind)
)
"""Every error kind a stored check result may carry. All but the last two are transport errors (an
Observation's); `unexpected_status` and `assertion_failed` are the verdict's."""
VERDICT_ERROR_KINDS = ("unexpected_status", "assertion_failed")


@dataclass(frozen=True)
class CheckSpec:
    """What to check. Built from a monitor; carries no database handle.

    `accepted_statuses`, when set, replaces `expected_status_code`: the status must fall in one of the
    ranges. `assertions` must all hold too. A passed check slower than `max_response_time_ms` is slow
    (the monitor becomes DEGRADED, not DOWN). `capture_headers` / `capture_body` ask the engine to keep the
    response headers / the body (up to `max_body_bytes`) in the Observation, for conditions that read them
    (`captures()` gives them); off, nothing is kept and a check costs no more than a status check.
    `observe_tls` asks for the server's certificate facts (healthmon.domain.tls; https only, costs CPU, so
    the recorder asks at most once per tls.OBSERVE_INTERVAL per monitor).

    `request` holds the monitor's request options (method, headers, body, auth, redirects, TLS, User-Agent;
    healthmon.domain.request); None is a plain GET with the engine's defaults.
    """

    url: str
    timeout: float = defaults.DEFAULT_CHECK_TIMEOUT
    expected_status_code: int = defaults.DEFAULT_EXPECTED_STATUS
    max_redirects: int = defaults.MAX_REDIRECTS
    max_body_bytes: int = defaults.DEFAULT_MAX_BODY_BYTES
    capture_headers: bool = False
    capture_body: bool = False
    accepted_statuses: tuple[StatusRange, ...] | None = None
    assertions: tuple[Assertion, ...] = ()
    max_response_time_ms: int | None = None
    request: RequestOptions | None = None
    observe_tls: bool = False


def captures(assertions: tuple[Assertion, ...]) -> dict[str, bool]:
    """The capture flags a spec with `assertions` needs: `CheckSpec(..., **captures(assertions))`."""
    return {"capture_headers": any(a.target == "header" for a in assertions),
            "capture_body": any(a.target in ("body", "json") for a in assertions)}


@dataclass(frozen=True)
class Observation:
    """What a check saw. `error_kind`/`error` describe a transport failure (no usable response: timeout,
    dns, connect, tls, too_many_redirects, body_too_large, blocked_address, protocol); with a response they
    are None, whatever its status.

    Times are milliseconds; phase times are None when the connection never got that far. `error` is a
    short human message that never contains a URL path, query or credential. `headers` (names lowercased,
    the last value of a repeated header wins) and `body` are None unless the spec asked to capture them.
    `tls`: the leaf certificate of the check's last TLS handshake (the URL's host, or the last https hop of
    a redirect), when the spec asked to observe it and a handshake got that far (also when verification
    then failed); else None.
    """

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
    headers: Mapping[str, str] | None = None
    body: bytes | None = None
    tls: TlsFacts | None = None
