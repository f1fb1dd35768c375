"""POST /apply: make the stored monitors what a config file declares, in one transaction (Flask-free).

The request names every monitor wanted by its key; each is a full replace (PUT semantics: an omitted field
takes its default, a masked secret keeps the stored one). The plan compares each with the stored monitor
the server itself holds, secrets included, so a file whose webhook URLs come from the environment applies
twice with no change the second time, and an exported file (masked secrets) changes nothing.

Matching: `key` against the stored keys; the reserved `monitor-<id>` (what `healthmon export` writes for a
monitor without a key) against the ids of monitors that have no key. Unmatched ones are created (through
service.create_monitors, the bulk path); with `prune` the stored monitors not named are deleted. A changed
monitor goes through service.update_monitor, so the edit rules of PUT apply (a changed check resets the
state, keeps the id and history). Everything happens in one transaction: a refused item changes nothing, and
a failed apply can simply be run again. The address guard's DNS lookups happen before that transaction
(`apply`), so SQLite's write lock is never held across one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from healthmon import sql
from healthmon.db import database
from healthmon.domain import tags as tag_rules
from healthmon.models import Monitor, preload_channel_ids
from healthmon.netguard import AddressGuard
from webapp import service
from webapp.schemas import MonitorSchema

ALWAYS_SECRET = frozenset({"webhook_url", "auth"})
"""Fields whose change is reported without values (headers: only when the masked forms are equal)."""

_OUTPUT = MonitorSchema()
_API_NAMES = {field.attribute or name: name for name, field in _OUTPUT.fields.items()}
"""Stored attribute -> API field name (escalation_channel_id -> escalation_channel); `changes` are keyed by
the attributes (what the input schemas load), the plan names the fields as the API does."""


@dataclass
class Planned:
    action: str  # create, change, delete
    key: str
    name: str
    index: int | None
    id: int | None = None
    fields: list[dict] = field(default_factory=list)
    data: dict = field(default_factory=dict)


def _shown(attribute: str, source) -> object:
    """A stored attribute's value as GET /monitors shows it (secrets masked); `source` a Monitor or a dict
    keyed by attribute."""
    name = _API_NAMES[attribute]
    return _OUTPUT.fields[name].serialize(name, source)


def field_changes(current: Monitor, changes: dict) -> list[dict]:
    """What `changes` (resolved: masked secrets already replaced by the stored ones; keyed by stored attribute)
    changes in `current`, each as {field, old, new, secret} with the field named and the values shown as GET
    shows them; no secret is ever in it."""
    out = []
    for name, new in changes.items():
        if name == "channels":  # ids, stored as links; shown ascending
            if sorted(new) != current.channel_ids:
                out.append({"field": name, "old": current.channel_ids, "new": sorted(new), "secret": False})
            continue
        if getattr(current, name) == new:
            continue
        old_shown, new_shown = _shown(name, current), _shown(name, {name: new})
        if name in ALWAYS_SECRET or old_shown == new_shown:
            out.append({"field": _API_NAMES[name], "secret": True})
        else:
            out.append({"field": _API_NAMES[name], "old": old_shown, "new": new_shown, "secret": False})
    return out


def _match(items: list[dict], stored: list[Monitor]) -> list[Monitor | None]:
    """The stored monitor each item names (None: a new one). Raises FieldProblem naming `<index>.key`."""
    by_key = {m.key: m for m in stored if m.key}
    by_id = {m.id: m for m in stored}
    seen: dict[str, int] = {}
    out: list[Monitor | None] = []
    for index, item in enumerate(items):
        key = item["key"]
        if key in seen:
            raise service.FieldProblem(422, f"{index}.key", f"the same key as item {seen[key]}")
        seen[key] = index
        monitor_id = tag_rules.id_of_key(key)
        if monitor_id is None:
            out.append(by_key.get(key))
            continue
        monitor = by_id.get(monitor_id)
        if monitor is None:
            raise service.FieldProblem(422, f"{index}.key", f"{key} names monitor {monitor_id}, which does not exist; "
                                       "give this monitor a key of its own")
        if monitor.key:
            raise service.FieldProblem(422, f"{index}.key", f"monitor {monitor_id} has the key {monitor.key!r}; "
                                       "use that key")
        out.append(monitor)
    return out


def plan(verdicts: service.HostVerdicts, items: list[dict], prune: bool) -> list[Planned]:
    """The creates and changes (in request order) and deletes (by id) that make the stored monitors `items`.
    Addresses are checked (with `verdicts`) for new monitors and changed urls and webhooks only. Raises
    FieldProblem naming the item (`3.url`); service.UnvettedHost when `verdicts` is sealed and such a host is new
    to it."""
    stored = preload_channel_ids(service.attach_tags(list(Monitor.select().order_by(Monitor.id))))
    matched = _match(items, stored)
    planned: list[Planned] = []
    for index, (item, current) in enumerate(zip(items, matched, strict=True)):
        data = dict(item)
        if tag_rules.id_of_key(data["key"]) is not None:
            del data["key"]  # the reserved form names the monitor; it is never stored
        try:
            if current is None:
                service.check_addresses(verdicts, data)
                planned.append(Planned("create", item["key"], data["name"], index, data=data))
                continue
            changes = service.resolve_request_secrets(current, service.resolve_webhook(current, data))
            changed = field_changes(current, changes)
            service.check_addresses(verdicts, {f["field"]: changes[f["field"]] for f in changed
                                               if f["field"] in ("url", "webhook_url")})
        except service.FieldProblem as problem:
            raise problem.within(str(index)) from None
        if changed:
            planned.append(Planned("change", item["key"], current.name, index, current.id, changed, changes))
    if prune:
        named = {m.id for m in matched if m is not None}
        planned.extend(Planned("delete", tag_rules.export_key(m.key, m.id), m.name, None, m.id)
                       for m in stored if m.id not in named)
    return planned


def execute(planned: list[Planned]) -> None:
    """Carry out `planned` (in the caller's transaction); a create gets its id."""
    for step in planned:
        if step.action == "change":
            try:
                service.update_monitor(step.id, step.data)
            except service.FieldProblem as problem:
                raise problem.within(str(step.index)) from None
    creates = [step for step in planned if step.action == "create"]
    if creates:
        try:
            created = service.create_monitors([step.data for step in creates])
        except service.FieldProblem as problem:  # named by position among the creates: name the item instead
            position, _, rest = problem.field.partition(".")
            raise service.FieldProblem(problem.status, f"{creates[int(position)].index}.{rest}",
                                       problem.reason) from None
        for step, monitor in zip(creates, created, strict=True):
            step.id = monitor.id
    doomed = [step.id for step in planned if step.action == "delete"]
    for chunk in sql.chunks(doomed):
        Monitor.delete().where(Monitor.id.in_(chunk)).execute()


VET_ATTEMPTS = 3
"""Plans in a row that may find a host the vetting before them did not judge (only when the stored
monitors change between the two plans: another apply or an edit meanwhile)."""


def apply(guard: AddressGuard, items: list[dict], prune: bool, dry_run: bool) -> dict:
    """Plan, and unless `dry_run` carry out, in one transaction; the result POST /apply returns.

    Addresses are vetted before the transaction: a first plan outside it (reads only) looks up the hosts of
    the new and changed urls and webhooks, and refuses a blocked one (nothing is stored); the plan inside
    the transaction uses those verdicts and does no DNS lookup, so the write lock is never held across one.
    If the stored monitors changed between the two plans so that an unvetted host is now new or changed,
    it is vetted and planned again (VET_ATTEMPTS in all; then a 409 asking to run the apply again)."""
    verdicts = service.HostVerdicts(guard)
    for _ in range(VET_ATTEMPTS):
        plan(verdicts, items, prune)  # no transaction: the lookups happen here
        try:
            with database.atomic(), verdicts.sealed():
                planned = plan(verdicts, items, prune)
                if not dry_run:
                    execute(planned)
            break
        except service.UnvettedHost:
            continue  # changed meanwhile: vet the new hosts outside the transaction and plan again
    else:
        raise service.FieldProblem(409, "key", "the stored monitors kept changing while this apply ran; "
                                   "run it again")
    counts = {action: sum(1 for p in planned if p.action == action) for action in ("create", "change", "delete")}
    counts["unchanged"] = len(items) - counts["create"] - counts["change"]
    return {"dry_run": dry_run, "summary": counts,
            "changes": [{"action": p.action, "key": p.key, "id": p.id, "name": p.name, "index": p.index,
                         "fields": p.fields} for p in planned]}
