"""Every error is JSON: `{"code": 404, "status": "Not Found", "message": "...", "errors": {...}}`.

flask-smorest already turns `abort(...)` and werkzeug's HTTP errors into that body. This module adds
what it leaves out: a message for the routing errors (unknown route, wrong method, body too large), the
`Allow` header of a 405, a 503 with Retry-After when the database is unreachable, and a 500 that carries
no stack trace and no exception text (which could hold a database URL or a webhook). The traceback is
logged, through the redacting log filter.
"""

from __future__ import annotations

import logging

import peewee
from flask import Flask, request
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from healthmon import defaults

log = logging.getLogger("webapp")

MESSAGES = {
    404: "No such resource.",
    405: "Method not allowed on this resource.",
    422: "Invalid request: see errors for the reason of each field.",
    413: "Request body too large (limit {limit} bytes).",
    500: "Internal server error.",
    503: "The database is unavailable; retry in a few seconds.",
}

RETRY_AFTER_SECONDS = 5
"""Retry-After of a 503: a restarting PostgreSQL or an RDS failover is back within seconds to a minute."""

DATABASE_DOWN = (peewee.OperationalError, peewee.InterfaceError)
"""Connection refused, server gone, connection closed: the database, not the request, is at fault."""


def _message(error: HTTPException, data: dict) -> str:
    """The message of an error raised without one. A request schema with `summarise_errors(messages)`
    writes its 422's own (the bulk create names the first bad item: `monitors.3.url: ...`)."""
    summarise = getattr(data.get("schema"), "summarise_errors", None)
    if error.code == 422 and summarise is not None and data.get("messages"):
        return summarise(data["messages"])
    if error.code == 413:
        return MESSAGES[413].format(limit=request.max_content_length or defaults.MAX_REQUEST_BYTES)
    return MESSAGES.get(error.code or 500, error.description or error.name)


def register_error_handlers(app: Flask, api) -> None:
    """Install JSON handlers for every HTTPException and for unhandled exceptions."""

    def handle_http(error: HTTPException):
        data = getattr(error, "data", None)
        if not data or "message" not in data:
            data = dict(data or {})
            data["message"] = _message(error, data)
            error.data = data
        payload, code, headers = api.handle_http_exception(error)
        valid_methods = getattr(error, "valid_methods", None)
        if error.code == 405 and valid_methods:
            headers = {**headers, "Allow": ", ".join(valid_methods)}
        return payload, code, headers

    def handle_unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return handle_http(error)
        if isinstance(error, DATABASE_DOWN):
            # One line, no traceback and no exception text (it may name the host or user): a 503 the client
            # can retry, not a 500.
            log.warning("database unavailable in %s %s (%s)", request.method, request.path,
                        error.__class__.__name__)
            payload, code, headers = handle_http(ServiceUnavailable())
            return payload, code, {**headers, "Retry-After": str(RETRY_AFTER_SECONDS)}
        log.exception("unhandled error in %s %s", request.method, request.path)
        return handle_http(InternalServerError())

    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
