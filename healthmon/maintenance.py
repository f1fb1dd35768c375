"""Maintenance windows as stored rows, read as domain rules (healthmon.domain.maintenance).

`load_rules()` reads the whole (small) `maintenance_windows` table in one query. The recorder calls
`active_now(now)` once per batch: the rules come from a per-process cache refreshed every RULES_CACHE_S
seconds, and which windows are on is computed from them at the batch's own time, so a window starts and
ends on time in every checker; only a change to the windows (create, edit, delete) takes up to
RULES_CACHE_S to reach a checker in another process (this process's API writes refresh it at once).
Nothing here knows Flask.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

from healthmon import sql
from healthmon.db import database, utcnow
from healthmon.domain.maintenance import Occurrence, Rule, active_window, active_windows, recurrence_of
from healthmon.domain.status import MAINTENANCE, PAUSED

RULES_CACHE_S = 5.0
"""How stale the recorder's copy of the windows may be (the staleness bound documented in docs/alerts.md)."""

_COLUMNS = "id, name, all_monitors, monitor_ids, starts_at, ends_at, recurrence, timezone"


def build_rule(window_id: int, name: str, all_monitors: bool, monitor_ids, starts_at, ends_at,
               recurrence: dict | None, timezone: str) -> Rule:
    """A Rule from a window's stored values (monitor_ids a list, recurrence the API's object)."""
    return Rule(window_id=window_id, name=name, all_monitors=bool(all_monitors),
                monitor_ids=frozenset(monitor_ids or ()), starts_at=sql.as_datetime(starts_at),
                ends_at=sql.as_datetime(ends_at),
                recurrence=recurrence_of(recurrence, timezone) if recurrence else None)


def rule_of(row: tuple) -> Rule:
    """A Rule from a maintenance_windows row in _COLUMNS order (JSON columns as text)."""
    window_id, name, all_monitors, monitor_ids, starts_at, ends_at, recurrence, timezone = row
    return build_rule(window_id, name, all_monitors, json.loads(monitor_ids) if monitor_ids else None,
                      starts_at, ends_at, json.loads(recurrence) if recurrence else None, timezone)


def load_rules() -> list[Rule]:
    """Every stored window as a Rule, by id (one query)."""
    return [rule_of(row) for row in sql.query(f"SELECT {_COLUMNS} FROM maintenance_windows ORDER BY id")]  # noqa: S608


class _RulesCache:
    """The rules of the bound database, reloaded after RULES_CACHE_S (or after `forget`). Keyed by the
    database object, so binding another database (a test, a CLI command) never reads the old one's rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db = None
        self._rules: list[Rule] = []
        self._loaded_at = float("-inf")

    def rules(self) -> list[Rule]:
        with self._lock:
            fresh = self._db is database.obj and time.monotonic() - self._loaded_at < RULES_CACHE_S
            if fresh:
                return self._rules
        rules = load_rules()
        with self._lock:
            self._db, self._rules, self._loaded_at = database.obj, rules, time.monotonic()
        return rules

    def forget(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")


RULES = _RulesCache()


def active_now(now: dt.datetime) -> list[tuple[Rule, Occurrence]]:
    """The windows on at `now` (cached rules; see the module docstring). At most one query, none while the
    cache is fresh."""
    return active_windows(RULES.rules(), now)


_SHOWN: dict = {"rules": None, "at": None, "active": []}


def shown_now(monitor_id: int) -> Occurrence | None:
    """The occurrence covering `monitor_id` now, for display (the API, the status page, /stats): which
    windows are on is computed once per second and rules set, not once per monitor shown."""
    rules, now = RULES.rules(), utcnow().replace(microsecond=0)
    if _SHOWN["rules"] is not rules or _SHOWN["at"] != now:
        _SHOWN.update(rules=rules, at=now, active=active_windows(rules, now))
    return active_window(_SHOWN["active"], monitor_id)


def displayed_status(monitor_id: int, status: str) -> str:
    """What the status page, /stats and /metrics show: MAINTENANCE while a window covers the monitor (a
    paused one stays PAUSED), else its recorded status."""
    if status != PAUSED and shown_now(monitor_id) is not None:
        return MAINTENANCE
    return status
