"""docker/compose.yml runs the stack as the app expects it: every variable is one healthmon reads and
parses, every command is a healthmon command matching its image, and the services reach each other
where the URLs say (no Docker engine needed: the file is read as YAML)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from healthmon.cli import build_parser
from healthmon.settings import Settings
from tests.support.settings_env import variables_read_by_settings

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if "build" in s}
# Read by `healthmon init-db` (healthmon/apikeys.py) and by boto3, not by Settings.
EXTRA_VARIABLES = {"HEALTHMON_INITIAL_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def _env(service: dict) -> dict[str, str]:
    """The service's environment with `${VAR:-default}` resolved to its default (nothing exported)."""
    return {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in service["environment"].items()}


def _dockerfile_cmd(target: str) -> list[str]:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    stage = text.split(f"\nFROM base AS {target}\n", 1)[1].split("\nFROM ", 1)[0]
    return [part.strip().strip('"') for part in re.search(r"^CMD \[(.*)\]$", stage, re.MULTILINE).group(1).split(",")]


def test_it_runs_postgres_an_sqs_endpoint_the_two_inits_and_the_three_processes():
    assert set(SERVICES) == {"postgres", "sqs", "queue-init", "db-init", "api", "scheduler", "worker"}
    assert set(OURS) == {"queue-init", "db-init", "api", "scheduler", "worker"}


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_variable_is_one_healthmon_reads_and_accepts(name):
    env = _env(OURS[name])
    unknown = set(env) - variables_read_by_settings() - EXTRA_VARIABLES
    assert not unknown, f"{name}: healthmon reads no {sorted(unknown)}"
    settings = Settings.from_env(env)  # raises SettingsError on a bad value
    assert settings.queue_backend == "sqs" and not settings.is_sqlite


@pytest.mark.parametrize("name", ["db-init", "api", "scheduler", "worker"])
def test_each_process_runs_the_healthmon_command_of_its_image(name):
    service = OURS[name]
    command = service["command"]
    assert command == _dockerfile_cmd(service["build"]["target"])
    assert command[0] == "healthmon"
    build_parser().parse_args(command[1:])  # exits on an unknown command or flag


def test_the_images_are_built_from_the_repository_with_the_guides_names():
    for name, service in OURS.items():
        build = service["build"]
        dockerfile = (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).resolve()
        assert dockerfile == ROOT / "docker" / "Dockerfile", name
        assert service["image"] == f"hm-{build['target']}", name


def test_the_urls_point_at_the_services_that_serve_them():
    env = _env(OURS["api"])
    db = urlsplit(env["DATABASE_URL"])
    pg = SERVICES["postgres"]["environment"]
    assert (db.hostname, db.port, db.username, db.password, db.path) == (
        "postgres", 5432, pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], "/" + pg["POSTGRES_DB"])
    endpoint = urlsplit(env["SQS_ENDPOINT_URL"])
    assert endpoint.hostname == "sqs" and str(endpoint.port) == SERVICES["sqs"]["environment"]["MOTO_PORT"]
    assert env["SQS_QUEUE_URL"].startswith(env["SQS_ENDPOINT_URL"] + "/")
    assert env["SQS_QUEUE_URL"].endswith("/health-monitor-checks")  # terraform/sqs.tf's name
    assert SERVICES["api"]["ports"] == [f"127.0.0.1:{env['PORT']}:{env['PORT']}"]


def test_the_processes_start_after_the_schema_and_the_queue_exist():
    for name in ("api", "scheduler", "worker"):
        assert OURS[name]["depends_on"] == {
            "db-init": {"condition": "service_completed_successfully"},
            "queue-init": {"condition": "service_completed_successfully"},
        }, name
    assert OURS["db-init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert OURS["queue-init"]["depends_on"] == {"sqs": {"condition": "service_healthy"}}


def test_the_queue_gets_the_apps_visibility_timeout_and_receive_count():
    script = "\n".join(OURS["queue-init"]["command"])
    defaults = Settings()
    assert f'"VisibilityTimeout": "{defaults.queue_visibility_timeout}"' in script
    assert f'"maxReceiveCount": "{defaults.queue_max_receives}"' in script


def test_the_worker_gets_time_to_drain_and_an_init_process():
    worker = OURS["worker"]
    assert worker["init"] is True
    assert int(worker["stop_grace_period"].rstrip("s")) > Settings().shutdown_grace


def test_moto_is_the_version_the_tests_use():
    pinned = re.search(r"^moto\[[^\]]*\]==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), re.MULTILINE).group(1)
    assert SERVICES["sqs"]["image"] == f"motoserver/moto:{pinned}"


def test_the_initial_api_key_is_passed_to_db_init_only():
    assert OURS["db-init"]["environment"]["HEALTHMON_INITIAL_API_KEY"] == "${HEALTHMON_INITIAL_API_KEY:-}"
    assert all("HEALTHMON_INITIAL_API_KEY" not in s["environment"] for n, s in OURS.items() if n != "db-init")
