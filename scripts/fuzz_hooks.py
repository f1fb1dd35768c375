"""schemathesis hooks for scripts/fuzz-api.sh: the documented rules OpenAPI 3.0 keywords cannot state.

- "timeout < check_interval" compares two fields; the OpenAPI document states it in the fields'
  descriptions, and no keyword of OpenAPI 3.0 can. Without this hook every generated body that pairs a
  timeout of 30 with a check_interval of 10 would be reported as "schema-valid request rejected".
- `headers` is a map whose *names* have rules (an HTTP token, each once whatever its case, not one the
  engine controls, 8 KiB in all): OpenAPI 3.0 has no keyword for map keys (`propertyNames` is 3.1), so the
  rules are in the field's description, and the hook keeps only the generated headers that follow them.
- `****` (the masked value) in `auth` or a secret header's value means "keep the stored secret": with no
  stored secret it is refused, as the fields' descriptions say; the hook replaces it in generated bodies.

- A channel's `config` has per-`type` fields (one object whose shape depends on another field: OpenAPI 3.0
  states that only with a discriminator inside the object); the description lists them. The hook gives a
  generated channel body of a valid type a valid config of that type (hosts that do not resolve in the
  namespace: nothing is ever sent), and drops a PATCH's config sent without its type.
  A channel plan (`/channels/plan`) gets the same repair for each of its channels, and a repeated name is
  made distinct (a property unique across an array's objects, as with keys below).
- A monitor's `channels` must name existing channels, which no schema can know (like "not a private
  address"); the hook empties a generated list.
- A monitor's escalation needs both `escalation_minutes` and `escalation_channel` (or neither: a rule
  between two fields, and on PATCH between a sent field and the stored other), and the channel must exist
  (no schema can know); the hook sets a generated valid pair, or a valid one of them, to null.
- The items of a bulk create or an apply each have their own key (a property unique across an array's
  objects: `uniqueItems` compares whole items); and in an apply `monitor-<id>` names an existing monitor
  without a key (unknowable). The hook makes a repeated key distinct and the reserved form an ordinary key.
- A maintenance window names its monitors by `monitor_ids` (existing ids: unknowable)
  or `all: true`, exactly one; and its time by `starts_at` < `ends_at` or by `recurrence`, exactly one; a
  recurrence's cron must parse, and `timezone` must be in the server's IANA database. Exclusive pairs with
  PATCH's merge into the stored window, an order between two fields and a cron grammar are beyond OpenAPI
  3.0 keywords. The hook makes a generated body of valid types name `all: true`, a recurrence of a valid
  shape, and one-off times in order, so the fields' own bounds are still fuzzed.

Only a body whose two values are both within their documented bounds is repaired (timeout becomes
check_interval - 1), so a negative case whose violation is the timeout or the interval itself stays
invalid. A PATCH of one field against the stored other is answered 409, which the check accepts.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import schemathesis

from healthmon import defaults
from healthmon.domain import reminders
from healthmon.domain import request as rq


def _in_bounds(value, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _headers(headers):
    """The generated headers that follow the documented name rules, secret values unmasked."""
    if not isinstance(headers, dict):
        return headers
    out, seen, size = {}, set(), 0
    for name, value in headers.items():
        if not isinstance(value, str) or rq.header_name_problem(name) or name.lower() in seen:
            continue
        if size + len(name) + 2 + len(value) > rq.MAX_HEADERS_BYTES:
            continue
        seen.add(name.lower())
        size += len(name) + 2 + len(value)
        out[name] = "unmasked" if value == rq.MASK and rq.is_secret_header(name) else value
    return out


def _auth(auth):
    if not isinstance(auth, dict):
        return auth
    return {k: ("unmasked" if v == rq.MASK and k != "type" else v) for k, v in auth.items()}


def _repair(item):
    """`item` with a timeout below its check_interval, when both are documented-valid integers, and request
    options following the rules only their descriptions state."""
    if not isinstance(item, dict):
        return item
    timeout, interval = item.get("timeout"), item.get("check_interval")
    timeout_ok = _in_bounds(timeout, defaults.MIN_CHECK_TIMEOUT, defaults.MAX_CHECK_TIMEOUT)
    interval_ok = _in_bounds(interval, defaults.DEFAULT_MIN_CHECK_INTERVAL, defaults.MAX_CHECK_INTERVAL)
    if timeout_ok and interval_ok and timeout >= interval:
        item = {**item, "timeout": interval - 1}
    if "headers" in item and _headers(item["headers"]) != item["headers"]:
        item = {**item, "headers": _headers(item["headers"])}
    if "auth" in item and _auth(item["auth"]) != item["auth"]:
        item = {**item, "auth": _auth(item["auth"])}
    return item


SAMPLE_CONFIGS = {
    "slack": {"webhook_url": "https://hooks.fuzz.invalid/services/T/B/x"},
    "webhook": {"url": "https://receiver.fuzz.invalid/hook", "secret": "s" * 16},
    "discord": {"webhook_url": "https://discord.fuzz.invalid/api/webhooks/1/x"},
    "teams": {"webhook_url": "https://teams.fuzz.invalid/workflows/x"},
    "pagerduty": {"routing_key": "a" * 32},
    "email": {"host": "smtp.fuzz.invalid", "from": "healthmon@fuzz.invalid", "to": ["ops@fuzz.invalid"]},
}


def _repair_channel(body):
    if not isinstance(body, dict):
        return body
    known = isinstance(body.get("type"), str) and body["type"] in SAMPLE_CONFIGS
    if known and "config" not in body:  # a PATCH of the type alone
        return {**body, "config": SAMPLE_CONFIGS[body["type"]]}
    if not isinstance(body.get("config"), dict):
        return body
    if known:
        return {**body, "config": SAMPLE_CONFIGS[body["type"]]}
    if "type" not in body:
        return {k: v for k, v in body.items() if k != "config"}
    return body


def _repair_plan(body):
    if not isinstance(body, dict) or not isinstance(body.get("channels"), list):
        return body
    items, names = [], set()
    for item in body["channels"]:
        item = _repair_channel(item)
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip() in names:
            item = {**item, "name": f"{item['name'].strip()[:90]}-{len(items)}"}
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            names.add(item["name"].strip())
        items.append(item)
    return {**body, "channels": items} if items != body["channels"] else body


def _repair_links(item):
    if isinstance(item, dict) and isinstance(item.get("channels"), list) and item["channels"]:
        item = {**item, "channels": []}
    if not isinstance(item, dict):
        return item
    minutes, channel = item.get("escalation_minutes"), item.get("escalation_channel")
    minutes_ok = minutes is None or _in_bounds(minutes, 1, reminders.MAX_MINUTES)
    channel_ok = channel is None or (type(channel) is int and channel >= 1)
    if minutes_ok and channel_ok and (minutes is not None or channel is not None):
        item = {**item, **{k: None for k in ("escalation_minutes", "escalation_channel") if k in item}}
    return item


_RESERVED_KEY = re.compile(r"^monitor-[0-9]+$")


def _distinct_keys(items: list, reserved_ok: bool) -> list:
    """`items` with each string key once; the reserved `monitor-<id>` made ordinary where it is accepted
    (`reserved_ok`: an apply; a bulk create's schema refuses it, and it stays so)."""
    seen: set[str] = set()
    out = []
    for index, item in enumerate(items):
        key = item.get("key") if isinstance(item, dict) else None
        if isinstance(key, str) and key:
            fresh = "m" + key[:99] if reserved_ok and _RESERVED_KEY.match(key) else key
            while fresh in seen:
                fresh = f"{fresh[:90]}.{index}"
                index += len(items)
            seen.add(fresh)
            if fresh != key:
                item = {**item, "key": fresh}
        out.append(item)
    return out


SAMPLE_RECURRENCE = {"weekly": {"days": ["sun"], "start": "02:00", "duration_minutes": 60}}


def _moment(value):
    """An RFC 3339 date-time with an offset as an aware datetime, else None."""
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return bool(name)


def _repair_window(body, method: str):
    if not isinstance(body, dict):
        return body
    out = dict(body)
    whole = method in ("POST", "PUT")
    ids, every = out.get("monitor_ids"), out.get("all")
    ids_ok = ids is None or (isinstance(ids, list) and all(type(i) is int for i in ids))
    if ids_ok and (every is None or type(every) is bool) and (whole or "monitor_ids" in out or "all" in out):
        out.pop("monitor_ids", None)
        out["all"] = True
    recurrence = out.get("recurrence")
    if isinstance(recurrence, dict):
        out["recurrence"] = SAMPLE_RECURRENCE
        out.pop("starts_at", None)
        out.pop("ends_at", None)
    elif recurrence is None and (whole or {"starts_at", "ends_at", "recurrence"} & set(out)):
        starts, ends = out.get("starts_at"), out.get("ends_at")
        if (starts is None or _moment(starts)) and (ends is None or _moment(ends)):
            # Far from the ends of the datetime range: the server stores UTC, and an hour is added here.
            begin = _moment(starts) or _moment(ends)
            if begin is None or not 2 <= begin.year <= 9998:
                begin = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
            end = _moment(ends)
            if end is None or end <= begin or end.year > 9998:
                end = begin + dt.timedelta(hours=1)
            out.pop("recurrence", None)
            out["starts_at"], out["ends_at"] = begin.isoformat(), end.isoformat()
    if isinstance(out.get("timezone"), str) and len(out["timezone"]) <= 64 and not _known_zone(out["timezone"]):
        out["timezone"] = "UTC"
    return out if out != body else body


def _repaired(case):
    """The case's body with the rules above applied (the same object when nothing needed repairing)."""
    body = case.body
    if case.operation.path == "/channels/plan":
        return _repair_plan(body)
    if case.operation.path.startswith("/channels"):
        return _repair_channel(body)
    if case.operation.path.startswith("/maintenance"):
        return _repair_window(body, case.method.upper())
    if isinstance(body, dict) and isinstance(body.get("monitors"), list):
        items = _distinct_keys([_repair_links(_repair(item)) for item in body["monitors"]],
                               reserved_ok=case.operation.path == "/apply")
        return {**body, "monitors": items} if items != body["monitors"] else body
    return _repair_links(_repair(body))


@schemathesis.hook
def map_case(context, case):
    """map_case, not map_body: the coverage phase's cases do not pass through the body strategies. The
    body is assigned only when repaired: an assignment marks the case as changed, and schemathesis then
    no longer judges a negative case by its violation."""
    repaired = _repaired(case)
    if repaired is not case.body:
        case.body = repaired
    return case


@schemathesis.hook
def before_add_examples(context, examples):
    """The examples phase's cases (from the documented examples, which name ids such as channel 2 or monitors
    1 and 2 that a fresh server does not have) pass through no map_case: repair them here the same way."""
    for case in examples:
        map_case(context, case)


@schemathesis.hook
def before_call(context, case, kwargs):
    """The stateful phase fills parts of a body from earlier responses after map_case (a stored pagerduty
    channel's config merged into a slack channel's PUT): repair the body as it is sent. Assigned only when
    something changed; schemathesis then re-judges whether the case still violates the schema."""
    repaired = _repaired(case)
    if repaired != case.body:
        case.body = repaired
