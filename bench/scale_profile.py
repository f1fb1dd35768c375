"""py-spy for bench/scale.py: record each healthmon process during the window, and read the raw output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PROFILE_EXT = {"flamegraph": "svg", "speedscope": "json", "raw": "txt"}


def find_py_spy(repo: Path) -> str | None:
    """py-spy on PATH, beside this interpreter, or in the tree under test's virtualenv."""
    for candidate in (shutil.which("py-spy"), Path(sys.executable).parent / "py-spy", repo / ".venv/bin/py-spy"):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def start_profiles(py_spy: str, pids: list[tuple[int, str]], directory: Path, seconds: int, fmt: str,
                   native: bool) -> list[tuple[subprocess.Popen, str]]:
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for pid, role in pids:
        path = directory / f"{role}-{pid}.{PROFILE_EXT[fmt]}"
        cmd = [py_spy, "record", "--pid", str(pid), "-d", str(seconds), "-o", str(path), "--format", fmt]
        cmd += ["--native"] if native else ["--nonblocking"]
        log = open(directory / f"{role}-{pid}.log", "wb")  # noqa: SIM115 - the child keeps it
        out.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), str(path)))
    return out


def top_self_frames(raw_path: str, n: int = 15) -> list[tuple[str, int, float]]:
    """From py-spy's raw (collapsed) output: the n leaf frames with the most samples (self time)."""
    counts: Counter[str] = Counter()
    total = 0
    with open(raw_path) as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            counts[stack.split(";")[-1]] += int(count)
            total += int(count)
    return [(frame, c, 100 * c / total) for frame, c in counts.most_common(n)]
