"""schemathesis hooks for scripts/fuzz-api.sh: the documented rules OpenAPI 3.0 keywords cannot state.

- "timeout < check_interval" compares two fields; the OpenAPI document states it in the fields'
  descriptions, and no keyword of OpenAPI 3.0 can. Without this hook every generated body that pairs a
  timeout of 30 with a check_interval of 10 would be reported as "schema-valid request rejected".
- `headers` is a map whose *names* have rules (an HTTP token, each once whatever its case, not one the
  engine controls, 8 KiB in all): OpenAPI 3.0 has no keyword for map keys (`propertyNames` is 3.1), so the
  rules are in the field's description, and the hook keeps only the generated headers that follow them.
- `****` (the masked value) in `auth` or a secret header's value means "keep the stored secret": with no
  stored secret it is refused, as the fields' descriptions say; the hook replaces it in generated bodies.

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


@schemathesis.hook
def map_case(context, case):
    """map_case, not map_body: the coverage phase's cases do not pass through the body strategies. The
    body is assigned only when repaired: an assignment marks the case as changed, and schemathesis then
    no longer judges a negative case by its violation."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("monitors"), list):
        items = [_repair(item) for item in body["monitors"]]
        repaired = {**body, "monitors": items} if items != body["monitors"] else body
    else:
        repaired = _repair(body)
    if repaired is not body:
        case.body = repaired
    return case
