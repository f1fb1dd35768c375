"""The webhook client: one POST of an alert body through libcurl, with the address guard on its socket.

It shares the check engine's transfer setup (checker/transfer.py: protocols, no proxy, the guard, the
response cap) but nothing else: a POST is never judged as a check, its answer is judged by
checker/webhook_answers.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pycurl

from checker.curl_errors import classify
from checker.transfer import (
    POST_HEADERS_EXTRA,
    POST_MAX_RESPONSE_BYTES,
    REQUEST_HEADERS,
    GuardCache,
    Transfer,
    configure_request,
    configure_static,
    default_ca_bundle,
    parse_headers,
)
from healthmon.netguard import AddressGuard


class TransportError(Exception):
    """A POST did not get a response. `kind` is one of healthmon.domain.check.ERROR_KINDS; `message` is
    short and safe to log (no URL path, query or credentials)."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class HttpResponse:
    """A POST's response: header names lowercased (last value wins), body capped at 64 KiB."""

    status: int
    headers: dict[str, str]
    body: bytes


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, guard: AddressGuard, *,
         ca_bundle: str | None = None) -> HttpResponse:
    """POST `body` to `url` once, redirects not followed, the guard applied to the socket.

    Returns the response whatever its status (a 4xx/5xx is the caller's to judge). Raises TransportError
    (kind in ERROR_KINDS: timeout, dns, connect, tls, blocked_address, protocol) when no response arrived.
    A response body longer than 64 KiB is truncated, not an error. Messages name the host only.
    """
    c = pycurl.Curl()
    t = Transfer(GuardCache(guard), c)
    t.start(None, None, POST_MAX_RESPONSE_BYTES, keep=True)
    try:
        configure_static(c, t, ca_bundle or default_ca_bundle())
        configure_request(c, url, timeout)
        lines = [f"{k}: {v}" for k, v in headers.items()]
        c.setopt(pycurl.HTTPHEADER, REQUEST_HEADERS + POST_HEADERS_EXTRA + lines)
        c.setopt(pycurl.FOLLOWLOCATION, 0)
        c.setopt(pycurl.POST, 1)
        c.setopt(pycurl.POSTFIELDS, body)
        c.setopt(pycurl.HEADERFUNCTION, t.header)
        try:
            c.perform()
            code = 0
        except pycurl.error as exc:
            code = exc.args[0]
        status = c.getinfo(pycurl.RESPONSE_CODE)
        if code != 0 and not (code == pycurl.E_WRITE_ERROR and t.overflow and status):
            host = urlsplit(url).hostname or ""
            kind, message = classify(code, host, blocked_reason=t.blocked, body_overflow=False,
                                     timeout=timeout, max_redirects=0, cap=t.cap)
            raise TransportError(kind, message)
        return HttpResponse(status=status, headers=parse_headers(t.header_lines), body=b"".join(t.chunks))
    except ValueError:
        raise TransportError("protocol", "malformed URL") from None
    finally:
        c.close()
