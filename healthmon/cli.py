"""`healthmon`: one console script, one subcommand per process or task.

Each subcommand reads `Settings.from_env()` first; a bad variable prints one line and exits 2. A database
error that ends a command (at start: unreachable, read-only, disk full) prints one line and exits 3.
Imports are lazy so `healthmon checker` never loads Flask and `healthmon api` never loads pycurl.
"""

from __future__ import annotations

import argparse
import os
import sys

from healthmon import __version__
from healthmon.settings import Settings, SettingsError

EXIT_CONFIG_ERROR = 2
EXIT_DATABASE_ERROR = 3
"""A database the command cannot use at start (unreachable, read-only, disk full): one line, no traceback."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healthmon",
        description="HTTP endpoint health monitor: REST API, scheduler, checker pool and Slack alerts.",
    )
    parser.add_argument("--version", action="version", version=f"healthmon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("init-db", help="create or upgrade the database schema (idempotent)")

    p = sub.add_parser("api", help="serve the REST API and Swagger UI with gunicorn")
    p.add_argument("--port", type=_port, help="port to listen on (default: $PORT or 8000)")
    p.add_argument("--host", help="address to bind (default: $HOST or 0.0.0.0)")

    sub.add_parser("scheduler", help="enqueue due checks every tick")

    p = sub.add_parser("checker", help="run the checker pool that drains the queue and sends alerts")
    p.add_argument("--processes", type=_positive_int, help="worker processes (default: CPU count)")
    p.add_argument("--concurrency", type=_positive_int, help="checks in flight per process (default: 100)")

    p = sub.add_parser("up", help="run API, scheduler and checker pool together on this machine")
    p.add_argument("--port", type=_port, help="API port (default: $PORT or 8000)")
    p.add_argument("--host", help="address to bind the API (default: 127.0.0.1)")
    p.add_argument("--processes", type=_positive_int, help="checker processes (default: one per CPU)")

    p = sub.add_parser("check", help="check one URL now and print the result (exit 0 when ok)")
    p.add_argument("url", help="http:// or https:// URL to check (the address guard applies)")
    p.add_argument("--expected-status", type=int, default=200, metavar="N",
                   help="status code that counts as up (default: 200)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="deadline for the whole check in seconds, 1-30 (default: 5)")

    p = sub.add_parser("api-key", help="manage API keys")
    keys = p.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    c = keys.add_parser("create", help="create a key and print it once")
    c.add_argument("--name", required=True, help="what the key is for (shown by `api-key list`)")
    c.add_argument("--read-only", action="store_true", help="the key may only read")
    keys.add_parser("list", help="list keys (never the keys themselves)")
    r = keys.add_parser("revoke", help="revoke a key by id")
    r.add_argument("id", type=_positive_int, help="the key's id from `api-key list`")

    p = sub.add_parser("apply", help="make a remote API's monitors (and channels) what a YAML file declares")
    p.add_argument("file", help="the config file (docs/config-as-code.md)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--prune", action="store_true", help="also delete the monitors and channels the file omits")
    _remote_arguments(p)
    p = sub.add_parser("export", help="write a remote API's monitors and channels as a config file")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    _remote_arguments(p)
    return parser


def _remote_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-url", default=os.environ.get("HEALTHMON_API_URL"),
                   help="the API's base URL (default: $HEALTHMON_API_URL)")
    p.add_argument("--api-key", default=os.environ.get("HEALTHMON_API_KEY"),
                   help="a read-write API key (default: $HEALTHMON_API_KEY; export: read-only is enough)")


def _config_as_code(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """apply / export talk to a remote API only: no database, no Settings."""
    from healthmon import apply

    if not args.api_url or not args.api_key:
        parser.error(f"{args.command} needs --api-url and --api-key (or HEALTHMON_API_URL and HEALTHMON_API_KEY)")
    remote = apply.Remote(args.api_url, args.api_key)
    if args.command == "apply":
        return apply.run_apply(args.file, remote, dry_run=args.dry_run, prune=args.prune)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            return apply.run_export(remote, out=handle)
    return apply.run_export(remote)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("apply", "export"):
        return _config_as_code(parser, args)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"healthmon: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    from healthmon.logs import setup_logging

    setup_logging(settings.log_level)
    import peewee

    try:
        return _dispatch(args, settings)
    except peewee.DatabaseError as exc:  # peewee's OperationalError, IntegrityError ... all derive from it
        _database_error(settings, exc)
        return EXIT_DATABASE_ERROR


def _database_error(settings: Settings, exc: Exception) -> None:
    """One line naming the database (no password) and the error's first line (secrets masked)."""
    from healthmon.redact import redact_database_url, redact_text

    lines = redact_text(str(exc)).strip().splitlines()
    if settings.is_sqlite:
        name = "SQLite " + settings.database_url.split("///", 1)[-1]
        hint = " (is the file's directory writable, and is there space on its disk?)"
    else:
        name, hint = redact_database_url(settings.database_url), ""
    print(f"healthmon: cannot use the database {name}: "
          f"{lines[0] if lines else exc.__class__.__name__}{hint}", file=sys.stderr, flush=True)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command
    if command == "init-db":
        return _init_db(settings)
    if command == "api":
        from webapp.server import serve

        return serve(settings, port=args.port, host=args.host)
    if command == "scheduler":
        from scheduler.service import run

        return run(settings, restore_signals=False)  # a repeated SIGTERM while exiting must not end it with -15
    if command == "checker":
        from checker.pool import run

        return run(settings, processes=args.processes, concurrency=args.concurrency)
    if command == "up":
        from healthmon.up import run

        return run(settings, port=args.port, host=args.host, processes=args.processes)
    if command == "check":
        from checker.oneoff import run

        return run(settings, args.url, expected_status=args.expected_status, timeout=args.timeout)
    if command == "api-key":
        from healthmon.apikeys import run_cli

        return run_cli(settings, args)
    raise AssertionError(command)


_INITIAL_KEY_STATUS = {
    "registered": "registered the initial API key (HEALTHMON_INITIAL_API_KEY)",
    "present": "the initial API key is already registered",
    "revoked": "the initial API key is revoked; it stays revoked",
}


def _init_db(settings: Settings) -> int:
    """Schema, then the initial API key when HEALTHMON_INITIAL_API_KEY is set (never printed)."""
    from healthmon import apikeys
    from healthmon.db import bind, database
    from healthmon.migrations import init_db

    try:
        initial_key = apikeys.initial_key_from_env(os.environ)
    except ValueError as exc:
        print(f"healthmon: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    bind(settings.database_url)
    init_db()
    print("[DB INIT] monitors table ensured", flush=True)
    if initial_key is not None:
        with database.connection_context():
            status = apikeys.register_initial_key(initial_key)
        print(f"[DB INIT] {_INITIAL_KEY_STATUS[status]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
