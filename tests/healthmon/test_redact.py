"""Secrets are masked wherever text may reach a log line or a response."""

import io
import logging

from healthmon.logs import setup_logging
from healthmon.redact import mask_webhook_url, redact_database_url, redact_text

HOOK = "https://hooks.slack.com/services/T0000SECRET/B0000SECRET/XXXXXXXXSECRETTOKEN"


def test_it_masks_a_webhook_to_scheme_host_and_a_short_prefix():
    masked = mask_webhook_url(HOOK)
    assert masked == "https://hooks.slack.com/service****"
    assert "SECRET" not in masked


def test_it_hides_the_database_password():
    assert redact_database_url("postgresql://app:pa%40ss@db:5432/hm") == "postgresql://app:***@db:5432/hm"


def test_it_scrubs_tokens_from_free_text():
    text = f"POST {HOOK} failed; Authorization: Bearer hmw_abcdefghijklmnop; db postgresql://u:pw@h/d"
    cleaned = redact_text(text)
    for secret in ("SECRETTOKEN", "abcdefghijklmnop", ":pw@"):
        assert secret not in cleaned


def test_log_lines_at_debug_never_carry_a_webhook_token():
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    try:
        logging.getLogger("healthmon.test").debug("sending to %s", HOOK)
        logging.getLogger("urllib3.connectionpool").debug('https://hooks.slack.com:443 "POST %s"', HOOK)
    finally:
        setup_logging("WARNING")
    out = stream.getvalue()
    assert "sending to https://hooks.slack.com/services/****" in out
    assert "SECRETTOKEN" not in out


def test_a_short_secret_path_is_never_shown_whole():
    assert mask_webhook_url("https://example.com/t0ken") == "https://example.com/t****"
    assert mask_webhook_url("https://example.com/") == "https://example.com****"
