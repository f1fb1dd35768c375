"""Shared fixtures: every data-layer test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TEST_DATABASE_URL (default: the local server's `test` database). Each pytest
session creates its own scratch database on that server and drops it at the end, so parallel runs never
share tables. Without a server the PostgreSQL variants are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from healthmon.db import bind, database
from healthmon.migrations import init_db
from healthmon.models import MODELS
from healthmon.settings import Settings

FAULTS_DIR = "tests/faults/"


def pytest_collection_modifyitems(config, items):
    """For `make test` (pytest-xdist, `--dist loadgroup`): every file stays whole on one worker, as with
    `--dist loadfile`, except tests/faults, which runs as one group, one file after another, and first. Each
    fault test loads the machine on purpose (kills, outages, 10,000 monitors); two of them at once on the two
    workers made both miss their recovery deadlines, a failure of the test bed, not of healthmon."""
    items.sort(key=lambda item: not item.nodeid.startswith(FAULTS_DIR))  # stable: file order kept otherwise
    for item in items:
        path = item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group("faults" if path.startswith(FAULTS_DIR) else path))


PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class PostgresServer:
    """Creates scratch databases on the test server and drops them all at the end of the session."""

    def __init__(self, url: str):
        import psycopg2

        self.url = url
        self._conn = psycopg2.connect(url, connect_timeout=3)
        self._conn.autocommit = True
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"healthmon_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self._conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _with_dbname(self.url, name)

    def drop_all(self) -> None:
        with self._conn.cursor() as cur:
            for name in self.created:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._conn.close()


@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL test server, or skip (fail under CI=true) when it is not reachable."""
    try:
        server = PostgresServer(PG_SERVER_URL)
    except Exception as exc:  # noqa: BLE001
        message = f"PostgreSQL not reachable at {urlsplit(PG_SERVER_URL).netloc}: {exc.__class__.__name__}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def pg_url(pg_server):
    """One scratch database for the in-process tests of this session, schema created once."""
    url = pg_server.create_database()
    bind(url)
    init_db()
    database.close()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A clean, migrated database URL: a new SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/healthmon.db"
        bind(url)
        init_db()
    else:
        url = request.getfixturevalue("pg_url")
        bind(url)
        tables = ", ".join(f'"{m._meta.table_name}"' for m in MODELS)
        database.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    yield url
    if not database.is_closed():
        database.close()


@pytest.fixture
def db(db_url):
    """The bound, migrated database (see db_url)."""
    return database


def make_settings(**overrides) -> Settings:
    """Settings as a test deployment would have them: short intervals allowed, loopback targets allowed."""
    env = {"MIN_CHECK_INTERVAL": "1", "ALLOWED_PRIVATE_CIDRS": "127.0.0.0/8"}
    env.update({k.upper(): str(v) for k, v in overrides.items()})
    return Settings.from_env(env)


@pytest.fixture
def settings(db_url):
    return make_settings(database_url=db_url)
