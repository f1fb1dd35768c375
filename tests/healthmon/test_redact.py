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
    assert "sending to https://hooks.slack.com/****" in out
    assert "SECRETTOKEN" not in out


def test_a_short_secret_path_is_never_shown_whole():
    assert mask_webhook_url("https://example.com/t0ken") == "https://example.com/t****"
    assert mask_webhook_url("https://example.com/") == "https://example.com****"


def test_it_masks_a_password_given_as_a_query_parameter_or_holding_an_at_sign():
    assert redact_database_url("postgresql://pg@h/db?password=S3cret&sslmode=require") == (
        "postgresql://pg@h/db?password=***&sslmode=require"
    )
    assert redact_database_url("postgresql://u:p@ss@h:5432/db") == "postgresql://u:***@h:5432/db"


def test_any_url_in_free_text_keeps_only_scheme_and_host():
    text = "Failing row contains (7, x, https://discord.com/api/webhooks/1/DTOKEN, http://10.0.0.9:81/h?token=QTOKEN)"
    cleaned = redact_text(text)
    assert "DTOKEN" not in cleaned and "QTOKEN" not in cleaned
    assert "https://discord.com/****" in cleaned and "http://10.0.0.9:81/****" in cleaned
    assert redact_text("serving on http://127.0.0.1:8000") == "serving on http://127.0.0.1:8000"


def test_sql_statements_logged_by_peewee_at_debug_are_not_shown():
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    try:
        logging.getLogger("peewee").debug("('INSERT ... VALUES (?)', ['https://example.com/hook/PEEWEETOKEN'])")
    finally:
        setup_logging("WARNING")
    assert "PEEWEETOKEN" not in stream.getvalue()
