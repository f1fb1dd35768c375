"""API keys: creation, verification, revocation, and the `healthmon api-key` CLI. No Flask here.

A key is `hmw_<random>` (read-write) or `hmr_<random>` (read-only), with 32 random bytes from
`secrets.token_urlsafe`. The plaintext is shown once, at creation; the database keeps only its
SHA-256 (hex) and an 8-character lookup prefix taken from the random part. With 256 bits of randomness a
plain hash is enough: there is nothing to brute-force, so no slow KDF or server-side pepper is needed.
The row is found by prefix and proven with `hmac.compare_digest`, so lookups never compare secrets in
variable time. Modelled on Healthchecks' `hcw_`/`hcr_` keys (see docs/design/reliability-notes.md).

The functions below use the bound `healthmon.db.database` and open no connection context of their own,
so they run inside a request's connection as well as from the CLI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import re
import secrets
import sys
from collections.abc import Mapping

import peewee

from healthmon.db import database, utcnow
from healthmon.models import ApiKey

READ_WRITE_PREFIX = "hmw_"
READ_ONLY_PREFIX = "hmr_"
KEY_RANDOM_BYTES = 32
"""256 bits: unguessable, and long enough that storing a plain SHA-256 is safe."""

LOOKUP_PREFIX_CHARS = 8
"""Characters of the random part stored in clear to find the row; 48 bits, far from enough to use."""

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
"""`last_used_at` is written at most once a minute per key, so reads do not turn into writes."""

MAX_NAME_LENGTH = 100  # ApiKey.name max_length

_TOKEN = re.compile(r"^hm[rw]_[A-Za-z0-9_-]{40,100}$")


def hash_key(token: str) -> str:
    """SHA-256 hex of the whole key (kind prefix included)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _lookup_prefix(token: str) -> str:
    return token[len(READ_WRITE_PREFIX) : len(READ_WRITE_PREFIX) + LOOKUP_PREFIX_CHARS]


def display_prefix(key: ApiKey) -> str:
    """How a key is shown in listings: `hmw_AbCd1234…` is enough to recognise it, useless to an attacker."""
    return f"{READ_ONLY_PREFIX if key.read_only else READ_WRITE_PREFIX}{key.prefix}…"


def create_key(name: str, read_only: bool = False) -> tuple[ApiKey, str]:
    """Create and store a key. Returns (row, plaintext); the plaintext is never stored or logged.

    Raises ValueError when `name` is blank or longer than 100 characters.
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the key name must be 1 to {MAX_NAME_LENGTH} characters")
    kind = READ_ONLY_PREFIX if read_only else READ_WRITE_PREFIX
    token = kind + secrets.token_urlsafe(KEY_RANDOM_BYTES)
    row = ApiKey.create(name=name, prefix=_lookup_prefix(token), key_hash=hash_key(token), read_only=read_only)
    return row, token


INITIAL_KEY_VARIABLE = "HEALTHMON_INITIAL_API_KEY"
"""A key chosen outside healthmon (Terraform's Secrets Manager secret, a compose user's) that
`healthmon init-db` registers, so a fresh deployment has a key without a separate step."""

INITIAL_KEY_NAME = "initial"


def initial_key_from_env(env: Mapping[str, str]) -> str | None:
    """HEALTHMON_INITIAL_API_KEY, or None when unset or blank.

    Raises ValueError (a message that never repeats the value) when it is not a healthmon key.
    """
    token = (env.get(INITIAL_KEY_VARIABLE) or "").strip()
    if not token:
        return None
    if not _TOKEN.match(token):
        raise ValueError(
            f"{INITIAL_KEY_VARIABLE} is not valid: expected hmw_ (or hmr_) and 40 to 100 of A-Z a-z 0-9 _ -"
        )
    return token


def register_initial_key(token: str) -> str:
    """Store the hash of `token` as the key named "initial" unless that key is already stored.

    Idempotent, so init-db can run on every release: returns "registered" (stored now), "present"
    (already stored) or "revoked" (stored and revoked: it stays revoked). The plaintext is never stored.
    """
    digest = hash_key(token)
    existing = ApiKey.get_or_none(ApiKey.key_hash == digest)
    if existing is None:
        try:
            with database.atomic():
                ApiKey.create(name=INITIAL_KEY_NAME, prefix=_lookup_prefix(token), key_hash=digest,
                              read_only=token.startswith(READ_ONLY_PREFIX))
            return "registered"
        except peewee.IntegrityError:  # a concurrent init-db stored it first
            existing = ApiKey.get(ApiKey.key_hash == digest)
    return "revoked" if existing.revoked_at is not None else "present"


def verify(token: str | None) -> ApiKey | None:
    """The active (not revoked) key whose plaintext is `token`, or None.

    Side effect: sets `last_used_at` to now when it is unset or older than a minute (one conditional
    UPDATE, so concurrent requests do not pile up writes).
    """
    if not token or not _TOKEN.match(token):
        return None
    digest = hash_key(token)
    candidates = ApiKey.select().where(
        (ApiKey.prefix == _lookup_prefix(token)) & ApiKey.revoked_at.is_null()
    )
    match = None
    for row in candidates:
        if hmac.compare_digest(row.key_hash, digest):
            match = row
    if match is None:
        return None
    # The kind in the token must agree with the row; the hash covers it, this is belt and braces.
    if match.read_only != token.startswith(READ_ONLY_PREFIX):
        return None
    now = utcnow()
    if match.last_used_at is None or now - match.last_used_at >= LAST_USED_RESOLUTION:
        stale = now - LAST_USED_RESOLUTION
        ApiKey.update(last_used_at=now).where(
            (ApiKey.id == match.id) & (ApiKey.last_used_at.is_null() | (ApiKey.last_used_at <= stale))
        ).execute()
        match.last_used_at = now
    return match


def revoke(key_id: int) -> bool:
    """Revoke key `key_id`. True if it was active and is now revoked; False if unknown or already revoked."""
    updated = ApiKey.update(revoked_at=utcnow()).where(
        (ApiKey.id == key_id) & ApiKey.revoked_at.is_null()
    ).execute()
    return updated > 0


def list_keys() -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return list(ApiKey.select().order_by(ApiKey.id))


def _fmt(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


def _print_list() -> None:
    rows = [("ID", "NAME", "PREFIX", "ACCESS", "CREATED", "REVOKED", "LAST USED")]
    for key in list_keys():
        rows.append(
            (
                str(key.id),
                key.name,
                display_prefix(key),
                "read-only" if key.read_only else "read-write",
                _fmt(key.created_at),
                _fmt(key.revoked_at),
                _fmt(key.last_used_at),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def run_cli(settings, args: argparse.Namespace) -> int:
    """`healthmon api-key create|list|revoke`. Returns the process exit status.

    `create` prints the key alone on stdout (so `KEY=$(healthmon api-key create --name ci)` works) and
    the "shown once" note on stderr. Exit 1 when the schema is missing, a name is invalid or a revoke
    finds no active key.
    """
    from healthmon.db import bind

    bind(settings.database_url)
    try:
        if not database.table_exists(ApiKey._meta.table_name):
            print("healthmon: the database has no api_keys table; run `healthmon init-db` first", file=sys.stderr)
            return 1
        if args.key_command == "create":
            try:
                with database.atomic():
                    row, token = create_key(args.name, read_only=args.read_only)
            except ValueError as exc:
                print(f"healthmon: {exc}", file=sys.stderr)
                return 1
            access = "read-only" if row.read_only else "read-write"
            print(
                f"Created {access} API key {row.id} ({row.name!r}). Store it now: it will not be shown again.",
                file=sys.stderr,
            )
            print(token, flush=True)
            return 0
        if args.key_command == "list":
            _print_list()
            return 0
        if args.key_command == "revoke":
            if revoke(args.id):
                print(f"Revoked API key {args.id}.")
                return 0
            print(f"healthmon: no active API key with id {args.id}", file=sys.stderr)
            return 1
        raise AssertionError(args.key_command)
    except peewee.OperationalError as exc:
        print(f"healthmon: database error: {exc.__class__.__name__}", file=sys.stderr)
        return 1
    finally:
        if not database.is_closed():
            database.close()
