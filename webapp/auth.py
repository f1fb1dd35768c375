"""Bearer API keys for the /monitors endpoints.

`require_api_key` is installed as a `before_request` hook on each protected blueprint, so a view never
runs without a valid key. No key, or a bad or revoked one: 401 with `WWW-Authenticate: Bearer`.
A read-only key (`hmr_...`) on a method that writes: 403. /health and the docs are on other blueprints
and stay open. The key itself is never logged or echoed.
"""

from __future__ import annotations

from flask import g, request
from flask_smorest import abort

from healthmon import apikeys

SECURITY_SCHEME_NAME = "bearerAuth"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key from `healthmon api-key create` (hmw_... read-write, hmr_... read-only).",
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="healthmon"'}
HOW_TO_GET_A_KEY = (
    "Create one with `healthmon api-key create --name NAME`, or read the deployment's initial key: "
    "see docs/DEPLOYMENT.md, 'Your API key'."
)


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_api_key() -> None:
    """before_request hook: abort 401/403 unless the request carries an adequate key; sets g.api_key."""
    token = bearer_token()
    if token is None:
        abort(401, message=f"Missing API key: send 'Authorization: Bearer <key>'. {HOW_TO_GET_A_KEY}",
              headers=CHALLENGE)
    key = apikeys.verify(token)
    if key is None:
        abort(401, message=f"Invalid or revoked API key. {HOW_TO_GET_A_KEY}", headers={
            "WWW-Authenticate": 'Bearer realm="healthmon", error="invalid_token"'})
    if key.read_only and request.method not in READ_METHODS:
        abort(403, message="This API key is read-only.")
    g.api_key = key
