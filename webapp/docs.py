"""Swagger UI served entirely by the app, from the installed `swagger-ui-bundle` package.

flask-smorest renders /docs with script and style URLs under `OPENAPI_SWAGGER_UI_URL`; we point that at
our own route, so the page works offline and behind firewalls, and no CDN (and no third party) learns
who reads our docs. The online validator badge is switched off for the same reason.
"""

from __future__ import annotations

import swagger_ui_bundle
from flask import Blueprint, send_from_directory
from werkzeug.exceptions import NotFound

ASSETS_URL = "/docs/assets/"
SWAGGER_ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png",
     "favicon-16x16.png", "oauth2-redirect.html"}
)
"""The files the page needs; nothing else in the package directory is served."""

ASSET_MAX_AGE = 24 * 3600
"""The assets change only with the installed package; a day of caching is safe."""

SWAGGER_UI_CONFIG = {
    "validatorUrl": None,  # default is https://validator.swagger.io: a request leaving the machine
    "persistAuthorization": False,  # keep the key out of localStorage
    "tryItOutEnabled": False,
    "displayRequestDuration": True,
}

CONFIG = {
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": ASSETS_URL,
    "OPENAPI_SWAGGER_UI_CONFIG": SWAGGER_UI_CONFIG,
}
"""flask-smorest settings for /openapi.json and /docs."""

blueprint = Blueprint("swagger_assets", __name__)


@blueprint.get(ASSETS_URL + "<path:filename>")
def swagger_asset(filename: str):
    """One static Swagger UI file from the installed bundle."""
    if filename not in SWAGGER_ASSETS:
        raise NotFound()
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=ASSET_MAX_AGE)
