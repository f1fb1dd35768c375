"""The status page: /status (every monitor, its status, uptime 24 h and 30 d, a 90-day bar of daily uptime,
the last latency, and the open incidents) and /status/{id} (uptime per window, a 24 h and 7 d latency chart
with p50 and p95, the incidents).

Server-rendered HTML with nothing external: inline CSS, inline SVG charts with a <title> tooltip per bar
and point, no JavaScript needed (a meta refresh reloads it every REFRESH_S), and a Content-Security-Policy
that forbids loading anything. Readable on a phone (one column under 700 px).

A monitor a maintenance window covers shows MAINTENANCE (its own page adds the window and the recorded
status) and does not count as down in the banner; a paused one shows PAUSED.

Access by STATUS_PAGE (webapp.access). Even a private page shows each monitor's host only: a monitor URL's
path or query may hold a token, its userinfo a password, and a webhook URL is a credential; error texts
are scrubbed again (healthmon.redact).

Grouped by tag: a section per tag (by name), each listing every enabled monitor carrying it, so a monitor
with two tags shows in both (a section is then exactly what `/status?tag=` shows); untagged monitors last.
Without any tag the page is one "Monitors" list. `/status?tag=prod` shows that group only, its banner
counting its monitors.

Fast at 1,000 monitors: a handful of grouped queries (healthmon.rollups, healthmon.history), whatever the
number of monitors, and plain string building.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, request

from healthmon import history, rollups, sql
from healthmon.db import utcnow
from healthmon.domain import tags as tag_rules
from healthmon.domain.status import MAINTENANCE, PAUSED
from healthmon.maintenance import displayed_status, shown_now
from healthmon.redact import redact_text
from healthmon.settings import Settings
from webapp import access

REFRESH_S = 60
BAR_DAYS = 90
INCIDENTS_SHOWN = 20
FIRST_ERRORS_RESOLVED = 10

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CSS = """
:root{--up:#1f9d55;--down:#d64545;--warn:#e0a800;--none:#c9ced6;--fg:#1d2430;--mute:#667085;--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
color:var(--fg);background:var(--bg)}main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .5em}a{color:inherit}
.banner{padding:12px 16px;border-radius:8px;color:#fff;font-weight:600;background:var(--up)}
.banner.bad{background:var(--down)}.banner.slow{background:var(--warn)}.mute{color:var(--mute);font-size:.9em}
.mon{display:grid;grid-template-columns:minmax(180px,1.3fr) 8em 8em 2fr 6em;gap:4px 14px;align-items:center;
background:#fff;border-radius:8px;padding:10px 14px;margin:6px 0}
.name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.dot{display:inline-block;width:.75em;height:.75em;border-radius:50%;margin-right:.4em;background:var(--none)}
.UP{background:var(--up)}.DEGRADED{background:var(--warn)}.DOWN{background:var(--down)}.UNKNOWN{background:var(--none)}
.MAINTENANCE{background:#2f6fde}.PAUSED{background:#98a2b3}
svg.bar{width:100%;height:26px;display:block}svg rect.u{fill:var(--up)}svg rect.d{fill:var(--down)}
svg rect.w{fill:var(--warn)}svg rect.n{fill:var(--none)}.num{font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:8px}
td,th{padding:6px 10px;text-align:left;border-bottom:1px solid #eef0f3}
.chart{background:#fff;border-radius:8px;padding:8px}.chart svg{width:100%;height:auto;display:block}
.p50{stroke:#2f6fde;fill:none;stroke-width:1.5}.p95{stroke:#e07a00;fill:none;stroke-width:1.5}
.grid{stroke:#e5e7eb}.lbl{font-size:11px;fill:#667085}
h2.group{display:flex;gap:.6em;align-items:baseline;border-bottom:1px solid #dde1e7;padding-bottom:4px}
h2.group a{text-decoration:none}.chip{display:inline-block;background:#e8ebf0;border-radius:4px;padding:0 .4em}
@media (max-width:700px){.mon{grid-template-columns:1fr 1fr}.mon .name,.mon .barcell{grid-column:1/-1}
.wide{display:none}td,th{padding:6px}}
"""


def host_of(url: str) -> str:
    """The host (and port) of a monitor URL: never its userinfo, path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return ""


def _pct(value: float | None) -> str:
    if value is None:
        return "–"
    # Truncated, not rounded: 99.996% is not "100.00%", only a day without a failure is 100%.
    return "100%" if value >= 100 else f"{math.floor(value * 100) / 100:.2f}%"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _ago(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _page(title: str, body: str) -> Response:
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta http-equiv="refresh" content="{REFRESH_S}"><title>{escape(title)}</title>'
            f'<style>{CSS}</style></head><body><main>{body}</main></body></html>')
    return Response(html, mimetype="text/html", headers={
        "Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})


# ---- the 90-day bar ------------------------------------------------------------------------------------


@dataclass
class DayCells:
    """A monitor's days in the bar: every day from `first` to `last` has checks and no failure, except the
    days in `special` ({day: [checks, failures]}); days outside [first, last] and not special have none."""

    first: dt.date | None = None
    last: dt.date | None = None
    special: dict[dt.date, list[int]] = field(default_factory=dict)

    def add(self, day: dt.date, checks: int, failures: int) -> None:
        cell = self.special.setdefault(day, [0, 0])
        cell[0] += checks
        cell[1] += failures


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value)[:10])


def daily_cells(now: dt.datetime, days: int = BAR_DAYS, monitor_ids: list[int] | None = None
                ) -> dict[int, DayCells]:
    """Every (or the given) monitor's DayCells over the last `days` UTC days, without reading a row per day
    and monitor: the days with failures and the days the raw results still add to (the watermark's day
    on), each monitor's span of daily rollups and their count (a span without gaps needs nothing else),
    and the raw results after the watermark by day. Only a monitor whose span has gaps (it was disabled, or
    created mid-way through an outage of healthmon) has its days read one by one."""
    start = rollups.floor_to("d", now - dt.timedelta(days=days - 1))
    mark = rollups.watermark() or start
    mark_day = rollups.floor_to("d", max(mark, start))
    where, params = "", []
    if monitor_ids is not None:
        where, params = f" AND monitor_id IN ({sql.marks(len(monitor_ids))})", list(monitor_ids)
    out: dict[int, DayCells] = {}
    gappy = []
    for monitor_id, first, last, n in sql.query(
            "SELECT monitor_id, MIN(bucket), MAX(bucket), COUNT(*) FROM rollups WHERE period = 'd' "  # noqa: S608
            f"AND bucket >= ?{where} GROUP BY monitor_id", (start, *params)):
        first, last = _as_date(first), _as_date(last)
        out[monitor_id] = DayCells(first, last)
        if n != (last - first).days + 1:
            gappy.append(monitor_id)
    for monitor_id, bucket, checks, failures in sql.query(
            "SELECT monitor_id, bucket, checks, failures FROM rollups WHERE period = 'd' AND bucket >= ? "  # noqa: S608
            f"AND (failures > 0 OR bucket >= ?){where}", (start, mark_day, *params)):
        out[monitor_id].add(_as_date(bucket), checks, failures)
    day = rollups.bucket_sql("d")
    for monitor_id, bucket, checks, failures in sql.query(
            f"SELECT monitor_id, {day}, COUNT(*), SUM(CASE WHEN ok THEN 0 ELSE 1 END) FROM {rollups.recent_results()} "  # noqa: S608
            f"WHERE checked_at >= ?{where} GROUP BY monitor_id, {day}", (max(mark, start), *params)):
        out.setdefault(monitor_id, DayCells()).add(_as_date(bucket), checks, failures or 0)
    for ids in sql.chunks(gappy):
        cells = {m: out[m] for m in ids}
        for cell in cells.values():
            cell.first = cell.last = None  # every day of theirs is special now
        for monitor_id, bucket, checks in sql.query(
                "SELECT monitor_id, bucket, checks FROM rollups WHERE period = 'd' AND bucket >= ? "  # noqa: S608
                f"AND bucket < ? AND failures = 0 AND monitor_id IN ({sql.marks(len(ids))})",
                (start, mark_day, *ids)):
            cells[monitor_id].add(_as_date(bucket), checks, 0)
    return out


def _day_class(checks: int, failures: int) -> str:
    if not checks:
        return "n"
    if not failures:
        return "u"
    return "w" if failures * 100 <= checks else "d"  # at least 99% up: a warning, not an outage


def bar_svg(cells: DayCells, today: dt.date, count: int = BAR_DAYS) -> str:
    """An inline SVG of `count` daily cells, oldest left. Runs of whole-up (or no-data) days are one rect
    whose tooltip names the range; a day with failures is its own rect with its own tooltip. Built from
    the boundaries of `cells` (its span and special days), not from a loop over every day."""
    first = today - dt.timedelta(days=count - 1)
    edges = {first, today + dt.timedelta(days=1)}
    if cells.first is not None:
        edges |= {cells.first, cells.last + dt.timedelta(days=1)}
    for d in cells.special:
        edges |= {d, d + dt.timedelta(days=1)}
    points = sorted(e for e in edges if first <= e <= today + dt.timedelta(days=1))
    runs: list[list] = []  # [start, end (exclusive), class, checks, failures]
    for lo, hi in zip(points, points[1:], strict=False):
        if lo in cells.special:
            checks, failures = cells.special[lo]
            cls = _day_class(checks, failures)
        elif cells.first is not None and cells.first <= lo <= cells.last:
            cls, checks, failures = "u", None, 0
        else:
            cls, checks, failures = "n", 0, 0
        if runs and cls in ("u", "n") and runs[-1][2] == cls:
            runs[-1][1] = hi
            runs[-1][3] = None if checks is None or runs[-1][3] is None else runs[-1][3] + checks
        else:
            runs.append([lo, hi, cls, checks, failures])
    parts = [f'<svg class="bar" viewBox="0 0 {count} 10" preserveAspectRatio="none" role="img" '
             f'aria-label="uptime per day, last {count} days">']
    for lo, hi, cls, checks, failures in runs:
        length = (hi - lo).days
        last = hi - dt.timedelta(days=1)
        when = lo.isoformat() if length == 1 else f"{lo.isoformat()} to {last.isoformat()}"
        if cls == "n":
            tip = f"{when}: no checks"
        elif cls == "u":
            tip = f"{when}: 100% up" + (f", {checks} checks" if checks else "")
        else:
            tip = f"{when}: {_pct(100.0 * (checks - failures) / checks)} up, {checks} checks, {failures} failed"
        parts.append(f'<rect x="{(lo - first).days}.1" width="{length - 0.2:.1f}" height="10" class="{cls}">'
                     f"<title>{tip}</title></rect>")
    parts.append("</svg>")
    return "".join(parts)


# ---- the latency chart ---------------------------------------------------------------------------------


def latency_chart(points: dict[dt.datetime, rollups.Aggregate], start: dt.datetime, hours: int, label: str) -> str:
    """An inline SVG line chart of hourly p50 and p95 latency (successful checks), a tooltip per point."""
    width, height, left, bottom, top = 720, 200, 48, 22, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    series = []
    for h in range(hours):
        at = start + dt.timedelta(hours=h)
        agg = points.get(at)
        if agg is not None and agg.latency_count:
            series.append((h, at, agg.percentile(0.5), agg.percentile(0.95), agg.checks, agg.failures))
    peak = max((p95 for *_, p95, _c, _f in series if p95 is not None), default=0.0)
    peak = max(peak, 1.0) * 1.1

    def xy(h: int, value: float) -> tuple[float, float]:
        return left + plot_w * (h + 0.5) / hours, top + plot_h * (1 - value / peak)

    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">']
    for k in range(5):
        value = peak * k / 4
        y = top + plot_h * (1 - k / 4)
        out.append(f'<line class="grid" x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text class="lbl" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{value:.0f}</text>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        h = min(hours - 1, int(frac * (hours - 1)))
        at = start + dt.timedelta(hours=h)
        x = left + plot_w * (h + 0.5) / hours
        anchor = "start" if frac == 0 else "end" if frac == 1 else "middle"  # the end labels stay inside
        out.append(f'<text class="lbl" x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">'
                   f'{at.strftime("%d %b %H:00")}</text>')
    for cls, idx in (("p50", 2), ("p95", 3)):
        coords = " ".join("{:.1f},{:.1f}".format(*xy(s[0], s[idx])) for s in series if s[idx] is not None)
        if coords:
            out.append(f'<polyline class="{cls}" points="{coords}"/>')
    for h, at, p50, p95, checks, failures in series:
        x, y = xy(h, p95 or 0)
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{3 if hours <= 24 else 1.6}" fill="#e07a00">'
                   f'<title>{at.strftime("%Y-%m-%d %H:00")} UTC: p50 {_ms(p50)}, p95 {_ms(p95)}, '
                   f'{checks} checks, {failures} failed</title></circle>')
    if not series:
        out.append(f'<text class="lbl" x="{width / 2}" y="{height / 2}" text-anchor="middle">no successful '
                   f'checks in this period</text>')
    out.append("</svg>")
    return "".join(out)


# ---- pages ---------------------------------------------------------------------------------------------


def _incident_rows(found: list, now: dt.datetime, names: dict[int, str] | None = None) -> str:
    rows = []
    for inc in found:
        who = ""
        if names is not None:
            who = f'<td><a href="/status/{inc.monitor_id}">{escape(names.get(inc.monitor_id, "?"))}</a></td>'
        ended = "ongoing" if inc.ended_at is None else f"{inc.ended_at:%Y-%m-%d %H:%M} UTC"
        rows.append(f"<tr>{who}<td>{inc.started_at:%Y-%m-%d %H:%M} UTC</td><td class='wide'>{ended}</td>"
                    f'<td class="num">{_ago(inc.duration_seconds(now))}</td>'
                    f"<td>{escape(redact_text(inc.first_error))}</td></tr>")
    return "".join(rows)


def _tags_by_monitor() -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for monitor_id, tag in sql.query("SELECT monitor_id, tag FROM monitor_tags ORDER BY monitor_id, position"):
        out.setdefault(monitor_id, []).append(tag)
    return out


def _banner(monitors: list) -> str:
    down = sum(1 for m in monitors if m[3] == "DOWN")
    slow = sum(1 for m in monitors if m[3] == "DEGRADED")
    quiet = sum(1 for m in monitors if m[3] == MAINTENANCE)
    of = f'of {len(monitors)} monitor{"s" if len(monitors) != 1 else ""}'
    return (f'<div class="banner bad">{down} {of} down</div>' if down else
            f'<div class="banner slow">{slow} {of} degraded (up but slow)</div>' if slow else
            '<div class="banner">All systems operational</div>') + (
        f'<p class="mute">{quiet} {of} in maintenance: checked, alerts held back until it ends</p>' if quiet else "")


def _quiet_label(status: str) -> str:
    """A word beside the name of a monitor that is not alerting: its dot's colour alone would not say why."""
    return f'<span class="chip">{status.lower()}</span> ' if status in (PAUSED, MAINTENANCE) else ""


def _group_heading(tag: str | None, monitors: list) -> str:
    down = sum(1 for m in monitors if m[3] == "DOWN")
    count = f'{len(monitors)} monitor{"s" if len(monitors) != 1 else ""}' + (f" · {down} down" if down else "")
    title = (f'<a class="chip" href="/status?tag={escape(tag)}">{escape(tag)}</a>' if tag is not None
             else "Untagged")
    return f'<h2 class="group" id="tag-{escape(tag or "")}">{title}<span class="mute">{count}</span></h2>'


def render_overview(now: dt.datetime | None = None, tag: str | None = None) -> Response:
    """The overview of every monitor, or (`tag`) of those carrying that tag."""
    now = now or utcnow()
    where, params = history.tagged([tag] if tag else None)
    monitors = sql.query("SELECT id, name, url, status, enabled, last_latency_ms, status_changed_at "  # noqa: S608
                         f"FROM monitors{where} ORDER BY name, id", params)
    ids = [m[0] for m in monitors] if tag else None
    if ids == []:
        day = month = bars = {}
    else:
        day = history.uptime_by_monitor("24h", now, ids)
        month = history.uptime_by_monitor("30d", now, ids)
        bars = daily_cells(now, monitor_ids=ids)
    today = now.date()
    names = {m[0]: m[1] for m in monitors}
    down_ids = [m[0] for m in monitors if m[4] and m[3] == "DOWN"]  # an open incident is a DOWN monitor's
    open_incidents = sorted((i for found in history.incidents_by_monitor(now, down_ids).values() for i in found
                             if i.ended_at is None), key=lambda i: i.started_at) if down_ids else []
    # The first failed check's error for the first few (one query each); the rest show the error that took
    # them DOWN, so the page's queries stay bounded when many monitors are down at once.
    open_incidents = (history.resolve_first_errors(open_incidents[:FIRST_ERRORS_RESOLVED])
                      + open_incidents[FIRST_ERRORS_RESOLVED:])
    # Shown status: MAINTENANCE while a window covers the monitor (its DOWN is expected, not an outage).
    monitors = [(m[0], m[1], m[2], displayed_status(m[0], m[3]), *m[4:]) for m in monitors]
    enabled = [m for m in monitors if m[4]]
    title = f"Status · {tag}" if tag else "Status"
    parts = ['<p><a href="/status">← all monitors</a></p>' if tag else "", f"<h1>{escape(title)}</h1>",
             _banner(enabled),
             f'<p class="mute">{len(enabled)} monitors · updated {now:%Y-%m-%d %H:%M:%S} UTC · refreshes every '
             f"{REFRESH_S} s</p>"]
    if open_incidents:
        parts.append("<h2>Open incidents</h2><table><tr><th>monitor</th><th>since</th><th class='wide'>end</th>"
                     f"<th>for</th><th>first error</th></tr>{_incident_rows(open_incidents, now, names)}</table>")
    tags_of = {} if tag else _tags_by_monitor()
    groups: dict[str | None, list] = {}
    for m in enabled:
        for group in [tag] if tag else tags_of.get(m[0]) or [None]:
            groups.setdefault(group, []).append(m)
    order = sorted(g for g in groups if g is not None) + ([None] if None in groups else [])
    if order in ([], [None]) and not tag:
        parts.append("<h2>Monitors</h2>")
        order = order or [None]
    for group in order:
        members = groups.get(group, [])
        if group is not None or len(order) > 1:
            parts.append(_group_heading(group, members))
        for monitor_id, name, url, status, _enabled, latency, _changed in members:
            d, m = day.get(monitor_id), month.get(monitor_id)
            parts.append(
                f'<div class="mon"><div class="name"><span class="dot {status}" title="{status}"></span>'
                f'<a href="/status/{monitor_id}">{escape(name)}</a> {_quiet_label(status)}'
                f'<span class="mute">{escape(host_of(url))}</span></div>'
                f'<div class="num"><span class="mute">24 h</span> {_pct(d.uptime_percent if d else None)}</div>'
                f'<div class="num"><span class="mute">30 d</span> {_pct(m.uptime_percent if m else None)}</div>'
                f'<div class="barcell">{bar_svg(bars.get(monitor_id, DayCells()), today)}</div>'
                f'<div class="num" title="last latency">{_ms(latency)}</div></div>')
    if not enabled:
        parts.append(f'<p class="mute">No monitors tagged {escape(tag)}.</p>' if tag
                     else '<p class="mute">No monitors yet.</p>')
    return _page(title, "".join(parts))


def render_monitor(monitor_id: int, now: dt.datetime | None = None) -> Response:
    now = now or utcnow()
    rows = sql.query("SELECT id, name, url, status, enabled, last_latency_ms, status_changed_at FROM monitors "
                     "WHERE id = ?", (monitor_id,))
    if not rows:
        abort(404)
    _, name, url, status, is_enabled, latency, changed = rows[0]
    window_now = shown_now(monitor_id) if status != PAUSED else None
    if window_now is not None:  # the recorded status stays visible beside MAINTENANCE
        status = (f"{MAINTENANCE} ({window_now.name}, until {window_now.end:%Y-%m-%d %H:%M} UTC; "
                  f"recorded {status})")
    windows = []
    for window, (period, length) in history.WINDOWS.items():
        agg, _start = rollups.window(monitor_id, period, now - length, now)
        windows.append(f'<tr><td>{window}</td><td class="num">{_pct(agg.uptime_percent)}</td>'
                       f'<td class="num">{agg.checks}</td><td class="num">{agg.failures}</td>'
                       + "".join(f'<td class="num">{_ms(agg.percentile(q))}</td>' for q in (0.5, 0.95, 0.99))
                       + "</tr>")
    charts = []
    for hours, label in ((24, "last 24 hours"), (24 * 7, "last 7 days")):
        start = rollups.floor_to("h", now - dt.timedelta(hours=hours - 1))
        points = rollups.series([monitor_id], "h", start, now).get(monitor_id, {})
        charts.append(f"<h2>Latency, {label}</h2><div class=\"chart\">{latency_chart(points, start, hours, label)}"
                      '<p class="mute"><span style="color:#2f6fde">━ p50</span> · <span style="color:#e07a00">'
                      "━ p95</span> (ms, successful checks, per hour)</p></div>")
    found = history.incidents(monitor_id)
    incidents = history.resolve_first_errors(found[:INCIDENTS_SHOWN])
    changed_at = sql.as_datetime(changed)
    since = f" for {_ago((now - changed_at).total_seconds())}" if changed_at else ""
    bar = bar_svg(daily_cells(now, monitor_ids=[monitor_id]).get(monitor_id, DayCells()), now.date())
    parts = [
        '<p><a href="/status">← all monitors</a></p>',
        f'<h1><span class="dot {status.split()[0]}"></span>{escape(name)}</h1>',
        f'<p class="mute">{escape(host_of(url))} · {escape(status)}{since}{"" if is_enabled else " · disabled"} · '
        f'last latency {_ms(latency)} · updated {now:%Y-%m-%d %H:%M:%S} UTC</p>',
        f"<h2>Uptime per day, last {BAR_DAYS} days</h2>{bar}",
        "<h2>Uptime</h2><table><tr><th>window</th><th>uptime</th><th>checks</th><th>failed</th><th>p50</th>"
        f"<th>p95</th><th>p99</th></tr>{''.join(windows)}</table>",
        *charts,
        "<h2>Incidents</h2>",
    ]
    if incidents:
        parts.append("<table><tr><th>started</th><th class='wide'>ended</th><th>for</th><th>first error</th></tr>"
                     f"{_incident_rows(incidents, now)}</table>")
        if len(found) > INCIDENTS_SHOWN:
            parts.append(f'<p class="mute">{len(found) - INCIDENTS_SHOWN} older incidents: '
                         f"GET /monitors/{monitor_id}/incidents</p>")
    else:
        parts.append('<p class="mute">No incidents.</p>')
    return _page(f"{name} status", "".join(parts))


def create_blueprint(settings: Settings) -> Blueprint:
    blp = Blueprint("status", __name__)
    blp.before_request(access.guard(settings.status_page, "healthmon status"))

    @blp.get("/status")
    def overview():
        tag = request.args.get("tag")
        if tag is not None:
            try:
                tag = tag_rules.normalise_tag(tag)
            except tag_rules.TagProblem:
                abort(404)  # no monitor can carry it
        return render_overview(tag=tag)

    @blp.get("/status/<int:monitor_id>")
    def monitor(monitor_id: int):
        if not 0 < monitor_id < 2**31:
            abort(404)
        return render_monitor(monitor_id)

    return blp
