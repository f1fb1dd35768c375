"""The healthmon role installs a working healthmon on a host, here localhost as the current user.

The playbook runs for real (site.yml, connection=local, no become) into a temporary directory with
healthmon_manage_services=false: this machine has no systemd, so units are written, not started.
"""

from __future__ import annotations

import grp
import json
import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest

from tests.ansible.support import ROOT, have_ansible, recap, run_playbook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(400),
    pytest.mark.skipif(not have_ansible(), reason="ansible-playbook is not installed in this virtualenv"),
]

HOST = "hm-test-host"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/hm-checks"
ODD_VALUE = "it's \"quoted\" $HOME `x`"
"""An extra variable that only survives the env file if every value is shell-quoted."""
SECRET = "hm-secret-7f3a9c"
"""Stands for a password in the environment file: it must never appear in Ansible's output."""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    base = tmp_path_factory.mktemp("role")
    root = base / "with space"  # paths with a space exercise the quoting in the env file and wrapper
    (root / "systemd").mkdir(parents=True)
    inventory = base / "inventory.ini"
    inventory.write_text(
        f"[healthmon_api]\n{HOST} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        "[healthmon:children]\nhealthmon_api\n"
    )
    db_path = root / "data" / "healthmon.db"
    # A snapshot of the checkout: other work may edit the tree between the two runs, and a changed
    # source rightly makes the second run reinstall.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "__pycache__", "*.egg-info", "build", "dist", "*.db", "node_modules", "tests", "bench"))
    extra = {
        "ansible_become": False,
        "healthmon_source": str(source),
        "healthmon_build_dir": str(base / "build"),
        "healthmon_install_dir": str(root / "opt"),
        "healthmon_config_dir": str(root / "etc"),
        "healthmon_data_dir": str(root / "data"),
        "healthmon_systemd_dir": str(root / "systemd"),
        "healthmon_python": os.path.realpath(sys._base_executable),
        "healthmon_user": os.environ.get("USER") or __import__("getpass").getuser(),
        "healthmon_group": grp.getgrgid(os.getgid()).gr_name,
        "healthmon_create_user": False,
        "healthmon_install_os_packages": False,
        "healthmon_manage_services": False,
        "healthmon_services": ["api", "scheduler", "checker"],
        "healthmon_service_args": {"checker": "--processes 2"},
        "healthmon_database_url": f"sqlite:///{db_path}",
        "healthmon_sqs_queue_url": QUEUE_URL,
        "healthmon_aws_region": "us-east-1",
        "healthmon_fail_threshold": 3,
        "healthmon_port": 8123,
        "healthmon_log_level": "WARNING",
        "healthmon_allowed_private_cidrs": "10.20.0.0/16,fd12::/16",
        "healthmon_extra_env": {"HM_TEST_ODD": ODD_VALUE, "HM_TEST_SECRET": SECRET},
    }
    extra_vars = base / "vars.json"
    extra_vars.write_text(json.dumps(extra))
    first = run_playbook("site.yml", inventory, extra_vars, base / "ansible-home")
    assert recap(first.stdout, HOST)["failed"] == 0, first.stdout[-4000:]
    return {"root": root, "db": db_path, "inventory": inventory, "vars": extra_vars, "base": base,
            "first": first}


def test_it_installs_healthmon_into_a_virtualenv_whose_cli_runs(deployment):
    healthmon = deployment["root"] / "opt" / "venv" / "bin" / "healthmon"
    out = subprocess.run([str(healthmon), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "init-db" in out.stdout and "checker" in out.stdout


def test_it_writes_an_owner_only_environment_file_with_the_given_settings(deployment):
    env_file = deployment["root"] / "etc" / "healthmon.env"
    info = env_file.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    pairs = dict(
        line.split("=", 1) for line in shlex.split(env_file.read_text(), comments=True)
    )
    assert pairs["DATABASE_URL"] == f"sqlite:///{deployment['db']}"
    assert pairs["SQS_QUEUE_URL"] == QUEUE_URL
    assert pairs["AWS_REGION"] == "us-east-1"
    assert pairs["FAIL_THRESHOLD"] == "3"
    assert pairs["SUCCESS_THRESHOLD"] == "2"
    assert pairs["PORT"] == "8123"
    assert pairs["LOG_LEVEL"] == "WARNING"
    assert pairs["ALLOWED_PRIVATE_CIDRS"] == "10.20.0.0/16,fd12::/16"
    assert pairs["HM_TEST_ODD"] == ODD_VALUE
    assert "DATABASE_URL_FILE" not in pairs and "SQS_ENDPOINT_URL" not in pairs


def test_the_wrapper_gives_a_command_exactly_the_environment_the_units_get(deployment):
    wrapper = deployment["root"] / "opt" / "bin" / "healthmon-env"
    code = "import os, json; print(json.dumps({k: os.environ.get(k) for k in ('PORT', 'HM_TEST_ODD')}))"
    out = subprocess.run([str(wrapper), "python", "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"PORT": "8123", "HM_TEST_ODD": ODD_VALUE}


def test_it_creates_the_schema_in_the_configured_database(deployment):
    with sqlite3.connect(deployment["db"]) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert {"monitors", "check_results", "alert_outbox", "schema_migrations"} <= tables
    assert versions and versions == sorted(set(versions))


def test_it_writes_one_hardened_unit_per_service(deployment):
    units = deployment["root"] / "systemd"
    assert sorted(p.name for p in units.iterdir()) == [
        "healthmon-api.service", "healthmon-checker.service", "healthmon-scheduler.service",
    ]
    venv_bin = deployment["root"] / "opt" / "venv" / "bin"
    for name, execstart in [
        ("api", f"{venv_bin}/healthmon api"),
        ("scheduler", f"{venv_bin}/healthmon scheduler"),
        ("checker", f"{venv_bin}/healthmon checker --processes 2"),
    ]:
        lines = (units / f"healthmon-{name}.service").read_text().splitlines()
        assert f"ExecStart={execstart}" in lines
        assert f"EnvironmentFile={deployment['root']}/etc/healthmon.env" in lines
        for directive in ("Restart=on-failure", "KillSignal=SIGTERM", "KillMode=mixed", "TimeoutStopSec=30",
                          "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                          f"ReadWritePaths={deployment['root']}/data"):
            assert directive in lines, (name, directive)


def test_a_second_run_changes_nothing(deployment):
    second = run_playbook("site.yml", deployment["inventory"], deployment["vars"], deployment["base"] / "ansible-home")
    counts = recap(second.stdout, HOST)
    assert counts["failed"] == 0, second.stdout[-4000:]
    assert counts["changed"] == 0, second.stdout[-4000:]


def test_no_secret_reaches_the_playbook_output(deployment):
    assert SECRET in (deployment["root"] / "etc" / "healthmon.env").read_text()
    assert SECRET not in deployment["first"].stdout
