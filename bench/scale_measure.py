"""Measuring for bench/scale.py from the outside: /proc (CPU and RSS per process kind), the REST API
(monitor creation, GET latency) and read-only SQL on the database. py-spy is in scale_profile.py.

Process kinds: `healthmon up`'s own process is `up`; each child of it is named by its subcommand
(`python -m healthmon.cli api|scheduler|checker`), and everything below a child has its kind. Roles refine
that: api.master / api.worker (gunicorn), checker.pool / checker.worker / checker.alerts (the pool forks
its workers first and the alert sender last, so the newest child is taken for the alert sender).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
HEALTHMON_KINDS = ("up", "api", "scheduler", "checker")
PG_CLIENT = re.compile(r"^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])")
"""A client backend's process title: `postgres: [CLUSTER_NAME: ]USER DB HOST(PORT) STATE` (Debian sets
cluster_name, e.g. `15/main`)."""
PG_AUTOVACUUM = re.compile(r"autovacuum worker (\S+)")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


# --- processes ------------------------------------------------------------------------------------------


@dataclass
class Proc:
    pid: int
    ppid: int
    comm: str
    cpu: float  # seconds, utime + stime
    start: int  # clock ticks after boot
    rss: int  # bytes


def scan() -> dict[int, Proc]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                raw = fh.read()
            with open(f"/proc/{entry}/statm") as fh:
                rss = int(fh.read().split()[1]) * PAGE
        except OSError:
            continue
        comm = raw[raw.index("(") + 1: raw.rindex(")")]
        f = raw[raw.rindex(")") + 2:].split()
        out[int(entry)] = Proc(int(entry), int(f[1]), comm, (int(f[11]) + int(f[12])) / CLK_TCK, int(f[19]), rss)
    return out


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs have been busy since boot (/proc/stat: everything but idle and iowait)."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [part.decode(errors="replace") for part in fh.read().split(b"\0") if part]
    except OSError:
        return []


def _subcommand(pid: int) -> str:
    args = cmdline(pid)
    for i, arg in enumerate(args[:-1]):
        if arg in ("healthmon.cli", "healthmon") or arg.endswith("/healthmon"):
            return args[i + 1]
    return "other"


def _pg_role(title: str, db: str) -> str:
    """postgres.backend: a connection to (or autovacuum of) our database; postgres.server: the postmaster and
    the shared background processes; pg-other: a connection to another database (not ours to count)."""
    client = PG_CLIENT.match(title) or PG_AUTOVACUUM.search(title)
    if client:
        return "postgres.backend" if client.group(1) == db else "pg-other"
    return "postgres.server"


def classify(procs: dict[int, Proc], up_pid: int, others: dict[str, list[int]], pg_db: str | None,
             cache: dict[int, str]) -> dict[int, str]:
    """pid -> role ('kind' or 'kind.role') for the tree of `up_pid`, the trees of `others` ({kind: root pids})
    and, with `pg_db`, every PostgreSQL server process (see _pg_role). `cache` keeps what cmdline said."""
    children = defaultdict(list)
    for p in procs.values():
        children[p.ppid].append(p.pid)

    def tree(root: int) -> list[int]:
        seen, stack = [], [root]
        while stack:
            pid = stack.pop()
            if pid in procs:
                seen.append(pid)
                stack.extend(children[pid])
        return seen

    roles: dict[int, str] = {}
    if up_pid in procs:
        roles[up_pid] = "up"
        for top in children[up_pid]:
            kind = cache.setdefault(top, _subcommand(top))
            below = [pid for pid in tree(top) if pid != top]
            roles[top] = {"api": "api.master", "checker": "checker.pool"}.get(kind, kind)
            newest = max(below, key=lambda pid: procs[pid].start, default=None)
            for pid in below:
                role = {"api": "worker", "checker": "alerts" if pid == newest else "worker"}.get(kind, "child")
                roles[pid] = f"{kind}.{role}"
    for kind, roots in others.items():
        for root in roots:
            for pid in tree(root):
                roles[pid] = kind
    if pg_db:
        for p in procs.values():
            if p.comm == "postgres" or p.comm.startswith("postgres:"):
                roles.setdefault(p.pid, _pg_role(" ".join(cmdline(p.pid)), pg_db))  # titles change: no cache
    return roles


class Sampler(threading.Thread):
    """Samples CPU and RSS of every classified process every `period` seconds until `stop()`."""

    def __init__(self, up_pid: int, others: dict[str, list[int]], pg_db: str | None, period: float = 1.0,
                 extra=None):
        super().__init__(daemon=True)
        self.up_pid, self.others, self.pg_db, self.period = up_pid, others, pg_db, period
        self.busy: list[float] = []  # CPU seconds the whole machine was busy, at each sample
        self.extra = extra  # called once per sample, e.g. to read the queue depth
        self.first: dict[int, tuple[str, float]] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.rss: list[dict[str, int]] = []
        self._halt = threading.Event()
        self._cache: dict[int, str] = {}
        self.roles: dict[int, str] = {}

    def sample(self) -> None:
        procs = scan()
        self.roles = classify(procs, self.up_pid, self.others, self.pg_db, self._cache)
        self.busy.append(machine_busy_seconds())
        rss: Counter[str] = Counter()
        for pid, role in self.roles.items():
            p = procs[pid]
            self.first.setdefault(pid, (role, p.cpu))
            self.last[pid] = (role, p.cpu)
            rss[role] += p.rss
        self.rss.append(dict(rss))
        if self.extra:
            self.extra()

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()

    def outside_cpu(self) -> float:
        """CPU seconds the machine spent on anything not classified (other users' processes, the kernel's
        threads, this harness): the noise under the figures."""
        return self.busy[-1] - self.busy[0] - sum(self.cpu_by_role().values())

    def cpu_by_role(self) -> dict[str, float]:
        out: Counter[str] = Counter()
        for pid, (role, cpu) in self.last.items():
            out[role] += cpu - self.first[pid][1]
        return dict(out)

    def rss_by_role(self) -> dict[str, dict[str, float]]:
        roles = {role for sample in self.rss for role in sample}
        return {role: {"mean": sum(s.get(role, 0) for s in self.rss) / len(self.rss),
                       "max": max(s.get(role, 0) for s in self.rss)} for role in roles}

    def python_pids(self) -> list[tuple[int, str]]:
        return sorted((pid, role) for pid, role in self.roles.items() if role.split(".")[0] in HEALTHMON_KINDS)


def by_kind(per_role: dict[str, float]) -> dict[str, float]:
    out: Counter[str] = Counter()
    for role, value in per_role.items():
        out[role.split(".")[0]] += value
    return dict(out)


# --- the REST API ---------------------------------------------------------------------------------------


class Api:
    def __init__(self, port: int, key: str):
        self.port, self.key = port, key

    def call(self, method: str, path: str, body=None, timeout: float = 60) -> tuple[int, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                return resp.status, json.loads(raw) if raw else None
            except ValueError:
                return resp.status, raw.decode(errors="replace")
        finally:
            conn.close()


def _post_bulk(api: Api, chunk: list[dict]) -> tuple[int, object]:
    status, body = api.call("POST", "/monitors/bulk", {"monitors": chunk})
    if status == 201:
        body = body["monitors"] if isinstance(body, dict) else body
    return status, body


def create_monitors(api: Api, monitors: list[dict], threads: int = 8, bulk_size: int = 1000) -> dict:
    """POST /monitors/bulk in chunks when the API has it (anything but 404/405; a 413 halves the chunk), else
    concurrent single POSTs. Returns {path, seconds, rate, ids}."""
    started = time.monotonic()
    status, body = _post_bulk(api, monitors[:bulk_size])
    while status == 413 and bulk_size > 1:
        bulk_size //= 2
        status, body = _post_bulk(api, monitors[:bulk_size])
    ids: list[int] = []
    if status not in (404, 405):
        for start in range(bulk_size, len(monitors) + bulk_size, bulk_size):
            if status != 201:
                raise RuntimeError(f"POST /monitors/bulk answered {status}: {str(body)[:500]}")
            ids.extend(m["id"] for m in body)
            if start < len(monitors):
                status, body = _post_bulk(api, monitors[start:start + bulk_size])
        path = f"POST /monitors/bulk ({bulk_size} per request)"
    else:
        def one(monitor: dict) -> int:
            for attempt in range(3):
                status, body = api.call("POST", "/monitors", monitor)
                if status == 201:
                    return body["id"]
                if status < 500 or attempt == 2:
                    raise RuntimeError(f"POST /monitors answered {status}: {str(body)[:500]}")
            raise AssertionError("unreachable")

        with ThreadPoolExecutor(threads) as pool:
            ids = list(pool.map(one, monitors))
        path = f"POST /monitors x {threads} threads (no /monitors/bulk: {status})"
    seconds = time.monotonic() - started
    return {"path": path, "seconds": seconds, "rate": len(ids) / seconds if seconds else None, "ids": ids}


class GetLatency(threading.Thread):
    """GET /monitors/{random id} `rate` times a second until stop(); keeps (seconds, status)."""

    def __init__(self, api: Api, ids: list[int], rate: float):
        super().__init__(daemon=True)
        self.api, self.ids, self.period = api, ids, 1 / rate
        self.samples: list[float] = []
        self.errors: Counter[int] = Counter()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            started = time.perf_counter()
            try:
                status, _ = self.api.call("GET", f"/monitors/{random.choice(self.ids)}", timeout=30)
            except OSError:
                status = 0
            took = time.perf_counter() - started
            if status == 200:
                self.samples.append(took)
            else:
                self.errors[status] += 1
            self._halt.wait(max(0.0, self.period - took))

    def stop(self) -> dict:
        self._halt.set()
        self.join()
        ms = [s * 1000 for s in self.samples]
        return {"n": len(ms), "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
                "max_ms": max(ms, default=None), "errors": dict(self.errors)}


# --- the database (read-only queries) -------------------------------------------------------------------


class Db:
    """Read-only access to the system's database: the SQLite file (opened mode=ro) or a PostgreSQL URL."""

    def __init__(self, sqlite_path: str | None = None, pg_url: str | None = None):
        self.sqlite_path, self.pg_url = sqlite_path, pg_url
        if sqlite_path:
            self.conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, timeout=30,
                                        check_same_thread=False)
        else:
            import psycopg2

            self.conn = psycopg2.connect(pg_url)
            self.conn.set_session(readonly=True, autocommit=True)
        self.lock = threading.Lock()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.lock:
            if self.sqlite_path:
                return self.conn.execute(sql, params).fetchall()
            with self.conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
                return cur.fetchall()

    def ts(self, value):
        """A naive UTC datetime as this engine compares it: SQLite stores 'YYYY-MM-DD HH:MM:SS[.ffffff]'."""
        return str(value) if self.sqlite_path else value

    def columns(self, table: str) -> set[str]:
        if self.sqlite_path:
            return {row[1] for row in self.query(f"PRAGMA table_info({table})")}
        return {row[0] for row in self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,))}

    def size(self) -> int:
        if self.sqlite_path:
            return sum(os.path.getsize(p) for p in (self.sqlite_path, self.sqlite_path + "-wal") if os.path.exists(p))
        return self.query("SELECT pg_database_size(current_database())")[0][0]

    def results_count(self) -> int:
        return self.query("SELECT count(*) FROM check_results")[0][0]

    def close(self) -> None:
        self.conn.close()


def _dt(value):
    import datetime as dt

    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def window_stats(db: Db, start, end, intervals: int) -> dict:
    """Checks whose slot lies in [start, end): count, ok share, error kinds, lag, missed slots."""
    rows = db.query("SELECT monitor_id, slot, checked_at, latency_ms, ok, error_kind FROM check_results "
                    "WHERE slot >= ? AND slot < ?", (db.ts(start), db.ts(end)))
    lags = [(_dt(checked) - _dt(slot)).total_seconds() * 1000 - (latency or 0) for _, slot, checked, latency, _, _
            in rows]
    distinct = len({(monitor, str(slot)) for monitor, slot, *_ in rows})
    recorded = db.query("SELECT count(*) FROM check_results WHERE checked_at >= ? AND checked_at < ?",
                        (db.ts(start), db.ts(end)))[0][0]
    interval_ms = (end - start).total_seconds() * 1000 / intervals
    enabled = db.query("SELECT count(*) FROM monitors WHERE enabled = ?", (True,))[0][0]
    expected = enabled * intervals
    out = {
        "results": len(rows), "distinct_slots": distinct, "ok": sum(1 for r in rows if r[4]),
        "error_kinds": dict(Counter(r[5] for r in rows if r[5])), "enabled_monitors": enabled,
        "expected_slots": expected, "missed_slots": expected - distinct,
        "recorded_in_window": recorded, "late": sum(1 for lag in lags if lag > interval_ms),
        "lag_ms": {"p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99), "max": max(lags, default=None)},
    }
    if "skipped_slots" in db.columns("monitors"):
        out["skipped_slots_sum"] = db.query("SELECT coalesce(sum(skipped_slots), 0) FROM monitors")[0][0]
    return out


def db_queue_depth(db: Db) -> int:
    return db.query("SELECT count(*) FROM queue_messages WHERE dead_at IS NULL")[0][0]
