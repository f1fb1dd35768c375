"""Request options of a monitor: how the check asks (method, headers, body, auth, redirects, TLS, User-Agent).

Pure values and rules, no I/O. The API (webapp.request_schemas) validates with these rules, the recorder
(checker.record) builds a `RequestOptions` from a stored monitor, and the engine (checker.transfer) applies
it to a libcurl handle. A monitor whose options are all defaults has no RequestOptions at all (None), so a
plain check costs what it cost before these options existed.

Why the header rules are what they are (`FORBIDDEN_HEADERS` says it per name):
- the engine controls framing and the connection: Content-Length and Transfer-Encoding come from the body
  (a wrong one desynchronises the request), Connection / Keep-Alive / TE / Trailer / Upgrade / Expect are
  hop-by-hop or change the protocol (each check opens a fresh connection and closes it; `Expect` would add a
  100-continue round trip to the measured latency);
- Host is refused: the check goes to the URL's host (that host is what the address guard judged and what TLS
  verifies), and a different Host header would make the monitor check one site while its URL names another;
- Accept-Encoding is refused: the engine asks for `identity` so a compressed body is never expanded past the
  read cap (a gzip bomb) and body conditions read the real body;
- User-Agent has its own field (`user_agent`) and Proxy-* headers mean nothing without a proxy (never used).

Secrets: `auth` is write-only, and so is the value of every header `is_secret_header` names (Authorization,
Cookie, X-Api-Key, anything with token / secret / key / password / session / auth / signature / credential in
its name). Outputs show `MASK` instead; sending `MASK` back means "keep the stored value".
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_METHOD = "GET"
BODY_METHODS = ("POST", "PUT", "PATCH")
"""Methods that send a body even when the monitor has none (an empty one, Content-Length 0). A monitor's
`body` is sent with every method but HEAD (a GET or DELETE body has no defined meaning in RFC 9110, but some
APIs read one, as `curl -X GET -d` sends it); with HEAD it is ignored, and the monitor's warnings say so."""

MAX_HEADERS = 32
MAX_HEADER_NAME_CHARS = 100
MAX_HEADER_VALUE_CHARS = 4096
MAX_HEADERS_BYTES = 8192
"""Headers of one monitor: at most 32, a name of 100 and a value of 4096 characters, and 8 KiB in all
(`Name: value` lines). Servers commonly refuse request headers past 8-16 KiB in all."""

MAX_BODY_CHARS = 32 * 1024
"""A request body is at most 32,768 characters (the unit the OpenAPI document's maxLength counts): an ASCII
body with the headers' 8 KiB still fits the API's 64 KiB request limit (defaults.MAX_REQUEST_BYTES), and a
health check has no use for more."""

MAX_USER_AGENT_CHARS = 256
MAX_USERNAME_CHARS = 256
MAX_PASSWORD_CHARS = 1024
MAX_TOKEN_CHARS = 4096

DEFAULT_BODY_CONTENT_TYPE = "text/plain; charset=utf-8"
"""Sent with a body when the monitor's headers name no Content-Type (libcurl would claim a form)."""

MASK = "****"
"""What outputs show for a secret; the same value sent back on PUT/PATCH keeps the stored secret."""

TOKEN_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # noqa: S105 - a pattern, not a password
"""An HTTP field name (RFC 9110 token)."""
HEADER_VALUE_PATTERN = r"^[\x20-\x7e\t]*$"
"""Printable ASCII (and tabs): no CR/LF (header injection), no NUL, nothing a server would decode differently."""
BEARER_TOKEN_PATTERN = r"^[A-Za-z0-9\-._~+/]+=*$"  # noqa: S105 - a pattern, not a password
"""RFC 6750 b64token: what may follow `Bearer ` in an Authorization header."""
PRINTABLE_PATTERN = r"^[^\u0000-\u001f\u007f]*$"
"""No control characters (usernames, passwords, the User-Agent)."""

# Matched with fullmatch(): in Python `$` also matches before a final newline, so "value\n" would pass match().
_TOKEN = re.compile(TOKEN_PATTERN)
_HEADER_VALUE = re.compile(HEADER_VALUE_PATTERN)
_BEARER_TOKEN = re.compile(BEARER_TOKEN_PATTERN)

FORBIDDEN_HEADERS = {
    "host": "the check goes to the URL's host (the one the address guard and TLS check); put the host in url",
    "content-length": "set by the engine from the body",
    "transfer-encoding": "set by the engine from the body",
    "connection": "the engine opens a fresh connection for every check and closes it",
    "keep-alive": "the engine opens a fresh connection for every check and closes it",
    "proxy-connection": "no proxy is used",
    "proxy-authorization": "no proxy is used",
    "te": "hop-by-hop: controlled by the engine",
    "trailer": "hop-by-hop: controlled by the engine",
    "upgrade": "a check does not switch protocols",
    "expect": "the engine sends the body at once (no 100-continue round trip in the latency)",
    "accept-encoding": "the engine asks for identity, so a compressed body is never expanded past the read cap",
    "user-agent": "use the user_agent field",
}
"""Header names (lowercase) a monitor may not set, and why."""

SECRET_HEADER_NAMES = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key", "api-key",
                                 "apikey", "x-auth", "x-csrf-token", "x-xsrf-token"})
SECRET_HEADER_WORDS = ("auth", "token", "secret", "key", "password", "passwd", "session", "cookie",
                       "signature", "credential")
"""A header is a secret when its lowercased name is one of SECRET_HEADER_NAMES or contains one of these."""

LIBCURL_GUARDED_HEADERS = frozenset({"authorization", "cookie"})
"""libcurl itself drops these custom headers on a redirect to another host; other secret headers would be
sent to any host a redirect names, so the engine refuses such a redirect instead (see RequestOptions)."""

AUTH_TYPES = ("basic", "bearer")

WARN_NO_TLS_VERIFY = ("verify_tls is false: the certificate chain and host name are not checked, so an "
                      "expired, self-signed or impostor certificate passes")
WARN_HEAD_BODY = "method is HEAD: the body is not sent"
WARN_AUTH_REPLACES_HEADER = "auth is set: it replaces the Authorization header given in headers"
WARN_SECRET_IN_CLEAR = ("credentials are sent over plain http:// (auth or a secret header): anyone on the path "  # noqa: S105
                        "can read them")


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a credential (masked in every output, write-only)."""
    lower = name.lower()
    return lower in SECRET_HEADER_NAMES or any(word in lower for word in SECRET_HEADER_WORDS)


def header_name_problem(name: str) -> str | None:
    """Why `name` cannot be a monitor's request header, or None."""
    if not name or len(name) > MAX_HEADER_NAME_CHARS:
        return f"a header name has 1 to {MAX_HEADER_NAME_CHARS} characters"
    if not _TOKEN.fullmatch(name):
        return "not a valid header name (letters, digits and !#$%&'*+.^_`|~- only)"
    reason = FORBIDDEN_HEADERS.get(name.lower())
    if reason is not None:
        return f"{name} may not be set: {reason}"
    return None


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be a header value, or None. Never quotes the value (it may be a secret)."""
    if not value:
        return "must not be empty"
    if len(value) > MAX_HEADER_VALUE_CHARS:
        return f"longer than {MAX_HEADER_VALUE_CHARS} characters"
    if not _HEADER_VALUE.fullmatch(value):
        return "printable ASCII only (no line breaks or control characters)"
    return None


def headers_problem(headers: Mapping[str, str]) -> str | None:
    """Why the map as a whole is unacceptable (count, size, a name given twice), or None."""
    if len(headers) > MAX_HEADERS:
        return f"at most {MAX_HEADERS} headers"
    seen: set[str] = set()
    for name in headers:
        if name.lower() in seen:
            return f"{name} is given twice (header names are case-insensitive)"
        seen.add(name.lower())
    size = sum(len(k) + 2 + len(v) for k, v in headers.items())
    if size > MAX_HEADERS_BYTES:
        return f"{size} bytes of headers; at most {MAX_HEADERS_BYTES}"
    return None


def bearer_token_problem(token: str) -> str | None:
    if not token or len(token) > MAX_TOKEN_CHARS:
        return f"a token has 1 to {MAX_TOKEN_CHARS} characters"
    if token != MASK and not _BEARER_TOKEN.fullmatch(token):
        return "not a bearer token (RFC 6750: letters, digits and -._~+/ then optional =)"
    return None


def warnings(url: str, verify_tls: bool, auth: Mapping | None, headers: Mapping[str, str] | None,
             method: str | None = None, body: str | None = None) -> list[str]:
    """What the API shows beside a monitor whose options weaken the check, expose a credential, or are not
    used as given (a HEAD's body, an Authorization header that auth replaces)."""
    out = []
    if method == "HEAD" and body is not None:
        out.append(WARN_HEAD_BODY)
    if auth and any(name.lower() == "authorization" for name in headers or {}):
        out.append(WARN_AUTH_REPLACES_HEADER)
    if not verify_tls:
        out.append(WARN_NO_TLS_VERIFY)
    if url[:7].lower() == "http://" and (auth or any(is_secret_header(n) for n in headers or {})):
        out.append(WARN_SECRET_IN_CLEAR)
    return out


def mask_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers as outputs show them: secret values replaced by MASK."""
    return {k: (MASK if is_secret_header(k) else v) for k, v in (headers or {}).items()}


def mask_auth(auth: Mapping | None) -> dict | None:
    """auth as outputs show it: the type, and MASK for every other value. The username too: some services
    take the secret as the username (an API key with an empty password)."""
    if not auth:
        return None
    return {"type": auth.get("type"), **{k: MASK for k in auth if k != "type"}}


def auth_header(auth: Mapping) -> str:
    """The Authorization header line for `auth`. Sent as a header (not libcurl's auth options) so that it is
    replaced with the rest of the headers on every change, and libcurl drops it on a redirect to another
    host, port or scheme."""
    if auth["type"] == "basic":
        pair = f"{auth['username']}:{auth['password']}".encode()
        return "Authorization: Basic " + base64.b64encode(pair).decode("ascii")
    return "Authorization: Bearer " + auth["token"]


@dataclass(frozen=True, repr=False)
class RequestOptions:
    """How a check asks, when anything differs from a plain GET. `header_lines` are the request's own
    header lines (the monitor's headers, Authorization from auth, a Content-Type for a body) ready for
    libcurl; `body` is the encoded body or None. `guard_redirects`: the request carries a secret header
    libcurl would pass to any host, so a redirect to another origin is refused, not followed.

    repr shows no header value, body or credential: a spec may be logged."""

    method: str = DEFAULT_METHOD
    header_lines: tuple[str, ...] = ()
    body: bytes | None = field(default=None)
    follow_redirects: bool = True
    verify_tls: bool = True
    user_agent: str | None = None
    guard_redirects: bool = False

    def __repr__(self) -> str:
        names = [line.split(":", 1)[0] for line in self.header_lines]
        return (f"RequestOptions(method={self.method!r}, headers={names!r}, "
                f"body={'None' if self.body is None else f'<{len(self.body)} bytes>'}, "
                f"follow_redirects={self.follow_redirects}, verify_tls={self.verify_tls}, "
                f"user_agent={self.user_agent!r})")


def request_options(method: str | None, headers: Mapping[str, str] | None, body: str | None,
                    auth: Mapping | None, follow_redirects, verify_tls, user_agent: str | None,
                    ) -> RequestOptions | None:
    """The RequestOptions of a stored monitor, or None when every option is its default (a plain GET).
    NULL columns (rows from before the options existed) mean the defaults."""
    method = method or DEFAULT_METHOD
    follow = follow_redirects is None or bool(follow_redirects)
    verify = verify_tls is None or bool(verify_tls)
    if method == DEFAULT_METHOD and not headers and body is None and not auth and follow and verify \
            and not user_agent:
        return None
    lines = [f"{name}: {value}" for name, value in (headers or {}).items()
             if not (auth and name.lower() == "authorization")]  # auth replaces it (a warning says so)
    if auth:
        lines.append(auth_header(auth))
    encoded = None
    if body is not None and method != "HEAD":
        encoded = body.encode("utf-8")
        if not any(name.lower() == "content-type" for name in headers or {}):
            lines.append(f"Content-Type: {DEFAULT_BODY_CONTENT_TYPE}")
    guard = follow and any(is_secret_header(n) and n.lower() not in LIBCURL_GUARDED_HEADERS
                           for n in headers or {})
    return RequestOptions(method=method, header_lines=tuple(lines), body=encoded, follow_redirects=follow,
                          verify_tls=verify, user_agent=user_agent or None, guard_redirects=guard)


class MaskedSecret(ValueError):
    """A masked value (`MASK`) where no stored secret can stand in for it. `field` names it (`auth.token`,
    `headers.X-Api-Key`)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def keep_secrets(headers: Mapping[str, str] | None, auth: Mapping | None, stored_headers: Mapping[str, str] | None,
                 stored_auth: Mapping | None) -> tuple[dict[str, str] | None, dict | None]:
    """`headers` and `auth` of an edit with each masked secret replaced by the stored one it stands for
    (a client that GETs, edits and PUTs sends the masked values back). On create pass None for both stored
    values: any masked secret is then refused. Raises MaskedSecret."""
    out_headers = None
    if headers is not None:
        stored = {k.lower(): v for k, v in (stored_headers or {}).items()}
        out_headers = {}
        for name, value in headers.items():
            if value == MASK and is_secret_header(name):
                if name.lower() not in stored:
                    raise MaskedSecret(f"headers.{name}", "is the masked value ****, but this monitor has no stored "
                                                          "value for the header: send the real value")
                value = stored[name.lower()]
            out_headers[name] = value
    out_auth = None
    if auth is not None:
        out_auth = dict(auth)
        for key, value in auth.items():
            if key == "type" or value != MASK:
                continue
            if not stored_auth or stored_auth.get("type") != auth.get("type") or key not in stored_auth:
                raise MaskedSecret(f"auth.{key}", f"is the masked value ****, but this monitor has no stored "
                                                  f"{auth.get('type')} {key}: send the real value")
            out_auth[key] = stored_auth[key]
    return out_headers, out_auth
