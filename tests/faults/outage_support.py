"""Helpers for the outage tests: a TCP proxy that can black-hole or refuse, a private PostgreSQL cluster that
can be stopped and started, and the counts the tests print.

Nothing here touches the shared PostgreSQL server or the session's moto_server: the PostgreSQL outage uses its
own cluster (initdb as user postgres, on a free port, in a temporary directory), the SQS outage a proxy in
front of moto (moto keeps its queues in memory, so it must never be restarted).
"""

from __future__ import annotations

import contextlib
import glob
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.support.net import free_port

FORWARD, BLACKHOLE, REFUSE = "forward", "blackhole", "refuse"
"""Proxy modes. FORWARD relays bytes. BLACKHOLE relays nothing: established connections stall (bytes stay
unread in the kernel buffers, as on a partitioned network) and new ones are accepted and held. REFUSE closes
the listening socket (connection refused) and resets every connection it held."""

PUMP_POLL = 0.05
"""How often a stalled connection or the accept loop looks at the mode again."""

CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a host that forgot the connection answers."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """A loopback TCP proxy to `upstream_port` whose `mode` a test switches (FORWARD, BLACKHOLE, REFUSE).
    Its port stays the same across modes. Use as a context manager."""

    def __init__(self, upstream_port: int, host: str = "127.0.0.1"):
        self.host = host
        self.upstream_port = upstream_port
        self.port = free_port(host)
        self.mode = FORWARD
        self.generation = 0  # bumped by REFUSE: connections of an older generation are reset
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)

    def __enter__(self) -> TcpProxy:
        self._listen()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed = True
        self.set_mode(REFUSE)
        self._thread.join(5)

    def set_mode(self, mode: str) -> None:
        with self._lock:
            self.mode = mode
            if mode == REFUSE:
                self.generation += 1
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
            elif self._listener is None and not self._closed:
                self._listen()

    def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.settimeout(PUMP_POLL)
        self._listener = sock

    def _accept_loop(self) -> None:
        while not self._closed:
            listener = self._listener
            if listener is None:
                time.sleep(PUMP_POLL)
                continue
            try:
                client, _addr = listener.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            threading.Thread(target=self._serve, args=(client, self.generation), daemon=True).start()

    def _serve(self, client: socket.socket, generation: int) -> None:
        upstream = None
        try:
            while self.mode == BLACKHOLE and self.generation == generation:
                time.sleep(PUMP_POLL)  # accepted, held: the client waits for a server that never speaks
            if self.generation != generation:
                return
            try:
                upstream = socket.create_connection((self.host, self.upstream_port), timeout=5)
            except OSError:
                return  # the server is down: the client sees its connection closed
            self._pump(client, upstream, generation)
        finally:
            _reset(client)
            if upstream is not None:
                _reset(upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket, generation: int) -> None:
        peers = {client: upstream, upstream: client}
        while self.generation == generation and not self._closed:
            if self.mode == BLACKHOLE:
                time.sleep(PUMP_POLL)
                continue
            readable, _, _ = select.select(list(peers), [], [], PUMP_POLL)
            for sock in readable:
                try:
                    data = sock.recv(CHUNK)
                except OSError:
                    return
                if not data:
                    return
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb as user `postgres`, trust auth, fsync off) on a free port in a
    temporary directory, to stop and start at will. `close()` stops it and removes the directory."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = Path(bins[-1]).parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="healthmon-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                          "-E", "UTF8", "--locale=C.UTF-8")
        self.start()
        import psycopg2

        conn = psycopg2.connect(self.url("postgres"), connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE healthmon")
        conn.close()

    def _as_postgres(self, tool: str, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],  # noqa: S603, S607
                       check=True, capture_output=True, timeout=120, cwd=str(self.dir))

    def url(self, database: str = "healthmon", port: int | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"),
                          "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Fast shutdown: every session is terminated (clients see the connection closed), then it exits."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def offsets(procs) -> dict:
    """Where each process's log ends now, to read only what it writes from here on."""
    return {proc.name: len(proc.output()) for proc in procs}


def logged_since(proc, marks: dict) -> str:
    return proc.output()[marks[proc.name]:]


class Outage:
    """One outage of a dependency behind `proxy`, run in a thread: BLACKHOLE for the first half (established
    connections stall, new ones hang), then `on_refuse()` (e.g. stop the server) and REFUSE for the rest, then
    `on_return()` (e.g. start it again) and FORWARD. `started` / `returned` are time.monotonic() stamps."""

    def __init__(self, proxy: TcpProxy, seconds: float, on_refuse=lambda: None, on_return=lambda: None):
        self.proxy, self.seconds = proxy, seconds
        self.on_refuse, self.on_return = on_refuse, on_return
        self.started: float | None = None
        self.returned: float | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="outage", daemon=True)

    def start(self) -> Outage:
        self.started = time.monotonic()
        self.proxy.set_mode(BLACKHOLE)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            time.sleep(self.seconds / 2)
            self.on_refuse()
            self.proxy.set_mode(REFUSE)
            time.sleep(max(0.0, self.started + self.seconds - time.monotonic()))
            self.on_return()
        except BaseException as exc:  # noqa: BLE001 - re-raised by join() in the test's thread
            self.error = exc
        finally:
            self.proxy.set_mode(FORWARD)
            self.returned = time.monotonic()

    @property
    def over(self) -> bool:
        return self.returned is not None

    def join(self) -> None:
        self._thread.join(self.seconds + 120)
        if self.error is not None:
            raise self.error


def recorded_counts() -> dict:
    """What the bound database holds: results, doubled (monitor, slot) pairs, transitions, pending jobs."""
    from healthmon.models import CheckResult, Monitor, StateChange

    pairs = list(CheckResult.select(CheckResult.monitor, CheckResult.slot).tuples())
    return {
        "stored": len(pairs),
        "doubled": len(pairs) - len(set(pairs)),
        "transitions": StateChange.select().count(),
        "pending": Monitor.select().where(Monitor.pending_slot.is_null(False)).count(),
    }


def alert_counts(receiver, expected: int) -> dict:
    """Alerts a JSON webhook receiver got, by event id: sent (distinct) and doubled."""
    events = [r.json["event_id"] for r in receiver.requests]
    return {"alerts_expected": expected, "alerts_sent": len(set(events)),
            "alerts_doubled": len(events) - len(set(events))}
