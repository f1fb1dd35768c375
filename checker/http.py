"""The check engine: HTTP(S) checks and webhook POSTs through libcurl (pycurl).

Why libcurl: it gives a wall-clock deadline for the whole transfer (CURLOPT_TIMEOUT_MS covers DNS,
connect, TLS, every redirect hop and the body), a hook on every socket it opens (where the address
guard runs, after DNS and on each redirect hop, so DNS rebinding and redirects to internal hosts are
refused before a packet is sent), phase timings, and a multi handle that drives hundreds of checks from
one thread for about a tenth of the CPU `requests` needs (see bench/README.md).

Every transfer opens a fresh connection (FRESH_CONNECT + FORBID_REUSE, no TLS session resumption, no DNS
cache) so latency and phase timings are what a first-time visitor would see, and a DNS failure is seen
at the next check rather than hidden by a cache.

Not thread-safe: build one CheckEngine per process (after fork) and use it from one thread.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import os
import select
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pycurl

from checker.curl_errors import classify
from checker.result import CheckResult, CheckSpec
from healthmon import __version__
from healthmon.netguard import AddressGuard, BlockedAddress

USER_AGENT = f"healthmon/{__version__}"
REQUEST_HEADERS = [
    "Accept: */*",
    # Ask for the plain body and never decode one: a gzip bomb cannot expand past the read cap.
    "Accept-Encoding: identity",
]
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


_EPOLL_MASK = {
    pycurl.POLL_IN: select.EPOLLIN,
    pycurl.POLL_OUT: select.EPOLLOUT,
    pycurl.POLL_INOUT: select.EPOLLIN | select.EPOLLOUT,
}
_READABLE = select.EPOLLIN | select.EPOLLHUP | select.EPOLLRDHUP


class TransportError(Exception):
    """A POST did not get a response. `kind` is one of checker.result.ERROR_KINDS; `message` is short and
    safe to log (no URL path, query or credentials)."""

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


class _GuardCache:
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


class _Transfer:
    """Per-transfer state the libcurl callbacks write into. Bound methods of one instance are the
    callbacks, so no closure is built per check."""

    __slots__ = ("guard", "token", "spec", "cap", "received", "overflow", "blocked", "keep", "chunks",
                 "header_lines", "handle")

    def __init__(self, guard: _GuardCache, handle: pycurl.Curl):
        self.guard = guard
        self.handle = handle

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

    def header(self, line: bytes) -> None:
        if line.startswith(b"HTTP/"):
            self.header_lines = []  # a new response (after 100 Continue): forget the previous headers
        else:
            self.header_lines.append(line)

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


def _configure_static(c: pycurl.Curl, t: _Transfer, ca_bundle: str | None) -> None:
    """Options every transfer (check or POST) shares; set once per handle, since a pooled handle is not
    reset between checks (every per-check option is overwritten by _configure_request)."""
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


def _configure_request(c: pycurl.Curl, url: str, timeout: float) -> None:
    c.setopt(pycurl.URL, url)
    ms = max(1, int(timeout * 1000))
    c.setopt(pycurl.TIMEOUT_MS, ms)  # the whole transfer: DNS, connect, TLS, every hop, the body
    c.setopt(pycurl.CONNECTTIMEOUT_MS, ms)  # else libcurl's own 300 s connect default applies first


def _configure_check_static(c: pycurl.Curl, t: _Transfer, ca_bundle: str | None) -> None:
    _configure_static(c, t, ca_bundle)
    c.setopt(pycurl.HTTPHEADER, REQUEST_HEADERS)
    c.setopt(pycurl.FOLLOWLOCATION, 1)


def _configure_check(c: pycurl.Curl, t: _Transfer, spec: CheckSpec, token: Any) -> None:
    """Per-check options on a handle prepared by _configure_check_static."""
    t.start(token, spec, spec.max_body_bytes, keep=False)
    _configure_request(c, spec.url, spec.timeout)
    c.setopt(pycurl.MAXREDIRS, spec.max_redirects)
    # A Content-Length above the cap fails before the body is read at all.
    c.setopt(pycurl.MAXFILESIZE_LARGE, spec.max_body_bytes)


def _host(c: pycurl.Curl, fallback_url: str) -> str:
    """The host of the URL libcurl was at when it stopped (the last redirect hop), never more."""
    try:
        url = c.getinfo(pycurl.EFFECTIVE_URL) or fallback_url
        return urlsplit(url).hostname or ""
    except (ValueError, pycurl.error):
        return ""


def _ms(c: pycurl.Curl, info: int) -> float:
    return c.getinfo(info) / 1000.0


def _check_result(c: pycurl.Curl, t: _Transfer, code: int) -> CheckResult:
    """Build a CheckResult from a finished handle. `code` is libcurl's result (0 = transfer complete).

    Phase times are durations in ms (summed over redirect hops, as libcurl does): dns_ms (name lookup),
    connect_ms (TCP), tls_ms (TLS handshake, https only); first_byte_ms is the time from the start to the
    first response byte; latency_ms the whole check. A 200 whose body exceeds max_body_bytes is a failure
    (body_too_large): the target answers, but with something no health endpoint should send.
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
    if code != 0:
        kind, error = classify(code, _host(c, spec.url), blocked_reason=t.blocked, body_overflow=t.overflow,
                               timeout=spec.timeout, max_redirects=spec.max_redirects, cap=t.cap)
    elif status != spec.expected_status_code:
        kind, error = "unexpected_status", f"expected {spec.expected_status_code}, got {status}"
    return CheckResult(
        ok=kind is None,
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
    )


class CheckEngine:
    """Runs many checks at once on one libcurl multi handle, in the calling thread.

    `submit()` starts a check; `poll(timeout)` drives the transfers (epoll via libcurl's socket API) until
    at least one finishes or `timeout` seconds pass, and returns the finished (token, CheckResult) pairs.
    Easy handles are kept on a free list and reset between checks; every check still opens a new connection.
    """

    def __init__(self, guard: AddressGuard, *, ca_bundle: str | None = None, max_concurrency: int = 100):
        self.guard = guard
        self._guard = _GuardCache(guard)
        self.ca_bundle = ca_bundle or default_ca_bundle()
        self.max_concurrency = max_concurrency
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._epoll = select.epoll()
        self._fds: dict[int, int] = {}  # sockets libcurl asked us to watch -> epoll mask
        self._timer_at: float | None = None
        self._free: list[_Transfer] = []
        self._active: dict[pycurl.Curl, _Transfer] = {}
        self._done: collections.deque[tuple[Any, CheckResult]] = collections.deque()
        self._closed = False

    # -- libcurl socket API callbacks --------------------------------------------------------------
    def _on_socket(self, what: int, fd: int, multi: Any, socketp: Any) -> None:
        if what == pycurl.POLL_REMOVE:
            if self._fds.pop(fd, None) is not None:
                with contextlib.suppress(OSError):  # already closed: the kernel dropped it from the set
                    self._epoll.unregister(fd)
            return
        mask = _EPOLL_MASK[what]
        if fd in self._fds:
            try:
                self._epoll.modify(fd, mask)
            except FileNotFoundError:  # closed and reused behind our back
                self._epoll.register(fd, mask)
        else:
            try:
                self._epoll.register(fd, mask)
            except FileExistsError:
                self._epoll.modify(fd, mask)
        self._fds[fd] = mask

    def _on_timer(self, timeout_ms: int) -> None:
        self._timer_at = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000.0

    # -- public API ---------------------------------------------------------------------------------
    def in_flight(self) -> int:
        """Checks submitted and not yet returned by poll()."""
        return len(self._active) + len(self._done)

    def free_slots(self) -> int:
        """How many more checks submit() accepts now."""
        return max(0, self.max_concurrency - self.in_flight())

    def submit(self, spec: CheckSpec, token: Any) -> None:
        """Start `spec`; `token` comes back with its result from poll(). Raises RuntimeError when
        max_concurrency checks are already in flight (callers size their batches with free_slots())."""
        if self._closed:
            raise RuntimeError("the engine is closed")
        if self.in_flight() >= self.max_concurrency:
            raise RuntimeError(f"the engine is full ({self.max_concurrency} checks in flight)")
        if self._free:
            t = self._free.pop()
        else:
            t = _Transfer(self._guard, pycurl.Curl())
            _configure_check_static(t.handle, t, self.ca_bundle)
        _configure_check(t.handle, t, spec, token)
        self._active[t.handle] = t
        self._multi.add_handle(t.handle)

    def poll(self, timeout: float) -> list[tuple[Any, CheckResult]]:
        """Drive the transfers for up to `timeout` seconds; return as soon as any check has finished.
        Returns [] at once when nothing is in flight."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            now = time.monotonic()
            if self._timer_at is not None and self._timer_at <= now:
                self._timer_at = None
                self._action(pycurl.SOCKET_TIMEOUT, 0)
            self._collect()
            if self._done or not self._active:
                break
            now = time.monotonic()
            wait = deadline - now
            if wait <= 0:
                break
            if self._timer_at is not None:
                wait = min(wait, max(0.0, self._timer_at - now))
            events = self._epoll.poll(wait) if self._fds else _sleep(wait)
            for fd, mask in events:
                ev = 0
                if mask & _READABLE:
                    ev |= pycurl.CSELECT_IN
                if mask & select.EPOLLOUT:
                    ev |= pycurl.CSELECT_OUT
                if mask & select.EPOLLERR:
                    ev |= pycurl.CSELECT_ERR
                self._action(fd, ev)
        out = list(self._done)
        self._done.clear()
        return out

    def abort_all(self) -> list[Any]:
        """Stop every unfinished check without a result; return their tokens. Finished but not yet
        polled checks are dropped too (their tokens are included)."""
        tokens = [token for token, _ in self._done]
        self._done.clear()
        for handle, t in list(self._active.items()):
            self._multi.remove_handle(handle)
            tokens.append(t.token)
            self._release(t)
        self._active.clear()
        return tokens

    def close(self) -> None:
        """Abort everything and free libcurl resources. Idempotent."""
        if self._closed:
            return
        self.abort_all()
        for t in self._free:
            t.handle.close()
        self._free.clear()
        self._multi.close()
        self._epoll.close()
        self._closed = True

    # -- internals ----------------------------------------------------------------------------------
    def _action(self, fd: int, ev: int) -> None:
        while True:
            ret, _running = self._multi.socket_action(fd, ev)
            if ret != pycurl.E_CALL_MULTI_PERFORM:
                return

    def _collect(self) -> None:
        while True:
            queued, ok_list, err_list = self._multi.info_read()
            for handle in ok_list:
                self._finish(handle, 0)
            for handle, code, _msg in err_list:  # libcurl's message may quote the URL: never used
                self._finish(handle, code)
            if not queued:
                return

    def _finish(self, handle: pycurl.Curl, code: int) -> None:
        t = self._active.pop(handle)
        self._multi.remove_handle(handle)
        self._done.append((t.token, _check_result(handle, t, code)))
        self._release(t)

    def _release(self, t: _Transfer) -> None:
        # No reset(): the static options stay, the per-check ones are overwritten at the next submit.
        t.token = t.spec = None
        self._free.append(t)


def _sleep(seconds: float) -> list:
    time.sleep(seconds)
    return []


def perform_check(spec: CheckSpec, guard: AddressGuard, *, ca_bundle: str | None = None) -> CheckResult:
    """Run one check now, blocking the caller (for `healthmon check` and tests). Same options as the engine."""
    c = pycurl.Curl()
    t = _Transfer(_GuardCache(guard), c)
    try:
        _configure_check_static(c, t, ca_bundle or default_ca_bundle())
        _configure_check(c, t, spec, None)
        try:
            c.perform()
            code = 0
        except pycurl.error as exc:
            code = exc.args[0]
        return _check_result(c, t, code)
    finally:
        c.close()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, guard: AddressGuard, *,
         ca_bundle: str | None = None) -> HttpResponse:
    """POST `body` to `url` once, redirects not followed, the guard applied to the socket.

    Returns the response whatever its status (a 4xx/5xx is the caller's to judge). Raises TransportError
    (kind in ERROR_KINDS: timeout, dns, connect, tls, blocked_address, protocol) when no response arrived.
    A response body longer than 64 KiB is truncated, not an error. Messages name the host only.
    """
    c = pycurl.Curl()
    t = _Transfer(_GuardCache(guard), c)
    t.start(None, None, POST_MAX_RESPONSE_BYTES, keep=True)
    try:
        _configure_static(c, t, ca_bundle or default_ca_bundle())
        _configure_request(c, url, timeout)
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
        return HttpResponse(status=status, headers=_parse_headers(t.header_lines), body=b"".join(t.chunks))
    except ValueError:
        raise TransportError("protocol", "malformed URL") from None
    finally:
        c.close()


def _parse_headers(lines: list[bytes]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in lines:
        line = raw.decode("latin-1").strip()
        name, sep, value = line.partition(":")
        if sep and name:
            out[name.strip().lower()] = value.strip()
    return out
