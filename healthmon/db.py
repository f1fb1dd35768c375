"""Database selection at run time and connection handling.

Models bind to one `DatabaseProxy`; `bind(url)` initialises it from DATABASE_URL, so the same code runs
on SQLite (embedded default) and PostgreSQL (production). Each process, and each child of the checker
pool after fork, calls `bind()` itself: libpq connections must never cross a fork.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import unquote

import peewee
from playhouse.db_url import parse as parse_db_url
from playhouse.shortcuts import ReconnectMixin

database = peewee.DatabaseProxy()

SQLITE_BUSY_TIMEOUT_MS = 15_000
"""How long a SQLite writer waits for the file lock; the API, scheduler and checkers share one file."""

PG_CONNECT_TIMEOUT_S = 10


class ReconnectingPostgresqlDatabase(ReconnectMixin, peewee.PostgresqlDatabase):
    """Reconnects after a dropped connection (RDS failover, restart) instead of failing forever
    (coleifer/peewee#2595). Only the first statement outside a transaction is retried."""


def make_database(url: str) -> peewee.Database:
    """Build (but do not connect) the database named by `url`."""
    scheme = url.split("://", 1)[0].lower()
    params = parse_db_url(url)
    if scheme == "sqlite":
        # IMMEDIATE transactions take the write lock at BEGIN, so two processes doing
        # read-then-write never deadlock on a lock upgrade; WAL lets readers run beside the writer.
        return peewee.SqliteDatabase(
            params["database"],
            lock_type="IMMEDIATE",
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "foreign_keys": 1,
                "synchronous": "normal",
            },
        )
    if scheme in ("postgres", "postgresql"):
        # playhouse's parser keeps percent-escapes; a password with `@` or `/` must be escaped in a URL.
        for key in ("user", "password"):
            if params.get(key):
                params[key] = unquote(params[key])
        name = params.pop("database")
        params.setdefault("connect_timeout", PG_CONNECT_TIMEOUT_S)
        return ReconnectingPostgresqlDatabase(name, **params)
    raise ValueError("unsupported database URL scheme (expected sqlite or postgresql)")


def bind(url: str) -> peewee.Database:
    """Point the shared proxy at the database for `url` and return it."""
    db = make_database(url)
    database.initialize(db)
    return db


def is_postgres() -> bool:
    return isinstance(database.obj, peewee.PostgresqlDatabase)


def utcnow() -> dt.datetime:
    """Naive UTC now. Every timestamp in the database is naive UTC, on both engines."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def for_update(query: peewee.Query, skip_locked: bool = False) -> peewee.Query:
    """Row-lock the selected rows on PostgreSQL. On SQLite the IMMEDIATE transaction already holds
    the single write lock, which serialises claimers just as well."""
    if is_postgres():
        return query.for_update(skip_locked=True) if skip_locked else query.for_update()
    return query
