"""CPU time per check: our pycurl CheckEngine vs `requests`, HTTP and HTTPS, a fresh connection each.

    .venv/bin/python bench/engine_cpu.py [--n 3000] [--concurrency 50] [--requests-n 300] [--skip-blackbox]
    .venv/bin/python bench/engine_cpu.py --smoke   # a few seconds, tiny sizes (CI: tests/bench)
    .venv/bin/python bench/engine_cpu.py --observe-tls ...   # adds a row: checks that read the certificate

The targets (tests/support/targets.py, one HTTP and one HTTPS with an RSA-2048 certificate from a throwaway
CA) run in a SEPARATE process, so only the client's CPU is counted: time.process_time() of this process
(user + sys, all threads) around N checks. URLs use the IP literal 127.0.0.1, so no resolver thread runs.
When Debian's prometheus-blackbox-exporter is installed, it is measured too (CPU of its process per
/probe request). Results: us of CPU per check, and the ratio to requests. See bench/README.md for figures.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import contextlib  # noqa: E402
import importlib  # noqa: E402

from checker.engine import CheckEngine, perform_check  # noqa: E402
from healthmon.domain.check import CheckSpec  # noqa: E402
from healthmon.netguard import AddressGuard  # noqa: E402

GUARD = AddressGuard([ipaddress.ip_network("127.0.0.0/8")])
REFERENCE_US = {  # the figures, per probe: (HTTP, HTTPS)
    "requests": (720, 19_800), "aiohttp": (210, 680), "pycurl CurlMulti": (70, 440), "blackbox_exporter": (470, 830),
}

SERVER_CODE = """
import sys, time
sys.path.insert(0, {root!r})
from tests.support.targets import TargetServer, make_pki
pki = make_pki({pki_dir!r}, key_type="rsa")
http = TargetServer()
https = TargetServer(tls=(pki.cert_file, pki.key_file))
print(http.port, https.port, pki.ca_file, flush=True)
sys.stdin.read()  # run until the parent closes our stdin
"""


def ca_cache_module():
    """The module whose CA_CACHE_SECONDS the engine reads when it sets up a handle: checker/transfer.py since
    checker/http.py was split (checker/http.py before). None if neither has it any more."""
    for name in ("checker.transfer", "checker.engine", "checker.http"):
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            if hasattr(module, "CA_CACHE_SECONDS"):
                return module
    return None


def start_targets(pki_dir: str) -> tuple[subprocess.Popen, str, str, str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER_CODE.format(root=ROOT, pki_dir=pki_dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    http_port, https_port, ca = proc.stdout.readline().split()
    # Trust certifi's ~140 roots plus the test CA, as a deployment would: the CA store's size is what
    # CA caching saves, and a one-certificate bundle would hide it.
    import certifi

    bundle = os.path.join(pki_dir, "bundle.pem")
    with open(bundle, "w") as out, open(certifi.where()) as roots, open(ca) as test_ca:
        out.write(roots.read() + test_ca.read())
    return proc, f"http://127.0.0.1:{http_port}/", f"https://127.0.0.1:{https_port}/", bundle


def cpu_us(fn, n: int) -> float:
    """CPU microseconds per call of fn over n calls (fn runs them all)."""
    start = time.process_time()
    fn(n)
    return (time.process_time() - start) * 1e6 / n


def run_engine(url: str, ca: str, concurrency: int, **spec_options):
    def go(n: int) -> None:
        eng = CheckEngine(GUARD, ca_bundle=ca, max_concurrency=concurrency)
        spec = CheckSpec(url=url, timeout=10, **spec_options)
        submitted = failed = 0
        while submitted < n or eng.in_flight():
            while submitted < n and eng.free_slots():
                eng.submit(spec, submitted)
                submitted += 1
            for _, result in eng.poll(1.0):
                failed += result.error_kind is not None or result.status_code != 200
        eng.close()
        if failed:
            print(f"  warning: {failed} of {n} engine checks failed", file=sys.stderr)
    return go


def run_perform_check(url: str, ca: str):
    def go(n: int) -> None:
        spec = CheckSpec(url=url, timeout=10)
        for _ in range(n):
            perform_check(spec, GUARD, ca_bundle=ca)
    return go


def run_requests(url: str, ca: str):
    import requests

    def go(n: int) -> None:
        for _ in range(n):
            with requests.Session() as s:  # a new session = a new connection (and SSL context) per check
                _ = s.get(url, timeout=10, verify=ca, headers={"Accept-Encoding": "identity"}).content
    return go


BLACKBOX_BIN = "/usr/bin/prometheus-blackbox-exporter"  # Debian: apt-get install prometheus-blackbox-exporter
BLACKBOX_CONFIG = """modules:
  http_2xx:
    prober: http
    timeout: 10s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        ca_file: {ca}
"""


def _proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def blackbox_us(tmp: str, ca: str, http_url: str, https_url: str, n: int) -> tuple[float, float] | None:
    """CPU of the blackbox_exporter process per probe (its /proc stat), probes sent one after another."""
    import requests

    if not os.path.exists(BLACKBOX_BIN):
        return None
    cfg = os.path.join(tmp, "blackbox.yml")
    with open(cfg, "w") as fh:
        fh.write(BLACKBOX_CONFIG.format(ca=ca))
    port = 19115
    proc = subprocess.Popen([BLACKBOX_BIN, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with requests.Session() as s:
            for _ in range(50):
                try:
                    s.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            out = []
            for url in (http_url, https_url):
                params = {"module": "http_2xx", "target": url}
                for _ in range(20):
                    s.get(f"http://127.0.0.1:{port}/probe", params=params, timeout=10)
                before = _proc_cpu_s(proc.pid)
                for _ in range(n):
                    r = s.get(f"http://127.0.0.1:{port}/probe", params=params, timeout=10)
                    assert "probe_success 1" in r.text, r.text[-500:]
                out.append((_proc_cpu_s(proc.pid) - before) * 1e6 / n)
        return out[0], out[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="checks per engine measurement")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--requests-n", type=int, default=300, help="checks per requests measurement (it is slow)")
    ap.add_argument("--skip-requests", action="store_true")
    ap.add_argument("--skip-blackbox", action="store_true")
    ap.add_argument("--blackbox-n", type=int, default=1000, help="probes per blackbox_exporter measurement")
    ap.add_argument("--observe-tls", action="store_true",
                    help="also measure the engine with observe_tls (libcurl CERTINFO: what a monitor's hourly check "
                         "that reads the certificate costs)")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds-long run with the smallest sizes that still exercise every client (no blackbox)")
    args = ap.parse_args()
    perform_n = max(200, args.n // 5)
    if args.smoke:
        args.n, args.requests_n, args.skip_blackbox, perform_n = 100, 10, True, 20
    engine_mod = ca_cache_module()

    with tempfile.TemporaryDirectory() as tmp:
        proc, http_url, https_url, ca = start_targets(tmp)
        try:
            rows = []
            certificate_row = [("CheckEngine, reading the certificate (observe_tls)",
                                lambda u: run_engine(u, ca, args.concurrency, observe_tls=True), args.n)]
            for label, factory, n in [
                (f"CheckEngine (multi, {args.concurrency} in flight)",
                 lambda u: run_engine(u, ca, args.concurrency), args.n),
                *(certificate_row if args.observe_tls else []),
                ("CheckEngine, CA cache off", None, args.n),
                ("perform_check (easy, sequential)", lambda u: run_perform_check(u, ca), perform_n),
                ("requests (new Session per check)", lambda u: run_requests(u, ca), args.requests_n),
            ]:
                if label.startswith("requests") and args.skip_requests:
                    continue
                if factory is None and engine_mod is None:
                    print("  skipped CA cache off: no module has CA_CACHE_SECONDS", file=sys.stderr)
                    continue
                if factory is None:  # the same engine, CA store reparsed for every HTTPS check
                    saved = engine_mod.CA_CACHE_SECONDS
                    engine_mod.CA_CACHE_SECONDS = 0
                    try:
                        factory_fn = lambda u: run_engine(u, ca, args.concurrency)  # noqa: E731
                        cpu_us(factory_fn(http_url), 50)
                        h = cpu_us(factory_fn(http_url), n)
                        s = cpu_us(factory_fn(https_url), n // 2)
                    finally:
                        engine_mod.CA_CACHE_SECONDS = saved
                else:
                    cpu_us(factory(http_url), 20)  # warm up imports and caches
                    h = cpu_us(factory(http_url), n)
                    s = cpu_us(factory(https_url), n if not label.startswith("requests") else n // 2)
                rows.append((label, h, s))
                print(f"  measured {label}: {h:.0f} / {s:.0f} us", file=sys.stderr, flush=True)
            if not args.skip_blackbox:
                bb = blackbox_us(tmp, ca, http_url, https_url, args.blackbox_n)
                if bb:
                    rows.append(("blackbox_exporter 0.23 (its process CPU)", *bb))
                    print(f"  measured blackbox_exporter: {bb[0]:.0f} / {bb[1]:.0f} us", file=sys.stderr)
        finally:
            proc.stdin.close()
            proc.wait(timeout=10)

    base = next((r for r in rows if r[0].startswith("requests")), None)
    print(f"\nCPU per check (us), fresh connection each, client process only, {os.cpu_count()} cores")
    print(f"{'client':44} {'HTTP':>8} {'HTTPS':>8} {'mix':>8} {'vs requests':>14}")
    for label, h, s in rows:
        ratio = f"{base[1] / h:.1f}x / {base[2] / s:.1f}x" if base else "-"
        print(f"{label:44} {h:8.0f} {s:8.0f} {(h + s) / 2:8.0f} {ratio:>14}")
    print("\nreference figures from the issue (us per probe):")
    for name, (h, s) in REFERENCE_US.items():
        print(f"{name:44} {h:8.0f} {s:8.0f} {(h + s) / 2:8.0f}")
    ours = rows[0]
    bb = REFERENCE_US["blackbox_exporter"]
    print(f"\nmix (HTTP+HTTPS)/2: ours {(ours[1] + ours[2]) / 2:.0f} us vs blackbox_exporter (issue figures) "
          f"{sum(bb) / 2:.0f} us -> {sum(bb) / (ours[1] + ours[2]):.1f}x (target: 2x)")
    local_bb = next((r for r in rows if r[0].startswith("blackbox")), None)
    if local_bb:
        print(f"mix vs blackbox_exporter measured here: {(local_bb[1] + local_bb[2]) / (ours[1] + ours[2]):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
