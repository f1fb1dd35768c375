"""schemathesis hooks for scripts/fuzz-api.sh: the one documented rule JSON Schema cannot state.

"timeout < check_interval" compares two fields; the OpenAPI document states it in the fields'
descriptions, and no keyword of OpenAPI 3.0 can. Without this hook every generated body that pairs a
timeout of 30 with a check_interval of 10 would be reported as "schema-valid request rejected".

Only a body whose two values are both within their documented bounds is repaired (timeout becomes
check_interval - 1), so a negative case whose violation is the timeout or the interval itself stays
invalid. A PATCH of one field against the stored other is answered 409, which the check accepts.
"""

from __future__ import annotations

import schemathesis

from healthmon import defaults


def _in_bounds(value, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _repair(item):
    """`item` with a timeout below its check_interval, when both are documented-valid integers."""
    if not isinstance(item, dict):
        return item
    timeout, interval = item.get("timeout"), item.get("check_interval")
    timeout_ok = _in_bounds(timeout, defaults.MIN_CHECK_TIMEOUT, defaults.MAX_CHECK_TIMEOUT)
    interval_ok = _in_bounds(interval, defaults.DEFAULT_MIN_CHECK_INTERVAL, defaults.MAX_CHECK_INTERVAL)
    if timeout_ok and interval_ok and timeout >= interval:
        return {**item, "timeout": interval - 1}
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
