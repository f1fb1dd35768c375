"""What saving, deleting and testing a channel means, apart from HTTP (a monitor's links: healthmon/channel_links.py).
Nothing here knows Flask: views turn `FieldProblem` into an error response.

- A config is checked by its type's rules (webapp/channel_config.py) after the masked secrets sent back are
  turned into the stored ones (keep), then its webhook URLs and SMTP host by the address guard (400).
- A name is unique: another channel's name is a 409.
- Deleting a channel deletes its links to monitors (cascade); its alerts still pending in the outbox fail
  for good when the sender finds the channel gone (checker/delivery.py).
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from checker import channels as kinds
from checker.alerts import format_time
from healthmon.db import database, utcnow
from healthmon.models import Channel, Monitor
from healthmon.netguard import AddressGuard, BlockedAddress
from healthmon.settings import Settings
from webapp import channel_config
from webapp.service import MAX_ID, FieldProblem

TEST_TIMEOUT = 10.0
"""Seconds the test send may take (the sender's WEBHOOK_TIMEOUT): the request waits for it."""


def _config_problem(problem: channel_config.ConfigProblem) -> FieldProblem:
    return FieldProblem(problem.status, problem.field, problem.reason)


def _checked(guard: AddressGuard, channel_type: str, config, stored: Channel | None) -> dict:
    """The config to store, or FieldProblem."""
    try:
        config = channel_config.keep_secrets(channel_type, config, stored.type if stored else None,
                                             stored.config if stored else None)
        config = channel_config.validate(channel_type, config)
    except channel_config.ConfigProblem as problem:
        raise _config_problem(problem) from None
    for field, url in channel_config.addresses(channel_type, config):
        try:
            guard.check_url_host(url)
        except BlockedAddress as exc:
            raise FieldProblem(400, field, f"address not allowed: {exc.reason}") from None
    return config


def _name_free(name: str, channel_id: int | None) -> None:
    query = Channel.select(Channel.id).where(Channel.name == name)
    if channel_id is not None:
        query = query.where(Channel.id != channel_id)
    if query.exists():
        raise FieldProblem(409, "name", "another channel has this name")


def get_channel(channel_id: int) -> Channel | None:
    if not 0 < channel_id <= MAX_ID:
        return None
    return Channel.get_or_none(Channel.id == channel_id)


def list_channels(channel_type: str | None, offset: int, limit: int) -> tuple[list[Channel], int]:
    query = Channel.select()
    if channel_type is not None:
        query = query.where(Channel.type == channel_type)
    total = query.count()
    if offset >= total:
        return [], total
    return list(query.order_by(Channel.id).offset(offset).limit(limit)), total


def _save(write) -> Channel:
    """Run `write` in a transaction; a name taken meanwhile (the unique index) is the same 409."""
    try:
        with database.atomic():
            return write()
    except pw.IntegrityError:
        raise FieldProblem(409, "name", "another channel has this name") from None


def create_channel(guard: AddressGuard, data: dict, now: dt.datetime | None = None) -> Channel:
    now = now or utcnow()
    config = _checked(guard, data["type"], data["config"], None)

    def write():
        _name_free(data["name"], None)
        return Channel.create(name=data["name"], type=data["type"], config=config, created_at=now, updated_at=now)
    return _save(write)


def update_channel(guard: AddressGuard, channel_id: int, data: dict, now: dt.datetime | None = None) -> Channel | None:
    """PUT (every field) or PATCH (some): None when the channel does not exist."""
    current = get_channel(channel_id)
    if current is None:
        return None
    channel_type = data.get("type", current.type)
    config = _checked(guard, channel_type, data.get("config", current.config), current)

    def write():
        if "name" in data:
            _name_free(data["name"], channel_id)
        changes = {"name": data.get("name", current.name), "type": channel_type, "config": config}
        changed = {k: v for k, v in changes.items() if getattr(current, k) != v}
        if changed:
            Channel.update(**changed, updated_at=now or utcnow()).where(Channel.id == channel_id).execute()
        return Channel.get_or_none(Channel.id == channel_id)
    return _save(write)


def delete_channel(channel_id: int) -> bool:
    if not 0 < channel_id <= MAX_ID:
        return False
    with database.atomic():
        # Monitors escalating to it escalate no more (escalation_minutes alone is refused on an edit).
        (Monitor.update(escalation_channel_id=None, escalation_minutes=None)
         .where(Monitor.escalation_channel_id == channel_id).execute())
        return Channel.delete().where(Channel.id == channel_id).execute() > 0


def send_test(channel: Channel, settings: Settings, guard: AddressGuard) -> dict:
    """Send a made-up state change through `channel` now and say how it went: `{"ok", "status", "error"}`."""
    now = utcnow()
    body = kinds.render(channel.type, kinds.test_event(channel.name, now), channel.config)
    if body is None:  # cannot happen for the test event (every type sends a recovery); kept as a guard
        return {"ok": False, "status": None, "error": f"a {channel.type} channel sends nothing for a test"}
    key = f"healthmon-test-{channel.id}-{format_time(now)}"
    answer = kinds.send(channel.type, channel.config, body, key, kinds.Transport(guard, TEST_TIMEOUT, settings))
    return {"ok": answer.ok, "status": answer.status, "error": answer.error or None}
