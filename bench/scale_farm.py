"""What bench/scale.py runs around the system under test: a self-signed certificate, the target farm (nginx,
or a small asyncio server in its own process where nginx or its echo module is missing), moto_server, and
scratch PostgreSQL databases. Everything listens on 127.0.0.1 only.

Target routes, the same on every server: `/` answers 200 at once, `/fail` 500, `/slow` 200 after the delay.
Run directly (`python bench/scale_farm.py serve HTTP_PORT HTTPS_PORT CERT KEY DELAY_MS`) it is the asyncio
target.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"  # Debian: libnginx-mod-http-echo (echo_sleep)
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
}
"""Credentials moto accepts; they reach nothing but the local moto_server."""

NGINX_CONF = """{load_module}
daemon off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  default_type text/plain;
  keepalive_requests 100000;
  ssl_certificate {cert};
  ssl_certificate_key {key};
  server {{ listen 127.0.0.1:{http_port} backlog=4096; {locations} }}
  server {{ listen 127.0.0.1:{https_port} ssl backlog=4096; {locations} }}
}}
"""
LOCATIONS = 'location / {{ return 200 "ok\\n"; }} location /fail {{ return 500 "fail\\n"; }} {slow}'
SLOW_LOCATION = "location /slow {{ echo_sleep {seconds}; echo ok; }}"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_cert(directory: Path) -> tuple[str, str, str]:
    """A self-signed RSA-2048 certificate for 127.0.0.1/localhost (CA:TRUE, so it is its own trust anchor).
    Returns (cert, key, how): the openssl CLI when present, else the `cryptography` package."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if shutil.which("openssl"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-addext", "basicConstraints=critical,CA:TRUE"], check=True, capture_output=True)
        return str(cert), str(key), "openssl CLI"
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    pkey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    built = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pkey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pkey, hashes.SHA256())
    )
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(pkey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(cert), str(key), "cryptography"


def ca_bundle_with(cert: str, directory: Path) -> str:
    """certifi's roots (the checker's default trust store) plus our certificate, so the CA store a check
    parses is as large as in a deployment."""
    try:
        import certifi

        roots = certifi.where()
    except ImportError:
        roots = SYSTEM_CA_BUNDLE
    bundle = directory / "ca-bundle.pem"
    bundle.write_text(Path(roots).read_text() + Path(cert).read_text())
    return str(bundle)


@dataclass
class Farm:
    """The running targets: base URLs per route kind, the CA bundle that trusts them, their processes."""

    http: str
    https: str
    slow: str
    ca_bundle: str
    kind: str  # "nginx", "nginx + asyncio (slow)", or "asyncio"
    cert_how: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def urls(self) -> dict[str, str]:
        return {"http": f"{self.http}/", "https": f"{self.https}/", "fail": f"{self.http}/fail",
                "slow": f"{self.slow}/slow"}

    def stop(self) -> None:
        for proc in self.processes:
            stop_process(proc)


def _nginx_config(prefix: Path, cert: str, key: str, http_port: int, https_port: int, delay_ms: int,
                  echo: bool) -> Path:
    slow = SLOW_LOCATION.format(seconds=f"{delay_ms / 1000:.3f}") if echo else ""
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        load_module=f"load_module {ECHO_MODULE};" if echo else "", prefix=prefix, cert=cert, key=key,
        http_port=http_port, https_port=https_port, locations=LOCATIONS.format(slow=slow)))
    return conf


def _nginx_ok(conf: Path, prefix: Path) -> bool:
    return subprocess.run([NGINX, "-t", "-q", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                          capture_output=True).returncode == 0


def _start_asyncio(cert: str, key: str, delay_ms: int, log_dir: Path) -> tuple[subprocess.Popen, int, int]:
    http_port, https_port = free_port(), free_port()
    log = open(log_dir / "asyncio-target.log", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", str(http_port), str(https_port),
                             cert, key, str(delay_ms)], stdout=log, stderr=subprocess.STDOUT)
    wait_port(https_port, proc, "asyncio target")
    return proc, http_port, https_port


def start_farm(directory: Path, delay_ms: int, prefer: str = "auto") -> Farm:
    """nginx on two loopback ports (HTTP, HTTPS) when it is installed, its `/slow` via the echo module when
    that loads, else an asyncio target for what nginx cannot serve. `prefer`: auto, nginx or asyncio."""
    prefix = directory / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    cert, key, cert_how = make_cert(directory)
    bundle = ca_bundle_with(cert, directory)
    have_nginx = os.path.exists(NGINX)
    if prefer == "nginx" and not have_nginx:
        raise RuntimeError(f"--farm nginx: {NGINX} is not installed")
    if prefer == "asyncio" or not have_nginx:
        proc, http_port, https_port = _start_asyncio(cert, key, delay_ms, directory)
        http = f"http://127.0.0.1:{http_port}"
        return Farm(http, f"https://127.0.0.1:{https_port}", http, bundle, "asyncio", cert_how, [proc])
    http_port, https_port = free_port(), free_port()
    echo = os.path.exists(ECHO_MODULE)
    conf = _nginx_config(prefix, cert, key, http_port, https_port, delay_ms, echo)
    if echo and not _nginx_ok(conf, prefix):
        echo = False
        conf = _nginx_config(prefix, cert, key, http_port, https_port, delay_ms, echo)
    log = open(directory / "nginx.log", "wb")  # noqa: SIM115 - the child keeps it
    nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                             stdout=log, stderr=subprocess.STDOUT)
    farm = Farm(f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", "", bundle, "nginx", cert_how,
                [nginx])
    try:
        wait_port(https_port, nginx, "nginx")
        if echo:
            farm.slow = farm.http
        else:
            proc, slow_port, _ = _start_asyncio(cert, key, delay_ms, directory)
            farm.processes.append(proc)
            farm.slow, farm.kind = f"http://127.0.0.1:{slow_port}", "nginx + asyncio (slow)"
    except BaseException:
        farm.stop()
        raise
    return farm


# --- services the setups need --------------------------------------------------------------------------


def with_dbname(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(admin_url: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url, connect_timeout=5)
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def create_scratch_db(admin_url: str) -> str:
    name = f"healthmon_scale_{uuid.uuid4().hex[:8]}"
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    return with_dbname(admin_url, name)


def drop_scratch_db(admin_url: str, url: str) -> None:
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


def start_moto(repo: Path, log_dir: Path) -> tuple[subprocess.Popen, str]:
    """moto_server from the tree under test's virtualenv (or this interpreter's moto) on a free port."""
    port = free_port()
    script = repo / ".venv" / "bin" / "moto_server"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
    log = open(log_dir / "moto.log", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([*cmd, "-p", str(port), "-H", "127.0.0.1"], env={**os.environ, **DUMMY_AWS_ENV},
                            stdout=log, stderr=subprocess.STDOUT)
    wait_port(port, proc, "moto_server", timeout=30)
    return proc, f"http://127.0.0.1:{port}"


def sqs_client(endpoint: str):
    import boto3

    creds = {"aws_access_key_id": DUMMY_AWS_ENV["AWS_ACCESS_KEY_ID"],
             "aws_secret_access_key": DUMMY_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
             "aws_session_token": DUMMY_AWS_ENV["AWS_SESSION_TOKEN"]}
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", **creds)


def create_sqs_queue(endpoint: str, name: str = "healthmon-scale", max_receives: int = 5) -> str:
    """The checks queue with a dead-letter queue (redrive maxReceiveCount), as terraform/ makes it."""
    import json

    client = sqs_client(endpoint)
    dlq = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receives)})
    return client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60",
                                                           "RedrivePolicy": policy})["QueueUrl"]


# --- the asyncio target ---------------------------------------------------------------------------------


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while True:
            request = await reader.readline()
            if not request:
                break
            while await reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1] if request.count(b" ") >= 2 else b"/"
            if path.startswith(b"/slow"):
                await asyncio.sleep(delay)
            status = b"500 Internal Server Error" if path.startswith(b"/fail") else b"200 OK"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")
            await writer.drain()
    except (ConnectionError, OSError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def _serve(http_port: int, https_port: int, cert: str, key: str, delay_ms: int) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    delay = delay_ms / 1000

    async def handler(r, w):
        await _answer(r, w, delay)

    servers = [await asyncio.start_server(handler, "127.0.0.1", http_port, backlog=4096),
               await asyncio.start_server(handler, "127.0.0.1", https_port, ssl=ctx, backlog=4096)]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])))
