"""terraform/*.tf as Python, for tests that check the configuration or documents against it.

The HCL is parsed with python-hcl2 (no provider, no network). python-hcl2 keeps string quotes and
leaves expressions as "${...}" strings, so `value` strips quotes and resolves the plain
`var.X` / `local.X.Y` references the assertions need.
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2

TF_DIR = Path(__file__).resolve().parents[2] / "terraform"


def unquote(text):
    if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _load() -> dict:
    """All terraform/*.tf merged: {'variable': {name: body}, 'output': ..., 'locals': {...},
    'resource': {(type, name): body}, 'data': {(type, name): body}}."""
    conf = {"variable": {}, "output": {}, "locals": {}, "resource": {}, "data": {}}
    for path in sorted(TF_DIR.glob("*.tf")):
        with path.open(encoding="utf-8") as fh:
            parsed = hcl2.load(fh)
        for block in parsed.get("locals", []):
            conf["locals"].update({k: v for k, v in block.items() if not k.startswith("__")})
        for kind in ("variable", "output"):
            for block in parsed.get(kind, []):
                conf[kind].update({unquote(k): v for k, v in block.items()})
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        conf[kind][(unquote(rtype), unquote(name))] = body
    return conf


CONF = _load()


def value(raw):
    """A literal as Python: quotes stripped, `${var.X}` -> X's default, `${local.a.b}` -> that local."""
    raw = unquote(raw)
    if isinstance(raw, list):
        return [value(v) for v in raw]
    if isinstance(raw, dict):
        return {k: value(v) for k, v in raw.items() if not k.startswith("__")}
    if not isinstance(raw, str):
        return raw
    m = re.fullmatch(r"\$\{var\.(\w+)\}", raw)
    if m:
        return value(CONF["variable"][m.group(1)]["default"])
    m = re.fullmatch(r"\$\{local\.([\w.-]+)\}", raw)
    if m:
        node = CONF["locals"]
        for part in m.group(1).split("."):
            node = node[part]
        return value(node)
    m = re.fullmatch(r"\$\{([\d\s*]+)\}", raw)  # constant products such as 24 * 60 * 60
    if m:
        product = 1
        for factor in m.group(1).split("*"):
            product *= int(factor)
        return product
    return raw


def resource(rtype: str, name: str) -> dict:
    return CONF["resource"][(rtype, name)]


def containers() -> dict:
    return value("${local.containers}")
