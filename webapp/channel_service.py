"""What saving, deleting and testing a channel means, apart from HTTP (a monitor's links: healthmon/channel_links.py).
Nothing here knows Flask: views turn `FieldProblem` into an error response.

- A config is checked by its type's rules (webapp/channel_config.py) after the masked secrets sent back are
  turned into the stored ones (keep), then its webhook URLs and SMTP host by the address guard (400).
- A name is unique: another channel's name is a 409.
- Deleting a channel deletes its links to monitors (cascade); its alerts still pending in the outbox fail
  for good when the sender finds the channel gone (checker/delivery.py).
- `plan_channels` compares channels as a config file declares them with the stored ones, secrets included,
  and names what differs without a secret's value: so `healthmon apply` sends only what changed, a secret
  from `${VAR}` included, which it could not compare itself (the API shows it masked).
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
from webapp.service import MAX_ID, FieldProblem, HostVerdicts

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


def plan_channels(guard: AddressGuard, items: list[dict]) -> list[dict]:
    """What saving each of `items` (name, type, config: as PUT or POST takes them) would do to the stored
    channel of that name, in order: `{"name", "id", "action", "fields"}`, action `create` (no such channel,
    id None), `change` or `unchanged`; `fields` as POST /apply's plan has them ({field, secret, old, new},
    no value for a secret). Changes nothing. Each item is checked as a save would check it (a masked secret
    keeps the stored one, the type's rules, the address guard): a refusal is the same FieldProblem, its field
    named `<index>.config.<name>`; a name given twice is a 422 on the second. Each distinct host is looked
    up once (a thousand channels to one SMTP server cost one DNS lookup)."""
    guard = HostVerdicts(guard)
    stored = {c.name: c for c in Channel.select().where(Channel.name.in_([i["name"] for i in items]))}
    seen: set[str] = set()
    out = []
    for index, item in enumerate(items):
        if item["name"] in seen:
            raise FieldProblem(422, f"{index}.name", "names a channel given earlier in the list")
        seen.add(item["name"])
        current = stored.get(item["name"])
        try:
            config = _checked(guard, item["type"], item["config"], current)
        except FieldProblem as problem:
            raise problem.within(str(index)) from None
        if current is None:
            out.append({"name": item["name"], "id": None, "action": "create", "fields": []})
            continue
        fields = _differences(current, item["type"], config)
        out.append({"name": item["name"], "id": current.id, "action": "change" if fields else "unchanged",
                    "fields": fields})
    return out


def _differences(current: Channel, channel_type: str, config: dict) -> list[dict]:
    """The fields a save of (channel_type, config) changes in `current`; secrets without their values."""
    out = []
    if current.type != channel_type:
        out.append({"field": "type", "secret": False, "old": current.type, "new": channel_type})
    secret = {f.name for kind in {current.type, channel_type} for f in channel_config.SPECS.get(kind, ()) if f.secret}
    old = current.config or {}
    for name in sorted(set(old) | set(config)):
        if old.get(name) == config.get(name):
            continue
        if name in secret:
            out.append({"field": f"config.{name}", "secret": True})
        else:
            out.append({"field": f"config.{name}", "secret": False, "old": old.get(name), "new": config.get(name)})
    return out


def send_test(channel: Channel, settings: Settings, guard: AddressGuard) -> dict:
    """Send a made-up state change through `channel` now and say how it went: `{"ok", "status", "error"}`."""
    now = utcnow()
    body = kinds.render(channel.type, kinds.test_event(channel.name, now), channel.config)
    if body is None:  # cannot happen for the test event (every type sends a recovery); kept as a guard
        return {"ok": False, "status": None, "error": f"a {channel.type} channel sends nothing for a test"}
    key = f"healthmon-test-{channel.id}-{format_time(now)}"
    answer = kinds.send(channel.type, channel.config, body, key, kinds.Transport(guard, TEST_TIMEOUT, settings))
    return {"ok": answer.ok, "status": answer.status, "error": answer.error or None}
