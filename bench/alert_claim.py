"""How long one outbox claim takes with a large history of sent alerts.

    .venv/bin/python bench/alert_claim.py sqlite:////tmp/claim.db 200000 [WEBHOOKS]
    .venv/bin/python bench/alert_claim.py postgresql://postgres@127.0.0.1:5432/claimbench 200000 [WEBHOOKS]
    .venv/bin/python bench/alert_claim.py --smoke [URL]   # 2,000 rows (default URL: a temp SQLite file)

Fills the outbox with N sent rows spread over WEBHOOKS webhooks (default 500; 1 is the common "one Slack
channel for everything" case) plus 50 pending rows, then times claims.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from checker.delivery import AlertSender  # noqa: E402
from healthmon.db import bind, database, utcnow  # noqa: E402
from healthmon.migrations import init_db  # noqa: E402
from healthmon.models import AlertOutbox  # noqa: E402
from healthmon.netguard import AddressGuard  # noqa: E402
from healthmon.settings import Settings  # noqa: E402


def main(url: str, n: int, webhooks: int = 500) -> None:
    bind(url)
    init_db()
    AlertOutbox.delete().execute()
    now = utcnow()
    old = now - dt.timedelta(days=1)
    rows = [dict(event_id=i, monitor_id=i % 500, webhook_url=f"https://hooks.example/{i % webhooks}/secret",
                 destination=f"https://hooks.example/{i % webhooks}/secret", webhook_format="json", payload="{}",
                 state="sent", attempts=1, created_at=old, sent_at=old,
                 attempted_at=old, next_attempt_at=old) for i in range(n)]
    with database.atomic():
        for start in range(0, n, 5000):
            AlertOutbox.insert_many(rows[start:start + 5000]).execute()
        for i in range(50):
            AlertOutbox.create(event_id=n + i, monitor_id=i, webhook_url=f"https://hooks.example/{i % webhooks}/secret",
                               destination=f"https://hooks.example/{i % webhooks}/secret", webhook_format="json",
                               payload="{}", created_at=now, next_attempt_at=now)
    sender = AlertSender(Settings(database_url=url), AddressGuard(), post=lambda *a, **k: None)
    claims, start = 0, time.perf_counter()
    while sender._claim() is not None:
        claims += 1
    elapsed = time.perf_counter() - start
    print(f"{url.split(':')[0]} rows={n} webhooks={webhooks} claims={claims} "
          f"per_claim_ms={1000 * elapsed / max(claims, 1):.2f}")


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time outbox claims with a large history of sent alerts.")
    parser.add_argument("url", nargs="?", help="database URL (default with --smoke: a temp SQLite file)")
    parser.add_argument("n", nargs="?", type=int, default=200_000, help="sent rows to fill the outbox with")
    parser.add_argument("webhooks", nargs="?", type=int, default=500, help="distinct webhooks they spread over")
    parser.add_argument("--smoke", action="store_true", help="2,000 rows: a second or two (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n = min(args.n, 2000)
    if args.url:
        main(args.url, args.n, args.webhooks)
    elif args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            main(f"sqlite:///{tmp}/claim.db", args.n, args.webhooks)
    else:
        parser.error("a database URL is required without --smoke")


if __name__ == "__main__":
    cli()
