"""Row ids that are never given twice, on SQLite too.

PostgreSQL's sequences never reuse an id. SQLite (without AUTOINCREMENT, which an existing table cannot
gain without a rebuild) gives a new row the table's highest id + 1, so deleting the newest row hands its id
to the next one. For monitors that made stale links, scripts and queued jobs point at another monitor; for
state changes it was worse: the outbox keys alerts by state change id and outlives a deleted monitor's
rows, so the next transition's alert collided with the old one and every recording batch failed until the
old alert was pruned. `fresh_ids` keeps the highest id ever given per table (IdHighWater) and gives ids
above it. A table created later can simply declare `models.NeverReusedAutoField` (AUTOINCREMENT) instead.
"""

from __future__ import annotations

import peewee as pw

from healthmon import sql
from healthmon.db import is_postgres

_TAKE = (
    'INSERT INTO id_high_water ("table", value) VALUES (?, COALESCE((SELECT MAX(id) FROM {table}), 0) + ?) '
    'ON CONFLICT ("table") DO UPDATE SET value = MAX(id_high_water.value + ?, excluded.value) RETURNING value'
)
"""One statement (on the recording path of every transition): the new high water is count above the larger
of the stored one and the table's highest id (rows inserted by other means count too)."""


def fresh_ids(model: type[pw.Model], count: int) -> list[int] | None:
    """`count` ids for new rows of `model` never given before, or None on PostgreSQL (let the sequence do it).
    Call inside the inserting transaction: on SQLite it holds the write lock, so no two callers get the same."""
    if is_postgres():
        return None
    table = model._meta.table_name
    ((top,),) = sql.query(_TAKE.format(table=table), (table, count, count))
    return list(range(top - count + 1, top + 1))


def fresh_id(model: type[pw.Model]) -> dict:
    """`{"id": <fresh id>}` for a `model.create(**fresh_id(model), ...)`, or {} on PostgreSQL."""
    ids = fresh_ids(model, 1)
    return {"id": ids[0]} if ids else {}
