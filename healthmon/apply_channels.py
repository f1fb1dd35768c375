"""The `channels:` section of a config file, applied through the /channels API by `healthmon apply`, and
monitors' channel names mapped to ids (healthmon.apply).

Channels are matched by name. A declared channel that does not exist is created (POST /channels); one
whose type or config differs is replaced (PUT /channels/{id}); with --prune, channels the file does not
declare are deleted. Secrets: the API shows them masked, and a masked value sent back keeps the stored one
(so an exported file changes nothing). A secret given in full (from `${VAR}`) is compared by its masked
form: a secret URL's mask (scheme, host, a path prefix) tells most changes apart. A secret masked as `****`
alone (a routing key, a password, an HMAC secret) cannot be compared, so when the file gives it in full it
is sent (the channel is PUT as declared) and the plan says so: `config.secret (secret, sent: cannot be
compared)`. A rotated secret thus always reaches the server; the price is that such a channel is sent on
every apply (the server stores the same value again: nothing else about it changes).

In a dry run a channel to be created has no id yet: monitors linking it are planned without it (a note
says so).
"""

from __future__ import annotations

from typing import TextIO

from healthmon.config_file import ConfigError, ConfigFile
from healthmon.redact import mask_webhook_url

MASK = "****"


SAME, DIFFERS, UNKNOWN = "same", "differs", "unknown"


def _compare(declared, shown) -> str:
    """Whether a declared config value is what the API shows (masked or not); UNKNOWN for a full secret the
    API shows only as `****` (see the module docstring)."""
    if declared == shown:
        return SAME
    if isinstance(declared, str) and isinstance(shown, str) and shown.endswith(MASK):
        if shown == MASK:
            return UNKNOWN
        return SAME if mask_webhook_url(declared) == shown else DIFFERS
    return DIFFERS


def _differs(declared: dict, current: dict, dry_run: bool) -> list[str]:
    out = []
    if declared.get("type") != current.get("type"):
        out.append(f"type {current.get('type')} -> {declared.get('type')}")
    want, have = declared.get("config") or {}, current.get("config") or {}
    for name in sorted(set(want) | set(have)):
        verdict = _compare(want.get(name), have.get(name))
        if verdict == UNKNOWN:
            out.append(f"config.{name} (secret, {'to be sent' if dry_run else 'sent'}: cannot be compared)")
        elif verdict == DIFFERS:
            secret = isinstance(have.get(name), str) and have[name].endswith(MASK)
            out.append(f"config.{name} (secret changed)" if secret or name not in have else f"config.{name}")
    return out


def apply(cfg: ConfigFile, remote, dry_run: bool, prune: bool, out: TextIO) -> dict[str, int]:
    """Make the API's channels the file's (unless dry_run); print each change. Returns name -> id of every
    channel there is (or, in a dry run, already was)."""
    from healthmon.apply import ApiError

    names = {n for m in cfg.monitors for n in linked_names(m)}
    if not cfg.channels and not names and not prune:
        return {}
    current = {c["name"]: c for c in remote.paged("/channels")}
    ids = {name: c["id"] for name, c in current.items()}
    declared = {c["name"] for c in cfg.channels}
    # Before any change: a monitor naming a channel that will not exist fails the apply with nothing changed.
    available = declared if prune else declared | set(current)
    unknown = [(i, field, n) for i, m in enumerate(cfg.monitors) for field, n in linked_fields(m)
               if n not in available]
    if unknown:
        raise ConfigError([cfg.problem(("monitors", i, field), f"no channel named {n!r} (declare it under "
                                       "channels:)") for i, field, n in unknown])
    for index, channel in enumerate(cfg.channels):
        body = {"name": channel["name"], "type": channel["type"], "config": channel.get("config") or {}}
        existing = current.get(channel["name"])
        try:
            if existing is None:
                print(f"+ create channel {channel['name']}", file=out)
                if not dry_run:
                    ids[channel["name"]] = remote.call("POST", "/channels", json=body).json()["id"]
                continue
            changes = _differs(body, existing, dry_run)
            if changes:
                print(f"~ change channel {channel['name']}: {', '.join(changes)}", file=out)
                if not dry_run:
                    remote.call("PUT", f"/channels/{existing['id']}", json=body)
        except ApiError as exc:
            fields = ((exc.body or {}).get("errors") or {}).get("json") or {}
            from healthmon.config_file import split_path

            raise ConfigError([cfg.problem(("channels", index, *split_path(f)), r[0]) for f, r in fields.items()]
                              or [cfg.problem(("channels", index), str(exc))]) from None
    if prune:
        for name, channel in current.items():
            if name not in declared:
                print(f"- delete channel {name}", file=out)
                if not dry_run:
                    remote.call("DELETE", f"/channels/{channel['id']}")
                ids.pop(name, None)
    pending = sorted(n for n in names if n not in ids)
    if pending:
        print(f"  (dry run: {', '.join(pending)} not created yet; monitors linking them are planned without them)",
              file=out)
    return ids


def linked_fields(monitor: dict) -> list[tuple[str, str]]:
    """(field, channel name) of every channel a file's monitor names: its `channels`, its escalation_channel."""
    out = [("channels", n) for n in monitor.get("channels", [])]
    if monitor.get("escalation_channel") is not None:
        out.append(("escalation_channel", monitor["escalation_channel"]))
    return out


def linked_names(monitor: dict) -> list[str]:
    return [name for _, name in linked_fields(monitor)]


def with_channel_ids(cfg: ConfigFile, index: int, monitor: dict, ids: dict[str, int]) -> dict:
    """The monitor as POST /apply takes it: channel names as ids (names with no id yet left out; in a dry run
    an escalation to a channel not created yet is planned without its escalation)."""
    from healthmon.config_file import monitor_body

    body = monitor_body(monitor)
    if ids or monitor.get("channels"):
        body["channels"] = [ids[n] for n in monitor.get("channels", []) if n in ids]
    escalation = monitor.get("escalation_channel")
    if escalation is not None:
        body["escalation_channel"] = ids.get(escalation)
        if body["escalation_channel"] is None:
            body["escalation_minutes"] = None
    return body


def export(remote, monitors: list[dict]) -> list[dict] | None:
    """Every channel (None when there are none and no monitor links one: the file then has no section)."""
    channels = remote.paged("/channels")
    return channels if channels or any(m.get("channels") or m.get("escalation_channel") for m in monitors) else None


def with_channel_names(document: dict, monitor: dict, channels: list[dict]) -> dict:
    names = {c["id"]: c["name"] for c in channels}
    if monitor.get("escalation_channel") in names:
        document["escalation_channel"] = names[monitor["escalation_channel"]]
    if monitor.get("channels"):
        document["channels"] = [names[i] for i in monitor["channels"] if i in names]
    document.pop("channels", None) if not monitor.get("channels") else None
    return document
