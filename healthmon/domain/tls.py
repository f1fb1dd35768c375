"""TLS certificate expiry: the facts a check saw about the server's certificate, and which warning is due.

Pure functions and values, no I/O. The engine fills an Observation's `tls` (TlsFacts) when the spec asks
(`observe_due`: the first https check of a monitor, then at most once per OBSERVE_INTERVAL); the recorder
(checker.record) stores the facts on the monitor and asks `warning_due` whether to warn.

Warnings: with `tls_expiry_days` N (default 14; None: never), one warning per certificate (identified by
its SHA-256 fingerprint) when it expires within N days, again within 3 days and within 1 day
(`warning_levels`). A certificate first seen with 2 days left gets one warning (the 3-day one), not three.
A renewed certificate has a new fingerprint and starts afresh. An expired certificate gets no warning: with
verification on, the check itself fails (a `tls` error) and the monitor's DOWN alert says why. Not a state
transition: the monitor's status is untouched.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_EXPIRY_DAYS = 14
MIN_EXPIRY_DAYS, MAX_EXPIRY_DAYS = 1, 365
WARN_AGAIN_AT_DAYS = (3, 1)
"""After the first warning (at tls_expiry_days), a certificate is warned about again within these many days."""

OBSERVE_INTERVAL = dt.timedelta(hours=1)
"""How often a monitor's check also collects the certificate (libcurl CERTINFO prints the whole chain: about
100 us, 15%, more CPU for that HTTPS check with a one-certificate chain, more with real chains;
bench/README.md). Once an hour that is ~1.7 us per check at a 60 s interval. Expiry is counted in days, so
an hour's delay in seeing a renewal costs nothing."""

FINGERPRINT_SHOWN = 16
"""Hex digits of the fingerprint alerts show (the API shows all 64)."""


@dataclass(frozen=True)
class TlsFacts:
    """The leaf certificate a check was served: when it expires (naive UTC) and the SHA-256 of its DER
    encoding (64 lowercase hex digits, as `openssl x509 -fingerprint -sha256` shows it without colons)."""

    expires_at: dt.datetime
    fingerprint_sha256: str


@dataclass(frozen=True)
class TlsWarning:
    """A certificate expiry warning, with the facts its alert shows. `warning_id` is the stored TlsWarning
    row's id; `threshold_days` the level it is for (tls_expiry_days, 3 or 1); `at` when it was recorded."""

    warning_id: int
    monitor_id: int
    name: str
    url: str
    expires_at: dt.datetime
    fingerprint_sha256: str
    threshold_days: int
    at: dt.datetime

    @property
    def seconds_left(self) -> float:
        return (self.expires_at - self.at).total_seconds()


def observe_due(url: str, observed_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether this check should collect the certificate: an https URL whose certificate was never seen, or
    last seen OBSERVE_INTERVAL ago or more."""
    if url[:8].lower() != "https://":
        return False
    return observed_at is None or now - observed_at >= OBSERVE_INTERVAL


def days_left(expires_at: dt.datetime, now: dt.datetime) -> float:
    """Days (fractional) until `expires_at`; negative once expired."""
    return (expires_at - now).total_seconds() / 86_400


def whole_days_left(expires_at: dt.datetime, now: dt.datetime) -> int:
    """Whole days until `expires_at`, rounded down (1.9 days is 1); negative once expired."""
    return math.floor(days_left(expires_at, now))


def warning_levels(tls_expiry_days: int | None) -> tuple[int, ...]:
    """The thresholds (days, largest first) at which a certificate is warned about: tls_expiry_days, then 3
    and 1 when below it. None: no warnings at all."""
    if tls_expiry_days is None:
        return ()
    return (tls_expiry_days, *(d for d in WARN_AGAIN_AT_DAYS if d < tls_expiry_days))


def warning_due(days: float, fingerprint: str, warned: Mapping[str, int], tls_expiry_days: int | None) -> int | None:
    """The threshold whose warning is due now for the certificate `fingerprint` with `days` left, or None.

    `warned` maps a fingerprint to the lowest threshold already warned for that certificate (absent: never
    warned). Due: the lowest threshold `days` is within (days <= threshold), unless a warning at that or a
    lower threshold was already sent; the first warning (at tls_expiry_days) only if none was, so a limit
    raised or lowered after it does not repeat it. Nothing is due for an expired certificate (days <= 0) or
    without tls_expiry_days.
    """
    if days <= 0:
        return None
    crossed = [level for level in warning_levels(tls_expiry_days) if days <= level]
    if not crossed:
        return None
    level = min(crossed)
    already = warned.get(fingerprint)
    if already is not None and (already <= level or level not in WARN_AGAIN_AT_DAYS):
        return None
    return level


EDIT_FORGETS = ("url",)
"""Fields whose change makes the stored certificate facts meaningless (they were of another host)."""
EDIT_REOBSERVES = ("tls_expiry_days",)
"""Fields whose change makes the next check collect the certificate again, so a warning the new limit makes
due is sent at once instead of up to OBSERVE_INTERVAL later."""


def edit_effect(changed: set[str]) -> str | None:
    """What an edit of the fields `changed` does to the stored certificate facts: "forget" them (and collect
    them at the next check), "reobserve" (keep them, collect them at the next check), or None."""
    if changed & set(EDIT_FORGETS):
        return "forget"
    if changed & set(EDIT_REOBSERVES):
        return "reobserve"
    return None
