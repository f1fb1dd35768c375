"""ansible/ passes ansible-lint's production profile (the default)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.ansible.support import ANSIBLE_DIR, BIN

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_the_playbooks_and_roles_pass_ansible_lint(tmp_path):
    lint = BIN / "ansible-lint"
    if not lint.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("ansible-lint is not installed (pip install -r requirements-dev.txt)")
        pytest.skip("ansible-lint is not installed")
    env = {**os.environ, "ANSIBLE_HOME": str(tmp_path), "NO_COLOR": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run([str(lint), "--offline", "--profile", "production"], cwd=ANSIBLE_DIR, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=170)
    assert out.returncode == 0, out.stdout[-4000:]
