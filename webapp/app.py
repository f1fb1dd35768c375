"""The Flask application factory.

`create_app()` binds the database named by the settings (one connection per request: opened in
`before_request` for the resources that need it, closed in `teardown_request`, so a gunicorn worker
holds no idle connection and none crosses a fork), caps request bodies at 64 KiB (1 MiB for the bulk
create, 32 MiB for POST /apply), registers the blueprints and the OpenAPI document (/openapi.json, Swagger
UI at /docs, both open) and makes every error JSON.
"""

from __future__ import annotations

import io

from flask import Flask, abort, request
from flask_smorest import Api

from healthmon import __version__, defaults
from healthmon.db import bind, database
from healthmon.settings import Settings
from webapp import docs, metrics, status
from webapp.api import apply, channels, health, history, maintenance, monitors, pause, stats
from webapp.auth import SECURITY_SCHEME, SECURITY_SCHEME_NAME
from webapp.errors import register_error_handlers

API_DESCRIPTION = """HTTP endpoint health monitor.

Register endpoints under **/monitors**; they are checked every `check_interval` seconds, move between
UNKNOWN, UP and DOWN after consecutive failures/successes, and each change is posted to the monitor's
Slack webhook and to its **/channels** (Slack, signed JSON webhooks, Discord, Microsoft Teams, PagerDuty,
e-mail).

Authentication: every /monitors and /channels operation needs `Authorization: Bearer <key>`. Create a key with
`healthmon api-key create --name NAME [--read-only]`, then use the **Authorize** button.
"""

DB_BLUEPRINTS = frozenset({"monitors", "pause", "maintenance", "channels", "stats", "history", "status", "metrics",
                           "apply"})
"""Blueprints whose requests use the database; /health and the docs never open a connection."""


def _body_limit(app: Flask) -> int:
    """Largest body the matched route takes: its view class's `max_request_bytes`, else MAX_REQUEST_BYTES."""
    view = app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(getattr(view, "view_class", None), "max_request_bytes", defaults.MAX_REQUEST_BYTES)


def create_app(settings: Settings | None = None, **config_overrides) -> Flask:
    """Build the API for `settings` (default: `Settings.from_env()`); `config_overrides` go to app.config."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        API_TITLE="healthmon",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "security": [{SECURITY_SCHEME_NAME: []}],
        },
        MAX_CONTENT_LENGTH=defaults.MAX_REQUEST_BYTES,
        JSON_SORT_KEYS=False,
        **docs.CONFIG,
    )
    app.config.update(config_overrides)
    app.extensions["healthmon.settings"] = settings

    bind(settings.database_url)

    @app.before_request
    def _limit_body():
        # The route's own limit (a view class's `max_request_bytes`, e.g. the bulk create) replaces
        # MAX_CONTENT_LENGTH for this request; werkzeug enforces it on a declared Content-Length when the
        # body is read. A chunked body has none, and werkzeug would cut it at the limit and hand the parser
        # truncated JSON (a misleading 400). Read it here, up to one byte over the limit, and answer 413
        # like any other oversized body.
        limit = request.max_content_length = _body_limit(app)
        if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
            return
        data = request.environ["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            abort(413)
        request.environ["wsgi.input"] = io.BytesIO(data)
        request.environ["CONTENT_LENGTH"] = str(len(data))

    @app.before_request
    def _connect():
        if request.blueprint in DB_BLUEPRINTS:
            database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc):
        if not database.is_closed():
            database.close()

    api = Api(app)
    api.spec.components.security_scheme(SECURITY_SCHEME_NAME, SECURITY_SCHEME)
    api.register_blueprint(health.blp)
    api.register_blueprint(monitors.create_blueprint(settings))
    api.register_blueprint(pause.blp)
    api.register_blueprint(maintenance.blp)
    api.register_blueprint(channels.create_blueprint(settings))
    api.register_blueprint(stats.create_blueprint(settings))
    api.register_blueprint(history.create_blueprint())
    api.register_blueprint(apply.create_blueprint(settings))
    app.register_blueprint(docs.blueprint)
    app.register_blueprint(status.create_blueprint(settings))  # HTML, not in the OpenAPI document
    app.register_blueprint(metrics.create_blueprint(settings))  # Prometheus text, not in it either
    register_error_handlers(app, api)
    return app
