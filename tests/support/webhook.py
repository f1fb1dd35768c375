"""A local webhook receiver for tests: listens on 127.0.0.1, records every request, answers as scripted.

In a test:

    with WebhookReceiver() as hook:
        hook.script(Reply(500), Reply(429, headers={"Retry-After": "1"}), Reply(200))
        ... post to hook.url ...
        hook.wait_for(3)
        hook.requests[0].json

Replies are consumed one per request, in order; when the script runs out every request gets `default`
(200 "ok", as Slack answers). `Reply.slack_error("channel_not_found")` is Slack's 404 plain-text answer.
`delay` makes a slow receiver. The receiver runs in a thread of the test process and is reachable from
other processes (end-to-end tests) at `hook.url`; `python -m tests.support.webhook` runs one standalone,
printing its URL and one JSON line per request on stdout.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: str = "ok"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering

    @classmethod
    def slack_error(cls, error: str, status: int = 404) -> Reply:
        """Slack's webhook error answer: a status and the error code as a plain-text body."""
        return cls(status=status, body=error)

    @classmethod
    def rate_limited(cls, retry_after: int | str) -> Reply:
        return cls(status=429, body="rate_limited", headers={"Retry-After": str(retry_after)})


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it. `at` is time.time() when the request arrived."""

    method: str
    path: str
    headers: dict
    body: bytes
    at: float

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def as_dict(self) -> dict:
        return {"method": self.method, "path": self.path, "headers": self.headers,
                "body": self.body.decode("utf-8", "replace"), "at": self.at}


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (a free port). Thread-safe; use as a context manager or start()/stop()."""

    def __init__(self, default: Reply | None = None, on_request=None):
        self.default = default or Reply()
        self.requests: list[Received] = []
        self._script: list[Reply] = []
        self._cond = threading.Condition()
        self._on_request = on_request
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return self.url_for("/hook")

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *replies: Reply) -> None:
        """Append replies for the next requests, in order."""
        with self._cond:
            self._script.extend(replies)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` requests arrived; raises TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} webhook requests, got {len(self.requests)}")
                self._cond.wait(left)
            return list(self.requests)

    def start(self) -> WebhookReceiver:
        # A short poll interval: shutdown() waits for the loop to notice, and tests stop many receivers.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _next_reply(self, received: Received) -> Reply:
        with self._cond:
            self.requests.append(received)
            reply = self._script.pop(0) if self._script else self.default
            self._cond.notify_all()
        if self._on_request:
            self._on_request(received)
        return reply

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(self.command, self.path, dict(self.headers.items()), body, time.time())
                reply = receiver._next_reply(received)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to answer

            do_POST = do_GET = do_PUT = _serve

            def log_message(self, format, *args):  # noqa: A002 - silence the default stderr access log
                pass

        return Handler


def _parse_reply(text: str) -> Reply:
    """`200`, `500`, `429:1` (Retry-After 1), `404:channel_not_found` (Slack error body), `200@2.5` (slow)."""
    delay = 0.0
    if "@" in text:
        text, raw_delay = text.split("@", 1)
        delay = float(raw_delay)
    status, _, extra = text.partition(":")
    code = int(status)
    if code == 429 and extra:
        return Reply(429, "rate_limited", {"Retry-After": extra}, delay)
    return Reply(code, extra or "ok", {}, delay)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local webhook receiver for tests")
    parser.add_argument("--replies", default="", help="comma-separated script, e.g. 500,429:1,200,404:no_service")
    args = parser.parse_args(argv)
    printer = threading.Lock()

    def emit(received: Received) -> None:
        with printer:
            print(json.dumps(received.as_dict()), flush=True)

    receiver = WebhookReceiver(on_request=emit)
    receiver.script(*[_parse_reply(part) for part in args.replies.split(",") if part.strip()])
    print(receiver.url, flush=True)
    receiver.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
