"""Secrets never leak, even at DEBUG: over a run of many API calls, checks, a failing and a succeeding
webhook, no log line of any process carries a webhook token, a monitor URL's path or query, an API key or
the database password, and no API response carries a webhook token, an API key or the password."""

from __future__ import annotations

import pytest

from tests.e2e.procs import free_port, wait_until
from tests.e2e.scenario import Api, wait_ready
from tests.support.targets import TargetServer
from tests.support.webhook import Reply, WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

HOOK_TOKEN = "JSONHOOKSECRET0123456789"
PATH_TOKEN = "PATHSECRET0123456789"
QUERY_TOKEN = "QUERYSECRET0123456789"
DB_PASSWORD = "DBPASSWORDSECRET"
BEARER_TOKEN = "BEARERSECRET0123456789"
HEADER_TOKEN = "HEADERSECRET0123456789"


def test_no_secret_appears_in_any_log_line_or_response_at_debug(distributed):
    # The test server trusts local connections, so a password in the URL is accepted and ignored.
    db_url = distributed.db_url.replace("postgresql://postgres@", f"postgresql://postgres:{DB_PASSWORD}@")
    assert DB_PASSWORD in db_url
    env = {"LOG_LEVEL": "DEBUG", "DATABASE_URL": db_url}
    with TargetServer() as target, WebhookReceiver() as hook:
        hook.script(Reply(status=500, body="boom"), Reply(status=200))
        port = free_port()
        procs = [distributed.start("api", "api", "--port", str(port), "--host", "127.0.0.1", **env),
                 distributed.start("scheduler", "scheduler", **env),
                 distributed.start("checker", "checker", "--processes", "1", "--concurrency", "5", **env)]
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        key = distributed.create_key("debug-run")
        api = Api(base, key)
        responses: list[str] = []

        def call(method: str, path: str, **kw) -> None:
            resp = api.session.request(method, f"{base}{path}", timeout=10, **kw)
            responses.append(f"{resp.status_code} {dict(resp.headers)} {resp.text}")

        url = target.url(f"/flap/{PATH_TOKEN}?token={QUERY_TOKEN}")
        webhook = hook.url_for(f"/hook/{HOOK_TOKEN}")
        monitor = api.create_monitor(name="secret-keeper", url=url, check_interval=2, timeout=1,
                                     webhook_url=webhook, webhook_format="json", fail_threshold=1,
                                     success_threshold=1, auth={"type": "bearer", "token": BEARER_TOKEN},
                                     headers={"X-Api-Key": HEADER_TOKEN})
        mid = monitor["id"]
        responses.append(str(monitor))
        api.wait_status(mid, "UP")
        wait_until(lambda: len(hook.requests) >= 2, 30, "the alert, retried after a 500")
        target.set_status(503)
        api.wait_status(mid, "DOWN")
        for path in ("/monitors", f"/monitors/{mid}", f"/monitors/{mid}/events", f"/monitors/{mid}/results",
                     "/monitors?status=DOWN", "/monitors/999999", "/openapi.json"):
            call("GET", path)
        document = api.monitor(mid)
        masked = document["webhook_url"]
        assert document["auth"] == {"type": "bearer", "token": "****"}  # the masked values, sent back: kept
        call("PUT", f"/monitors/{mid}", json={"name": "secret-keeper", "url": url, "check_interval": 2,
                                               "timeout": 1, "webhook_url": masked, "webhook_format": "json",
                                               "auth": document["auth"], "headers": document["headers"]})
        call("PATCH", f"/monitors/{mid}", json={"timeout": 99, "webhook_url": webhook})  # 422
        call("POST", "/monitors", json={"name": "x", "url": url, "webhook_url": webhook, "nope": 1})  # 422
        call("POST", "/monitors", json={"name": "x", "url": "http://169.254.169.254/latest", "webhook_url": webhook})
        call("GET", "/monitors", headers={"Authorization": f"Bearer {key}x"})  # 401
        api.wait_checked_after(mid, api.monitor(mid)["last_checked_at"])

        for proc in procs:
            code, _ = proc.stop(30)
            assert code == 0, proc.output()[-2000:]
        logs = {proc.name: proc.output() for proc in procs}
        assert "DEBUG" in logs["checker"] + logs["scheduler"], "the run must really be at DEBUG"
        assert len(hook.requests) >= 2
        sent = [r for r in target.requests if r["path"].startswith("/flap")]
        assert sent and all(r["headers"].get("X-Api-Key") == HEADER_TOKEN for r in sent)  # really used
        assert all(r["headers"].get("Authorization") == f"Bearer {BEARER_TOKEN}" for r in sent)
        for secret in (HOOK_TOKEN, PATH_TOKEN, QUERY_TOKEN, DB_PASSWORD, key, BEARER_TOKEN, HEADER_TOKEN):
            for name, text in logs.items():
                assert secret not in text, f"{secret[:6]}... leaked into the {name} log"
        # The monitor's own url is its configuration and is returned as saved; the webhook is write-only.
        for secret in (HOOK_TOKEN, DB_PASSWORD, key, BEARER_TOKEN, HEADER_TOKEN):
            for text in responses:
                assert secret not in text, f"{secret[:6]}... leaked into a response: {text[:300]}"
