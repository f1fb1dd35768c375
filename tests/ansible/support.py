"""Run ansible-playbook from this virtualenv against the repository's ansible/ directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = ROOT / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOK_TIMEOUT = 240
"""Seconds; a first install resolves ~25 packages from pip's cache (about 20 s here)."""


def have_ansible() -> bool:
    return (BIN / "ansible-playbook").exists()


def run_playbook(playbook: str, inventory: Path, extra_vars: Path, home: Path, env: dict | None = None):
    """Run `ansible-playbook` and return the CompletedProcess (stdout and stderr merged)."""
    full_env = {
        **os.environ,
        **(env or {}),
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_HOME": str(home),  # keep ~/.ansible untouched
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), playbook, "-e", f"@{extra_vars}"],
        cwd=ANSIBLE_DIR, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=PLAYBOOK_TIMEOUT,
    )


def recap(output: str, host: str) -> dict[str, int]:
    """The PLAY RECAP counters of `host`, e.g. {'ok': 22, 'changed': 0, 'failed': 0, ...}."""
    match = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", output, flags=re.MULTILINE)
    assert match, f"no PLAY RECAP line for {host}:\n{output[-3000:]}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}
