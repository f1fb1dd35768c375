"""The environment variables healthmon's Settings read, found in healthmon/settings.py's source, so
documentation and deployment files (README, compose, Ansible) can be checked against them."""

from __future__ import annotations

import re
from pathlib import Path

SETTINGS_SOURCE = Path(__file__).resolve().parents[2] / "healthmon" / "settings.py"


def variables_read_by_settings() -> set[str]:
    source = SETTINGS_SOURCE.read_text()
    names = set(re.findall(r'_\w+\(\s*env,\s*"([A-Z][A-Z0-9_]+)"', source))
    names |= set(re.findall(r'env\.get\("([A-Z][A-Z0-9_]+)"\)', source))
    names |= {f"{n}_FILE" for n in re.findall(r'_secret\(env,\s*"([A-Z_]+)"', source)}
    return names
