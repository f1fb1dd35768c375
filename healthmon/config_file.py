"""The config-as-code file of `healthmon apply` / `healthmon export`: YAML parsed with the line of every
value, `${VAR}` expanded from the environment, `defaults:` merged, and every monitor validated by the API's
own schema before any request. Problems read `monitors.yaml:12: monitors[3].check_interval: <reason>`.

Format (docs/config-as-code.md):
    defaults: {check_interval: 60, tags: [prod]}   # optional: merged into each monitor
    monitors: [{key: api-health, name: ..., url: ..., <any field of the API>, channels: [ops-slack]}]
    channels: [{name: ops-slack, type: slack, config: {webhook_url: "${SLACK_WEBHOOK_URL}"}}]

`defaults` fill what a monitor leaves out; its `tags` are put before the monitor's own. A monitor is a full
replace (as PUT): what neither gives takes the API's default. The check_interval floor checked here is the
lowest any server allows (1); the server's own MIN_CHECK_INTERVAL is checked by the server, and its answer
is mapped back to the file's line the same way. Values are never printed: a secret may be one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

MONITOR_FIELDS_LOCAL = ("channels", "escalation_channel")
"""Fields of a monitor whose file form differs from the API's: channel names instead of ids, mapped by apply."""

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$")
TOP_LEVEL = ("defaults", "monitors", "channels")
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader where PyYAML has it (the same nodes and line marks): composing 10,000 monitors with the
pure-Python one was half the time of `healthmon apply` (py-spy on bench/apply.py)."""


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.reason}" if self.path else \
            f"{self.file}:{self.line}: {self.reason}"


class ConfigError(Exception):
    """The file cannot be applied; `problems` says where and why, each line a Problem."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def path_text(path: tuple) -> str:
    """("monitors", 3, "assertions", 0, "value") as `monitors[3].assertions[0].value`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class ConfigFile:
    """A parsed file: `monitors` with defaults merged and variables expanded, `channels`, and the line of
    every value by its path (a merged default's is the line in `defaults`)."""

    name: str
    monitors: list[dict] = field(default_factory=list)
    channels: list[dict] = field(default_factory=list)
    lines: dict[tuple, int] = field(default_factory=dict)

    def line_of(self, path: tuple) -> int:
        """The line of `path`, or of its nearest ancestor the file has."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: tuple, reason: str) -> Problem:
        return Problem(self.name, self.line_of(path), path_text(path), reason)


class _Reader:
    """Node tree -> Python values, recording lines and expanding ${VAR}."""

    def __init__(self, name: str, loader, env: Mapping[str, str]):
        self.name, self.loader, self.env = name, loader, env
        self.lines: dict[tuple, int] = {}
        self.problems: list[Problem] = []

    def value(self, node: yaml.Node, path: tuple):
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node)
                if not isinstance(key, str):
                    self._problem(key_node, path, f"a key must be text, not {key!r}")
                    continue
                if key in out:
                    self._problem(key_node, (*path, key), "given twice")
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.value(value_node, (*path, key))
                self.lines[(*path, key)] = key_node.start_mark.line + 1  # the key's line, not its value's
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        scalar = self.loader.construct_object(node)
        return self._expand(scalar, node, path) if isinstance(scalar, str) else scalar

    def _expand(self, text: str, node: yaml.Node, path: tuple) -> str:
        def one(match: re.Match) -> str:
            if match[0] == "$$":
                return "$"
            if match[1] not in self.env:
                self._problem(node, path, f"environment variable {match[1]} is not set")
                return ""
            return self.env[match[1]]
        return _VAR.sub(one, text)

    def _problem(self, node: yaml.Node, path: tuple, reason: str) -> None:
        self.problems.append(Problem(self.name, node.start_mark.line + 1, path_text(path), reason))


def parse(text: str, name: str = "config.yaml", env: Mapping[str, str] | None = None) -> ConfigFile:
    """Parse (not yet validate) a file. Raises ConfigError for YAML errors and the file's shape."""
    env = os.environ if env is None else env
    loader = SAFE_LOADER(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(name, mark.line + 1 if mark else 1, "", f"not valid YAML: {reason}")]) from None
    finally:
        loader.dispose()
    reader = _Reader(name, loader, env)
    data = reader.value(root, ()) if root is not None else {}
    cfg = ConfigFile(name, lines=reader.lines)
    problems = reader.problems
    if not isinstance(data, dict):
        raise ConfigError([Problem(name, 1, "", "the file must be a mapping: monitors: (and defaults:, channels:)")])
    problems += [cfg.problem((key,), f"unknown section (allowed: {', '.join(TOP_LEVEL)})")
                 for key in data if key not in TOP_LEVEL]
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(cfg.problem(("defaults",), "must be a mapping of monitor fields"))
        defaults = {}
    for section in ("monitors", "channels"):
        items = data.get(section) or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            problems.append(cfg.problem((section,), "must be a list of mappings"))
            data[section] = []
    for index, item in enumerate(data.get("monitors") or []):
        merged = dict(item)
        for key, value in defaults.items():
            if key == "tags" and isinstance(value, list) and isinstance(item.get("tags", []), list):
                merged["tags"] = [*value, *item.get("tags", [])]
            elif key not in item:
                merged[key] = value
            if key not in item:
                cfg.lines[("monitors", index, key)] = cfg.lines[("defaults", key)]
        cfg.monitors.append(merged)
    cfg.channels = list(data.get("channels") or [])
    if problems:
        raise ConfigError(problems)
    return cfg


def load(path: str, env: Mapping[str, str] | None = None) -> ConfigFile:
    """Read and parse the file at `path` (problems are named by its base name)."""
    with open(path, encoding="utf-8") as handle:
        return parse(handle.read(), os.path.basename(path), env)


CHANNEL_TYPES = ("slack", "webhook", "discord", "teams", "pagerduty", "email")


def split_path(dotted: str) -> tuple:
    """`assertions.0.value` (the API's error paths) as ("assertions", 0, "value")."""
    return tuple(int(p) if p.isdigit() else p for p in dotted.split(".") if p != "_schema")


def monitor_body(monitor: dict) -> dict:
    """What the API takes of a file's monitor (channel names are mapped to ids by apply). For the local check,
    an escalation channel's name stands as a placeholder id: the pair rule is the API's."""
    body = {k: v for k, v in monitor.items() if k not in MONITOR_FIELDS_LOCAL}
    if monitor.get("escalation_channel") is not None:
        body["escalation_channel"] = 1
    return body


def validate(cfg: ConfigFile) -> None:
    """Check every monitor with the API's own schema (webapp.apply_schemas, no Flask in it) and the channels'
    shape. Raises ConfigError listing every problem, in file order."""
    import marshmallow as ma

    from webapp.apply_schemas import ApplyMonitorSchema
    from webapp.schemas import flatten_errors

    schema = ApplyMonitorSchema(min_check_interval=1)
    problems: list[Problem] = []
    seen: dict[object, int] = {}
    for index, monitor in enumerate(cfg.monitors):
        try:
            schema.load(monitor_body(monitor))
        except ma.ValidationError as error:
            for dotted, reasons in flatten_errors(error.messages).items():
                problems.append(cfg.problem(("monitors", index, *split_path(dotted)), reasons[0]))
        key = monitor.get("key")
        if isinstance(key, str) and key in seen:
            problems.append(cfg.problem(("monitors", index, "key"), f"the same key as monitors[{seen[key]}]"))
        seen.setdefault(key, index)
        names = monitor.get("channels", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems.append(cfg.problem(("monitors", index, "channels"), "must be a list of channel names"))
        escalation = monitor.get("escalation_channel")
        if escalation is not None and not isinstance(escalation, str):
            problems.append(cfg.problem(("monitors", index, "escalation_channel"), "must be a channel name"))
    names_seen: dict[object, int] = {}
    for index, channel in enumerate(cfg.channels):
        path = ("channels", index)
        name = channel.get("name")
        if not isinstance(name, str) or not name:
            problems.append(cfg.problem((*path, "name"), "required: the channel's unique name"))
        elif name in names_seen:
            problems.append(cfg.problem((*path, "name"), f"the same name as channels[{names_seen[name]}]"))
        names_seen.setdefault(name, index)
        if channel.get("type") not in CHANNEL_TYPES:
            problems.append(cfg.problem((*path, "type"), f"must be one of: {', '.join(CHANNEL_TYPES)}"))
        if not isinstance(channel.get("config", {}), dict):
            problems.append(cfg.problem((*path, "config"), "must be a mapping"))
        problems += [cfg.problem((*path, k), "Unknown field.") for k in channel if k not in ("name", "type", "config")]
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line))
