"""What saving a monitor means, apart from HTTP: defaults on create, reset-on-edit, the write-only webhook.

Views call these functions and turn `FieldProblem` into an error response. Nothing here knows Flask.

Edit semantics (PUT and PATCH): what an edit does to the monitor's state is decided by the pure
`healthmon.domain.lifecycle.plan_edit` (a changed check starts afresh at UNKNOWN with a new generation; a
re-enable forgets the counters; both, and a changed interval, make the check due now); here it is applied
under the row lock. Also:
- `webhook_url` is write-only. Responses show it masked, so a client that GETs, edits and PUTs the
  document sends the masked form back: that value means "keep the stored URL". Omitted on PATCH means
  keep; omitted on PUT (a full replace) or null means remove. Another value ending in MASK_MARK is not
  this monitor's webhook: 409 (it conflicts with the stored state; a POST never gets here, its schema
  refuses the mark);
- a PATCH whose timeout is not below the stored check_interval (or the reverse) is a 409: the patch
  cannot be applied to the stored state (RFC 5789). A body's own pair is the schema's 422.
- `auth` and secret header values are write-only in the same way (resolve_request_secrets): `****` sent
  back keeps the stored secret; on create it is refused.
- a changed url forgets the certificate last seen (`tls`), a changed tls_expiry_days keeps it; either way
  the next check collects it again (healthmon.domain.tls.edit_effect).
- `key` is unique: one another monitor has is a 409 naming key. `tags` (rows of MonitorTag) are written in
  the transaction that writes the monitor; neither key nor tags touch the state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from urllib.parse import urlsplit

import peewee as pw

from healthmon import channel_links, sql
from healthmon.db import database, for_update, utcnow
from healthmon.domain import lifecycle, tls
from healthmon.domain import request as request_options
from healthmon.domain.status import MonitorState
from healthmon.ids import fresh_id, fresh_ids
from healthmon.models import Channel, CheckResult, Monitor, MonitorTag, StateChange, preload_channel_ids
from healthmon.netguard import AddressGuard, BlockedAddress
from healthmon.redact import mask_webhook_url
from webapp.schemas import MASK_MARK, timeout_error

MAX_ID = 2**31 - 1
"""Monitor ids are 32-bit integers; a larger path id can only be unknown (and must not reach PostgreSQL)."""


class FieldProblem(Exception):
    """A request field is unacceptable. `status` is 400 (address refused), 409 (conflicts with the stored
    monitor) or 422 (invalid value)."""

    def __init__(self, status: int, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.status, self.field, self.reason = status, field, reason

    def within(self, path: str) -> FieldProblem:
        """The same problem with its field named under `path`: `3.url` within `monitors` is `monitors.3.url`."""
        return FieldProblem(self.status, f"{path}.{self.field}", self.reason)


def check_addresses(guard: AddressGuard, data: dict) -> None:
    """Refuse a url / webhook_url whose host is (or resolves to) a blocked address. Raises FieldProblem(400)."""
    for name in ("url", "webhook_url"):
        value = data.get(name)
        if not value:
            continue
        try:
            guard.check_url_host(value)
        except BlockedAddress as exc:
            raise FieldProblem(400, name, f"address not allowed: {exc.reason}") from None


class UnvettedHost(Exception):
    """A sealed HostVerdicts was asked about a host it has not judged (it would have had to look it up)."""


class HostVerdicts(AddressGuard):
    """An AddressGuard that judges each distinct URL host once and remembers the verdict.

    `check_url_host` depends only on the URL's host, so 1,000 monitors on one site cost one DNS lookup,
    not 1,000. Build one per request and drop it: a long-lived cache would keep a verdict after the name's
    addresses change (the checker's connect-time check still applies either way).

    Inside `with verdicts.sealed():` it looks nothing up: a host it has not judged raises UnvettedHost. That
    is how a caller vets the hosts before a transaction and keeps DNS out of it (a lookup can take seconds,
    and SQLite's write lock is held for the whole transaction).
    """

    def __init__(self, guard: AddressGuard):
        super().__init__(guard.allowed)
        self._verdicts: dict[str | None, str | None] = {}  # host -> reason it is blocked, or None
        self._sealed = False

    @contextlib.contextmanager
    def sealed(self):
        self._sealed = True
        try:
            yield self
        finally:
            self._sealed = False

    def check_url_host(self, url: str) -> None:
        host = urlsplit(url).hostname
        if host not in self._verdicts:
            if self._sealed:
                raise UnvettedHost(host)
            try:
                super().check_url_host(url)
                self._verdicts[host] = None
            except BlockedAddress as exc:
                self._verdicts[host] = exc.reason
        reason = self._verdicts[host]
        if reason is not None:
            raise BlockedAddress(reason)


def check_addresses_of_each(guard: AddressGuard, items: list[dict]) -> None:
    """check_addresses for every item, resolving each distinct host once. The first refusal is raised
    with the item's index in its field (`3.url`)."""
    verdicts = HostVerdicts(guard)
    for index, item in enumerate(items):
        try:
            check_addresses(verdicts, item)
        except FieldProblem as problem:
            raise problem.within(str(index)) from None


def _reject_masked(value: str | None) -> None:
    if value and value.endswith(MASK_MARK):
        raise FieldProblem(
            422, "webhook_url",
            "looks like a masked webhook URL; send the full URL, the current masked value to keep it, or null",
        )


def resolve_webhook(current: Monitor | None, data: dict) -> dict:
    """A copy of `data` where a webhook_url equal to the current masked value is dropped (= keep).
    Raises FieldProblem(409) for another masked value: it is not `current`'s webhook (or it has none)."""
    out = dict(data)
    keeps = current is not None and current.webhook_url and "webhook_url" in out
    if keeps and out["webhook_url"] == mask_webhook_url(current.webhook_url):
        del out["webhook_url"]
        return out
    value = out.get("webhook_url")
    if value and value.endswith(MASK_MARK):
        raise FieldProblem(
            409, "webhook_url",
            "is a masked value that is not this monitor's webhook (it changed, or there is none); send the "
            "full URL, the current masked value to keep it, or null",
        )
    return out


def resolve_request_secrets(current: Monitor | None, data: dict) -> dict:
    """A copy of `data` where each masked secret (`****` as an auth value or a secret header's value) is the
    stored one it stands for. `current` None (a create): a masked secret is refused. Raises FieldProblem(422)."""
    if data.get("headers") is None and data.get("auth") is None:
        return data
    stored_headers = current.headers if current is not None else None
    stored_auth = current.auth if current is not None else None
    try:
        headers, auth = request_options.keep_secrets(data.get("headers"), data.get("auth"), stored_headers,
                                                     stored_auth)
    except request_options.MaskedSecret as problem:
        raise FieldProblem(422, problem.field, problem.reason) from None
    out = dict(data)
    if headers is not None:
        out["headers"] = headers
    if auth is not None:
        out["auth"] = auth
    return out


def _link_channels(monitors: list[Monitor], lists: list[list[int]], indexed: bool = False) -> None:
    """Make each monitor's channels its list, inside the caller's transaction. Raises FieldProblem(400) naming
    `channels` (`3.channels` when `indexed`) and the first id no channel has; the caller's rollback then
    keeps nothing."""
    missing = channel_links.first_missing(lists)
    if missing is not None:
        index, channel_id = missing
        problem = FieldProblem(400, "channels", f"channel {channel_id} does not exist")
        raise problem.within(str(index)) if indexed else problem
    channel_links.replace_links([m.id for m in monitors], lists)
    for monitor, ids in zip(monitors, lists, strict=True):
        monitor._channel_ids = sorted(ids)


def check_escalation(minutes: int | None, channel_id: int | None) -> None:
    """Raises FieldProblem(400) naming the field unless escalation_minutes and escalation_channel come together
    and the channel exists (an escalation needs both: where to, and when)."""
    if (minutes is None) != (channel_id is None):
        missing, given = (("escalation_channel", "escalation_minutes") if channel_id is None
                          else ("escalation_minutes", "escalation_channel"))
        raise FieldProblem(400, missing, f"required with {given}")
    if channel_id is not None and not Channel.select().where(Channel.id == channel_id).exists():
        raise FieldProblem(400, "escalation_channel", f"channel {channel_id} does not exist")


def get_monitor(monitor_id: int) -> Monitor | None:
    if not 0 < monitor_id <= MAX_ID:
        return None
    return Monitor.get_or_none(Monitor.id == monitor_id)


def create_monitor(data: dict, now: dt.datetime | None = None) -> Monitor:
    """Store a new monitor: in lifecycle.NEW (UNKNOWN, no evidence), first check due now (the scheduler's next
    tick)."""
    now = now or utcnow()
    data = dict(data)
    channels = data.pop("channels", None) or []
    _reject_masked(data.get("webhook_url"))
    resolve_request_secrets(None, data)  # refuses a masked secret: there is nothing stored to keep
    fields = {k: v for k, v in data.items() if k != "tags"}
    with _key_conflicts_as_409(), database.atomic():
        _check_keys_free([fields.get("key")])
        check_escalation(fields.get("escalation_minutes"), fields.get("escalation_channel_id"))
        monitor = Monitor.create(
            **fields, **fresh_id(Monitor), status=lifecycle.NEW.status, next_check_at=now,
            created_at=now, updated_at=now,
        )
        write_tags({monitor.id: data.get("tags") or []}, replace=False)
        monitor.tags = data.get("tags") or []
        _link_channels([monitor], [channels])
        return monitor


class _key_conflicts_as_409:  # noqa: N801 - used as a context manager, named for what it does
    """A unique-key violation that slipped past _check_keys_free (a concurrent create) as the same 409."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, pw.IntegrityError):
            raise FieldProblem(409, "key", "is already another monitor's key") from exc
        return False


def _check_keys_free(keys: list[str | None], owners: list[int | None] | None = None, by_index: bool = False) -> None:
    """FieldProblem(409) for the first of `keys` another monitor than its owner (the same index of `owners`;
    None: a new monitor) already has, named `<index>.key` if `by_index`, else `key`."""
    owners = owners or [None] * len(keys)
    taken: dict[str, int] = {}
    for chunk in sql.chunks([k for k in keys if k]):
        taken.update(Monitor.select(Monitor.key, Monitor.id).where(Monitor.key.in_(chunk)).tuples())
    for index, (key, owner) in enumerate(zip(keys, owners, strict=True)):
        if key in taken and taken[key] != owner:
            field = f"{index}.key" if by_index else "key"
            raise FieldProblem(409, field, f"{key!r} is already the key of monitor {taken[key]}")


def write_tags(tags_by_id: dict[int, list[str]], replace: bool = True) -> None:
    """Store each monitor's tags (normalised lists), replacing its old ones unless `replace` is False (new
    monitors have none). In the caller's transaction."""
    if replace and tags_by_id:
        for chunk in sql.chunks(list(tags_by_id)):
            MonitorTag.delete().where(MonitorTag.monitor.in_(chunk)).execute()
    rows = [{"monitor": mid, "tag": tag, "position": i} for mid, tags in tags_by_id.items()
            for i, tag in enumerate(tags)]
    for chunk in sql.chunks(rows):
        MonitorTag.insert_many(chunk).execute()


def attach_tags(monitors: list[Monitor]) -> list[Monitor]:
    """Fill the tags cache of every monitor (Monitor.tags) with one query per 500 monitors; returns them."""
    found: dict[int, list[str]] = {m.id: [] for m in monitors}
    for chunk in sql.chunks(list(found)):
        query = (MonitorTag.select(MonitorTag.monitor, MonitorTag.tag).where(MonitorTag.monitor.in_(chunk))
                 .order_by(MonitorTag.monitor, MonitorTag.position).tuples())
        for mid, tag in query:
            found[mid].append(tag)
    for monitor in monitors:
        monitor.tags = found[monitor.id]
    return monitors


def create_monitors(items: list[dict], now: dt.datetime | None = None) -> list[Monitor]:
    """Store new monitors all or nothing, each exactly as create_monitor stores one; returned in the order
    given. Raises FieldProblem(422) naming the item's index (`3.webhook_url`) before anything is written.

    One transaction of multi-row INSERTs (500 rows each, `sql.chunks`: under SQLite's bound-parameter
    limit at fewer than 30 columns a row) and one SELECT to read the rows back.
    Ids are assigned in the order given on both engines (SQLite: `healthmon.ids.fresh_ids` under the write lock;
    PostgreSQL: the sequence, row by row in VALUES order), so the rows by id are in the order given, and no
    id of a deleted monitor is given again.
    """
    now = now or utcnow()
    for index, item in enumerate(items):
        try:
            _reject_masked(item.get("webhook_url"))
            resolve_request_secrets(None, item)
        except FieldProblem as problem:
            raise problem.within(str(index)) from None
    _check_distinct_keys(items)
    lists = [item.get("channels") or [] for item in items]
    rows = [{**{k: v for k, v in item.items() if k not in ("tags", "channels")}, "status": lifecycle.NEW.status,
             "next_check_at": now, "created_at": now, "updated_at": now} for item in items]
    if not rows:
        return []
    ids: list[int] = []
    with _key_conflicts_as_409(), database.atomic():
        _check_keys_free([item.get("key") for item in items], by_index=True)
        for index, item in enumerate(items):
            if item.get("escalation_minutes") is not None or item.get("escalation_channel_id") is not None:
                try:
                    check_escalation(item.get("escalation_minutes"), item.get("escalation_channel_id"))
                except FieldProblem as problem:
                    raise problem.within(str(index)) from None
        fresh = fresh_ids(Monitor, len(rows))
        if fresh:
            rows = [{"id": mid, **row} for mid, row in zip(fresh, rows, strict=True)]
        for chunk in sql.chunks(rows):
            query = Monitor.insert_many(chunk).returning(Monitor.id).tuples()
            ids.extend(row[0] for row in query.execute())
        tags = {mid: item.get("tags") or [] for mid, item in zip(ids, items, strict=True)}
        write_tags(tags, replace=False)
        # A range, not an IN list of every id: two parameters whatever the count. On PostgreSQL a concurrent
        # create may hold ids inside the range; the dict keeps only ours.
        query = Monitor.select().where(Monitor.id.between(min(ids), max(ids))).order_by(Monitor.id)
        created = [monitor for monitor in query if monitor.id in tags]
        for monitor in created:
            monitor.tags = tags[monitor.id]
        if any(lists):
            _link_channels(created, lists, indexed=True)
        else:  # nothing to link (the usual bulk create): no query
            for monitor in created:
                monitor._channel_ids = []
        return created


def _check_distinct_keys(items: list[dict]) -> None:
    """FieldProblem(422) naming the later of two items with the same key (`3.key`)."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        key = item.get("key")
        if key and key in seen:
            raise FieldProblem(422, f"{index}.key", f"the same key as item {seen[key]}")
        if key:
            seen[key] = index


def update_monitor(monitor_id: int, changes: dict, now: dt.datetime | None = None) -> Monitor | None:
    """Apply `changes` (already validated and passed through resolve_webhook) under a row lock.

    Returns the updated monitor, or None if it does not exist. Raises FieldProblem(409) when the merged
    timeout is not below the merged check_interval (one of them is the stored value: the schema has
    checked a pair sent together); nothing is written then.
    """
    now = now or utcnow()
    changes = dict(changes)
    channels = changes.pop("channels", None)
    with _key_conflicts_as_409(), database.atomic():
        monitor = for_update(Monitor.select().where(Monitor.id == monitor_id)).first()
        if monitor is None:
            return None
        if changes.get("key") and changes["key"] != monitor.key:
            _check_keys_free([changes["key"]], [monitor.id])
        timeout = changes.get("timeout", monitor.timeout)
        interval = changes.get("check_interval", monitor.check_interval)
        message = timeout_error(timeout, interval)
        if message:
            field = "timeout" if "timeout" in changes else "check_interval"
            stored = "check_interval" if field == "timeout" else "timeout"
            raise FieldProblem(409, field, f"{message} ({stored} is the stored value; send both to change both)")
        if "escalation_minutes" in changes or "escalation_channel_id" in changes:
            check_escalation(changes.get("escalation_minutes", monitor.escalation_minutes),
                             changes.get("escalation_channel_id", monitor.escalation_channel_id))

        changed = {k for k, v in changes.items() if getattr(monitor, k) != v}
        was_enabled, old_status = monitor.enabled, monitor.status
        current = MonitorState(monitor.status, monitor.consecutive_failures, monitor.consecutive_successes,
                               monitor.consecutive_slow, monitor.consecutive_fast)
        for key in changed:
            setattr(monitor, key, changes[key])
        plan = lifecycle.plan_edit(changed, current, was_enabled, monitor.enabled)
        if plan.state is not None:
            monitor.status = plan.state.status
            monitor.consecutive_failures, monitor.consecutive_successes = plan.state.failures, plan.state.successes
            monitor.consecutive_slow, monitor.consecutive_fast = plan.state.slow, plan.state.fast
        if plan.new_generation:
            monitor.generation = monitor.generation + 1
        if plan.reason is not None:
            monitor.status_changed_at = now
            # The event log explains why the status left UP/DOWN; no alert is sent for an edit.
            StateChange.create(**fresh_id(StateChange), monitor=monitor, from_status=old_status,
                               to_status=monitor.status, created_at=now, reason=plan.reason)
        tls_effect = tls.edit_effect(changed)
        if tls_effect == "forget":  # the certificate seen was another host's
            monitor.tls_expires_at = monitor.tls_fingerprint = monitor.tls_warned_days = monitor.tls_warned_at = None
        if tls_effect is not None:
            monitor.tls_observed_at = None  # the next check collects the certificate
        if plan.check_now:
            monitor.next_check_at = now
        if plan.forget_pending:
            # A job still queued for the old check (or from before the pause) is dropped by the checker;
            # it must not hold back the check this edit asks for (see Monitor.pending_slot).
            monitor.pending_slot = None
        if channels is not None and sorted(channels) != monitor.channel_ids:
            _link_channels([monitor], [channels])
            changed.add("channels")
        if changed:
            monitor.updated_at = now
            monitor.save(only=monitor.dirty_fields)
        if "tags" in changed:
            write_tags({monitor.id: monitor.tags})
        return monitor


def delete_monitor(monitor_id: int) -> bool:
    """Delete the monitor and (by cascade) its results and events. False if it did not exist."""
    if not 0 < monitor_id <= MAX_ID:
        return False
    with database.atomic():
        return Monitor.delete().where(Monitor.id == monitor_id).execute() > 0


def with_tags(query, tags: list[str] | None):
    """`query` (of monitors) limited to those carrying every one of `tags` (lower-cased): one probe of the
    (tag, monitor) index per tag."""
    for tag in dict.fromkeys(t.lower() for t in tags or ()):
        query = query.where(Monitor.id.in_(MonitorTag.select(MonitorTag.monitor).where(MonitorTag.tag == tag)))
    return query


def list_monitors(enabled: bool | None, status: str | None, offset: int, limit: int, tags: list[str] | None = None,
                  key: str | None = None) -> tuple[list[Monitor], int]:
    """One page of monitors (by id), their tags attached, and the total matching the filters (tags: all of them)."""
    query = with_tags(Monitor.select(), tags)
    if enabled is not None:
        query = query.where(Monitor.enabled == enabled)
    if status is not None:
        query = query.where(Monitor.status == status)
    if key is not None:
        query = query.where(Monitor.key == key)
    total = query.count()
    if offset >= total:  # also keeps an absurd page number from overflowing the database's integers
        return [], total
    return preload_channel_ids(attach_tags(list(query.order_by(Monitor.id).offset(offset).limit(limit)))), total


def _in_range(query, column, since: dt.datetime | None, until: dt.datetime | None):
    """`query` limited to since <= column < until (either bound optional)."""
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def list_events(monitor_id: int, offset: int, limit: int, since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> tuple[list[StateChange], int]:
    """One page of the monitor's status transitions (since <= created_at < until), newest first, and their total."""
    query = _in_range(StateChange.select().where(StateChange.monitor == monitor_id), StateChange.created_at,
                      since, until)
    total = query.count()
    if offset >= total:
        return [], total
    rows = query.order_by(StateChange.created_at.desc(), StateChange.id.desc()).offset(offset).limit(limit)
    return list(rows), total


def list_results(monitor_id: int, offset: int, limit: int, since: dt.datetime | None = None,
                 until: dt.datetime | None = None) -> tuple[list[CheckResult], int]:
    """One page of the monitor's check results (since <= checked_at < until), newest slot first, and their total."""
    query = _in_range(CheckResult.select().where(CheckResult.monitor == monitor_id), CheckResult.checked_at,
                      since, until)
    total = query.count()
    if offset >= total:
        return [], total
    rows = query.order_by(CheckResult.slot.desc(), CheckResult.id.desc()).offset(offset).limit(limit)
    return list(rows), total
