"""API keys are shown once, stored only as a hash, and can be revoked."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys

import pytest

from healthmon import apikeys
from healthmon.cli import build_parser
from healthmon.db import database, utcnow
from healthmon.models import ApiKey


def test_keys_are_prefixed_by_kind_and_carry_32_random_bytes(db):
    _, rw = apikeys.create_key("ci")
    _, ro = apikeys.create_key("dashboard", read_only=True)
    assert re.fullmatch(r"hmw_[A-Za-z0-9_-]{43}", rw)
    assert re.fullmatch(r"hmr_[A-Za-z0-9_-]{43}", ro)


def test_only_the_hash_and_a_short_prefix_are_stored(db):
    row, token = apikeys.create_key("ci")
    stored = ApiKey.get_by_id(row.id)
    assert stored.key_hash == apikeys.hash_key(token) and len(stored.key_hash) == 64
    assert stored.prefix == token[4:12]
    assert token not in repr(database.execute_sql("SELECT * FROM api_keys").fetchall())


def test_verify_finds_the_key_and_refuses_others(db):
    row, token = apikeys.create_key("ci")
    assert apikeys.verify(token).id == row.id
    assert apikeys.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert apikeys.verify("hmr_" + token[4:]) is None  # kind is part of the key
    for bad in (None, "", "Bearer x", token + " ", "hmx_" + token[4:]):
        assert apikeys.verify(bad) is None


def test_a_revoked_key_no_longer_verifies(db):
    row, token = apikeys.create_key("ci")
    assert apikeys.revoke(row.id) is True
    assert apikeys.verify(token) is None
    assert apikeys.revoke(row.id) is False
    assert apikeys.revoke(999) is False


def test_last_used_is_written_at_most_once_a_minute(db):
    row, token = apikeys.create_key("ci")
    apikeys.verify(token)
    first = ApiKey.get_by_id(row.id).last_used_at
    assert first is not None
    apikeys.verify(token)
    assert ApiKey.get_by_id(row.id).last_used_at == first
    ApiKey.update(last_used_at=utcnow() - dt.timedelta(minutes=2)).where(ApiKey.id == row.id).execute()
    apikeys.verify(token)
    assert ApiKey.get_by_id(row.id).last_used_at > first


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_key_needs_a_sensible_name(db, name):
    with pytest.raises(ValueError):
        apikeys.create_key(name)


def _cli(settings, argv: list[str]) -> int:
    args: argparse.Namespace = build_parser().parse_args(["api-key", *argv])
    return apikeys.run_cli(settings, args)


def test_the_cli_prints_a_key_once_then_lists_without_it(settings, capsys):
    assert _cli(settings, ["create", "--name", "deploy bot"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert re.fullmatch(r"hmw_[A-Za-z0-9_-]{43}", token)
    assert "will not be shown again" in err
    assert _cli(settings, ["create", "--name", "grafana", "--read-only"]) == 0
    ro_token = capsys.readouterr().out.strip()
    assert ro_token.startswith("hmr_")

    assert _cli(settings, ["list"]) == 0
    listing = capsys.readouterr().out
    assert "deploy bot" in listing and "read-only" in listing and "read-write" in listing
    assert token[:12] + "…" in listing
    assert token not in listing and token[12:] not in listing and ro_token[12:] not in listing

    assert _cli(settings, ["revoke", "1"]) == 0
    assert _cli(settings, ["revoke", "1"]) == 1
    assert "no active API key" in capsys.readouterr().err
    assert _cli(settings, ["list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("1 "))
    assert len(re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line)) == 2  # created and revoked
    assert apikeys.verify(token) is None


def test_the_cli_explains_a_missing_schema(tmp_path, capsys):
    from tests.conftest import make_settings

    settings = make_settings(database_url=f"sqlite:///{tmp_path}/empty.db")
    assert _cli(settings, ["list"]) == 1
    assert "healthmon init-db" in capsys.readouterr().err


# --- The initial key (HEALTHMON_INITIAL_API_KEY, registered by `healthmon init-db`) ----------------

INITIAL = "hmw_" + "a1B2c3D4" * 6  # the shape Terraform's initial key has: hmw_ + 48 letters and digits


def test_an_initial_key_is_registered_once_by_its_hash_and_then_verifies(db):
    assert apikeys.register_initial_key(INITIAL) == "registered"
    assert apikeys.register_initial_key(INITIAL) == "present"
    (row,) = ApiKey.select()
    assert (row.name, row.read_only, row.key_hash) == ("initial", False, apikeys.hash_key(INITIAL))
    assert INITIAL not in repr(database.execute_sql("SELECT * FROM api_keys").fetchall())
    assert apikeys.verify(INITIAL).id == row.id


def test_a_revoked_initial_key_stays_revoked_when_init_db_runs_again(db):
    apikeys.register_initial_key(INITIAL)
    apikeys.revoke(ApiKey.get().id)
    assert apikeys.register_initial_key(INITIAL) == "revoked"
    assert ApiKey.select().count() == 1 and apikeys.verify(INITIAL) is None


def test_a_read_only_initial_key_is_read_only(db):
    apikeys.register_initial_key("hmr_" + INITIAL[4:])
    assert ApiKey.get().read_only is True


@pytest.mark.parametrize("value", ["", "   "])
def test_an_unset_or_blank_initial_key_means_none(value):
    assert apikeys.initial_key_from_env({}) is None
    assert apikeys.initial_key_from_env({"HEALTHMON_INITIAL_API_KEY": value}) is None


@pytest.mark.parametrize("value", ["hmw_short", "secret-" + "x" * 50, "hmw_" + "x" * 45 + "!"])
def test_a_malformed_initial_key_is_refused_without_echoing_it(value):
    with pytest.raises(ValueError) as err:
        apikeys.initial_key_from_env({"HEALTHMON_INITIAL_API_KEY": value})
    assert "HEALTHMON_INITIAL_API_KEY" in str(err.value) and value not in str(err.value)


def _init_db(tmp_path, **extra):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PATH": "/usr/bin:/bin", **extra}
    return subprocess.run([sys.executable, "-m", "healthmon.cli", "init-db"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_init_db_registers_the_initial_key_idempotently_and_never_prints_it(tmp_path):
    lines = []
    for _ in range(2):
        proc = _init_db(tmp_path, HEALTHMON_INITIAL_API_KEY=INITIAL, LOG_LEVEL="DEBUG")
        assert proc.returncode == 0, proc.stderr
        assert INITIAL not in proc.stdout + proc.stderr and INITIAL[4:12] not in proc.stdout + proc.stderr
        lines.append(proc.stdout.strip().splitlines())
    assert lines == [
        ["[DB INIT] monitors table ensured", "[DB INIT] registered the initial API key (HEALTHMON_INITIAL_API_KEY)"],
        ["[DB INIT] monitors table ensured", "[DB INIT] the initial API key is already registered"],
    ]


def test_init_db_stops_before_touching_the_database_on_a_malformed_initial_key(tmp_path):
    proc = _init_db(tmp_path, HEALTHMON_INITIAL_API_KEY="hmw_oops")
    assert proc.returncode == 2
    assert proc.stderr.startswith("healthmon: configuration error: HEALTHMON_INITIAL_API_KEY is not valid")
    assert "hmw_oops" not in proc.stderr and not (tmp_path / "x.db").exists()
