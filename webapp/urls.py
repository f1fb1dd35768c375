"""Monitor and webhook URLs as the API accepts them: an http(s) IRI (RFC 3987), stored as a URI (RFC 3986).

The OpenAPI document declares the request fields `format: iri`, so a client may send the host as people
write it (`https://bücher.de/ä`). `normalise_url()` maps it to the URI the checker and the alert sender
use: the host in IDNA 2008 ASCII form (UTS #46, non-transitional, as browsers and libcurl with libidn2
resolve it: `faß.de` is `xn--fa-hia.de`, not `fass.de`) and every other non-ASCII character
percent-encoded as UTF-8 (RFC 3987 section 3.1). An ASCII URL is returned unchanged. Anything that is not
an IRI (`<`, `|`, `{`, a `#` inside the fragment, a bad `%` escape), and a non-ASCII host that is not a
valid internationalised domain name, is refused: `UrlProblem` says why, for a 422 naming the field.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import idna

_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    + "".join(f"{chr(plane << 16)}-{chr((plane << 16) + 0xFFFD)}" for plane in range(1, 14))
    + "\U000e1000-\U000efffd"
)
"""RFC 3987 ucschar: the non-ASCII characters an IRI may hold (no surrogates, private use or non-characters)."""

_IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
"""RFC 3987 iprivate: private-use characters, allowed in the query only."""

_UNRESERVED = "A-Za-z0-9\\-._~" + _UCSCHAR
_SUB_DELIMS = "!$&'()*+,;="
_PCT = "%[0-9A-Fa-f]{2}"


def _run(chars: str) -> re.Pattern:
    """A component made only of `chars` and percent escapes."""
    return re.compile(f"(?:[{chars}]|{_PCT})*")


_IPCHAR = _UNRESERVED + re.escape(_SUB_DELIMS) + ":@"
_COMPONENTS = {
    "userinfo": _run(_UNRESERVED + re.escape(_SUB_DELIMS) + ":"),
    "host": _run(_UNRESERVED + re.escape(_SUB_DELIMS)),
    "path": _run(_IPCHAR + "/"),
    "query": _run(_IPCHAR + _IPRIVATE + "/?"),
    "fragment": _run(_IPCHAR + "/?"),
}
_PORT = re.compile(r"[0-9]*")
_ASCII_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


class UrlProblem(ValueError):
    """The URL is refused. `key` names the message (HttpUrl's error messages), `detail` adds to it."""

    def __init__(self, key: str, detail: str = ""):
        super().__init__(key)
        self.key, self.detail = key, detail


def _split_netloc(netloc: str) -> tuple[str | None, str, str | None]:
    """(userinfo or None, host as written, port or None); an IP literal's host keeps its brackets."""
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        host, bracket, rest = hostport.partition("]")
        host, hostport = host + bracket, rest
    else:
        host, _, _ = hostport.partition(":")
        hostport = hostport[len(host):]
    port = hostport[1:] if hostport.startswith(":") else None
    return (userinfo if at else None), host, port


def _ascii_host(host: str) -> str:
    """The host in ASCII: unchanged if it is, else its IDNA 2008 (UTS #46) form."""
    if host.isascii():
        return host
    if "%" in host:
        raise UrlProblem("idna", "a percent escape in an internationalised host")
    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise UrlProblem("idna", str(exc)) from None


def normalise_url(text: str) -> str:
    """`text` (an http(s) URL with a host, already stripped) as an ASCII URI, or UrlProblem.

    Keys: "malformed" (not an IRI), "scheme" (not http or https), "host" (no host), "idna" (a non-ASCII
    host that is not a valid internationalised domain name)."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UrlProblem("malformed")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise UrlProblem("malformed") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlProblem("scheme")
    if not parts.hostname:
        raise UrlProblem("host")
    userinfo, host, port = _split_netloc(parts.netloc)
    literal = host.startswith("[")  # urlsplit has checked it is a valid IPv6 (or IPvFuture) literal
    checks = [("userinfo", userinfo or ""), ("host", "" if literal else host), ("path", parts.path),
              ("query", parts.query), ("fragment", parts.fragment)]
    if port is not None and not _PORT.fullmatch(port):
        raise UrlProblem("malformed")
    for component, value in checks:
        if not _COMPONENTS[component].fullmatch(value):
            raise UrlProblem("malformed")
    if text.isascii():
        return text
    netloc = ("" if userinfo is None else f"{quote(userinfo, safe=_ASCII_PRINTABLE)}@") + _ascii_host(host)
    parts = parts._replace(netloc=netloc + ("" if port is None else f":{port}"))
    out = parts._replace(
        path=quote(parts.path, safe=_ASCII_PRINTABLE),
        query=quote(parts.query, safe=_ASCII_PRINTABLE),
        fragment=quote(parts.fragment, safe=_ASCII_PRINTABLE),
    )
    return out.geturl()
