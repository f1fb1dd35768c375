"""Check targets for tests: a threaded HTTP(S) server on a loopback address with misbehaving routes.

Use as a context manager or through the fixtures at the bottom (import them into a test module:
`from tests.support.targets import target, tls_pki  # noqa: F401`).

Routes (any method):
  /                    200 "ok"
  /status/N            status N
  /flap                the status last given to `server.set_status(n)` (starts at 200)
  /drip                200, then one byte every 250 ms, forever (until the client leaves)
  /endless             200, then bytes as fast as possible, forever
  /big/N               200 with an N-byte body (Content-Length set); /big/N?chunked=1 without a length
  /redirect/N          a chain: 302 -> /redirect/N-1 ... /redirect/0 answers 200
  /loop                302 -> /loop
  /redirect-to?url=U   302 -> U
  /slow-headers/S      sleeps S seconds, then 200
  /echo                200 with the request headers as JSON, and the body under "body"
  /echo-request        200 with {"method", "path", "headers" (names lowercased), "body"} as JSON
  /redirect-status/N?url=U   status N (a 3xx) -> U
A HEAD request gets the headers of the GET (Content-Length included) and no body, as RFC 9110 says.
`server.set_certificate(cert, key)` serves another certificate from the next connection on (a renewal);
`make_leaf_certificates` makes leaves that expire when a test needs (in 2 days, 10 days, already expired).
`server.count(path)` is how many requests reached a path (query ignored); `server.connections` how many
TCP connections were accepted (a guard test expects 0).
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

DRIP_INTERVAL = 0.25
ENDLESS_CHUNK = b"x" * 65536
ENDLESS_LIMIT = 1 << 30  # stop after 1 GiB even if a broken client keeps reading


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that nothing listens on (bound then closed; nobody else grabs it in a test run)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - quiet test output
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _stream(self, chunk: bytes, interval: float) -> None:
        """Close-delimited body that never ends: stops when the client goes away or the server stops."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        try:
            while not self.server.stopping.is_set() and sent < ENDLESS_LIMIT:
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)
                if interval:
                    self.server.stopping.wait(interval)
        except OSError:
            pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.record(path, self.headers, body, self.command)
        seg = path.strip("/").split("/")
        head, arg = seg[0], (seg[1] if len(seg) > 1 else "")
        if path == "/":
            self._send(200, b"ok")
        elif head == "status":
            self._send(int(arg), b"status")
        elif head == "flap":
            self._send(self.server.status, b"flap")
        elif head == "drip":
            self._stream(b"x", DRIP_INTERVAL)
        elif head == "endless":
            self._stream(ENDLESS_CHUNK, 0)
        elif head == "big":
            n = int(arg)
            if query.get("chunked"):
                self.close_connection = True
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"y" * n)
            else:
                self._send(200, b"y" * n)
        elif head == "redirect":
            n = int(arg)
            if n <= 0:
                self._send(200, b"end of chain")
            else:
                self._send(302, b"", {"Location": f"/redirect/{n - 1}"})
        elif head == "loop":
            self._send(302, b"", {"Location": "/loop"})
        elif head == "redirect-status":
            self._send(int(arg), b"", {"Location": query["url"][0]})
        elif head == "echo-request":
            payload = {"method": self.command, "path": path,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body.decode("utf-8", "replace")}
            self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        elif head == "redirect-to":
            self._send(302, b"", {"Location": query["url"][0]})
        elif head == "slow-headers":
            self.server.stopping.wait(float(arg))
            self._send(200, b"slow")
        elif head == "echo":
            payload = {k.lower(): v for k, v in self.headers.items()}
            payload["body"] = body.decode("utf-8", "replace")
            self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        else:
            self._send(404, b"no such route")

    do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # concurrency tests open many connections at once

    def __init__(self, addr, tls: ssl.SSLContext | None):
        self.tls = tls
        self.stopping = threading.Event()
        self.status = 200
        self.connections = 0
        self.counts: Counter[str] = Counter()
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        super().__init__(addr, _Handler)

    def verify_request(self, request, client_address) -> bool:
        with self._lock:
            self.connections += 1
        return True

    def finish_request(self, request, client_address) -> None:
        if self.tls is not None:  # handshake in the connection's thread, not the accept loop
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:  # clients hanging up is normal here
        pass

    def record(self, path: str, headers, body: bytes, method: str = "GET") -> None:
        with self._lock:
            self.counts[path] += 1
            self.requests.append({"path": path, "headers": dict(headers), "body": body, "method": method,
                                  "at": time.monotonic()})


class TargetServer:
    """A running target on `host` (default 127.0.0.1), free port. `tls`: (certfile, keyfile) for HTTPS."""

    def __init__(self, host: str = "127.0.0.1", tls: tuple[str, str] | None = None):
        ctx = None
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*tls)
        self._server = _Server((host, 0), ctx)
        self.host = host
        self.port = self._server.server_address[1]
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def set_status(self, status: int) -> None:
        """What /flap answers from now on."""
        self._server.status = status

    def set_certificate(self, certfile: str, keyfile: str) -> None:
        """Serve another certificate from the next connection on (an HTTPS target only): a renewal."""
        assert self.scheme == "https", "an HTTP target has no certificate"
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certfile, keyfile)
        self._server.tls = ctx

    def count(self, path: str) -> int:
        return self._server.counts[path]

    @property
    def connections(self) -> int:
        return self._server.connections

    @property
    def requests(self) -> list[dict]:
        return list(self._server.requests)

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TargetServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass(frozen=True)
class TestPKI:
    """Files of a throwaway PKI: a CA, a leaf it signed for localhost/127.0.0.1, and a self-signed leaf."""

    __test__ = False  # not a test class, whatever its name
    ca_file: str
    cert_file: str
    key_file: str
    self_signed_cert_file: str
    self_signed_key_file: str


def make_pki(directory: str | Path, key_type: str = "ec") -> TestPKI:
    """Write a CA and two server certificates into `directory`. key_type "ec" (P-256, fast to make) or
    "rsa" (2048 bits, what most sites serve; the benchmark uses it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def new_key():
        if key_type == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])

    def leaf(subject_key, issuer_name, issuer_key) -> x509.Certificate:
        return (
            x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(issuer_name)
            .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(issuer_key, hashes.SHA256())
        )

    ca_key = new_key()
    ca = (
        x509.CertificateBuilder().subject_name(name("healthmon test CA")).issuer_name(name("healthmon test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key, self_key = new_key(), new_key()
    signed = leaf(leaf_key, ca.subject, ca_key)
    self_signed = leaf(self_key, name("localhost"), self_key)

    def write(fname: str, data: bytes) -> str:
        path = d / fname
        path.write_bytes(data)
        return str(path)

    def key_pem(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    pem = serialization.Encoding.PEM
    return TestPKI(
        ca_file=write("ca.pem", ca.public_bytes(pem)),
        cert_file=write("server.pem", signed.public_bytes(pem)),
        key_file=write("server.key", key_pem(leaf_key)),
        self_signed_cert_file=write("self.pem", self_signed.public_bytes(pem)),
        self_signed_key_file=write("self.key", key_pem(self_key)),
    )


@dataclass(frozen=True)
class LeafCertificates:
    """A CA (`ca_file`) and leaf certificates it signed for localhost/127.0.0.1, by name: (certfile, keyfile).
    `not_after[name]` is the leaf's notAfter (UTC, whole seconds), `der[name]` its DER bytes."""

    __test__ = False
    ca_file: str
    leaves: dict
    not_after: dict
    der: dict


def make_leaf_certificates(directory: str | Path, lifetimes: dict[str, dt.timedelta]) -> LeafCertificates:
    """A CA and one EC leaf per name, valid until now + lifetime (a negative lifetime: already expired)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("healthmon expiry test CA")
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now + dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (d / "expiry-ca.pem").write_bytes(ca.public_bytes(pem))
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    leaves, not_after, der = {}, {}, {}
    for label, lifetime in lifetimes.items():
        key = ec.generate_private_key(ec.SECP256R1())
        until = now + lifetime
        cert = (
            x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(min(now, until) - dt.timedelta(days=10)).not_valid_after(until)
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = d / f"leaf-{label}.pem", d / f"leaf-{label}.key"
        cert_path.write_bytes(cert.public_bytes(pem))
        key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        leaves[label] = (str(cert_path), str(key_path))
        not_after[label] = until.replace(tzinfo=None)
        der[label] = cert.public_bytes(serialization.Encoding.DER)
    return LeafCertificates(str(d / "expiry-ca.pem"), leaves, not_after, der)


@pytest.fixture
def target():
    """An HTTP target on 127.0.0.1."""
    with TargetServer() as server:
        yield server


@pytest.fixture(scope="session")
def tls_pki(tmp_path_factory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def https_target(tls_pki):
    """An HTTPS target whose certificate the test CA (tls_pki.ca_file) signed, for localhost and 127.0.0.1."""
    with TargetServer(tls=(tls_pki.cert_file, tls_pki.key_file)) as server:
        yield server


@pytest.fixture
def self_signed_target(tls_pki):
    """An HTTPS target with a self-signed certificate nobody trusts."""
    with TargetServer(tls=(tls_pki.self_signed_cert_file, tls_pki.self_signed_key_file)) as server:
        yield server


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll `predicate` until it is true or `timeout` passes; return its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
