"""Logging setup shared by every process.

Log lines go to stderr (ECS ships them to CloudWatch). A filter on the root handler passes every
formatted message through `redact_text`, and chatty client libraries are pinned to WARNING because at
DEBUG urllib3 and botocore log request paths and bodies, and a Slack webhook's path is its token.
"""

from __future__ import annotations

import logging
import sys

from healthmon.redact import redact_text

QUIET_LOGGERS = ("urllib3", "botocore", "boto3", "s3transfer", "werkzeug", "peewee")
"""Third-party loggers that may print URLs or credentials at DEBUG; never below WARNING. peewee logs
every SQL statement with its parameters: webhook URLs, monitor URLs with tokens, API key prefixes."""

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets masked. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not kill logging
            message = str(record.msg)
        cleaned = redact_text(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str = "INFO", stream=None) -> None:
    """Configure the root logger once per process (idempotent: replaces our previous handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_healthmon", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._healthmon = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
