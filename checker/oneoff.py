"""`healthmon check URL`: one check now, printed for a person, with the same engine and guard as the pool."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from checker.alerts import format_time
from checker.engine import perform_check
from healthmon import defaults
from healthmon.domain import tls
from healthmon.domain.check import CheckSpec
from healthmon.domain.verdict import Verdict, evaluate
from healthmon.netguard import AddressGuard
from healthmon.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _validate(url: str, timeout: float) -> str | None:
    """A one-line problem with the arguments, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "the URL must start with http:// or https://"
    if not parts.hostname:
        return "the URL has no host"
    if not defaults.MIN_CHECK_TIMEOUT <= timeout <= defaults.MAX_CHECK_TIMEOUT:
        return f"--timeout must be from {defaults.MIN_CHECK_TIMEOUT} to {defaults.MAX_CHECK_TIMEOUT} seconds"
    return None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def format_result(verdict: Verdict) -> str:
    """Readable lines: verdict, status, latency, phase timings, the certificate (https), error."""
    seen = verdict.observation
    lines = [
        f"result:      {'OK' if verdict.ok else 'FAILED'}",
        f"status:      {seen.status_code if seen.status_code is not None else '-'}",
        f"latency:     {_ms(seen.latency_ms)}",
        f"  dns:       {_ms(seen.dns_ms)}",
        f"  connect:   {_ms(seen.connect_ms)}",
        f"  tls:       {_ms(seen.tls_ms)}",
        f"  1st byte:  {_ms(seen.first_byte_ms)}",
        f"redirects:   {seen.redirects}",
    ]
    if seen.tls is not None and seen.checked_at is not None:
        left = tls.whole_days_left(seen.tls.expires_at, seen.checked_at)
        lines.append(f"certificate: expires {format_time(seen.tls.expires_at)} "
                     f"({'expired' if left < 0 else f'in {left} days'}), sha256 {seen.tls.fingerprint_sha256}")
    if verdict.error_kind:
        lines.append(f"error:       {verdict.error_kind}: {verdict.error}")
    return "\n".join(lines)


def run(settings: Settings, url: str, expected_status: int = 200, timeout: float = 5.0) -> int:
    """Check `url` once and print the result. Returns 0 when ok, 1 when the check failed, 2 when the
    arguments are invalid (message on stderr)."""
    problem = _validate(url, timeout)
    if problem is None and not 100 <= expected_status <= 599:
        problem = "--expected-status must be an HTTP status from 100 to 599"
    if problem:
        print(f"healthmon check: {problem}", file=sys.stderr)
        return EXIT_USAGE
    spec = CheckSpec(url=url, timeout=timeout, expected_status_code=expected_status,
                     max_body_bytes=settings.max_body_bytes, observe_tls=url[:8].lower() == "https://")
    seen = perform_check(spec, AddressGuard(settings.allowed_private_cidrs), ca_bundle=settings.ca_bundle)
    verdict = evaluate(spec, seen)
    print(format_result(verdict), flush=True)
    return EXIT_OK if verdict.ok else EXIT_FAILED
