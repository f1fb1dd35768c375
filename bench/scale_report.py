"""bench/scale.py's output: the machine description and the printed table (the JSON holds the rest)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from scale_measure import HEALTHMON_KINDS
from scale_profile import top_self_frames

KIND_ORDER = (*HEALTHMON_KINDS, "postgres", "moto", "targets", "pg-other")
MIB = 1 << 20


def machine(repo: Path) -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        except OSError:  # no git here
            return ""
        return done.stdout.strip()

    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"nproc": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "kernel": platform.release(), "memory_gib": round(memory / (1 << 30), 1),
            "git_commit": git("rev-parse", "HEAD"),
            # The system's code differs from the commit (the benchmarks' own files do not count).
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench",
                                  ":!tests/bench"))}


def _f(value, fmt: str = "{:,.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def print_report(r: dict) -> None:
    m, c = r["machine"], r["checks"]
    dirty = " (dirty)" if m["git_dirty"] else ""
    print(f"\nhealthmon scale: setup {r['setup']}, {r['monitors']:,} monitors @ {r['interval']} s "
          f"(timeout {r['timeout']} s), tree {r['repo']} at {m['git_commit'][:12]}{dirty}")
    print(f"machine: {m['nproc']} CPUs, {m['cpu_model']}, Python {m['python']}; targets: {r['farm']['kind']}")
    cr = r["creation"]
    print(f"creation: {_f(cr['rate'])} monitors/s ({cr['seconds']:.1f} s) via {cr['path']}")
    w = r["window"]
    print(f"window: {r['window_intervals']} intervals = {w['seconds']} s from {w['start']} UTC, after "
          f"{r['warmup_s']:.0f} s warm-up; checker worker processes seen: {r['checker_workers_seen']}")
    lag = c["lag_ms"]
    rows = [
        ("checks/s asked", _f(r["asked_checks_per_s"])),
        ("checks/s achieved (slots in window)", _f(r["checks_per_s"])),
        ("checks/s recorded during window", _f(r["recorded_per_s"])),
        ("results in window (ok)", f"{c['results']:,} ({c['ok']:,})"),
        ("error kinds", ", ".join(f"{k} {v:,}" for k, v in sorted(c["error_kinds"].items())) or "-"),
        ("lag ms p50 / p99 / max", f"{_f(lag['p50'])} / {_f(lag['p99'])} / {_f(lag['max'])}"),
        ("late checks (lag > interval)", f"{c['late']:,}"),
        ("missed slots", f"{c['missed_slots']:,} of {c['expected_slots']:,}"),
        ("monitors.skipped_slots sum", _f(c.get("skipped_slots_sum"), "{:,}")),
        ("queue depth end / max / growth per s",
         f"{_f(r['queue_depth']['end'], '{:,}')} / {_f(r['queue_depth']['max'], '{:,}')}"
         f" / {_f(r['queue_depth']['growth_per_s'])}"),
        ("database bytes per check", _f(r["db_bytes"]["per_check"], "{:,.0f}")),
        ("GET /monitors/{id} ms p50 / p99 / max",
         f"{_f(r['get_monitor']['p50_ms'])} / {_f(r['get_monitor']['p99_ms'])} / {_f(r['get_monitor']['max_ms'])}"
         f"  (n={r['get_monitor']['n']}, errors {r['get_monitor']['errors'] or 0})"),
        ("/health", str(r["health"])),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    _print_cpu(r)
    for path in r["profiles"]:
        print(f"profile: {path}")
        for frame, count, share in r["profile_top"].get(path, []):
            print(f"    {share:5.1f}% {count:6d}  {frame}")


def profile_tops(paths: list[str], n: int = 15) -> dict[str, list]:
    """The top self-time frames of each raw (collapsed) py-spy output of a checker worker or the scheduler."""
    return {path: top_self_frames(path, n) for path in paths
            if path.endswith(".txt") and os.path.exists(path) and ("checker.worker" in path or "scheduler" in path)}


def _print_cpu(r: dict) -> None:
    # Per check recorded during the window (checked_at in it): what the CPU of the window was spent on, also
    # when the system falls behind (then fewer checks are recorded than the window's slots).
    window, results = r["window"]["seconds"], r["checks"]["recorded_in_window"] or 0
    cpu, rss, rss_max = r["cpu_seconds_by_kind"], r["rss_bytes_by_kind"], r["rss_max_bytes_by_kind"]
    print(f"\n  {'process kind':<30} {'CPU s':>8} {'% core':>7} {'ms/check':>9} {'RSS MiB':>8} {'max':>7}")
    total_kinds = [k for k in (*HEALTHMON_KINDS, "postgres") if k in cpu]
    for kind in [k for k in KIND_ORDER if k in cpu] + sorted(set(cpu) - set(KIND_ORDER)):
        _cpu_row(kind, cpu[kind], rss.get(kind), rss_max.get(kind), window, results)
    _cpu_row("total (healthmon" + (" + postgres)" if "postgres" in cpu else ")"),
             sum(cpu[k] for k in total_kinds), sum(rss.get(k, 0) for k in total_kinds), None, window, results)
    others = r["outside_cpu_seconds"] - r["harness_cpu_seconds"]
    print(f"  (outside these: this harness {r['harness_cpu_seconds']:.2f} CPU s; other processes {others:.2f} CPU s = "
          f"{100 * others / window:.0f}% of a core; load average at the end {r['loadavg_end'][0]:.2f})")
    detail = {k: v for k, v in r["cpu_seconds_by_role"].items() if "." in k}
    if detail:
        print("  by role: " + ", ".join(f"{k} {v * 1000 / results if results else 0:.2f} ms/check"
                                        for k, v in sorted(detail.items())))


def _cpu_row(name: str, seconds: float, rss, rss_max, window: float, results: int) -> None:
    per_check = seconds * 1000 / results if results else None
    print(f"  {name:<30} {seconds:8.2f} {100 * seconds / window:6.1f}% {_f(per_check, '{:.3f}'):>9} "
          f"{_f(rss and rss / MIB):>8} {_f(rss_max and rss_max / MIB):>7}")
