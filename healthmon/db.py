"""Database selection at run time and connection handling.

Models bind to one `DatabaseProxy`; `bind(url)` initialises it from DATABASE_URL, so the same code runs
on SQLite (embedded default) and PostgreSQL (production). Each process, and each child of the checker
pool after fork, calls `bind()` itself: libpq connections must never cross a fork.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

import peewee
from playhouse.db_url import parse as parse_db_url

database = peewee.DatabaseProxy()

SQLITE_BUSY_TIMEOUT_MS = 15_000
"""How long a SQLite writer waits for the file lock; the API, scheduler and checkers share one file."""

PG_CONNECT_TIMEOUT_S = 10


SAFE_TO_REPEAT = re.compile(r"\s*(BEGIN|SELECT)\b", re.IGNORECASE)
"""Statements that may run twice without harm (no write, no lock kept: they run outside a transaction), so one
that met a connection the server had dropped is sent once more on a new connection."""

CONNECTION_LOST = (peewee.OperationalError, peewee.InterfaceError)


class ReconnectingPostgresqlDatabase(peewee.PostgresqlDatabase):
    """Reconnects after a dropped connection (restart, RDS failover, a network cut) instead of failing forever.

    When the server goes away, psycopg2 marks its connection closed but peewee still holds it as open, so every
    later statement of that process fails with `InterfaceError: connection already closed` (coleifer/peewee#2595),
    even long after the server is back. Here, outside a transaction:
    - before a statement (a BEGIN included), a connection psycopg2 knows is closed is dropped and a new one
      opened;
    - a BEGIN or a plain SELECT that fails because the connection turns out to be dead (an idle connection the
      server dropped is only found out by using it) is sent once more on a new connection. Nothing else is
      repeated: a write that met the failure raises (it may or may not have run), and the caller's own retry
      then finds a working connection.
    Inside a transaction nothing is replaced or repeated: the transaction fails as a whole.
    (playhouse's ReconnectMixin, used here before, only knows MySQL's error codes and never matched.)
    """

    def _dead_connection(self) -> bool:
        return not self.is_closed() and bool(self._state.conn.closed) and not self.in_transaction()

    def cursor(self, named_cursor=None):
        if self._dead_connection():
            self._state.reset()  # nothing to close: psycopg2 already has
        return super().cursor(named_cursor)

    def begin(self, isolation_level=None):
        return self._once_more("BEGIN", super().begin, isolation_level)

    def execute_sql(self, sql, params=None):
        return self._once_more(sql, super().execute_sql, sql, params)

    def _once_more(self, sql: str, call, *args):
        try:
            return call(*args)
        except CONNECTION_LOST:
            if not (self._dead_connection() and SAFE_TO_REPEAT.match(sql)):
                raise
        self._state.reset()
        return call(*args)


class EmbeddedSqliteDatabase(peewee.SqliteDatabase):
    """SQLite that keeps the error that ended a transaction visible.

    On some errors (SQLITE_FULL "database or disk is full", SQLITE_IOERR, SQLITE_NOMEM) SQLite rolls the
    transaction back by itself; peewee's ROLLBACK on leaving `atomic()` then raised "cannot rollback - no
    transaction is active" in its place, and every log said that instead of the disk being full. A rollback with
    no transaction open in SQLite is skipped, so the original error propagates."""

    def rollback(self):
        if not self.is_closed() and not self._state.conn.in_transaction:
            return
        super().rollback()


def make_database(url: str) -> peewee.Database:
    """Build (but do not connect) the database named by `url`."""
    scheme = url.split("://", 1)[0].lower()
    params = parse_db_url(url)
    if scheme == "sqlite":
        # IMMEDIATE transactions take the write lock at BEGIN, so two processes doing
        # read-then-write never deadlock on a lock upgrade; WAL lets readers run beside the writer.
        return EmbeddedSqliteDatabase(
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
