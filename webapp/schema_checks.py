"""API fields of what a check requires of a response: accepted status ranges, assertions, the slowness limit.

Each item is parsed by healthmon.domain.conditions (the rules live there, once) and stored in its
normalised form. Every rule is also stated in the OpenAPI document: the items are `oneOf` explicit object
schemas (one per target and kind of operation), so any request the document allows is accepted.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from healthmon import defaults
from healthmon.domain import conditions as c
from healthmon.domain import request as rq

_TEXT = {"type": "string", "minLength": 1, "maxLength": c.MAX_VALUE_CHARS}
_PATH = {"type": "string", "pattern": c.JSON_PATH_PATTERN, "maxLength": c.MAX_PATH_CHARS,
         "description": "`$`, then `.name`, `[index]` or `[\"any key\"]` steps.", "example": "$.status"}
_NAME = {"type": "string", "pattern": rq.TOKEN_PATTERN, "maxLength": rq.MAX_HEADER_NAME_CHARS,
         "description": "Header name (any case).",
         "example": "Content-Type"}


def _object(description: str, required: list[str], **properties) -> dict:
    return {"type": "object", "description": description, "required": required, "additionalProperties": False,
            "properties": properties}


ASSERTION_SCHEMAS = [
    _object("The body contains / does not contain a string (bytes compared as UTF-8).", ["target", "op", "value"],
            target={"type": "string", "enum": ["body"]}, op={"type": "string", "enum": ["contains", "not_contains"]},
            value=_TEXT),
    _object("The body matches a regular expression (RE2 syntax: linear time, so no backreferences or lookarounds; "
            f"at most {c.MAX_PATTERN_CHARS} characters).", ["target", "op", "value"],
            target={"type": "string", "enum": ["body"]}, op={"type": "string", "enum": ["matches"]},
            value={"type": "string", "minLength": 1, "maxLength": c.MAX_PATTERN_CHARS, "format": "regex"}),
    _object("A JSON value of the body exists / does not exist.", ["target", "path", "op"],
            target={"type": "string", "enum": ["json"]}, path=_PATH,
            op={"type": "string", "enum": list(c.NO_VALUE_OPS)}, value={"description": "Ignored."}),
    _object("A JSON value equals / does not equal `value` (JSON equality: true is not 1).",
            ["target", "path", "op", "value"],
            target={"type": "string", "enum": ["json"]}, path=_PATH,
            op={"type": "string", "enum": ["equals", "not_equals"]},
            value={"oneOf": [{"type": "string", "maxLength": c.MAX_VALUE_CHARS}, {"type": "number"},
                             {"type": "boolean"}], "nullable": True}),
    _object("A JSON string contains `value`, or a JSON list holds it.", ["target", "path", "op", "value"],
            target={"type": "string", "enum": ["json"]}, path=_PATH, op={"type": "string", "enum": ["contains"]},
            value={"type": "string", "maxLength": c.MAX_VALUE_CHARS}),
    _object("A JSON number compares with `value`: lt <, le <=, gt >, ge >=.", ["target", "path", "op", "value"],
            target={"type": "string", "enum": ["json"]}, path=_PATH,
            op={"type": "string", "enum": list(c.ORDER_OPS)}, value={"type": "number"}),
    _object("A response header is present.", ["target", "name", "op"],
            target={"type": "string", "enum": ["header"]}, name=_NAME, op={"type": "string", "enum": ["exists"]},
            value={"description": "Ignored."}),
    _object("A response header equals / contains `value`.", ["target", "name", "op", "value"],
            target={"type": "string", "enum": ["header"]}, name=_NAME,
            op={"type": "string", "enum": ["equals", "contains"]}, value=_TEXT),
]

ASSERTION_EXAMPLES = [
    {"target": "json", "path": "$.status", "op": "equals", "value": "UP"},
    {"target": "body", "op": "not_contains", "value": "maintenance"},
    {"target": "header", "name": "Content-Type", "op": "contains", "value": "application/json"},
]


class StatusCodeItem(fields.Field):
    """200, or a range "200-299" (a reversed range means the same codes); shown normalised."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return c.status_item_json(c.parse_status_item(value))
        except ValueError as exc:
            raise ma.ValidationError(_sentence(str(exc))) from None


class AssertionItem(fields.Field):
    """One assertion object (ASSERTION_SCHEMAS); shown normalised (header names lowercased)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ma.ValidationError("Must be an object with target and op.")
        try:
            return c.assertion_json(c.parse_assertion(value))
        except c.AssertionProblem as problem:  # named under the item: assertions.0.path
            raise ma.ValidationError({problem.key: [_sentence(str(problem))]}) from None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def check_field_specs(opt, doc) -> dict[str, fields.Field]:
    """The writable fields of this module for webapp.schemas._field_specs (`opt`/`doc` as there)."""
    return {
        "expected_status_codes": fields.List(
            StatusCodeItem(metadata={"oneOf": [{"type": "integer", "minimum": 100, "maximum": 599},
                                               {"type": "string", "pattern": c.STATUS_RANGE_PATTERN}]}),
            allow_none=True, validate=validate.Length(min=1, max=c.MAX_STATUS_ITEMS), **opt(None),
            metadata={"description": "Accepted status codes and ranges, such as [\"200-299\", 301]; when set it "
                                     "replaces expected_status_code. null: expected_status_code decides.",
                      "example": ["200-299", 301]},
        ),
        "assertions": fields.List(
            AssertionItem(metadata={"oneOf": ASSERTION_SCHEMAS}), allow_none=True,
            validate=validate.Length(max=c.MAX_ASSERTIONS), **opt(None),
            metadata={"description": "Conditions on the response that must all hold (and the status must be "
                                     f"accepted) for a check to pass; at most {c.MAX_ASSERTIONS}. The body read is "
                                     "capped (MAX_BODY_BYTES); a failed one is named in the result, the state "
                                     "change and the alert.", "example": ASSERTION_EXAMPLES},
        ),
        "max_response_time_ms": fields.Integer(
            strict=True, allow_none=True, validate=validate.Range(min=1, max=defaults.MAX_CHECK_TIMEOUT * 1000),
            **opt(None),
            **doc("A passed check slower than this is slow; after the thresholds the monitor is DEGRADED (up but "
                  "slow) instead of UP. null: no limit, only UP and DOWN."),
        ),
    }
