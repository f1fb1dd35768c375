"""`healthmon apply FILE` and `healthmon export`: config as code against a remote API over HTTP.

apply: parse and validate the file locally (healthmon.config_file), then POST /apply once with every
monitor (the server plans against what it stores, secrets included, in one transaction), print the plan
and a summary line. Exit 0 when applied or nothing to change, 1 on any problem (file or API), 2 for usage.
The API's own 400/409/422 name `monitors.<index>.<field>`, mapped back to the file's line.

export: every monitor, read in pages of 1,000 (GET /monitors), written in the file format with only the
fields that differ from the API's defaults. Secrets stay masked (`****`), and a masked value means "keep
the stored one" on apply; a monitor without a key is written as `monitor-<id>`, which apply matches to
that id without storing a key. So `export` then `apply` changes nothing.
"""

from __future__ import annotations

import sys
from typing import TextIO

import requests
import yaml

from healthmon import config_file
from healthmon.config_file import ConfigError, ConfigFile, Problem
from healthmon.domain import tags as tag_rules

PAGE_SIZE = 1000
TIMEOUT_S = 300
"""A 10,000-monitor apply takes seconds; the bound only stops a hung server from hanging the command."""

SYMBOLS = {"create": "+", "change": "~", "delete": "-"}


class ApiError(Exception):
    """The API refused a request; `body` is its JSON error (or None)."""

    def __init__(self, status: int, message: str, body: dict | None = None):
        super().__init__(f"the API answered {status}: {message}")
        self.status, self.body = status, body


class Remote:
    """The API at `base_url` with a bearer key."""

    def __init__(self, base_url: str, key: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            response = self.session.request(method, self.base_url + path, timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(0, f"cannot reach {self.base_url}: {exc.__class__.__name__}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            message = (body or {}).get("message") or response.reason
            raise ApiError(response.status_code, message, body)
        return response

    def paged(self, path: str) -> list[dict]:
        """Every item of a paginated list, PAGE_SIZE at a time."""
        out: list[dict] = []
        page = 1
        while True:
            batch = self.call("GET", path, params={"page": page, "page_size": PAGE_SIZE}).json()
            out.extend(batch)
            if len(batch) < PAGE_SIZE:
                return out
            page += 1


FIELD_REFUSALS = (400, 409, 422)
"""API answers about the request's fields, shown at the file's lines; any other error (a read-only key, a
server down) is about the apply as a whole and shown as it is."""


def api_problems(cfg: ConfigFile, error: ApiError, prefix: tuple = (), at: tuple = ()) -> list[Problem]:
    """An API error as problems at the file's lines: `monitors.3.url` is monitors[3].url's line; a field named
    within one item (`config.url` of a channel PUT) is placed under `prefix` (("channels", 2)). Without a
    field: the error at the line of `at` (default `prefix`; the file's first line when both are empty)."""
    at = at or prefix
    fields = ((error.body or {}).get("errors") or {}).get("json") or {}
    problems = [cfg.problem((*prefix, *config_file.split_path(dotted)),
                            reasons[0] if isinstance(reasons, list) else str(reasons))
                for dotted, reasons in fields.items()]
    return problems or [cfg.problem(at, str(error)) if at else Problem(cfg.name, 1, "", str(error))]


def describe(change: dict) -> str:
    """One plan line: `~ change monitor api-health: check_interval 60 -> 30, webhook_url (secret changed)`."""
    line = f"{SYMBOLS[change['action']]} {change['action']} monitor {change['key']}"
    fields = field_list(change.get("fields", []))
    return line + (": " + fields if fields else "")


def field_list(fields: list[dict]) -> str:
    """A plan's field changes (POST /apply's or /channels/plan's) as text: `check_interval 60 -> 30,
    webhook_url (secret changed)`; a secret's values are not in the plan, so never here either."""
    return ", ".join(f"{item['field']} (secret changed)" if item["secret"]
                     else f"{item['field']} {_short(item.get('old'))} -> {_short(item.get('new'))}" for item in fields)


def _short(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    text = text.removesuffix("\n...").removesuffix("...").strip()
    return text if len(text) <= 80 else text[:77] + "..."


def summary_line(result: dict) -> str:
    counts = result["summary"]
    text = (f"{counts['create']} to create, {counts['change']} to change, {counts['delete']} to delete, "
            f"{counts['unchanged']} unchanged")
    if result["dry_run"]:
        return f"Dry run: {text}; nothing was changed."
    if not (counts["create"] or counts["change"] or counts["delete"]):
        return f"No changes: {counts['unchanged']} monitors as declared."
    return f"Applied: {text.replace(' to ', ' ')}."


def run_apply(path: str, remote: Remote, dry_run: bool, prune: bool, out: TextIO = sys.stdout,
              err: TextIO = sys.stderr) -> int:
    try:
        cfg = config_file.load(path)
        config_file.validate(cfg)
    except OSError as exc:
        print(f"healthmon apply: cannot read {path}: {exc.strerror}", file=err)
        return 1
    except ConfigError as exc:
        print(exc, file=err)
        return 1
    from healthmon import apply_channels

    try:
        channel_ids = apply_channels.apply(cfg, remote, dry_run, prune, out)
        monitors = [apply_channels.with_channel_ids(cfg, i, m, channel_ids) for i, m in enumerate(cfg.monitors)]
        result = remote.call("POST", "/apply", json={"monitors": monitors, "prune": prune,
                                                     "dry_run": dry_run}).json()
    except ConfigError as exc:
        print(exc, file=err)
        return 1
    except ApiError as exc:
        for problem in api_problems(cfg, exc) if exc.status in FIELD_REFUSALS else [exc]:
            print(problem, file=err)
        return 1
    for change in result["changes"]:
        print(describe(change), file=out)
    print(summary_line(result), file=out)
    return 0


def exported(monitor: dict) -> dict:
    """A GET /monitors item in the file format: key first, then name and url, then what differs from the
    defaults (the API's POST defaults), secrets as the API masks them."""
    from webapp.apply_schemas import ApplyMonitorSchema

    defaults = ApplyMonitorSchema(min_check_interval=1).fields
    out = {"key": tag_rules.export_key(monitor.get("key"), monitor["id"]), "name": monitor["name"],
           "url": monitor["url"]}
    for name, schema_field in defaults.items():
        if name in out or name not in monitor:
            continue
        default = schema_field.load_default
        default = default() if callable(default) else default
        if monitor[name] != default:
            out[name] = monitor[name]
    return out


def run_export(remote: Remote, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from healthmon import apply_channels

    try:
        monitors = remote.paged("/monitors")
        channels = apply_channels.export(remote, monitors)
    except ApiError as exc:
        print(f"healthmon export: {exc}", file=err)
        return 1
    document: dict = {"monitors": [exported(m) for m in monitors]}
    if channels is not None:
        document["monitors"] = [apply_channels.with_channel_names(d, m, channels)
                                for d, m in zip(document["monitors"], monitors, strict=True)]
        document["channels"] = [{"name": c["name"], "type": c["type"], "config": c["config"]} for c in channels]
    out.write(f"# healthmon export of {remote.base_url}: {len(monitors)} monitors. Masked secrets (****) keep\n"
              "# the stored ones on apply; monitor-<id> keys name monitors that have no key of their own.\n")
    yaml.safe_dump(document, out, sort_keys=False, allow_unicode=True, width=120)
    return 0
