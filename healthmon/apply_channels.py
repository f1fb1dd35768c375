"""The `channels:` section of a config file, applied through the /channels API by `healthmon apply`, and
monitors' channel names mapped to ids (healthmon.apply).

Channels are matched by name. The server compares the declared channels with the stored ones
(POST /channels/plan), secrets included: only it holds them, the API shows them masked. So a secret from
`${VAR}` that has not changed is no change, a rotated one is (`config.secret (secret changed)`, its value
never printed), and a masked value (as `healthmon export` writes it) keeps the stored secret. The plan also
checks every declared channel as a save would (type rules, address guard), so a dry run finds what the apply
would refuse. Then a channel that does not exist is created (POST /channels), one that differs is replaced
(PUT /channels/{id}); with --prune, channels the file does not declare are deleted.

In a dry run a channel to be created has no id yet: monitors linking it are planned without it (a note
says so).
"""

from __future__ import annotations

from typing import TextIO

from healthmon.config_file import ConfigError, ConfigFile


def _problems(cfg: ConfigFile, exc, prefix: tuple = ()) -> ConfigError:
    """A field refusal (healthmon.apply.FIELD_REFUSALS) as problems at the file's lines, the fields it names
    placed under `prefix`, one without a field at the channel (or the channels: section); re-raises any other
    ApiError (it is about the apply as a whole)."""
    from healthmon.apply import FIELD_REFUSALS, api_problems

    if exc.status not in FIELD_REFUSALS:
        raise exc
    return ConfigError(api_problems(cfg, exc, prefix, at=prefix or ("channels",)))


def apply(cfg: ConfigFile, remote, dry_run: bool, prune: bool, out: TextIO) -> dict[str, int]:
    """Make the API's channels the file's (unless dry_run); print each change. Returns name -> id of every
    channel there is (or, in a dry run, already was)."""
    from healthmon.apply import ApiError, field_list

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
    bodies = [{"name": c["name"], "type": c["type"], "config": c.get("config") or {}} for c in cfg.channels]
    try:
        plan = remote.call("POST", "/channels/plan", json={"channels": bodies}).json()["channels"] if bodies else []
    except ApiError as exc:
        if exc.status in (404, 405):
            raise ApiError(exc.status, "the server has no POST /channels/plan: it is older than this healthmon "
                           "apply; upgrade the server (or apply the monitors without a channels: section)") from None
        raise _problems(cfg, exc) from None
    for index, (body, planned) in enumerate(zip(bodies, plan, strict=True)):
        try:
            if planned["action"] == "create":
                print(f"+ create channel {body['name']}", file=out)
                if not dry_run:
                    ids[body["name"]] = remote.call("POST", "/channels", json=body).json()["id"]
            elif planned["action"] == "change":
                print(f"~ change channel {body['name']}: {field_list(planned['fields'])}", file=out)
                if not dry_run:
                    remote.call("PUT", f"/channels/{planned['id']}", json=body)
        except ApiError as exc:
            raise _problems(cfg, exc, ("channels", index)) from None
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
