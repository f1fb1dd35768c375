"""Raw SQL for the hot paths (scheduler claims, queue receives, batched result recording).

Why not peewee's query builder there: building a query costs 100-300 us of Python per statement (profiled
with py-spy on the checker at 250 checks/s: ~55% of a worker's CPU was peewee composing SQL, not running
it). These helpers run a fixed SQL text with parameters through the bound database's own cursor, inside
whatever transaction peewee has open, so they mix freely with ORM calls in one `database.atomic()`.

Values are passed exactly as peewee passes them (datetimes as `datetime` objects, booleans as bools), so
rows written here read back identically through the models; SQLite returns datetimes as text, which
`as_datetime` parses. Table and column names come from code, never from input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from psycopg2.extras import execute_batch, execute_values

from healthmon.db import database, is_postgres

PG_PAGE_SIZE = 200
"""Statements (execute_batch) or rows (execute_values) per round trip to PostgreSQL."""

SQLITE_MAX_PARAMS = 30_000
"""Below SQLite's default bound-parameter limit (32,766 since 3.32)."""


def placeholder() -> str:
    """The driver's parameter marker: `%s` for psycopg2, `?` for sqlite3."""
    return "%s" if is_postgres() else "?"


def sql(text: str) -> str:
    """`text` written with `?` markers, converted for the bound driver."""
    return text.replace("?", "%s") if is_postgres() else text


def marks(n: int) -> str:
    """`?, ?, ...` (n markers) for an IN list, in the bound driver's style."""
    return ", ".join([placeholder()] * n)


def query(text: str, params: Sequence = ()) -> list[tuple]:
    """Run a SELECT (or a statement with RETURNING) written with `?` markers; all rows as tuples."""
    cursor = database.execute_sql(sql(text), tuple(params))
    return cursor.fetchall()


def execute(text: str, params: Sequence = ()) -> int:
    """Run one statement written with `?` markers; the affected row count."""
    return database.execute_sql(sql(text), tuple(params)).rowcount


def execute_many(text: str, rows: Sequence[Sequence]) -> None:
    """Run one statement (written with `?` markers) once per row: sqlite3's executemany (a C loop), or
    psycopg2's execute_batch (PG_PAGE_SIZE statements per round trip)."""
    if not rows:
        return
    cursor = database.cursor()
    if is_postgres():
        execute_batch(cursor, sql(text), rows, page_size=PG_PAGE_SIZE)
    else:
        cursor.executemany(text, rows)


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence], *, ignore_conflicts: bool = False,
                returning: str | None = None) -> list[tuple]:
    """Insert `rows` (tuples in `columns` order). With `ignore_conflicts` a row violating a unique index is
    skipped (INSERT OR IGNORE / ON CONFLICT DO NOTHING). With `returning` (a column list), returns those
    columns of the inserted rows; else []."""
    if not rows:
        return []
    cols = ", ".join(columns)
    cursor = database.cursor()
    if is_postgres():
        tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        if returning:
            tail += f" RETURNING {returning}"
        text = f"INSERT INTO {table} ({cols}) VALUES %s{tail}"  # noqa: S608 - names from code
        return execute_values(cursor, text, rows, page_size=PG_PAGE_SIZE, fetch=bool(returning)) or []
    verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
    row_marks = "(" + ", ".join("?" * len(columns)) + ")"
    if not returning:
        cursor.executemany(f"{verb} INTO {table} ({cols}) VALUES {row_marks}", rows)  # noqa: S608
        return []
    out: list[tuple] = []
    per = max(1, SQLITE_MAX_PARAMS // len(columns))
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        text = f"{verb} INTO {table} ({cols}) VALUES {', '.join([row_marks] * len(chunk))} RETURNING {returning}"  # noqa: S608
        out.extend(cursor.execute(text, [v for row in chunk for v in row]).fetchall())
    return out


def chunks(items: Sequence, size: int = 500) -> Iterable[Sequence]:
    """`items` in slices of at most `size` (IN lists stay well under every driver's parameter limit)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def as_datetime(value) -> dt.datetime | None:
    """A datetime column's value as a naive datetime: psycopg2 returns datetimes, sqlite3 returns the text
    peewee wrote ('YYYY-MM-DD HH:MM:SS[.ffffff]')."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)
