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
- A monitor's `channels` must name existing channels, which no schema can know (like "not a private
  address"); the hook empties a generated list.

Only a body whose two values are both within their documented bounds is repaired (timeout becomes
check_interval - 1), so a negative case whose violation is the timeout or the interval itself stays
invalid. A PATCH of one field against the stored other is answered 409, which the check accepts.
"""

from __future__ import annotations

import schemathesis

from healthmon import defaults
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


def _repair_links(item):
    if isinstance(item, dict) and isinstance(item.get("channels"), list) and item["channels"]:
        return {**item, "channels": []}
    return item


@schemathesis.hook
def map_case(context, case):
    """map_case, not map_body: the coverage phase's cases do not pass through the body strategies. The
    body is assigned only when repaired: an assignment marks the case as changed, and schemathesis then
    no longer judges a negative case by its violation."""
    body = case.body
    if case.operation.path.startswith("/channels"):
        repaired = _repair_channel(body)
    elif isinstance(body, dict) and isinstance(body.get("monitors"), list):
        items = [_repair_links(_repair(item)) for item in body["monitors"]]
        repaired = {**body, "monitors": items} if items != body["monitors"] else body
    else:
        repaired = _repair_links(_repair(body))
    if repaired is not body:
        case.body = repaired
    return case
