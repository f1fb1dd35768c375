"""Status ranges and assertions (healthmon.domain.conditions + verdict): what a check may require of a
response, and the line each condition gives in the verdict."""

from __future__ import annotations

import json
import time

import pytest

from healthmon.domain.check import CheckSpec, Observation, captures
from healthmon.domain.conditions import (
    StatusRange,
    assertion_json,
    compile_pattern,
    load_stored,
    parse_assertion,
    parse_json_path,
    parse_status_item,
)
from healthmon.domain.verdict import evaluate

URL = "https://api.example/health"
BODY = json.dumps({"status": "UP", "version": "1.4.2", "checks": [{"name": "db", "ok": True}], "queue": 12,
                   "tags": ["eu", "prod"], "a key": None}).encode()
HEADERS = {"content-type": "application/json; charset=utf-8", "x-version": "1.4.2"}


def verdict_of(*raw_assertions, status=200, body=BODY, headers=None, statuses=None):
    assertions = tuple(parse_assertion(a) for a in raw_assertions)
    spec = CheckSpec(url=URL, assertions=assertions, **captures(assertions),
                     accepted_statuses=None if statuses is None else tuple(map(parse_status_item, statuses)))
    return evaluate(spec, Observation(status, 20.0, headers=HEADERS if headers is None else headers, body=body))


@pytest.mark.parametrize(("statuses", "status", "ok"), [
    (["200-299"], 204, True), (["200-299"], 299, True), (["200-299"], 300, False),
    (["200-299", 301], 301, True), ([301, 302], 200, False), (["299-200"], 250, True), ([503], 503, True),
])
def test_accepted_statuses_are_codes_and_ranges(statuses, status, ok):
    verdict = verdict_of(status=status, statuses=statuses)
    assert verdict.ok is ok
    if not ok:
        assert verdict.error_kind == "unexpected_status"
        assert verdict.error == f"expected {', '.join(str(parse_status_item(s)) for s in statuses)}, got {status}"


@pytest.mark.parametrize("item", [99, 600, "200-600", "2xx", "200 - 299", "", True, 200.0, None])
def test_a_bad_status_item_is_refused(item):
    with pytest.raises(ValueError):
        parse_status_item(item)


def test_a_reversed_range_means_the_same_codes():
    assert parse_status_item("299-200") == StatusRange(200, 299)


@pytest.mark.parametrize(("assertion", "ok", "line"), [
    ({"target": "body", "op": "contains", "value": '"UP"'}, True, 'body contains "\\"UP\\""'),
    ({"target": "body", "op": "contains", "value": "DOWN"}, False, 'body does not contain "DOWN"'),
    ({"target": "body", "op": "not_contains", "value": "error"}, True, 'body does not contain "error"'),
    ({"target": "body", "op": "not_contains", "value": "status"}, False, 'body contains "status"'),
    ({"target": "body", "op": "matches", "value": r'"version": "1\.\d+'}, True, 'body matches /"version": "1\\.\\d+/'),
    ({"target": "body", "op": "matches", "value": r"^\{\}$"}, False, "body does not match /^\\{\\}$/"),
    ({"target": "json", "path": "$.status", "op": "equals", "value": "UP"}, True, '$.status is "UP"'),
    ({"target": "json", "path": "$.status", "op": "equals", "value": "DOWN"}, False,
     '$.status is "UP", expected "DOWN"'),
    ({"target": "json", "path": "$.status", "op": "not_equals", "value": "DOWN"}, True, '$.status is "UP"'),
    ({"target": "json", "path": "$.checks[0].ok", "op": "equals", "value": True}, True, "$.checks[0].ok is true"),
    ({"target": "json", "path": "$.checks[0].ok", "op": "equals", "value": 1}, False,
     "$.checks[0].ok is true, expected 1"),
    ({"target": "json", "path": "$.queue", "op": "lt", "value": 100}, True, "$.queue is 12"),
    ({"target": "json", "path": "$.queue", "op": "ge", "value": 100}, False, "$.queue is 12, expected >= 100"),
    ({"target": "json", "path": "$.queue", "op": "equals", "value": 12.0}, True, "$.queue is 12"),
    ({"target": "json", "path": "$.status", "op": "gt", "value": 1}, False,
     '$.status is "UP", not a number (expected > 1)'),
    ({"target": "json", "path": "$.tags", "op": "contains", "value": "prod"}, True, '$.tags is ["eu", "prod"]'),
    ({"target": "json", "path": "$.version", "op": "contains", "value": "1.4"}, True, '$.version is "1.4.2"'),
    ({"target": "json", "path": "$.checks[1]", "op": "exists"}, False, "$.checks[1] missing"),
    ({"target": "json", "path": '$["a key"]', "op": "exists"}, True, '$["a key"] present'),
    ({"target": "json", "path": "$.maintenance", "op": "not_exists"}, True, "$.maintenance missing"),
    ({"target": "header", "name": "Content-Type", "op": "contains", "value": "json"}, True,
     'header content-type is "application/json; charset=utf-8"'),
    ({"target": "header", "name": "x-version", "op": "equals", "value": "2.0"}, False,
     'header x-version is "1.4.2", expected "2.0"'),
    ({"target": "header", "name": "x-missing", "op": "exists"}, False, "header x-missing missing"),
])
def test_each_assertion_says_what_it_saw(assertion, ok, line):
    verdict = verdict_of(assertion)
    assert verdict.ok is ok
    assert verdict.conditions[1].line == line and verdict.conditions[1].ok is ok
    if not ok:
        assert (verdict.error_kind, verdict.error) == ("assertion_failed", line)
        assert verdict.reason == f"assertion_failed: {line}"


def test_every_condition_is_judged_and_the_first_failure_is_the_error():
    verdict = verdict_of({"target": "body", "op": "contains", "value": "UP"},
                         {"target": "json", "path": "$.queue", "op": "lt", "value": 10},
                         {"target": "header", "name": "x-version", "op": "equals", "value": "9"})
    assert [c.ok for c in verdict.conditions] == [True, True, False, False]
    assert verdict.error == "$.queue is 12, expected < 10"


def test_a_wrong_status_is_the_error_even_when_assertions_fail_too():
    verdict = verdict_of({"target": "body", "op": "contains", "value": "nope"}, status=500)
    assert (verdict.error_kind, verdict.error) == ("unexpected_status", "expected 200, got 500")
    assert [c.ok for c in verdict.conditions] == [False, False]


def test_a_body_that_is_not_json_fails_json_assertions_only():
    verdict = verdict_of({"target": "body", "op": "contains", "value": "<html"},
                         {"target": "json", "path": "$.status", "op": "exists"}, body=b"<html>maintenance</html>")
    assert [c.line for c in verdict.conditions[1:]] == ['body contains "<html"', "$.status: the body is not JSON"]


@pytest.mark.parametrize(("path", "steps"), [
    ("$", ()), ("$.status", ("status",)), ("$.items[0].name", ("items", 0, "name")),
    ('$["a key"].x-y', ("a key", "x-y")),
])
def test_a_json_path_is_parsed_into_steps(path, steps):
    assert parse_json_path(path) == steps


@pytest.mark.parametrize("path", ["status", "$.", "$..status", "$.items[-1]", "$[*]", "$.a b", "$['x']", "$.0"])
def test_an_invalid_json_path_is_refused_with_the_position(path):
    with pytest.raises(ValueError, match="JSON path"):
        parse_json_path(path)


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=x)y", r"(?<!x)y", "(unclosed", "a{1001}"])
def test_a_regex_re2_cannot_run_in_linear_time_is_refused(pattern):
    with pytest.raises(ValueError, match="regular expression"):
        compile_pattern(pattern)


def test_a_pattern_that_would_backtrack_forever_in_python_runs_in_linear_time():
    started = time.process_time()
    verdict = verdict_of({"target": "body", "op": "matches", "value": r"^(a+)+$"}, body=b"a" * 100_000 + b"!")
    assert not verdict.ok and verdict.error == "body does not match /^(a+)+$/"
    print(f"(a+)+ over 100 kB: {1000 * (time.process_time() - started):.1f} ms of CPU")


@pytest.mark.parametrize(("raw", "message"), [
    ({"target": "xml", "op": "contains", "value": "x"}, "target must be one of body, json, header"),
    ({"target": "body", "op": "equals", "value": "x"}, "op of a body assertion must be one of"),
    ({"target": "body", "op": "contains", "value": ""}, "needs a value"),
    ({"target": "body", "op": "contains", "value": 5}, "needs a value"),
    ({"target": "json", "path": "$.a", "op": "lt", "value": "5"}, "value must be a number"),
    ({"target": "json", "path": "$.a", "op": "lt", "value": True}, "value must be a number"),
    ({"target": "json", "path": "$.a", "op": "equals", "value": [1]}, "string, number, boolean or null"),
    ({"target": "json", "path": "a", "op": "exists"}, "JSON path"),
    ({"target": "header", "name": "bad name", "op": "exists"}, "HTTP header name"),
    ({"target": "body", "op": "contains", "value": "x" * 1001}, "at most 1000 characters"),
])
def test_a_bad_assertion_is_refused_with_the_reason(raw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_assertion(raw)


def test_assertions_round_trip_through_their_stored_form():
    raws = [{"target": "json", "path": "$.status", "op": "equals", "value": "UP"},
            {"target": "header", "name": "X-Version", "op": "exists", "value": "ignored"},
            {"target": "body", "op": "matches", "value": "ok|fine"}]
    stored = json.dumps([assertion_json(parse_assertion(r)) for r in raws])
    statuses, assertions = load_stored(json.dumps(["200-299", 301]), stored)
    assert statuses == (StatusRange(200, 299), StatusRange(301, 301))
    assert [assertion_json(a) for a in assertions] == [
        raws[0], {"target": "header", "name": "x-version", "op": "exists"}, raws[2]]


def test_a_spec_captures_only_what_its_assertions_read():
    header = parse_assertion({"target": "header", "name": "x", "op": "exists"})
    body = parse_assertion({"target": "json", "path": "$", "op": "exists"})
    assert captures(()) == {"capture_headers": False, "capture_body": False}
    assert captures((header,)) == {"capture_headers": True, "capture_body": False}
    assert captures((header, body)) == {"capture_headers": True, "capture_body": True}


@pytest.mark.parametrize(("raw", "message"), [
    ({"target": "header", "name": [None, None], "op": "equals", "value": "0"}, "HTTP header name"),
    ({"target": "json", "path": ["$"], "op": "exists"}, "needs a path"),
    ({"target": "json", "path": "$.a", "op": "equals"}, "equals needs a value"),
    ({"target": "body", "op": "contains", "value": "x", "path": "$"}, "a body assertion has no field 'path'"),
    ({"target": "json", "path": "$", "op": "exists", "name": "x"}, "a json assertion has no field 'name'"),
])
def test_an_assertion_the_document_does_not_allow_is_refused_not_guessed(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_assertion(raw)


def test_json_null_is_a_value_to_compare_with():
    assert parse_assertion({"target": "json", "path": "$.a", "op": "equals", "value": None}).value is None
    assert verdict_of({"target": "json", "path": '$["a key"]', "op": "equals", "value": None}).ok
