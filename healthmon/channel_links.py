"""A monitor's links to channels (healthmon.models.MonitorChannel), as the API writes them.

Ids are checked to exist in the transaction that links them, the channel rows locked FOR SHARE on
PostgreSQL so a concurrent delete of one waits for the commit (SQLite's write lock already serialises).
"""

from __future__ import annotations

from collections.abc import Sequence

from healthmon import sql
from healthmon.db import is_postgres

MAX_CHANNEL_ID = 2**31 - 1


def first_missing(lists: Sequence[Sequence[int]]) -> tuple[int, int] | None:
    """(list index, id) of the first id in `lists` (one list per monitor) that no channel has, or None.
    One query per 500 distinct ids."""
    wanted = sorted({cid for ids in lists for cid in ids if 0 < cid <= MAX_CHANNEL_ID})
    found: set[int] = set()
    share = " FOR SHARE" if is_postgres() else ""
    for chunk in sql.chunks(wanted):
        found.update(row[0] for row in sql.query(
            f"SELECT id FROM channels WHERE id IN ({sql.marks(len(chunk))}){share}", chunk))
    for index, ids in enumerate(lists):
        for cid in ids:
            if cid not in found:
                return index, cid
    return None


def replace_links(monitor_ids: Sequence[int], lists: Sequence[Sequence[int]]) -> None:
    """Make each monitor's links exactly its list (ids already checked by `first_missing`)."""
    sql.execute_many("DELETE FROM monitor_channels WHERE monitor_id = ?", [(mid,) for mid in monitor_ids])
    rows = [(mid, cid) for mid, ids in zip(monitor_ids, lists, strict=True) for cid in ids]
    if rows:
        sql.insert_rows("monitor_channels", ("monitor_id", "channel_id"), rows)
