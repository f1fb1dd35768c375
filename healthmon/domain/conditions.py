"""What a check may require of a response beyond one status code: accepted status ranges and assertions on
the body, a JSON value or a header. Plain values and their parsers; no I/O.

Parsers raise ValueError with a message meant for the API's 422 (naming what is wrong, not where: the
caller names the field). Every rule here is also stated in the OpenAPI document (webapp/schema_checks.py).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import re2

from healthmon.domain.request import MAX_HEADER_NAME_CHARS, TOKEN_PATTERN

MAX_STATUS_ITEMS = 20
MAX_ASSERTIONS = 20
"""Per monitor. A health check with more conditions than this is a test suite, not a monitor."""
MAX_VALUE_CHARS = 1000
"""Longest string an assertion compares with or searches for."""
MAX_PATTERN_CHARS = 500
"""Longest regular expression."""
MAX_PATH_CHARS = 500
"""Longest JSON path."""
REGEX_MAX_MEM = 1 << 20
"""RE2's memory budget per compiled pattern (bytes): a pattern whose automaton needs more is refused."""

STATUS_RANGE_PATTERN = r"^[1-5][0-9][0-9]-[1-5][0-9][0-9]$"
JSON_PATH_PATTERN = r'^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]{1,6}\]|\["[^"\\]{1,200}"\])*$'
"""The JSON path subset: `$`, then `.name`, `[index]` or `["any key"]` steps. Anything it matches is valid."""
_HEADER_NAME = re.compile(TOKEN_PATTERN)
_JSON_STEP = re.compile(r'\.([A-Za-z_][A-Za-z0-9_-]*)|\[([0-9]{1,6})\]|\["([^"\\]{1,200})"\]')

TARGETS = ("body", "json", "header")
BODY_OPS = ("contains", "not_contains", "matches")
JSON_OPS = ("exists", "not_exists", "equals", "not_equals", "contains", "lt", "le", "gt", "ge")
HEADER_OPS = ("exists", "equals", "contains")
NO_VALUE_OPS = ("exists", "not_exists")
ORDER_OPS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@dataclass(frozen=True)
class StatusRange:
    """Accepted status codes low..high, both included."""

    low: int
    high: int

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


@dataclass(frozen=True)
class Assertion:
    """One condition on the response. `target` is body, json or header; `op` one of that target's ops;
    `path` (json) is a parsed JSON path, `name` (header) a lowercased header name, `value` what to compare
    with (None for exists/not_exists)."""

    target: str
    op: str
    value: Any = None
    path: tuple[str | int, ...] = ()
    path_text: str = ""
    name: str = ""


def parse_status_item(item: int | str) -> StatusRange:
    """200 or "200-299" -> StatusRange. A reversed range ("299-200") means the same codes and is stored in
    order. Raises ValueError for anything else."""
    if isinstance(item, bool):
        raise ValueError("must be a status code (100-599) or a range such as \"200-299\"")
    if isinstance(item, int):
        if not 100 <= item <= 599:
            raise ValueError("must be a status code from 100 to 599")
        return StatusRange(item, item)
    if isinstance(item, str) and re.fullmatch(STATUS_RANGE_PATTERN, item):
        low, high = sorted(int(part) for part in item.split("-"))
        if high > 599:
            raise ValueError("status codes go from 100 to 599")
        return StatusRange(low, high)
    raise ValueError("must be a status code (100-599) or a range such as \"200-299\"")


def status_item_json(r: StatusRange) -> int | str:
    """How a range is stored and shown: 301, or "200-299"."""
    return r.low if r.low == r.high else f"{r.low}-{r.high}"


def parse_json_path(text: str) -> tuple[str | int, ...]:
    """`$.data.items[0]["a key"]` -> ("data", "items", 0, "a key"). Raises ValueError naming the position
    where it stops making sense."""
    if not isinstance(text, str) or not text.startswith("$") or len(text) > MAX_PATH_CHARS:
        raise ValueError(f"a JSON path starts with $ (such as $.status or $.items[0].name) and has at most "
                         f"{MAX_PATH_CHARS} characters")
    steps: list[str | int] = []
    pos = 1
    while pos < len(text):
        m = _JSON_STEP.match(text, pos)
        if m is None:
            raise ValueError(f"not a valid JSON path step at character {pos + 1}; use .name, [index] or [\"key\"]")
        name, index, quoted = m.groups()
        steps.append(int(index) if index is not None else name if name is not None else quoted)
        pos = m.end()
    return tuple(steps)


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str):
    """An RE2 regular expression (linear time in the body's length whatever the pattern: no backtracking,
    so no pattern can run away). Raises ValueError for a pattern RE2 refuses (backreferences and
    lookarounds among them) or one too large to compile within REGEX_MAX_MEM."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"a pattern may have at most {MAX_PATTERN_CHARS} characters")
    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern on stderr
    options.max_mem = REGEX_MAX_MEM
    try:
        return re2.compile(pattern.encode("utf-8", "surrogatepass"), options)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"not a usable regular expression ({detail}); backreferences and lookarounds are "
                         "not supported") from None


class AssertionProblem(ValueError):
    """A bad assertion: `key` names the field at fault (target, op, value, path, name, or an unknown one)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def parse_assertion(raw: dict) -> Assertion:
    """The API's JSON form of one assertion -> Assertion. Raises AssertionProblem naming the bad key."""
    target, op = raw.get("target"), raw.get("op")
    if target not in TARGETS:
        raise AssertionProblem("target", f"target must be one of {', '.join(TARGETS)}")
    ops = {"body": BODY_OPS, "json": JSON_OPS, "header": HEADER_OPS}[target]
    if op not in ops:
        raise AssertionProblem("op", f"op of a {target} assertion must be one of {', '.join(ops)}")
    allowed = {"target", "op", "value", *(("path",) if target == "json" else ()),
               *(("name",) if target == "header" else ())}
    extra = sorted(set(raw) - allowed)
    if extra:
        raise AssertionProblem(extra[0], f"a {target} assertion has no field {extra[0]!r}")
    if op not in NO_VALUE_OPS and "value" not in raw:
        raise AssertionProblem("value", f"{op} needs a value")
    value = raw.get("value")
    if op in NO_VALUE_OPS:
        value = None
    elif target == "json":
        if op in ORDER_OPS and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise AssertionProblem("value", f"{op} compares numbers: value must be a number")
        if op == "contains" and not isinstance(value, str):
            raise AssertionProblem("value", "contains looks for a string: value must be a string")
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise AssertionProblem("value", f"value may have at most {MAX_VALUE_CHARS} characters")
        if isinstance(value, dict | list):
            raise AssertionProblem("value", "value must be a string, number, boolean or null")
    else:
        if not isinstance(value, str) or not value:
            raise AssertionProblem("value", f"{op} needs a value: a non-empty string")
        if len(value) > MAX_VALUE_CHARS:
            raise AssertionProblem("value", f"value may have at most {MAX_VALUE_CHARS} characters")
        if op == "matches":
            try:
                compile_pattern(value)
            except ValueError as exc:
                raise AssertionProblem("value", str(exc)) from None
    path: tuple[str | int, ...] = ()
    path_text, name = "", ""
    if target == "json":
        path_text = raw.get("path")
        if not isinstance(path_text, str):
            raise AssertionProblem("path", "a json assertion needs a path (a string such as $.status)")
        try:
            path = parse_json_path(path_text)
        except ValueError as exc:
            raise AssertionProblem("path", str(exc)) from None
    if target == "header":
        name = raw.get("name")
        # The request-header rule's token, not its list of refused names: a response may be asserted on any.
        if not isinstance(name, str) or len(name) > MAX_HEADER_NAME_CHARS or not _HEADER_NAME.fullmatch(name):
            raise AssertionProblem("name", "name must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)")
        name = name.lower()
    return Assertion(target, op, value, path, path_text, name)


def assertion_json(a: Assertion) -> dict:
    """How an assertion is stored and shown (the API's form, normalised)."""
    out: dict[str, Any] = {"target": a.target, "op": a.op}
    if a.target == "json":
        out["path"] = a.path_text
    if a.target == "header":
        out["name"] = a.name
    if a.op not in NO_VALUE_OPS:
        out["value"] = a.value
    return out


@functools.lru_cache(maxsize=4096)
def load_stored(statuses_json: str | None, assertions_json: str | None
                ) -> tuple[tuple[StatusRange, ...] | None, tuple[Assertion, ...]]:
    """The stored JSON columns of a monitor -> (accepted status ranges or None, assertions). Cached by text:
    the checker builds specs for the same monitors every interval."""
    statuses = None
    if statuses_json:
        statuses = tuple(parse_status_item(item) for item in json.loads(statuses_json))
    assertions = tuple(parse_assertion(raw) for raw in json.loads(assertions_json)) if assertions_json else ()
    return statuses, assertions
