"""The request options of a monitor in the API: input fields (validated by healthmon.domain.request's rules,
each rule stated in the OpenAPI document) and the masked output.

`auth` and the values of secret headers (Authorization, Cookie, X-Api-Key, ...: `is_secret_header`) are
write-only, like `webhook_url`: responses show `****`, and `****` sent back on PUT or PATCH keeps the stored
value (webapp.service.resolve_request_secrets). No error message ever quotes a header value or a credential.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from healthmon.domain import request as rq

EXAMPLE_HEADERS = {"Accept": "application/json", "X-Api-Key": "k-3f9a0c"}
CREATE_EXAMPLE = {
    "name": "Orders API", "url": "https://api.example.com/v1/health", "check_interval": 60, "timeout": 5,
    "expected_status_code": 200, "method": "POST", "headers": {"Content-Type": "application/json"},
    "body": '{"probe": true}', "auth": {"type": "bearer", "token": "eyJhbGciOiJIUzI1NiJ9.e30.sig"},
    "follow_redirects": False, "verify_tls": True, "user_agent": "acme-probe/1.0",
}
"""POST /monitors example in the OpenAPI document: a monitor with request options."""


class RequestHeaders(fields.Dict):
    """`{"Name": "value"}`: names are HTTP tokens and not ones the engine controls, values printable ASCII.
    The count is checked before anything else, so a huge map is refused without looking at each entry."""

    def __init__(self, **kwargs):
        values = fields.String(validate=validate.Length(min=1, max=rq.MAX_HEADER_VALUE_CHARS),
                               metadata={"pattern": rq.HEADER_VALUE_PATTERN})
        metadata = {
            "maxProperties": rq.MAX_HEADERS,
            "example": EXAMPLE_HEADERS,
            "description": (
                f"Request headers, at most {rq.MAX_HEADERS}: names are HTTP tokens of at most "
                f"{rq.MAX_HEADER_NAME_CHARS} characters (case-insensitive, each once), values printable ASCII "
                f"of 1 to {rq.MAX_HEADER_VALUE_CHARS} characters, {rq.MAX_HEADERS_BYTES} bytes in all. Refused: "
                + ", ".join(rq.FORBIDDEN_HEADERS)
                + " (the engine controls them; see docs/api.md). The values of secret headers (Authorization, "
                "Cookie, X-Api-Key, or a name containing token, secret, key, password, session, auth, "
                "signature or credential) are write-only: responses show `****`, and `****` sent back keeps "
                "the stored value (with none stored, it is refused). PATCH replaces the whole map."
            ),
        }
        super().__init__(keys=fields.String(), values=values, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict) and len(value) > rq.MAX_HEADERS:
            raise ma.ValidationError(f"At most {rq.MAX_HEADERS} headers.")
        headers = super()._deserialize(value, attr, data, **kwargs)
        errors: dict[str, list[str]] = {}
        for name, text in headers.items():
            problem = rq.header_name_problem(name) or rq.header_value_problem(text)
            if problem is None and not text.strip():
                problem = "must not be blank"
            if problem:
                errors[name] = [problem[0].upper() + problem[1:] + "."]
        if errors:
            raise ma.ValidationError(errors)
        problem = rq.headers_problem(headers)
        if problem:
            raise ma.ValidationError(problem[0].upper() + problem[1:] + ".")
        return headers


class RequestBody(fields.String):
    """Text of at most MAX_BODY_CHARS characters, no NUL (PostgreSQL text cannot hold one)."""

    default_error_messages = {
        "too_large": f"Longer than {rq.MAX_BODY_CHARS} characters.",
        "encoding": "Must be valid Unicode text (no lone surrogates).",
        "nul": "Must not contain NUL characters.",
    }

    def __init__(self, **kwargs):
        metadata = {
            "maxLength": rq.MAX_BODY_CHARS, "pattern": r"^[^\u0000]*$", "example": '{"probe": true}',
            "description": (
                f"Request body text, at most {rq.MAX_BODY_CHARS} characters, sent as UTF-8 with every method but "
                "HEAD (a HEAD sends none; the monitor's warnings say so). Content-Type comes from headers "
                "(default text/plain; charset=utf-8). The body is not a secret and is shown in responses: put "
                "credentials in auth or a secret header."
            ),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("encoding") from None
        if len(text) > rq.MAX_BODY_CHARS:
            raise self.make_error("too_large")
        return text


class FullMatch(validate.Regexp):
    """validate.Regexp over the whole value: re.match with `$` would let a trailing newline through."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


def _either(pattern: str) -> str:
    """`pattern`, or the masked value `****` (which keeps the stored secret)."""
    return f"^(?:{pattern[1:-1]}|\\*\\*\\*\\*)$"


class RequestAuthSchema(ma.Schema):
    """`{"type": "basic", "username", "password"}` or `{"type": "bearer", "token"}`."""

    class Meta:
        unknown = ma.RAISE

    type = fields.String(required=True, validate=validate.OneOf(rq.AUTH_TYPES),
                         metadata={"description": "basic (username and password) or bearer (token)."})
    username = fields.String(
        validate=[validate.Length(min=1, max=rq.MAX_USERNAME_CHARS),
                  FullMatch(r"^[^\u0000-\u001f\u007f:]*$", error="No colon or control characters.")],
        metadata={"pattern": r"^[^\u0000-\u001f\u007f:]*$",
                  "description": "basic only: no colon (RFC 7617). Write-only (shown as ****)."})
    password = fields.String(
        validate=[validate.Length(max=rq.MAX_PASSWORD_CHARS),
                  FullMatch(rq.PRINTABLE_PATTERN, error="No control characters.")],
        metadata={"pattern": rq.PRINTABLE_PATTERN, "description": "basic only (may be empty). Write-only."})
    token = fields.String(
        validate=[validate.Length(min=1, max=rq.MAX_TOKEN_CHARS),
                  FullMatch(_either(rq.BEARER_TOKEN_PATTERN),
                                  error="Not a bearer token (RFC 6750: letters, digits and -._~+/ then optional =).")],
        metadata={"pattern": _either(rq.BEARER_TOKEN_PATTERN),
                  "description": "bearer only: sent as `Authorization: Bearer <token>`. Write-only."})

    @ma.validates_schema
    def _fields_of_the_type(self, data, **kwargs):
        wanted = ("username", "password") if data.get("type") == "basic" else ("token",)
        errors = {}
        for name in ("username", "password", "token"):
            if name in wanted and name not in data:
                errors[name] = [f"Required for {data.get('type')} auth."]
            elif name not in wanted and name in data:
                errors[name] = [f"Not used by {data.get('type')} auth."]
        if errors:
            raise ma.ValidationError(errors)


def _auth_kind(kind: str, **properties) -> dict:
    """One kind of `auth` as an object schema: its fields required, no other field allowed."""
    return {"type": "object", "required": ["type", *properties], "additionalProperties": False,
            "properties": {"type": {"type": "string", "enum": [kind]}, **properties}}


def _documented(name: str) -> dict:
    """A RequestAuthSchema field as the OpenAPI document states it (its bounds, pattern and description)."""
    f = RequestAuthSchema().fields[name]
    out = {"type": "string", **{k: v for k, v in f.metadata.items() if k in ("pattern", "description")}}
    for v in f.validators:
        if isinstance(v, validate.Length):
            out.update({k: n for k, n in (("minLength", v.min), ("maxLength", v.max)) if n is not None})
    return out


AUTH_KINDS = [
    _auth_kind("basic", username=_documented("username"), password=_documented("password")),
    _auth_kind("bearer", token=_documented("token")),
]
"""`auth` in the OpenAPI document: exactly the fields of its type (a bearer auth with a username is refused,
and the document says so)."""


class RequestAuth(fields.Field):
    """`auth`, validated by RequestAuthSchema and documented as AUTH_KINDS (oneOf)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return RequestAuthSchema().load(value)


AUTH_DESCRIPTION = (
    "Credentials sent on every check (never to another host a redirect names): "
    '`{"type": "basic", "username": "...", "password": "..."}` or `{"type": "bearer", "token": "..."}`. '
    "Write-only: responses show every value but the type as `****`; `****` sent back on PUT or PATCH keeps "
    "the stored value (with none stored, `****` is refused); null removes it. It replaces an Authorization "
    "header given in headers (the monitor's warnings say so)."
)


def request_field_specs(patch: bool, boolean: type[fields.Boolean]) -> dict[str, fields.Field]:
    """The writable request-option fields of a monitor (webapp.schemas._field_specs adds them, passing its
    strict `boolean` field class). For PATCH nothing has a default."""

    def opt(default):
        return {} if patch else {"load_default": default}

    def doc(text: str, example=None) -> dict:
        meta = {"description": text}
        if example is not None:
            meta["example"] = example
        return {"metadata": meta}

    return {
        "method": fields.String(
            validate=validate.OneOf(rq.METHODS), **opt(rq.DEFAULT_METHOD),
            **doc("HTTP method of the check. HEAD reads no body. A redirect keeps PUT, PATCH, DELETE and "
                  "OPTIONS (as curl -X does); POST becomes GET on 301, 302 and 303.", "GET"),
        ),
        "headers": RequestHeaders(**opt(dict)),
        "body": RequestBody(allow_none=True, **opt(None)),
        "auth": RequestAuth(allow_none=True, **opt(None), metadata={
            **doc(AUTH_DESCRIPTION, {"type": "bearer", "token": "eyJhbGciOiJIUzI1NiJ9.e30.sig"})["metadata"],
            "oneOf": AUTH_KINDS}),
        "follow_redirects": boolean(**opt(True), **doc(
            "Follow up to 5 redirects (true), or observe the 3xx itself (false: set expected_status_code).")),
        "verify_tls": boolean(**opt(True), **doc(
            "Verify the certificate chain and host name. false accepts any certificate and puts a warning "
            "in the monitor's warnings.")),
        "user_agent": fields.String(
            allow_none=True, validate=[
                validate.Length(min=1, max=rq.MAX_USER_AGENT_CHARS),
                FullMatch(r"^[\x20-\x7e]*$", error="Printable ASCII only."),
            ], **opt(None),
            metadata={"pattern": r"^[\x20-\x7e]*$", "example": "acme-probe/1.0",
                      "description": "User-Agent of the check (printable ASCII); null: healthmon/<version>."},
        ),
    }


# ---- output -------------------------------------------------------------------------------------------


class MaskedHeaders(fields.Dict):
    def _serialize(self, value, attr, obj, **kwargs):
        return rq.mask_headers(value)


class MaskedAuth(fields.Dict):
    def _serialize(self, value, attr, obj, **kwargs):
        return rq.mask_auth(value)


class Warnings(fields.List):
    """Computed from the monitor, not stored."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return rq.warnings(obj.url, obj.verify_tls, obj.auth, obj.headers, obj.method, obj.body)


class RequestOptionsOutput(ma.Schema):
    """The request options of a stored monitor as responses show them (secrets masked)."""

    method = fields.String(required=True, validate=validate.OneOf(rq.METHODS))
    headers = MaskedHeaders(keys=fields.String(), values=fields.String(), required=True, metadata={
        "description": "Secret header values are shown as ****.", "example": {"Accept": "application/json",
                                                                              "X-Api-Key": "****"}})
    body = fields.String(allow_none=True, required=True)
    auth = MaskedAuth(allow_none=True, required=True, metadata={
        "description": "Masked: only the type is shown.", "example": {"type": "bearer", "token": "****"}})
    follow_redirects = fields.Boolean(required=True)
    verify_tls = fields.Boolean(required=True)
    user_agent = fields.String(allow_none=True, required=True, metadata={
        "description": "null: healthmon/<version>."})
    warnings = Warnings(fields.String(), required=True, metadata={
        "description": "What weakens this check or exposes a credential (verify_tls false; credentials over "
                       "plain http). Empty when nothing does.",
        "example": [rq.WARN_NO_TLS_VERIFY]})
