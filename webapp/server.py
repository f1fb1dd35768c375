"""`healthmon api`: the REST API under gunicorn, run in-process (never Flask's development server).

gunicorn forks `settings.web_concurrency` sync workers; each builds its own app (and so its own database
binding) after the fork, because the app is loaded per worker (no preload). Access lines go to stderr
with everything else. Nothing printed here carries a secret: the database URL is shown with its password
masked, and API keys travel in a header that the access log does not record.
"""

from __future__ import annotations

import logging
import sys

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from healthmon.redact import redact_database_url
from healthmon.settings import Settings

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
"""Client, request line, status, bytes, duration. No headers: Authorization must never be logged."""

WORKER_TIMEOUT = 30
"""Seconds before gunicorn replaces a stuck worker; an API request is a few queries."""

REQUEST_LINE_LIMIT = 8190
"""Longest request line gunicorn reads (its own maximum; its default is 4094): a longer one gets gunicorn's
HTML 414 before the API sees it. Every query the OpenAPI document allows is far shorter (20 ASCII tags of 50
characters: about 1.2 KB); this leaves room for a wrong one (such as tags of percent-encoded non-ASCII text)
to reach the API's validation and get its JSON 422 naming the parameter."""

GRACEFUL_TIMEOUT = 20
"""Seconds in-flight requests get after SIGTERM; ECS kills the task at 30."""


class StderrAccessLogger(Logger):
    """gunicorn's logger with the access log on stderr: `accesslog="-"` means stdout to gunicorn, and
    opening /dev/stderr as a file breaks when stderr is a file (two offsets overwrite each other)."""

    def setup(self, cfg):
        super().setup(cfg)
        if cfg.accesslog == "-":
            self._set_handler(self.access_log, "-", logging.Formatter(self.access_fmt), stream=sys.stderr)


class ApiServer(BaseApplication):
    """gunicorn application whose configuration comes from Settings, not from a config file."""

    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from webapp.app import create_app  # per worker, after the fork

        return create_app(self.settings)


def gunicorn_options(settings: Settings, port: int | None = None, host: str | None = None) -> dict:
    """The gunicorn settings for this deployment."""
    return {
        "bind": f"{host or settings.host}:{port or settings.port}",
        "workers": settings.web_concurrency,
        "worker_class": "sync",
        "accesslog": "-",
        "logger_class": StderrAccessLogger,
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "loglevel": settings.log_level.lower(),
        "timeout": WORKER_TIMEOUT,
        "limit_request_line": REQUEST_LINE_LIMIT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "proc_name": "healthmon-api",
        "preload_app": False,
        # The control socket (gunicorn >= 24) would write under $HOME, which may be read-only in a container.
        "control_socket_disable": True,
    }


def serve(settings: Settings, port: int | None = None, host: str | None = None) -> int:
    """Run the API until gunicorn stops (SIGTERM/SIGINT). Returns the exit status."""
    options = gunicorn_options(settings, port, host)
    print(
        f"[API] serving on http://{options['bind']} with {options['workers']} worker(s); "
        f"database {redact_database_url(settings.database_url)}; docs at /docs",
        file=sys.stderr, flush=True,
    )
    try:
        ApiServer(settings, options).run()
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
