"""A PostgreSQL connection the server dropped (restart, failover, an administrator's pg_terminate_backend) is
replaced by the next use instead of failing forever with `connection already closed` (healthmon/db.py).

The drop is real: another connection terminates this process's backend on the test server.
"""

from __future__ import annotations

import peewee
import psycopg2
import pytest

from healthmon.db import bind, database
from healthmon.models import Monitor

LOST = (peewee.OperationalError, peewee.InterfaceError)


@pytest.fixture
def pg(pg_url):
    bind(pg_url)
    database.execute_sql("TRUNCATE monitors RESTART IDENTITY CASCADE")
    yield pg_url
    if not database.is_closed() and not database.in_transaction():
        database.close()


def _terminate_our_backend(url: str) -> None:
    """Have the server end this process's current session, as a restart would."""
    pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    killer = psycopg2.connect(url, connect_timeout=3)
    killer.autocommit = True
    with killer.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    killer.close()


def test_a_select_after_the_server_dropped_the_idle_connection_succeeds(pg):
    _terminate_our_backend(pg)
    assert database.execute_sql("SELECT 1").fetchone() == (1,)
    assert Monitor.select().count() == 0


def test_a_transaction_after_the_server_dropped_the_idle_connection_commits(pg):
    _terminate_our_backend(pg)
    with database.atomic():
        Monitor.create(name="m", url="http://127.0.0.1/", check_interval=60, timeout=5)
    assert Monitor.select().count() == 1


def test_a_write_outside_a_transaction_is_not_repeated_but_the_next_statement_works(pg):
    Monitor.create(name="m", url="http://127.0.0.1/", check_interval=60, timeout=5)
    _terminate_our_backend(pg)
    with pytest.raises(LOST):  # it may or may not have run: only the caller can know whether to repeat it
        database.execute_sql("UPDATE monitors SET name = 'renamed'")
    assert [m.name for m in Monitor.select()] == ["m"]


def test_a_transaction_cut_in_the_middle_fails_as_a_whole_and_the_next_one_commits(pg):
    with pytest.raises(LOST), database.atomic():
        Monitor.create(name="lost", url="http://127.0.0.1/", check_interval=60, timeout=5)
        _terminate_our_backend(pg)
        Monitor.create(name="lost too", url="http://127.0.0.1/", check_interval=60, timeout=5)
    with database.atomic():
        Monitor.create(name="kept", url="http://127.0.0.1/", check_interval=60, timeout=5)
    assert [m.name for m in Monitor.select()] == ["kept"]
