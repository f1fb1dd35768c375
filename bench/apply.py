"""Config as code at scale: `healthmon apply` of 10,000 monitors to a running `healthmon api` (SQLite).

    .venv/bin/python bench/apply.py            # 10,000 monitors
    .venv/bin/python bench/apply.py --quick    # 1,000 (the smoke test runs this)

Starts `healthmon init-db` and `healthmon api` (gunicorn, 2 workers) on a new SQLite file on 127.0.0.1,
writes a config file of N monitors (tags, a webhook from ${HOOK} on every tenth), and times through the real
client (healthmon.apply, HTTP): the first apply (all creates), a re-apply (no changes), export, apply of the
exported file (no changes), and an apply changing check_interval of 10% of them. No timing is asserted.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from healthmon import apply  # noqa: E402
from tests.webapp.live import live_api  # noqa: E402


def config(n: int, interval_every: int = 0) -> str:
    lines = ["defaults: {timeout: 5, tags: [bench]}", "monitors:"]
    for i in range(n):
        interval = 120 if interval_every and i % interval_every == 0 else 60
        lines += [f"  - key: svc-{i:05d}", f"    name: Service {i}",
                  f"    url: http://127.0.0.{1 + i % 200}:8080/h?i={i}",
                  f"    check_interval: {interval}", f"    tags: [{'prod' if i % 2 else 'staging'}, r{i % 7}]"]
        if i % 10 == 0:
            lines.append('    webhook_url: "${HOOK}"')
    return "\n".join(lines) + "\n"


def timed(label: str, fn) -> str:
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = fn(out, err)
    took = time.perf_counter() - started
    last = (out.getvalue().strip().splitlines() or [""])[-1]
    print(f"{label:<34} {took:7.2f} s   exit {code}   {last[:70]}", flush=True)
    if code != 0:
        raise SystemExit(err.getvalue()[-2000:])
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 monitors instead of 10,000")
    parser.add_argument("--monitors", type=int)
    args = parser.parse_args()
    n = args.monitors or (1000 if args.quick else 10_000)
    os.environ["HOOK"] = "http://127.0.0.1:9/hooks/benchsecret"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # Loopback address literals: the address guard needs no DNS for them (nothing is checked here anyway).
        with live_api(f"sqlite:///{tmp_path}/bench.db", tmp_path, {"ALLOWED_PRIVATE_CIDRS": "127.0.0.0/8"}) as api:
            remote = apply.Remote(api.base_url, api.key)
            first, changed, exported = tmp_path / "m.yaml", tmp_path / "changed.yaml", tmp_path / "export.yaml"
            first.write_text(config(n))
            changed.write_text(config(n, interval_every=10))
            print(f"apply of {n:,} monitors to healthmon api (SQLite, gunicorn 2 workers) at {api.base_url}")
            timed("apply (all created)", lambda o, e: apply.run_apply(str(first), remote, False, False, o, e))
            timed("re-apply (no changes)", lambda o, e: apply.run_apply(str(first), remote, False, False, o, e))
            timed("apply --dry-run (no changes)", lambda o, e: apply.run_apply(str(first), remote, True, False, o, e))
            exported.write_text(timed("export", lambda o, e: apply.run_export(remote, o, e)))
            timed("apply of the export (no changes)",
                  lambda o, e: apply.run_apply(str(exported), remote, False, True, o, e))
            timed("apply changing 10%", lambda o, e: apply.run_apply(str(changed), remote, False, False, o, e))


if __name__ == "__main__":
    main()
