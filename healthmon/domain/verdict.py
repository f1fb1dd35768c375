"""The verdict of a check: a pure function of the spec and what the engine observed.

`evaluate(spec, observation)` checks each condition of the spec against the observation and says, one line
per condition, what held and what did not. A transport failure (no usable response) fails the check on its
own; otherwise the check is good when every condition holds: the status is an accepted one, and every
assertion on the body, a JSON value or a header holds. The first failed condition names the verdict's error
(`error_kind`, `error`), which is what the API, the state change's reason and the alert show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from healthmon.domain.check import CheckSpec, Observation
from healthmon.domain.conditions import ORDER_OPS, Assertion, compile_pattern

SHOWN_CHARS = 80
"""How much of a compared value a condition's line quotes."""


@dataclass(frozen=True)
class Condition:
    """One condition of a check and how it came out; `line` says it for people."""

    ok: bool
    line: str


@dataclass(frozen=True)
class Verdict:
    """What a check means: `ok`, or why not (`error_kind`, `error`: the transport error or the first failed
    condition), one Condition per condition checked, and the Observation it was judged on. `slow`: it
    passed, but took longer than the spec's max_response_time_ms (its last condition says by how much)."""

    observation: Observation
    ok: bool
    error_kind: str | None = None
    error: str | None = None
    conditions: tuple[Condition, ...] = ()
    slow: bool = False

    @property
    def reason(self) -> str:
        """One line for a state change's reason: the error, the slowness, or the status code and latency."""
        if self.slow:
            return f"slow: {self.conditions[-1].line}"
        if self.error_kind == "unexpected_status" or not self.error_kind:
            obs = self.observation
            return f"status {obs.status_code} in {obs.latency_ms:.0f} ms"
        return f"{self.error_kind}: {self.error}" if self.error else self.error_kind


def evaluate(spec: CheckSpec, observation: Observation) -> Verdict:
    """Judge `observation` against `spec`. Pure; never raises for any observation."""
    if observation.error_kind is not None:
        line = f"{observation.error_kind}: {observation.error}" if observation.error else observation.error_kind
        return Verdict(observation, False, observation.error_kind, observation.error, (Condition(False, line),))
    status = _status(spec, observation.status_code)
    if not spec.assertions:  # the common case: one condition, nothing decoded
        if status.ok:
            return _timed(spec, Verdict(observation, True, None, None, (status,)))
        return Verdict(observation, False, "unexpected_status", status.line.removeprefix("status: "), (status,))
    parsed = _ParsedBody(observation.body)
    conditions = (status, *(_check(a, observation, parsed) for a in spec.assertions))
    if not status.ok:
        return Verdict(observation, False, "unexpected_status", status.line.removeprefix("status: "), conditions)
    failed = next((c for c in conditions if not c.ok), None)
    if failed is not None:
        return Verdict(observation, False, "assertion_failed", failed.line, conditions)
    return _timed(spec, Verdict(observation, True, None, None, conditions))


def _timed(spec: CheckSpec, verdict: Verdict) -> Verdict:
    """A passed verdict, marked slow (with a condition saying so) past the spec's max_response_time_ms."""
    limit = spec.max_response_time_ms
    if limit is None:
        return verdict
    took = verdict.observation.latency_ms
    if took <= limit:
        return Verdict(verdict.observation, True, None, None,
                       (*verdict.conditions, Condition(True, f"response time {took:.0f} ms")))
    return Verdict(verdict.observation, True, None, None,
                   (*verdict.conditions, Condition(False, f"response time {took:.0f} ms, above {limit} ms")),
                   slow=True)


def _status(spec: CheckSpec, status: int | None) -> Condition:
    if spec.accepted_statuses is None:
        expected = spec.expected_status_code
        if status == expected:
            return Condition(True, f"status {status}")
        return Condition(False, f"status: expected {expected}, got {status}")
    ranges = spec.accepted_statuses
    if status is not None and any(r.low <= status <= r.high for r in ranges):
        return Condition(True, f"status {status}")
    return Condition(False, f"status: expected {', '.join(str(r) for r in ranges)}, got {status}")


class _ParsedBody:
    """The body decoded as JSON at most once per check, and only if a json assertion asks."""

    _UNSET = object()

    def __init__(self, body: bytes | None):
        self.body = body
        self._json: Any = self._UNSET
        self.json_error: str | None = None

    def json(self) -> Any:
        if self._json is self._UNSET:
            self._json = None
            try:
                self._json = json.loads(self.body or b"")
            except (ValueError, RecursionError):
                self.json_error = "the body is not JSON"
        return self._json


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _check(a: Assertion, observation: Observation, parsed: _ParsedBody) -> Condition:
    if a.target == "body":
        return _body(a, observation.body or b"")
    if a.target == "header":
        return _header(a, observation.headers or {})
    return _json(a, parsed)


def _body(a: Assertion, body: bytes) -> Condition:
    if a.op == "matches":
        ok = compile_pattern(a.value).search(body) is not None
        return Condition(ok, f"body {'matches' if ok else 'does not match'} /{a.value}/")
    found = a.value.encode("utf-8", "surrogatepass") in body  # a lone surrogate is in no UTF-8 body
    if a.op == "contains":
        return Condition(found, f"body {'contains' if found else 'does not contain'} {_show(a.value)}")
    return Condition(not found, f"body {'contains' if found else 'does not contain'} {_show(a.value)}")


def _header(a: Assertion, headers) -> Condition:
    value = headers.get(a.name)
    if value is None:
        return Condition(False, f"header {a.name} missing")
    if a.op == "exists":
        return Condition(True, f"header {a.name} present")
    if a.op == "equals":
        ok = value == a.value
        return Condition(ok, f"header {a.name} is {_show(value)}" + ("" if ok else f", expected {_show(a.value)}"))
    ok = a.value in value
    return Condition(ok, f"header {a.name} is {_show(value)}" + ("" if ok else f", expected to contain "
                                                                              f"{_show(a.value)}"))


_MISSING = object()


def _resolve(document: Any, path: tuple[str | int, ...]) -> Any:
    node = document
    for step in path:
        found = (isinstance(step, int) and isinstance(node, list) and step < len(node)) or \
            (isinstance(step, str) and isinstance(node, dict) and step in node)
        if not found:
            return _MISSING
        node = node[step]
    return node


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, but 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _json(a: Assertion, parsed: _ParsedBody) -> Condition:
    document = parsed.json()
    if parsed.json_error:
        return Condition(False, f"{a.path_text}: {parsed.json_error}")
    value = _resolve(document, a.path)
    where = a.path_text
    if a.op == "not_exists":
        return Condition(value is _MISSING, f"{where} {'missing' if value is _MISSING else 'present'}")
    if value is _MISSING:
        return Condition(False, f"{where} missing")
    if a.op == "exists":
        return Condition(True, f"{where} present")
    if a.op in ("equals", "not_equals"):
        same = _same(value, a.value)
        ok = same if a.op == "equals" else not same
        wanted = "" if ok else (f", expected {_show(a.value)}" if a.op == "equals" else
                                f", expected anything but {_show(a.value)}")
        return Condition(ok, f"{where} is {_show(value)}{wanted}")
    if a.op == "contains":
        ok = (isinstance(value, str) and a.value in value) or \
             (isinstance(value, list) and any(_same(item, a.value) for item in value))
        return Condition(ok, f"{where} is {_show(value)}" + ("" if ok else f", expected to contain {_show(a.value)}"))
    symbol = ORDER_OPS[a.op]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Condition(False, f"{where} is {_show(value)}, not a number (expected {symbol} {_show(a.value)})")
    ok = {"lt": value < a.value, "le": value <= a.value, "gt": value > a.value, "ge": value >= a.value}[a.op]
    return Condition(ok, f"{where} is {_show(value)}" + ("" if ok else f", expected {symbol} {_show(a.value)}"))
