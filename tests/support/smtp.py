"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd in a thread): it records what it was sent and who
logged in, refuses recipients as told, and can offer STARTTLS or speak implicit TLS; and servers that never
answer or answer slowly."""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.net import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    """RCPT answers: `refuse` maps an address to the reply to give it instead of 250."""

    refuse: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 queued"


class SmtpServer:
    """`with SmtpServer(...) as smtp:` then `smtp.port`, `smtp.received`, `smtp.logins` (every AUTH tried:
    (user, password, accepted)). `users` maps user -> password (None: no AUTH offered). `starttls` and
    `implicit_tls` take (certfile, keyfile)."""

    def __init__(self, *, users: dict[str, str] | None = None, starttls: tuple[str, str] | None = None,
                 implicit_tls: tuple[str, str] | None = None, refuse: dict[str, str] | None = None,
                 auth_require_tls: bool = True):
        self.handler = _Handler(refuse=dict(refuse or {}))
        self.users = users
        self.logins: list[tuple[str, str, bool]] = []
        self.port = free_port()
        kwargs: dict = {}
        if starttls:
            kwargs["tls_context"] = self._context(starttls)
        if implicit_tls:
            kwargs["ssl_context"] = self._context(implicit_tls)
        if users is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=auth_require_tls)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    @staticmethod
    def _context(pair: tuple[str, str]) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*pair)
        return context

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(user) == password
        self.logins.append((user, password, ok))
        return AuthResult(success=ok, handled=False)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class SilentListener:
    """A TCP port that accepts connections (into the backlog) and never says a word; `connections()` says
    how many arrived."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def connections(self) -> int:
        self.sock.setblocking(False)
        count = 0
        try:
            while True:
                conn, _ = self.sock.accept()
                conn.close()
                count += 1
        except BlockingIOError:
            return count

    def __enter__(self) -> SilentListener:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()


class SlowSmtpServer:
    """A raw SMTP server on 127.0.0.1 that takes its time: it waits `pause` seconds before each answer, or
    with `trickle` sends each answer one byte every `pause` seconds, its greeting never ending. It serves
    one connection at a time, each for at most `serve_for` seconds; `port`."""

    ANSWERS = {b"EHLO": b"250 ok\r\n", b"HELO": b"250 ok\r\n", b"MAIL": b"250 ok\r\n", b"RCPT": b"250 ok\r\n",
               b"DATA": b"354 go on\r\n", b"QUIT": b"221 bye\r\n"}

    def __init__(self, pause: float, trickle: bool = False, serve_for: float = 20.0):
        self.pause, self.trickle, self.serve_for = pause, trickle, serve_for
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _say(self, conn: socket.socket, answer: bytes, until: float) -> None:
        if not self.trickle:
            time.sleep(self.pause)
            conn.sendall(answer)
            return
        while time.monotonic() < until:  # never a whole line: "220 " and then dots
            conn.sendall(answer[:1] if answer else b".")
            answer = answer[1:]
            time.sleep(self.pause)

    def _serve_one(self, conn: socket.socket) -> None:
        until = time.monotonic() + self.serve_for
        conn.settimeout(self.serve_for)
        lines = conn.makefile("rb")
        self._say(conn, b"220 " if self.trickle else b"220 slow.test ESMTP\r\n", until)
        in_data = False
        for line in lines:
            if time.monotonic() >= until:
                return
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    self._say(conn, b"250 queued\r\n", until)
                continue
            verb = line[:4].upper()
            in_data = verb == b"DATA"
            self._say(conn, self.ANSWERS.get(verb, b"502 no\r\n"), until)
            if verb == b"QUIT":
                return

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                self._serve_one(conn)

    def __enter__(self) -> SlowSmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
