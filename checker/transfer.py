"""One libcurl transfer: the options every check and POST shares, the per-transfer state that libcurl's
callbacks fill (body cap, kept body, headers, the address guard's refusal), and what a finished check
transfer observed (`observe`).

`checker.engine` drives check transfers (many at once in `CheckEngine`, one in `perform_check`) and
`checker.webhook_client` drives POSTs; this module holds what a single transfer needs, so both share one
option setup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import socket
import ssl
from typing import Any
from urllib.parse import urljoin, urlsplit

import pycurl

from checker.curl_errors import classify
from healthmon import __version__
from healthmon.domain.check import CheckSpec, Observation
from healthmon.domain.request import BODY_METHODS, RequestOptions
from healthmon.domain.tls import TlsFacts
from healthmon.netguard import AddressGuard, BlockedAddress

USER_AGENT = f"healthmon/{__version__}"
REQUEST_HEADERS = [
    "Accept: */*",
    # Ask for the plain body and never decode one: a gzip bomb cannot expand past the read cap.
    "Accept-Encoding: identity",
]
_DEFAULT_NAMES = tuple(line.split(":", 1)[0].lower() for line in REQUEST_HEADERS)
POST_HEADERS_EXTRA = ["Expect:"]  # no 100-continue round trip: Slack answers at once
POST_MAX_RESPONSE_BYTES = 64 * 1024
"""A webhook answer is a few bytes ("ok"); anything longer is kept truncated, never read to the end."""

ALLOWED_PROTOCOLS = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS
"""Bitmask form (CURLOPT_PROTOCOLS / REDIR_PROTOCOLS): pycurl 7.49 cannot pass the *_STR string options.
Deprecated in libcurl but still honoured; it stops file://, gopher:// etc. on the first URL and every hop."""

CURLOPT_CA_CACHE_TIMEOUT = 321
"""Not named by pycurl 7.49. libcurl keeps the parsed CA store on the multi handle (or the easy handle's
internal multi) for this many seconds, so HTTPS checks do not reparse the ~150 KiB bundle each time."""
CA_CACHE_SECONDS = 3600

SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

TLS_GROUPS = "X25519:P-256:P-384"
"""Key-exchange groups offered. OpenSSL 3.5+ also offers the post-quantum X25519MLKEM768 hybrid by default,
which costs ~10% more client CPU per handshake (bench/README.md); a health check carries nothing worth
harvesting for later decryption, and every server speaks one of these three."""

GUARD_CACHE_SIZE = 4096
"""Guard decisions remembered per engine. The guard is a pure function of the IP and parsing with
ipaddress costs ~25 us, a tenth of an HTTP check's CPU; the set of target IPs is small."""


def default_ca_bundle() -> str | None:
    """certifi's bundle when installed, else the Debian system bundle, else None (libcurl's default)."""
    try:
        import certifi

        return certifi.where()
    except ImportError:  # pragma: no cover - certifi is a dependency of requests
        return SYSTEM_CA_BUNDLE if os.path.exists(SYSTEM_CA_BUNDLE) else None




class _Fd:
    """What OPENSOCKETFUNCTION returns: pycurl dup()s `fileno()`, then drops this object, which closes
    the original. (Returning a socket.socket works too, but its finaliser builds a ResourceWarning repr,
    ~17 us per check.)"""

    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def __del__(self) -> None:
        os.close(self.fd)


class GuardCache:
    """AddressGuard.check_ip memoised: IP string -> refusal reason or None."""

    __slots__ = ("guard", "cache")

    def __init__(self, guard: AddressGuard):
        self.guard = guard
        self.cache: dict[str, str | None] = {}

    def refusal(self, ip: str) -> str | None:
        try:
            return self.cache[ip]
        except KeyError:
            pass
        try:
            self.guard.check_ip(ip)
            reason = None
        except BlockedAddress as exc:
            reason = exc.reason
        if len(self.cache) >= GUARD_CACHE_SIZE:
            self.cache.clear()
        self.cache[ip] = reason
        return reason


class Transfer:
    """Per-transfer state the libcurl callbacks write into. Bound methods of one instance are the
    callbacks, so no closure is built per check."""

    __slots__ = ("guard", "token", "spec", "cap", "received", "overflow", "blocked", "keep", "chunks",
                 "header_lines", "handle", "headers_on", "request", "guard_redirects", "head", "redirecting",
                 "refused_redirect", "certinfo_on")

    def __init__(self, guard: GuardCache, handle: pycurl.Curl):
        self.guard = guard
        self.handle = handle
        self.headers_on = False  # HEADERFUNCTION installed on the handle (set only for checks that read headers)
        # The request options last applied to the handle (None: a plain GET, as configure_check_static set it).
        self.request: RequestOptions | None = None
        self.guard_redirects = False  # refuse a redirect to another origin (the request carries a secret header)
        self.head = False  # a HEAD request: no body will come, so no size cap applies
        self.redirecting = False
        self.refused_redirect: str | None = None
        self.certinfo_on = False  # CERTINFO on (set only for checks that observe the certificate)

    def start(self, token: Any, spec: CheckSpec | None, cap: int, keep: bool) -> None:
        self.token = token
        self.spec = spec
        self.cap = cap
        self.received = 0
        self.overflow = False
        self.blocked: str | None = None
        self.keep = keep
        self.chunks: list[bytes] = []
        self.header_lines: list[bytes] = []
        self.redirecting = False
        self.refused_redirect = None

    def write(self, data: bytes) -> int | None:
        """WRITEFUNCTION: count (and for POSTs keep) the body; a short return makes libcurl abort."""
        total = self.received + len(data)
        if total > self.cap:
            self.overflow = True
            if self.keep:
                self.chunks.append(data[: self.cap - self.received])
                self.received = self.cap
            return 0
        self.received = total
        if self.keep:
            self.chunks.append(data)
        return None

    def header(self, line: bytes) -> int | None:
        """HEADERFUNCTION: keep the last response's header lines; with guard_redirects, refuse (abort on) a
        redirect to another origin before libcurl follows it."""
        if line.startswith(b"HTTP/"):
            self.header_lines = []  # a new response (after 100 Continue): forget the previous headers
            if self.guard_redirects:
                parts = line.split(None, 2)
                self.redirecting = len(parts) > 1 and parts[1][:1] == b"3"
            return None
        self.header_lines.append(line)
        if self.redirecting and line[:9].lower() == b"location:":
            return self._redirect(line[9:].strip().decode("latin-1"))
        return None

    def _redirect(self, location: str) -> int | None:
        """A redirect of a request with secret headers: only to the URL's own origin (scheme, host, port).
        Every allowed hop keeps that origin, so the spec's URL is the base to compare with."""
        assert self.spec is not None
        here = _origin(self.spec.url)
        there = _origin(urljoin(self.spec.url, location))
        if there == here:
            return None
        self.refused_redirect = there[1] or "another host"
        return 0  # not the line's length: libcurl aborts the transfer (CURLE_WRITE_ERROR)

    def opensocket(self, purpose: int, address: tuple) -> Any:
        """OPENSOCKETFUNCTION: runs for every socket libcurl opens, after DNS, on every hop. A refused
        socket is never created, so not one packet goes to a blocked address."""
        family, socktype, protocol, addr = address
        # `blocked` describes the latest attempt only: a name with a refused and an allowed address, whose
        # allowed one then times out, is a timeout, not a blocked address; a redirect to a refused host
        # after an allowed first hop is a blocked address.
        self.blocked = self.guard.refusal(addr[0])
        if self.blocked is not None:
            return pycurl.SOCKET_BAD
        return _Fd(socket.socket(family, socktype, protocol).detach())


def configure_static(c: pycurl.Curl, t: Transfer, ca_bundle: str | None) -> None:
    """Options every transfer (check or POST) shares; set once per handle, since a pooled handle is not
    reset between checks (every per-check option is overwritten by configure_request)."""
    c.setopt(pycurl.NOSIGNAL, 1)  # the threaded resolver needs no SIGALRM; signals would hit our workers
    c.setopt(pycurl.FRESH_CONNECT, 1)
    c.setopt(pycurl.FORBID_REUSE, 1)
    c.setopt(pycurl.PROTOCOLS, ALLOWED_PROTOCOLS)
    c.setopt(pycurl.REDIR_PROTOCOLS, ALLOWED_PROTOCOLS)
    c.setopt(pycurl.PROXY, "")  # ignore http_proxy & co: the guard must see the target, not a proxy
    c.setopt(pycurl.USERAGENT, USER_AGENT)
    c.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
    c.setopt(pycurl.DNS_CACHE_TIMEOUT, 0)
    c.setopt(pycurl.SSL_SESSIONID_CACHE, 0)  # a full handshake each time: honest tls_ms
    c.setopt(pycurl.SSL_EC_CURVES, TLS_GROUPS)
    if ca_bundle:
        c.setopt(pycurl.CAINFO, ca_bundle)
    c.setopt(CURLOPT_CA_CACHE_TIMEOUT, CA_CACHE_SECONDS)
    c.setopt(pycurl.OPENSOCKETFUNCTION, t.opensocket)
    c.setopt(pycurl.WRITEFUNCTION, t.write)


def configure_request(c: pycurl.Curl, url: str, timeout: float) -> None:
    c.setopt(pycurl.URL, url)
    ms = max(1, int(timeout * 1000))
    c.setopt(pycurl.TIMEOUT_MS, ms)  # the whole transfer: DNS, connect, TLS, every hop, the body
    c.setopt(pycurl.CONNECTTIMEOUT_MS, ms)  # else libcurl's own 300 s connect default applies first


def configure_check_static(c: pycurl.Curl, t: Transfer, ca_bundle: str | None) -> None:
    configure_static(c, t, ca_bundle)
    c.setopt(pycurl.HTTPHEADER, REQUEST_HEADERS)
    c.setopt(pycurl.FOLLOWLOCATION, 1)


def configure_check(c: pycurl.Curl, t: Transfer, spec: CheckSpec, token: Any) -> None:
    """Per-check options on a handle prepared by configure_check_static. Headers and body are kept only when
    the spec asks: a plain status check runs no Python callback per header line and keeps no body. The
    request options (method, headers, body, auth, redirects, TLS, User-Agent) are applied only when they
    differ from those the handle last carried, and then all of them (`apply_request`)."""
    t.start(token, spec, spec.max_body_bytes, keep=spec.capture_body)
    request = spec.request
    if request is not t.request and request != t.request:
        apply_request(c, t, request)
    want_headers = spec.capture_headers or t.guard_redirects
    if want_headers != t.headers_on:  # pooled handles keep their options: change only on a switch
        if want_headers:
            c.setopt(pycurl.HEADERFUNCTION, t.header)
        else:
            c.unsetopt(pycurl.HEADERFUNCTION)
        t.headers_on = want_headers
    if spec.observe_tls != t.certinfo_on:  # CERTINFO makes libcurl print the whole chain: only when asked
        c.setopt(pycurl.OPT_CERTINFO, 1 if spec.observe_tls else 0)
        t.certinfo_on = spec.observe_tls
    configure_request(c, spec.url, spec.timeout)
    c.setopt(pycurl.MAXREDIRS, spec.max_redirects)
    # A Content-Length above the cap fails before the body is read at all. A HEAD response announces the
    # length of a body it never sends: no cap (0) then, or a large resource would fail as body_too_large.
    c.setopt(pycurl.MAXFILESIZE_LARGE, 0 if t.head else spec.max_body_bytes)


def apply_request(c: pycurl.Curl, t: Transfer, request: RequestOptions | None) -> None:
    """Set every request option on the handle for `request` (None: the plain GET configure_check_static
    set up). All of them each time, so nothing of one monitor's method, headers, body, credentials, redirect
    or TLS settings survives into the next check on a pooled handle. The address guard is untouched: it
    is the handle's OPENSOCKETFUNCTION, whatever the options."""
    c.unsetopt(pycurl.CUSTOMREQUEST)
    c.setopt(pycurl.HTTPGET, 1)  # GET, no body, not HEAD (resets POST, NOBODY and UPLOAD)
    if request is None:
        c.setopt(pycurl.HTTPHEADER, REQUEST_HEADERS)
        c.setopt(pycurl.FOLLOWLOCATION, 1)
        c.setopt(pycurl.SSL_VERIFYPEER, 1)
        c.setopt(pycurl.SSL_VERIFYHOST, 2)
        c.setopt(pycurl.USERAGENT, USER_AGENT)
        t.guard_redirects = t.head = False
        t.request = None
        return
    method = request.method
    # The monitor's body (request_options drops it for HEAD), or an empty one for POST, PUT and PATCH.
    sends_body = method != "HEAD" and (method in BODY_METHODS or request.body is not None)
    if method == "HEAD":
        c.setopt(pycurl.NOBODY, 1)  # libcurl reads no body after the headers
    elif sends_body:
        c.setopt(pycurl.POST, 1)
        c.setopt(pycurl.COPYPOSTFIELDS, request.body or b"")
    if method not in ("GET", "HEAD", "POST") or (method == "GET" and request.body is not None):
        c.setopt(pycurl.CUSTOMREQUEST, method)  # POST above made it a POST: say the method again
    own = {line.split(":", 1)[0].strip().lower() for line in request.header_lines}
    lines = [line for line, name in zip(REQUEST_HEADERS, _DEFAULT_NAMES, strict=True) if name not in own]
    lines.extend(request.header_lines)
    if sends_body:
        lines.extend(POST_HEADERS_EXTRA)
    c.setopt(pycurl.HTTPHEADER, lines)
    c.setopt(pycurl.FOLLOWLOCATION, 1 if request.follow_redirects else 0)
    c.setopt(pycurl.SSL_VERIFYPEER, 1 if request.verify_tls else 0)
    c.setopt(pycurl.SSL_VERIFYHOST, 2 if request.verify_tls else 0)
    c.setopt(pycurl.USERAGENT, request.user_agent or USER_AGENT)
    t.guard_redirects = request.guard_redirects
    t.head = method == "HEAD"
    t.request = request


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port defaulted by scheme; a malformed URL has no origin ("", "", None)."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        return "", "", None


def _host(c: pycurl.Curl, fallback_url: str) -> str:
    """The host of the URL libcurl was at when it stopped (the last redirect hop), never more."""
    try:
        url = c.getinfo(pycurl.EFFECTIVE_URL) or fallback_url
        return urlsplit(url).hostname or ""
    except (ValueError, pycurl.error):
        return ""


def _ms(c: pycurl.Curl, info: int) -> float:
    return c.getinfo(info) / 1000.0


def observe(c: pycurl.Curl, t: Transfer, code: int) -> Observation:
    """What a finished check transfer saw. `code` is libcurl's result (0 = transfer complete).

    Phase times are durations in ms (summed over redirect hops, as libcurl does): dns_ms (name lookup),
    connect_ms (TCP), tls_ms (TLS handshake, https only); first_byte_ms is the time from the start to the
    first response byte; latency_ms the whole check. A body beyond max_body_bytes is a transport failure
    (body_too_large): the target answers, but with something no health endpoint should send. Headers and
    body are filled only when the spec asked to capture them, `tls` only when it asked to observe it.
    """
    spec = t.spec
    assert spec is not None
    status = c.getinfo(pycurl.RESPONSE_CODE) or None
    dns = _ms(c, pycurl.NAMELOOKUP_TIME_T)
    connect = _ms(c, pycurl.CONNECT_TIME_T)
    appconnect = _ms(c, pycurl.APPCONNECT_TIME_T)
    first_byte = _ms(c, pycurl.STARTTRANSFER_TIME_T)
    total = _ms(c, pycurl.TOTAL_TIME_T)
    redirects = c.getinfo(pycurl.REDIRECT_COUNT)
    kind = error = None
    if code != 0 and t.refused_redirect is not None:
        kind, error = "protocol", (f"redirect to {t.refused_redirect} not followed: the request carries a secret "
                                   "header that would go to another host (follow_redirects false, or use the "
                                   "final URL)")
    elif code != 0:
        verify = c.getinfo(pycurl.SSL_VERIFYRESULT) if code == pycurl.E_PEER_FAILED_VERIFICATION else 0
        kind, error = classify(code, _host(c, spec.url), blocked_reason=t.blocked, body_overflow=t.overflow,
                               timeout=spec.timeout, max_redirects=spec.max_redirects, cap=t.cap,
                               verify_result=verify)
    return Observation(
        status_code=status,
        latency_ms=round(total, 3),
        error_kind=kind,
        error=error,
        dns_ms=round(dns, 3) if connect else None,
        connect_ms=round(connect - dns, 3) if connect else None,
        tls_ms=round(appconnect - connect, 3) if appconnect and connect else None,
        first_byte_ms=round(first_byte, 3) if first_byte and status else None,
        redirects=redirects,
        checked_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        headers=parse_headers(t.header_lines) if spec.capture_headers else None,
        body=b"".join(t.chunks) if spec.capture_body else None,
        tls=tls_facts(c) if spec.observe_tls else None,
    )


_FRACTION = re.compile(r"(\d\d:\d\d:\d\d)\.\d+")


def tls_facts(c: pycurl.Curl) -> TlsFacts | None:
    """The leaf certificate of the transfer's last TLS handshake, from libcurl's CERTINFO (the first entry of
    the chain the server sent): its "Expire date" (OpenSSL's `Jan  3 19:28:11 2027 GMT`) and the SHA-256 of
    its DER form (the "Cert" PEM, base64-decoded). None without a handshake (http, connection refused, a
    resumed session) or if libcurl's text cannot be read."""
    try:
        chain = c.getinfo(pycurl.INFO_CERTINFO)
        if not chain:
            return None
        leaf = dict(chain[0])
        seconds = ssl.cert_time_to_seconds(_FRACTION.sub(r"\1", leaf["Expire date"]))
        der = ssl.PEM_cert_to_DER_cert(leaf["Cert"])
    except (pycurl.error, KeyError, ValueError, TypeError, UnicodeDecodeError):
        return None
    expires = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
    return TlsFacts(expires_at=expires, fingerprint_sha256=hashlib.sha256(der).hexdigest())


def parse_headers(lines: list[bytes]) -> dict[str, str]:
    """Raw header lines of the last response -> {lowercased name: value}; a repeated header's last value wins."""
    out: dict[str, str] = {}
    for raw in lines:
        line = raw.decode("latin-1").strip()
        name, sep, value = line.partition(":")
        if sep and name:
            out[name.strip().lower()] = value.strip()
    return out
