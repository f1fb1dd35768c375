"""The check engine: HTTP(S) checks through libcurl (pycurl). It observes and judges nothing: each check
gives an `Observation` (healthmon.domain.check), which `healthmon.domain.verdict.evaluate` judges.

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
import select
import time
from typing import Any

import pycurl

from checker.transfer import (
    USER_AGENT,
    GuardCache,
    Transfer,
    configure_check,
    configure_check_static,
    default_ca_bundle,
    observe,
)
from healthmon.domain.check import CheckSpec, Observation
from healthmon.netguard import AddressGuard

_EPOLL_MASK = {
    pycurl.POLL_IN: select.EPOLLIN,
    pycurl.POLL_OUT: select.EPOLLOUT,
    pycurl.POLL_INOUT: select.EPOLLIN | select.EPOLLOUT,
}
_READABLE = select.EPOLLIN | select.EPOLLHUP | select.EPOLLRDHUP

__all__ = ["USER_AGENT", "CheckEngine", "default_ca_bundle", "perform_check"]


class CheckEngine:
    """Runs many checks at once on one libcurl multi handle, in the calling thread.

    `submit()` starts a check; `poll(timeout)` drives the transfers (epoll via libcurl's socket API) until
    at least one finishes or `timeout` seconds pass, and returns the finished (token, Observation) pairs.
    Easy handles are kept on a free list and reset between checks; every check still opens a new connection.
    """

    def __init__(self, guard: AddressGuard, *, ca_bundle: str | None = None, max_concurrency: int = 100):
        self.guard = guard
        self._guard = GuardCache(guard)
        self.ca_bundle = ca_bundle or default_ca_bundle()
        self.max_concurrency = max_concurrency
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._epoll = select.epoll()
        self._fds: dict[int, int] = {}  # sockets libcurl asked us to watch -> epoll mask
        self._timer_at: float | None = None
        self._free: list[Transfer] = []
        self._active: dict[pycurl.Curl, Transfer] = {}
        self._done: collections.deque[tuple[Any, Observation]] = collections.deque()
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
            t = Transfer(self._guard, pycurl.Curl())
            configure_check_static(t.handle, t, self.ca_bundle)
        configure_check(t.handle, t, spec, token)
        self._active[t.handle] = t
        self._multi.add_handle(t.handle)

    def poll(self, timeout: float) -> list[tuple[Any, Observation]]:
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
        self._done.append((t.token, observe(handle, t, code)))
        self._release(t)

    def _release(self, t: Transfer) -> None:
        # No reset(): the static options stay, the per-check ones are overwritten at the next submit.
        t.token = t.spec = None
        self._free.append(t)


def _sleep(seconds: float) -> list:
    time.sleep(seconds)
    return []


def perform_check(spec: CheckSpec, guard: AddressGuard, *, ca_bundle: str | None = None) -> Observation:
    """Run one check now, blocking the caller (for `healthmon check` and tests). Same options as the engine."""
    c = pycurl.Curl()
    t = Transfer(GuardCache(guard), c)
    try:
        configure_check_static(c, t, ca_bundle or default_ca_bundle())
        configure_check(c, t, spec, None)
        try:
            c.perform()
            code = 0
        except pycurl.error as exc:
            code = exc.args[0]
        return observe(c, t, code)
    finally:
        c.close()
