"""The SMTP client: one e-mail alert through a relay, with the address guard on its socket.

Contract of `send_mail`:

- The host is resolved once; every address is checked with the AddressGuard, and the connection goes to a
  vetted address (the first one that accepts a TCP connection), never to a second lookup of the name, so
  DNS rebinding cannot bypass the guard. The name, not the address, is what the server's certificate is
  verified against.
- `security`: "tls" (implicit TLS, usually port 465), "starttls" (plain connection upgraded with STARTTLS,
  usually 587; a server that does not offer STARTTLS is refused, so neither credentials nor the message
  ever cross in clear) or "none" (plaintext, credentials included: only when chosen explicitly). TLS
  verifies the certificate and host name against `ca_bundle` (default: checker.transfer's bundle).
- `timeout` is the budget of the whole send, not of one step: connecting, the greeting, the TLS handshake,
  every command and every read share one deadline (`timeout` seconds from the call), and each socket
  operation waits at most the time left. A server that trickles its answers a byte at a
  time cannot stretch a send past it: when the time is spent the send fails with kind "timeout". So a send
  never outlasts the outbox claim it runs under (checker.delivery.CLAIM_LEASE), which another sender would
  otherwise re-claim and send again. (Resolving the relay's name counts against the budget, but the system
  resolver is not cut short.)
- Returns None when the server accepted the message for every recipient. Raises
  checker.webhook_client.TransportError(kind, message) otherwise, `kind` one of SMTP_ERROR_KINDS:
  "timeout", "connection" (resolution, refused connection, the server hung up), "tls" (handshake,
  certificate, no STARTTLS), "blocked_address" (the guard refused every address), "smtp_refused" (a 5xx
  answer: 535 login refused, 550/553 recipient or sender refused ...; also a message refused for only
  some recipients, since the others have it and a retry would send it twice) and "smtp_temporary" (a 4xx
  answer: try again later). Messages name the host, the SMTP code and its enhanced status code
  (`550 5.1.1`); they never contain the password or the server's free text.
- Raises ValueError for bad arguments: an unknown `security`, no recipients, a line break in the sender,
  a recipient or the subject.
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import ipaddress
import re
import select
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage

from checker.transfer import default_ca_bundle
from checker.webhook_client import TransportError
from healthmon.netguard import AddressGuard, BlockedAddress

SECURITIES = ("starttls", "tls", "none")
SMTP_ERROR_KINDS = ("timeout", "connection", "tls", "blocked_address", "smtp_refused", "smtp_temporary")
LOCAL_HOSTNAME = socket.gethostname() or "healthmon"
"""EHLO name. smtplib's default, socket.getfqdn(), does a reverse DNS lookup that no timeout bounds."""

_ENHANCED = re.compile(rb"^([245]\.\d{1,3}\.\d{1,3})\b")
_STEP = {
    smtplib.SMTPAuthenticationError: "refused the login",
    smtplib.SMTPSenderRefused: "refused the sender",
    smtplib.SMTPDataError: "refused the message",
    smtplib.SMTPConnectError: "refused the connection",
    smtplib.SMTPHeloError: "refused EHLO",
}


class _Deadline:
    """The moment the whole send must be over; `left()` is the time until then, TimeoutError once spent."""

    def __init__(self, seconds: float):
        self.seconds, self.at = seconds, time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the {self.seconds:g} s for the whole send are spent")
        return remaining


class _DeadlineReader(io.RawIOBase):
    """The socket's reading side, each read waiting at most the time left (smtplib reads answers through a
    file; a plain makefile() would give every read the whole timeout again)."""

    def __init__(self, sock: socket.socket, deadline: _Deadline):
        super().__init__()
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._sock.settimeout(self._deadline.left())
        return self._sock.recv_into(buffer)


def _handshake(sock: ssl.SSLSocket, deadline: _Deadline) -> None:
    """The TLS handshake within the deadline (a blocking one would give each of its reads the whole time)."""
    sock.setblocking(False)
    try:
        while True:
            try:
                sock.do_handshake()
                return
            except ssl.SSLWantReadError:
                ready = select.select([sock], [], [], deadline.left())[0]
            except ssl.SSLWantWriteError:
                ready = select.select([], [sock], [], deadline.left())[1]
            if not ready:
                deadline.left()  # raises once the time is spent
    finally:
        sock.setblocking(True)


class _Connected(smtplib.SMTP):
    """smtplib.SMTP on a socket already connected to a vetted address; `host` stays the name (TLS SNI and
    certificate check). Every read, write and handshake waits at most what `deadline` leaves."""

    def __init__(self, sock: socket.socket, host: str, port: int, deadline: _Deadline, **kw):
        self._ready, self._deadline = sock, deadline
        super().__init__(host, port, local_hostname=LOCAL_HOSTNAME, timeout=deadline.seconds, **kw)

    def _get_socket(self, host, port, timeout):
        return self._ready

    def getreply(self):
        if self.file is None and self.sock is not None:
            self.file = io.BufferedReader(_DeadlineReader(self.sock, self._deadline))
        return super().getreply()

    def send(self, s):
        if self.sock is not None:
            self.sock.settimeout(self._deadline.left())  # sendall's timeout bounds the whole write
        super().send(s)


class _ConnectedTls(_Connected, smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        return self.context.wrap_socket(self._ready, server_hostname=self._host)


class _TlsWithin:
    """An SSLContext's wrap_socket (all smtplib uses of it, for implicit TLS and STARTTLS) whose handshake
    ends by the deadline."""

    def __init__(self, context: ssl.SSLContext, deadline: _Deadline):
        self._context, self._deadline = context, deadline

    def wrap_socket(self, sock: socket.socket, server_hostname: str) -> ssl.SSLSocket:
        tls = self._context.wrap_socket(sock, server_hostname=server_hostname, do_handshake_on_connect=False)
        _handshake(tls, self._deadline)
        return tls


def _addresses(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TransportError("connection", f"could not resolve {host}") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def _connect(host: str, port: int, deadline: _Deadline, guard: AddressGuard) -> socket.socket:
    """A TCP connection, within `deadline`, to the first address of `host` the guard allows and that accepts
    one."""
    allowed, refusal = [], None
    for address in _addresses(host, port):
        try:
            guard.check_ip(address)
            allowed.append(address)
        except BlockedAddress as exc:
            refusal = exc.reason
    if not allowed:
        raise TransportError("blocked_address", f"{host}: {refusal}")
    failure = TransportError("connection", f"could not connect to {host}")
    for address in allowed:
        try:
            return socket.create_connection((address, port), deadline.left())
        except TimeoutError:
            failure = TransportError("timeout", f"{host} did not accept a connection within {deadline.seconds:g} s")
            if deadline.at <= time.monotonic():
                break
        except OSError as exc:
            failure = TransportError("connection", f"could not connect to {host}: {exc.strerror or 'refused'}")
    raise failure


def _kind(code: int) -> str:
    return {4: "smtp_temporary", 5: "smtp_refused"}.get(code // 100, "connection")


def _code(code: int, response: bytes | str) -> str:
    raw = response.encode("utf-8", "replace") if isinstance(response, str) else response or b""
    enhanced = _ENHANCED.match(raw)
    return f"{code} {enhanced.group(1).decode()}" if enhanced else str(code)


def _failure(exc: Exception, host: str, timeout: float) -> TransportError:
    """The TransportError for what smtplib, ssl or the socket raised. SMTPException is an OSError, and so
    are ssl's errors and timeouts: the order of the checks matters."""
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return TransportError("timeout", f"{host} did not answer within {timeout:g} s")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({(code, _code(code, text)) for code, text in exc.recipients.values()})
        return TransportError(_kind(codes[-1][0]), f"{host} refused every recipient ({codes[-1][1]})")
    if isinstance(exc, smtplib.SMTPResponseException):
        step = next((text for cls, text in _STEP.items() if isinstance(exc, cls)), "answered")
        return TransportError(_kind(exc.smtp_code), f"{host} {step} ({_code(exc.smtp_code, exc.smtp_error)})")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransportError("connection", f"{host} closed the connection")
    if isinstance(exc, smtplib.SMTPException):  # smtplib's own words: no AUTH, no common mechanism ...
        return TransportError("smtp_refused", f"{host}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TransportError("tls", f"{host}'s certificate was not accepted: {exc.verify_message}")
    if isinstance(exc, ssl.SSLError):
        return TransportError("tls", f"TLS with {host} failed")
    return TransportError("connection", f"the connection to {host} failed: {exc.strerror or type(exc).__name__}")


def build_message(*, sender: str, recipients: list[str], subject: str, text: str) -> EmailMessage:
    """The message: Date (UTC), Message-ID (on the sender's domain), From, To, Subject, a UTF-8 text body."""
    for value in (sender, subject, *recipients):
        if "\r" in value or "\n" in value:
            raise ValueError("a line break in the sender, a recipient or the subject")
    msg = EmailMessage()
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or "healthmon.invalid")
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg.set_content(text)
    return msg


def send_mail(*, host: str, port: int, security: str, username: str | None, password: str | None, sender: str,
              recipients: list[str], subject: str, text: str, timeout: float, guard: AddressGuard,
              ca_bundle: str | None = None) -> None:
    """Send one plain-text message to `recipients` through `host`:`port` (the module docstring is the
    contract). Logs in when `username` is set."""
    if security not in SECURITIES:
        raise ValueError(f"unknown SMTP security {security!r}")
    if not recipients:
        raise ValueError("no recipients")
    msg = build_message(sender=sender, recipients=recipients, subject=subject, text=text)
    deadline = _Deadline(timeout)
    sock = _connect(host, port, deadline, guard)
    client: smtplib.SMTP | None = None
    try:
        context = _TlsWithin(ssl.create_default_context(cafile=ca_bundle or default_ca_bundle()), deadline)
        if security == "tls":
            client = _ConnectedTls(sock, host, port, deadline, context=context)
        else:
            client = _Connected(sock, host, port, deadline)
        client.ehlo()
        if security == "starttls":
            if not client.has_extn("starttls"):
                raise TransportError("tls", f"{host} does not offer STARTTLS")
            client.starttls(context=context)
            client.ehlo()
        if username:
            client.login(username, password or "")
        refused = client.send_message(msg, from_addr=sender, to_addrs=recipients)
        if refused:
            code, response = next(iter(refused.values()))
            raise TransportError("smtp_refused", f"{host} refused {len(refused)} of {len(recipients)} recipients "
                                                 f"({_code(code, response)}); the others were sent the message")
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()  # the message was accepted; a failed goodbye changes nothing
    except TransportError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise _failure(exc, host, timeout) from None
    finally:
        if client is not None:
            client.close()
        sock.close()
