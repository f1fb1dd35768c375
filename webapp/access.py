"""Who may read the pages outside the API (/status, /metrics): a setting of `public`, `private` or `off`.

`private` takes any API key (read-only is enough), sent as `Authorization: Bearer <key>` (curl, Prometheus'
`authorization`) or as the password of HTTP Basic (any user name): a browser asks for it itself, with
JavaScript off, and a key never has to go into a URL. Without a valid key the answer is 401 with
`WWW-Authenticate: Basic`, so the browser shows its login box. `off` answers 404, as for a page that does
not exist. The key is never logged or echoed.
"""

from __future__ import annotations

import base64
import binascii

from flask import Response, request
from werkzeug.exceptions import NotFound

from healthmon import apikeys
from webapp.auth import bearer_token


def _basic_password() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password.strip() if sep and password.strip() else None


def presented_key() -> str | None:
    """The API key of the request, from Bearer or Basic, or None."""
    return bearer_token() or _basic_password()


def guard(mode: str, realm: str):
    """A before_request hook enforcing `mode` (public, private, off) for a blueprint."""

    def check():
        if mode == "off":
            raise NotFound()
        if mode == "public":
            return None
        token = presented_key()
        if token is not None and apikeys.verify(token) is not None:
            return None
        return Response("401 Unauthorized: this page needs an API key (STATUS_PAGE/METRICS=private). "
                        "Send it as the password of HTTP Basic or as 'Authorization: Bearer <key>'.\n",
                        status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'})

    return check
