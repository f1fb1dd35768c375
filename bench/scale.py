"""End-to-end throughput of healthmon, measured from the outside.

Starts a target farm (nginx on 127.0.0.1: fast 200s over HTTP and HTTPS, 500s, delayed answers), then the
system under test as a user would (`.venv/bin/healthmon up` of --repo, in a temp working directory, on
SQLite, PostgreSQL, or PostgreSQL + SQS on moto_server), creates monitors through the REST API, warms up,
and measures whole intervals: checks/s recorded, scheduling lag (check start minus slot), missed slots,
CPU and RSS per process kind (/proc), database bytes per check, queue depth, GET /monitors/{id} latency.
Figures come from read-only SQL on the database after the window, never from healthmon's internals.
Prints a table; --json writes every figure. See docs/PERFORMANCE.md.

    .venv/bin/python bench/scale.py --setup embedded --monitors 2500 --interval 10 --json /tmp/scale.json
    .venv/bin/python bench/scale.py --quick        # under 3 minutes
    .venv/bin/python bench/scale.py --smoke        # seconds; CI runs it (tests/bench)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scale_farm as farm_mod  # noqa: E402
import scale_measure as measure  # noqa: E402
import scale_overload as overload  # noqa: E402
import scale_profile as profile_mod  # noqa: E402
from scale_report import machine, print_report, profile_tops  # noqa: E402

DEFAULT_REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90.0
PRESETS = {  # --quick / --smoke: monitors, interval, warm-up intervals, window intervals
    "quick": (2000, 10, 1, 2),
    "smoke": (40, 2, 1, 2),
}
STRIPPED_ENV = ("AWS_", "SQS_", "DATABASE_URL", "HEALTHMON_", "CHECKER_", "SCHEDULER_", "QUEUE_", "CA_BUNDLE")


EPILOG = """The system under test gets ALLOWED_PRIVATE_CIDRS=127.0.0.0/8, MIN_CHECK_INTERVAL=min(10, interval),
CA_BUNDLE=certifi's roots + the farm's self-signed certificate, SHUTDOWN_GRACE=5 and LOG_LEVEL; AWS_*, SQS_*,
DATABASE_URL, HEALTHMON_*, CHECKER_*, SCHEDULER_*, QUEUE_* and CA_BUNDLE from this environment are not passed
on (use --env). SCALE_PG_URL sets the default of --pg-admin-url. Exit status: 0, 1 when no check was
recorded in the window, 2 on a usage problem, 130 when interrupted (everything started is stopped)."""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_Formatter, epilog=EPILOG)
    p.add_argument("--setup", choices=("embedded", "postgres", "postgres-sqs"), default="embedded",
                   help="embedded: SQLite file + database queue; postgres: a scratch PostgreSQL database + "
                        "database queue; postgres-sqs: PostgreSQL + an SQS queue on a local moto_server")
    p.add_argument("--repo", type=Path, default=DEFAULT_REPO,
                   help="tree whose .venv/bin/healthmon runs (e.g. a clean `git worktree` of a commit)")
    p.add_argument("--monitors", type=int, default=2500, help="monitors created through the API")
    p.add_argument("--interval", type=int, default=10, help="check_interval of every monitor (seconds)")
    p.add_argument("--timeout", type=int, default=None,
                   help="each monitor's timeout (seconds); default min(5, interval - 1)")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds between the last monitor created and the window; default 2 intervals "
                        "(at least one is needed: a new monitor reaches its phase 1-2 intervals after creation)")
    p.add_argument("--window-intervals", type=int, default=3, help="whole intervals measured")
    p.add_argument("--checker-processes", type=int, default=0,
                   help="CHECKER_PROCESSES (and `up --processes`); 0 = healthmon's default")
    p.add_argument("--https-share", type=float, default=0.15, help="share of monitors on the HTTPS target")
    p.add_argument("--fail-share", type=float, default=0.05, help="share of monitors whose target answers 500")
    p.add_argument("--slow-share", type=float, default=0.05, help="share of monitors on the delayed target")
    p.add_argument("--slow-ms", type=int, default=100, help="delay of the delayed target (ms)")
    p.add_argument("--farm", choices=("auto", "nginx", "asyncio"), default="auto",
                   help="target servers: nginx (+ its echo module for the delay), or the asyncio stand-in; "
                        "auto = nginx when installed")
    p.add_argument("--pg-admin-url", default=os.environ.get("SCALE_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                   help="PostgreSQL server on which the scratch database is created and dropped")
    p.add_argument("--get-rate", type=float, default=4.0, help="GET /monitors/{id} per second during the window")
    p.add_argument("--create-threads", type=int, default=8, help="concurrent POST /monitors (no bulk endpoint)")
    p.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the system under test")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the system under test (repeatable), e.g. SCHEDULER_BATCH=2000")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="py-spy record every healthmon Python process during the window into DIR")
    p.add_argument("--profile-format", choices=tuple(profile_mod.PROFILE_EXT), default="flamegraph",
                   help="py-spy output: flamegraph (.svg), speedscope (.json) or raw (collapsed stacks, .txt; "
                        "the top self-time frames are printed)")
    p.add_argument("--profile-native", action="store_true", help="py-spy --native (blocking) instead of --nonblocking")
    p.add_argument("--recover-keep", type=float, default=None, metavar="SHARE",
                   help="after the window, disable all but this share of the monitors through the API and "
                        "measure the recovery (GET /stats overloaded clearing, the next interval's lag and "
                        "skipped slots): run the window past capacity first")
    p.add_argument("--json", type=Path, metavar="PATH", help="write every figure to this JSON file")
    p.add_argument("--keep", action="store_true", help="keep the temp working directory (logs, SQLite file)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="2,000 monitors at 10 s, 1 interval warm-up, 2 measured")
    mode.add_argument("--smoke", action="store_true",
                      help="40 monitors at 2 s, 1 interval warm-up, 2 measured: seconds; only checks that results "
                           "were recorded (CI)")
    return p


class System:
    """`healthmon up` of one tree, and the services its setup needs; `stop()` undoes everything."""

    def __init__(self, args, workdir: Path, ca_bundle: str):
        self.args, self.workdir, self.ca_bundle = args, workdir, ca_bundle
        self.proc: subprocess.Popen | None = None
        self.moto: subprocess.Popen | None = None
        self.pg_url = self.sqs_url = self.sqs_endpoint = None
        self.port = farm_mod.free_port()
        self.log_path = workdir / "up.log"
        self.key = ""

    def environment(self) -> dict:
        a = self.args
        env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_ENV)}
        env.update(ALLOWED_PRIVATE_CIDRS="127.0.0.0/8", MIN_CHECK_INTERVAL=str(min(10, a.interval)),
                   CA_BUNDLE=self.ca_bundle, LOG_LEVEL=a.log_level, SHUTDOWN_GRACE="5", PYTHONUNBUFFERED="1",
                   NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        if a.checker_processes:
            env["CHECKER_PROCESSES"] = str(a.checker_processes)
        if self.pg_url:
            env["DATABASE_URL"] = self.pg_url
        if self.sqs_url:
            env.update(farm_mod.DUMMY_AWS_ENV, SQS_QUEUE_URL=self.sqs_url, SQS_ENDPOINT_URL=self.sqs_endpoint)
        env.update(item.split("=", 1) for item in a.env)
        return env

    def start(self) -> None:
        a = self.args
        if a.setup != "embedded":
            self.pg_url = farm_mod.create_scratch_db(a.pg_admin_url)
        if a.setup == "postgres-sqs":
            self.moto, self.sqs_endpoint = farm_mod.start_moto(a.repo, self.workdir)
            self.sqs_url = farm_mod.create_sqs_queue(self.sqs_endpoint)
        exe = a.repo / ".venv" / "bin" / "healthmon"
        cmd = [str(exe), "up", "--port", str(self.port)]
        if a.checker_processes:
            cmd += ["--processes", str(a.checker_processes)]
        self.command = cmd
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=self.environment(), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT
        while "healthmon is ready" not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"healthmon up did not get ready (exit {self.proc.poll()}):\n"
                                   + self.output()[-3000:])
            time.sleep(0.1)
        match = re.search(r"export HEALTHMON_API_KEY=(\S+)", self.output())
        if not match:
            raise RuntimeError("no API key in healthmon up's output:\n" + self.output()[-3000:])
        self.key = match.group(1)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def db(self) -> measure.Db:
        if self.pg_url:
            return measure.Db(pg_url=self.pg_url)
        return measure.Db(sqlite_path=str(self.workdir / "healthmon.db"))

    def queue_depth(self, db: measure.Db) -> int:
        if not self.sqs_url:
            return measure.db_queue_depth(db)
        attrs = farm_mod.sqs_client(self.sqs_endpoint).get_queue_attributes(
            QueueUrl=self.sqs_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def stop(self) -> dict:
        out = {}
        if self.proc is not None and self.proc.poll() is None:
            started = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                out["exit"] = self.proc.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                out["exit"] = "killed"
            out["stop_seconds"] = round(time.monotonic() - started, 2)
        farm_mod.stop_process(self.moto)
        if self.pg_url:
            with contextlib.suppress(Exception):
                farm_mod.drop_scratch_db(self.args.pg_admin_url, self.pg_url)
        return out


def monitor_specs(args, farm: farm_mod.Farm) -> list[dict]:
    """The mix: every monitor gets a target by its index, spread evenly (not in blocks)."""
    urls = farm.urls()
    shares = [("https", args.https_share), ("fail", args.fail_share), ("slow", args.slow_share)]
    out, acc = [], {name: 0.0 for name, _ in shares}
    for i in range(args.monitors):
        for name, share in shares:
            acc[name] += share
        kind = next((name for name, _ in shares if acc[name] >= 1), "http")
        if kind != "http":
            acc[kind] -= 1
        out.append({"name": f"scale-{i}-{kind}", "url": f"{urls[kind]}?m={i}", "check_interval": args.interval,
                    "timeout": args.timeout, "expected_status_code": 200})
    return out


def sleep_until(wall: float) -> None:
    while (left := wall - time.time()) > 0:
        time.sleep(min(left, 1.0))


def measure_window(args, system: System, api: measure.Api, ids: list[int], farm) -> dict:
    db = system.db()
    try:
        ws_wall = math.ceil(time.time())
        sleep_until(ws_wall)
        window = args.interval * args.window_intervals
        ws = dt.datetime.fromtimestamp(ws_wall, dt.UTC).replace(tzinfo=None)
        we = ws + dt.timedelta(seconds=window)
        others = {"targets": [p.pid for p in farm.processes]}
        if system.moto:
            others["moto"] = [system.moto.pid]
        depths: list[int] = []
        pg_db = system.pg_url.rsplit("/", 1)[1] if system.pg_url else None
        sampler = measure.Sampler(system.proc.pid, others, pg_db,
                                  extra=lambda: depths.append(system.queue_depth(db)))
        size0, count0 = db.size(), db.results_count()
        harness0 = sum(os.times()[:2])
        sampler.sample()
        sampler.start()
        getter = measure.GetLatency(api, ids, args.get_rate)
        getter.start()
        profiles = []
        if args.profile:
            profiles = profile_mod.start_profiles(args.py_spy, sampler.python_pids(), args.profile, window,
                                                  args.profile_format, args.profile_native)
        sleep_until(ws_wall + window)
        sampler.stop()
        get = getter.stop()
        harness_cpu = sum(os.times()[:2]) - harness0
        depth_end = system.queue_depth(db)
        _, health = api.call("GET", "/health")
        time.sleep(args.interval + 1)  # the window's last slots get checked and recorded
        stats = measure.window_stats(db, ws, we, args.window_intervals)
        size1, count1 = db.size(), db.results_count()
    finally:
        db.close()
    for proc, _ in profiles:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
    cpu_roles = sampler.cpu_by_role()
    return {
        "window": {"start": ws.isoformat(), "end": we.isoformat(), "seconds": window},
        "checks": stats, "checks_per_s": stats["results"] / window,
        "recorded_per_s": stats["recorded_in_window"] / window,
        "cpu_seconds_by_role": cpu_roles, "cpu_seconds_by_kind": measure.by_kind(cpu_roles),
        "outside_cpu_seconds": sampler.outside_cpu(), "harness_cpu_seconds": harness_cpu,
        "loadavg_end": os.getloadavg(),
        "rss_bytes_by_role": sampler.rss_by_role(),
        "rss_bytes_by_kind": measure.by_kind({r: v["mean"] for r, v in sampler.rss_by_role().items()}),
        "rss_max_bytes_by_kind": measure.by_kind({r: v["max"] for r, v in sampler.rss_by_role().items()}),
        "processes": {str(pid): role for pid, role in sorted(sampler.roles.items())},
        "db_bytes": {"before": size0, "after": size1, "results_before": count0, "results_after": count1,
                     "per_check": (size1 - size0) / (count1 - count0) if count1 > count0 else None},
        "queue_depth": {"end": depth_end, "max": max(depths, default=None), "samples": depths,
                        "growth_per_s": (depths[-1] - depths[0]) / window if len(depths) > 1 else None},
        "get_monitor": get, "health": health,
        "profiles": [path for _, path in profiles], "profile_top": profile_tops([path for _, path in profiles]),
    }


def apply_presets(args) -> None:
    preset = "smoke" if args.smoke else "quick" if args.quick else None
    if preset:
        args.monitors, args.interval, warm, args.window_intervals = PRESETS[preset]
        args.warmup = args.warmup if args.warmup is not None else warm * args.interval
    if args.timeout is None:
        args.timeout = max(1, min(5, args.interval - 1))
    if args.warmup is None:
        args.warmup = 2 * args.interval


def run(args) -> dict:
    apply_presets(args)
    workdir = Path(tempfile.mkdtemp(prefix="healthmon-scale-"))
    result: dict = {"argv": sys.argv, "setup": args.setup, "repo": str(args.repo), "machine": machine(args.repo),
                    "monitors": args.monitors, "interval": args.interval, "timeout": args.timeout,
                    "warmup_s": args.warmup, "window_intervals": args.window_intervals,
                    "asked_checks_per_s": args.monitors / args.interval, "workdir": str(workdir),
                    "mix": {"https": args.https_share, "fail": args.fail_share, "slow": args.slow_share,
                            "slow_ms": args.slow_ms}}
    farm = system = None
    try:
        farm = farm_mod.start_farm(workdir, args.slow_ms, args.farm)
        result["farm"] = {"kind": farm.kind, "cert": farm.cert_how, **farm.urls()}
        system = System(args, workdir, farm.ca_bundle)
        system.start()
        result["command"] = system.command
        api = measure.Api(system.port, system.key)
        created = measure.create_monitors(api, monitor_specs(args, farm), threads=args.create_threads)
        result["creation"] = {k: v for k, v in created.items() if k != "ids"}
        time.sleep(args.warmup)
        result.update(measure_window(args, system, api, created["ids"], farm))
        result["checker_workers_seen"] = sum(1 for r in result["processes"].values() if r == "checker.worker")
        if args.recover_keep is not None:
            result["recovery"] = overload.recovery(args, system, api, created["ids"])
    finally:
        if system is not None:
            result["stop"] = system.stop()
            result["up_log_tail"] = system.output()[-2000:]
        if farm is not None:
            farm.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def _interrupt(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what it started."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.repo = args.repo.resolve()
    if not (args.repo / ".venv" / "bin" / "healthmon").exists():
        print(f"scale: {args.repo}/.venv/bin/healthmon not found (make a virtualenv there first)", file=sys.stderr)
        return 2
    args.py_spy = profile_mod.find_py_spy(args.repo) if args.profile else None
    if args.profile and not args.py_spy:
        print("scale: --profile needs py-spy (pip install py-spy; it must run as root)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = run(args)
    except KeyboardInterrupt:
        print("scale: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    print_report(result)
    if "recovery" in result:
        overload.print_recovery(result["recovery"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
        print(f"\nwrote {args.json}")
    if not result["checks"]["results"]:
        print("scale: no check was recorded in the window", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
