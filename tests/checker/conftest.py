"""Check-target fixtures (tests/support/targets.py) for every checker test: target, tls_pki, https_target,
self_signed_target."""

from tests.support.targets import https_target, self_signed_target, target, tls_pki  # noqa: F401
