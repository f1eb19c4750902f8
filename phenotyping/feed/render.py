"""HTML of the clinician page: alert cards and inline SVG charts. Pure string building.

Every piece of data is escaped (:func:`html.escape`); the page loads no external resource
(the machine running it may be offline, and a clinician's browser should not tell a CDN
which page it is reading). The live page and the first render use the same functions:
the stream sends a re-rendered card whenever something about its subject changes.

Chart of one feature
    The day's value (a dot, joined to the next day's; a missing or invalid day is a gap),
    the personal baseline median (dashed) and the usual range, median +- 2 x robust scale
    (shaded), for the ``chart_days`` days up to the subject's latest row. A value outside
    the usual range is red. A dashed vertical line marks where the deviation began, a solid
    one the day of the alert. Clock times (sleep midpoint, activity peak) are drawn around
    the baseline median, so a night crossing midnight does not jump by 24 hours.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np
from numpy.typing import NDArray

from phenotyping.events import Alert
from phenotyping.features.time import format_duration
from phenotyping.feed.caseload import CaseRow
from phenotyping.feed.models import REASONS, Ack
from phenotyping.feed.store import EngineFeedback, Episode, Series
from phenotyping.feed.triage import DOMAINS, Filters, recency_token, triage_token
from phenotyping.risk.monitor import DEVICE_HRV, DEVICE_SLEEP, MONITORED, Monitored

LEVEL_NAMES = {"watch": "Watch", "elevated": "Elevated", "high": "High"}
# every watched feature, the device's own numbers too (an alert can name them)
_SPECS = {s.column: s for s in (*MONITORED, *DEVICE_HRV, *DEVICE_SLEEP)}
_MODALITY = {
    "ketamine": "ketamine",
    "esketamine": "esketamine",
    "tms": "TMS",
    "ect": "ECT",
    "psilocybin": "psilocybin",
    "other": "treatment",
}


def e(value: object) -> str:
    """Escaped text (quotes too: safe in attributes)."""
    return escape(str(value), quote=True)


def day(d: dt.date) -> str:
    """``'4 Mar 2024'``.

    Examples
    --------
    >>> day(dt.date(2024, 3, 4))
    '4 Mar 2024'
    """
    return f"{d.day} {d.strftime('%b %Y')}"


def short_day(d: dt.date) -> str:
    return f"{d.day} {d.strftime('%b')}"


def fmt(spec: Monitored, value: float | None) -> str:
    """A feature value in its unit, as a clinician reads it.

    Examples
    --------
    >>> fmt(_SPECS["sleep_tst_min"], 432.0), fmt(_SPECS["sleep_midpoint_clock_min"], 1500.0)
    ('7 h 12 min', '01:00')
    >>> fmt(_SPECS["steps_total"], 5234.4), fmt(_SPECS["circ7d_IS"], None)
    ('5,234 steps', '-')
    """
    if value is None or not math.isfinite(value):
        return "-"
    if spec.unit == "clock":
        m = int(round(value)) % 1440
        return f"{m // 60:02d}:{m % 60:02d}"
    if spec.unit == "min":
        return format_duration(value)
    if spec.unit == "steps":
        return f"{value:,.0f} steps"
    if spec.unit == "counts":
        return f"{value:,.0f} counts/min"
    if spec.unit == "ms":
        return f"{value:.0f} ms"
    if spec.unit == "bpm":
        return f"{value:.0f} bpm"
    return f"{value:.2f}"


def change(spec: Monitored, now: float | None, usual: float | None) -> str:
    """How ``now`` differs from ``usual``, in words.

    Examples
    --------
    >>> change(_SPECS["activity_mean_worn"], 70.0, 140.0)
    '50% lower'
    >>> change(_SPECS["sleep_midpoint_clock_min"], 30.0, 1380.0)  # 00:30 vs 23:00
    '1 h 30 min later'
    >>> change(_SPECS["circ7d_IS"], 0.48, 0.6)
    '0.12 lower'
    """
    if now is None or usual is None or not (math.isfinite(now) and math.isfinite(usual)):
        return "-"
    delta = now - usual
    if spec.unit == "clock":
        delta = (delta + 720) % 1440 - 720
        later = "later" if delta > 0 else "earlier"
        return f"{format_duration(delta)} {later}" if delta else "same"
    word = "higher" if delta > 0 else "lower"
    if spec.unit == "min":
        return f"{format_duration(delta)} {'more' if delta > 0 else 'less'}" if delta else "same"
    if spec.unit in ("counts", "steps") and usual > 0:
        return f"{abs(delta) / usual:.0%} {word}"
    if spec.unit in ("ms", "bpm"):
        return f"{abs(delta):.0f} {spec.unit} {word}"
    return f"{abs(delta):.2f} {word}"


# --------------------------------------------------------------------------- chart
W, H = 372, 156
UNIT_NAMES = {
    "counts": "(counts/min)",
    "steps": "(steps/day)",
    "min": "(hours)",
    "clock": "(clock time)",
    "ms": "(ms)",
    "bpm": "(beats/min)",
    "index": "(index)",
}


def tick_label(spec: Monitored, value: float) -> str:
    """A short axis label (the unit is in the chart's title).

    Examples
    --------
    >>> tick_label(_SPECS["sleep_tst_min"], 450.0), tick_label(_SPECS["steps_total"], 5000.0)
    ('7:30', '5,000')
    >>> tick_label(_SPECS["sleep_midpoint_clock_min"], -60.0)
    '23:00'
    """
    if spec.unit == "clock":
        return fmt(spec, value)
    if spec.unit == "min":
        m = int(round(value))
        return f"{m // 60}:{m % 60:02d}"
    if spec.unit == "index":
        return f"{value:.2f}"
    return f"{value:,.0f}"


_L, _R, _T, _B = 58, 10, 24, 22
_NON_NEGATIVE = frozenset({"counts", "steps", "min", "ms", "bpm"})


def _segments(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Runs of true values as (first, last) index pairs.

    Examples
    --------
    >>> _segments(np.array([True, True, False, True]))
    [(0, 1), (3, 3)]
    """
    out: list[tuple[int, int]] = []
    start = -1
    for i, flag in enumerate(mask.tolist()):
        if flag and start < 0:
            start = i
        if not flag and start >= 0:
            out.append((start, i - 1))
            start = -1
    if start >= 0:
        out.append((start, len(mask) - 1))
    return out


def _unwrap(series: Series) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Values and baseline medians, clock times unwrapped around the baseline median."""
    value, base = series.value.copy(), series.base.copy()
    if not series.spec.circular:
        return value, base
    finite = base[np.isfinite(base)]
    ref = float(np.median(finite)) if finite.size else math.nan
    if not math.isfinite(ref):
        vals = value[np.isfinite(value)]
        if not vals.size:
            return value, base
        ang = vals / 1440 * 2 * math.pi
        ref = (
            math.atan2(float(np.sin(ang).mean()), float(np.cos(ang).mean())) / (2 * math.pi) * 1440
        ) % 1440
    with np.errstate(invalid="ignore"):
        value = ref + (value - ref + 720) % 1440 - 720
        base = ref + (base - ref + 720) % 1440 - 720
    return value, base


def _ticks(lo: float, hi: float, spec: Monitored) -> list[float]:
    """Three to six round tick values between ``lo`` and ``hi``.

    Examples
    --------
    >>> _ticks(0.0, 100.0, _SPECS["activity_mean_worn"])
    [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    >>> _ticks(400.0, 500.0, _SPECS["sleep_midpoint_clock_min"])  # clock: whole half hours
    [420.0, 450.0, 480.0]
    """
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [lo] if math.isfinite(lo) else []
    steps = [30.0, 60.0, 120.0, 180.0, 240.0] if spec.unit in ("clock", "min") else []
    if not steps:
        mag = 10.0 ** math.floor(math.log10(span / 3))
        steps = [mag, 2 * mag, 2.5 * mag, 5 * mag, 10 * mag]
    step = next((s for s in steps if span / s <= 5), steps[-1])
    first = math.ceil(lo / step) * step
    out = []
    t = first
    while t <= hi + 1e-9 * max(1.0, abs(hi)):
        out.append(round(t, 10))
        t += step
    return out


def chart(
    series: Series,
    *,
    episode_start: dt.date | None = None,
    alert_date: dt.date | None = None,
) -> str:
    """One feature's inline SVG chart (module docstring). Returns ``""`` when the series
    has neither a value nor a baseline to draw."""
    spec = series.spec
    value, base = _unwrap(series)
    scale = series.scale
    with np.errstate(invalid="ignore"):
        upper, lower = base + 2 * scale, base - 2 * scale
        if spec.unit in _NON_NEGATIVE:  # the band may reach below 0; the quantity cannot
            lower = np.where(np.isfinite(lower), np.maximum(lower, 0.0), lower)
    band_ok = np.isfinite(upper) & np.isfinite(lower)
    seen = np.concatenate([value[np.isfinite(value)], upper[band_ok], lower[band_ok]])
    if not seen.size:
        return ""
    lo, hi = float(seen.min()), float(seen.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    n = len(series.dates)
    pw, ph = W - _L - _R, H - _T - _B

    def x(i: float) -> float:
        return round(_L + (i + 0.5) * pw / n, 1)

    def y(v: float) -> float:
        return round(_T + (hi - v) / (hi - lo) * ph, 1)

    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{e(spec.label)}: daily values against the usual range, last {n} days">',
        f'<text class="ct" x="{_L}" y="15">{e(spec.label)}'
        f'<tspan class="unit"> {e(UNIT_NAMES[spec.unit])}</tspan></text>',
        f'<rect class="plot" x="{_L}" y="{_T}" width="{pw}" height="{ph}"/>',
    ]
    for t in _ticks(lo, hi, spec):
        parts.append(f'<line class="grid" x1="{_L}" x2="{W - _R}" y1="{y(t)}" y2="{y(t)}"/>')
        label = tick_label(spec, t)
        parts.append(f'<text class="yl" x="{_L - 4}" y="{y(t) + 3.5}">{e(label)}</text>')
    for a, b in _segments(band_ok):
        top = " ".join(f"{x(i)},{y(float(upper[i]))}" for i in range(a, b + 1))
        bottom = " ".join(f"{x(i)},{y(float(lower[i]))}" for i in range(b, a - 1, -1))
        if a == b:  # a single day: a short bar
            top = f"{x(a) - 3},{y(float(upper[a]))} {x(a) + 3},{y(float(upper[a]))}"
            bottom = f"{x(a) + 3},{y(float(lower[a]))} {x(a) - 3},{y(float(lower[a]))}"
        parts.append(f'<polygon class="band" points="{top} {bottom}"/>')
        med = " ".join(f"{x(i)},{y(float(base[i]))}" for i in range(a, b + 1))
        parts.append(f'<polyline class="median" points="{med}"/>')
    index = {d: i for i, d in enumerate(series.dates)}
    for when, cls in ((episode_start, "onset"), (alert_date, "alertday")):
        if when is not None and when in index:
            xi = x(index[when])
            parts.append(f'<line class="{cls}" x1="{xi}" x2="{xi}" y1="{_T}" y2="{_T + ph}"/>')
    ok = np.isfinite(value)
    for a, b in _segments(ok):
        if b > a:
            pts = " ".join(f"{x(i)},{y(float(value[i]))}" for i in range(a, b + 1))
            parts.append(f'<polyline class="line" points="{pts}"/>')
    for i in np.flatnonzero(ok).tolist():
        v = float(value[i])
        out = bool(band_ok[i]) and (v > upper[i] or v < lower[i])
        parts.append(
            f'<circle class="{"out" if out else "pt"}" cx="{x(i)}" cy="{y(v)}" r="2.6">'
            f"<title>{e(day(series.dates[i]))}: {e(fmt(spec, float(series.value[i])))}</title>"
            "</circle>"
        )
    for i in sorted({0, n // 2, n - 1}):
        anchor = "start" if i == 0 else ("end" if i == n - 1 else "middle")
        parts.append(
            f'<text class="xl" x="{x(i)}" y="{H - 6}" text-anchor="{anchor}">'
            f"{e(short_day(series.dates[i]))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- cards
def _session_text(a: Alert) -> str:
    if a.days_since_last_session is None:
        return "none on record"
    modality = _MODALITY.get(a.last_session_modality or "other", "treatment")
    n = a.days_since_last_session
    return f"{modality}, {n} day{'s' if n != 1 else ''} before this alert"


def self_report_text(ctx: Mapping[str, object]) -> str | None:
    """``'PHQ-9 19 (18 Mar 2024)'`` from a store context (``ctx_*``), else ``None``."""
    inst, score, when = (
        ctx.get("ctx_self_report_instrument"),
        ctx.get("ctx_self_report_score"),
        ctx.get("ctx_self_report_date"),
    )
    if not isinstance(inst, str) or score is None:
        return None
    return f"{inst} {_num(score)}" + (f" ({day(when)})" if isinstance(when, dt.date) else "")


def _facts(a: Alert, ctx: Mapping[str, object] | None = None) -> str:
    ctx = ctx or {}
    rows = [("Last treatment session", _session_text(a))]
    last = ctx.get("ctx_last_session")
    if isinstance(last, dt.date) and last > a.date:
        modality = _MODALITY.get(str(ctx.get("ctx_last_session_modality") or "other"), "treatment")
        rows[0] = ("Last treatment session", f"{modality}, {day(last)} (after this alert)")
    if a.days_since_response is not None:
        rows.append(("Judged a responder", f"{a.days_since_response} days before this alert"))
    newest = self_report_text(ctx)
    at_alert = None
    if a.self_report:
        sr = a.self_report
        when = _parse_day(sr.get("date"))
        at_alert = f"{sr.get('instrument', '')} {_num(sr.get('score'))}" + (
            f" ({day(when)})" if when else ""
        )
    if newest is not None and newest != at_alert:
        rows.append(("Latest self-report", newest))
        if at_alert is not None:
            rows.append(("At the alert", at_alert))
    elif at_alert is not None:
        rows.append(("Latest self-report", at_alert))
    cov = a.coverage
    usable, wear = cov.get("valid_days_last_7"), cov.get("day_coverage")
    data = []
    if isinstance(usable, int | float):
        data.append(f"{int(usable)} of the last 7 days usable")
    if isinstance(wear, int | float):
        data.append(f"worn {wear:.0%} of the alert day")
    if data:
        rows.append(("Data", "; ".join(data)))
    if a.baseline != "personal":
        rows.append(("Baseline", "population prior (too little personal data yet)"))
    return (
        '<dl class="facts">'
        + "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in rows)
        + "</dl>"
    )


def _num(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _parse_day(v: object) -> dt.date | None:
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            return None
    return None


def _contrib_table(a: Alert) -> str:
    """The features behind the alert. Every number sits next to the window it covers: the
    usual value; the average over the days since this feature's change began (with those
    dates) and the change over that same window; the alert day alone, with its own change."""
    rows = []
    for c in a.contributing:
        spec = _SPECS.get(c.feature)
        if spec is None:
            continue
        n = max(int(c.days_in_deviation), 1)
        since = a.date - dt.timedelta(days=n - 1)
        unit = "nights" if spec.nights else "days"
        rows.append(
            "<tr>"
            f'<th scope="row">{e(c.label)}'
            f'<span class="dom" title="{e(spec.column)}">{e(c.domain)}</span></th>'
            f"<td>{e(fmt(spec, c.baseline_median))}</td>"
            f"<td>{e(fmt(spec, c.mean_since_onset))}"
            f'<span class="win">{n} {unit}, {e(short_day(since))} to {e(short_day(a.date))}'
            "</span></td>"
            f'<td class="chg">{e(change(spec, c.mean_since_onset, c.baseline_median))}</td>'
            f"<td>{e(fmt(spec, c.value))}"
            f'<span class="win">{e(change(spec, c.value, c.baseline_median))}</span></td>'
            "</tr>"
        )
    if not rows:
        return ""
    return (
        '<table class="contrib"><thead><tr><th scope="col">What changed</th>'
        '<th scope="col">Usual for this patient</th>'
        '<th scope="col">Average since the change began</th>'
        '<th scope="col">Change over that period</th>'
        f'<th scope="col">{e(short_day(a.date))} alone (alert day)</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _when(ack: Ack) -> str:
    at = ack.at.astimezone(dt.UTC)
    return f'<time datetime="{e(at.isoformat())}">{e(at.strftime("%Y-%m-%d %H:%M"))} UTC</time>'


def ack_line(a: Ack, names: Mapping[str, str]) -> str:
    """``<li>`` of one acknowledgement: who, which alert, when, the reason and the note."""
    reason = f": {e(REASONS[a.reason])}" if a.reason else ""
    until = f" (until {e(day(a.until))})" if a.until else ""
    note = f'<q class="note">{e(a.note)}</q>' if a.note else ""
    return (
        f'<li data-reason="{e(a.reason or "")}">'
        f"{e(names.get(a.clinician_id, a.clinician_id))} acknowledged the "
        f"{e(a.alert_kind)} alert of {e(day(a.alert_date))} on {_when(a)}{reason}{until}"
        f"{note}</li>"
    )


def ack_form(alert: Alert, csrf: str, label: str = "Acknowledge") -> str:
    """The acknowledge form: a reason (required), until when, a note (optional)."""
    options = "".join(f'<option value="{e(k)}">{e(v)}</option>' for k, v in REASONS.items())
    return (
        f'<form class="ack" method="post" action="/alerts/{e(alert.alert_id)}/ack">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        '<label>Reason <select name="reason" required>'
        f'<option value="">choose...</option>{options}</select></label>'
        '<label>until <input type="date" name="until"></label>'
        f'<label class="notel">Note <input type="text" name="note" maxlength="1000" '
        'placeholder="optional, kept in the audit trail only"></label>'
        f'<button type="submit">{e(label)}</button>'
        '<span class="hint">records your name, the time, the reason and the note in the '
        "audit trail; the reason (never the note) is also sent to the risk engine. "
        "A device problem with no until date means a new device: the patient's usual "
        "range is rebuilt from its days</span>"
        "</form>"
    )


def _ack_block(ep: Episode, names: Mapping[str, str], csrf: str) -> str:
    current = ep.current
    done = [ack_line(a, names) for entry in ep.entries for a in entry.acks]
    parts = []
    if done:
        parts.append('<ul class="acks">' + "".join(done) + "</ul>")
    if ep.resolved is None and not current.acks:
        label = "Acknowledge" if not done else f"Acknowledge the {current.alert.kind} alert"
        parts.append(ack_form(current.alert, csrf, label))
    return '<footer class="ackbar">' + "".join(parts) + "</footer>"


def closed_text(ep: Episode) -> str:
    """What a closed episode's end means, in plain words (the engine's own sentence for a
    resolution; for an episode closed still deviating, one without the engine's jargon)."""
    r = ep.resolved
    assert r is not None
    if not ep.closed_unresolved:
        return r.alert.explanation
    # counted from the opened alert, as the engine counts its limit (not from the
    # back-dated start of the deviation, which lies days before the first alert)
    opened = next((x.alert.date for x in ep.entries if x.alert.kind == "opened"), ep.start)
    days = (r.alert.date - opened).days
    return (
        f"Closed {days} days after the alert opened, although the data were still away "
        "from this patient's "
        "usual range: not a recovery. The engine stops following an episode after that "
        "long; a further change raises a new alert"
    )


def _step_name(ep: Episode, kind: str) -> str:
    if kind == "resolved" and ep.closed_unresolved:
        return "Closed, not resolved,"
    return {"opened": "Opened", "escalated": "Escalated", "resolved": "Resolved"}[kind]


def _history(ep: Episode) -> str:
    steps = []
    for entry in ep.entries:
        a = entry.alert
        what = _step_name(ep, a.kind)
        lvl = "" if a.kind == "resolved" else f" ({LEVEL_NAMES[a.level].lower()})"
        steps.append(f"{what} {short_day(a.date)}{lvl}")
    return " &rarr; ".join(e(s) for s in steps)


def card(
    ep: Episode,
    series: Sequence[Series],
    *,
    names: Mapping[str, str],
    csrf: str,
    latest_data: dt.date | None,
    context: Mapping[str, object] | None = None,
) -> str:
    """One patient's alert episode as an ``<article>`` (open: full card; resolved: a line)."""
    a = ep.current.alert
    level = a.level
    fresh_sort = recency_token(ep) if ep.resolved is not None else triage_token(ep)
    head = (
        f'<span class="badge {e(level)}">{e(LEVEL_NAMES[level])}</span>'
        f'<h3 class="subject"><a href="/patients/{e(ep.subject_id)}">{e(ep.subject_id)}</a></h3>'
        f'<span class="score" title="0-1 ranking within the level, not a probability">'
        f"score {a.score:.2f}</span>"
        f'<span class="history">{_history(ep)}</span>'
    )
    if ep.resolved is not None:
        r = ep.resolved.alert
        return (
            f'<article class="card resolved{" unresolved" if ep.closed_unresolved else ""}" '
            f'id="ep-{e(ep.key)}" data-sort="{e(fresh_sort)}">'
            f"<header>{head}</header>"
            f'<p class="explanation">{e(a.explanation)}</p>'
            f'<p class="meta">Episode {e(day(ep.start))} to {e(day(r.date))}. '
            f"{e(closed_text(ep))}.</p>"
            f"{_ack_block(ep, names, csrf)}</article>"
        )
    charts = "".join(chart(s, episode_start=ep.start, alert_date=a.date) for s in series)
    stale = ""
    if latest_data is not None:
        stale = f'<p class="meta">Data received up to {e(day(latest_data))}.</p>'
    began = (
        f'<p class="meta">Level now: {e(LEVEL_NAMES[level])} since {e(day(a.date))} '
        f"({e(a.kind)}); the change began around {e(day(ep.start))}.</p>"
    )
    return (
        f'<article class="card open {e(level)}" id="ep-{e(ep.key)}" data-sort="{e(fresh_sort)}">'
        f"<header>{head}</header>"
        f'<p class="explanation">{e(a.explanation)}</p>'
        f"{began}{_facts(a, context)}"
        f"{_contrib_table(a)}"
        + (f'<div class="charts">{charts}</div>' if charts else "")
        + f"{stale}{_ack_block(ep, names, csrf)}</article>"
    )


def chart_columns(a: Alert, limit: int = 4) -> list[str]:
    """The features to chart for an alert: its contributing features, strongest first."""
    return [c.feature for c in a.contributing][:limit]


LEGEND = (
    '<p class="legend"><span class="k pt"></span>the day\'s value '
    '<span class="k out"></span>outside the usual range '
    '<span class="k band"></span>usual range (personal baseline: median &plusmn; 2 robust SD) '
    '<span class="k onset"></span>deviation began <span class="k alertday"></span>alert day</p>'
)

DISCLAIMER = (
    "An alert ranks whom to look at first; it is not a diagnosis and not a probability of "
    "relapse. It means this patient's own wearable data (activity, sleep, heart rate, daily "
    "rhythm) have moved away from their usual range for several days. Gaps in wear, travel, "
    "illness or a new device can do the same. Contact the patient and use your clinical "
    "judgement; the absence of an alert does not mean the patient is well."
)


def head(title: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title>"
        '<link rel="stylesheet" href="/static/feed.css">'
        '<script src="/static/feed.js" defer></script></head>'
    )


def top(title: str, clinician: str, n_subjects: int, csrf: str, active: str) -> str:
    """The header of every signed-in page: title, navigation, who, live state, sign out."""
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{href}"{current if key == active else ""}>{e(label)}</a>'
        for key, href, label in (
            ("alerts", "/alerts", "Open alerts"),
            ("caseload", "/patients", "All my patients"),
        )
    )
    return (
        f'<header class="top"><h1>{e(title)}</h1><nav>{nav}</nav>'
        f'<div class="who"><span>{e(clinician)} &middot; {n_subjects} patient'
        f"{'s' if n_subjects != 1 else ''} on your list</span>"
        '<span id="live" class="live off" role="status">Not live: reload the page</span>'
        '<form method="post" action="/logout">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        '<button type="submit" class="link">Sign out</button></form></div></header>'
    )


def filter_bar(f: Filters) -> str:
    """The triage filters as a plain GET form (works without JavaScript)."""

    def opt(name: str, value: str, label: str, current: str) -> str:
        sel = " selected" if value == current else ""
        return f'<option value="{e(value)}"{sel}>{e(label)}</option>'

    q = f.query()
    levels = q.get("level", "")
    level_opts = "".join(
        opt("level", v, lbl, levels)
        for v, lbl in (
            ("", "any level"),
            ("high", "High only"),
            ("high,elevated", "High and Elevated"),
            ("watch", "Watch only"),
        )
    )
    domain_opts = opt("domain", "", "any domain", q.get("domain", "")) + "".join(
        opt("domain", d, d, q.get("domain", "")) for d in DOMAINS
    )

    def yes_no(name: str, any_label: str, yes: str, no: str) -> str:
        cur = q.get(name, "")
        return (
            f'<select name="{name}">{opt(name, "", any_label, cur)}'
            f"{opt(name, 'yes', yes, cur)}{opt(name, 'no', no, cur)}</select>"
        )

    clear = ' <a href="/alerts">clear filters</a>' if f.active else ""
    return (
        '<form class="filters" method="get" action="/alerts">'
        f'<select name="level">{level_opts}</select>'
        f'<select name="domain">{domain_opts}</select>'
        + yes_no("acknowledged", "acknowledged or not", "acknowledged", "not acknowledged")
        + yes_no(
            "after_response", "before or after response", "after a response", "not after a response"
        )
        + f'<button type="submit">Filter</button>{clear}</form>'
    )


def page(
    *,
    clinician: str,
    n_subjects: int,
    open_cards: Sequence[str],
    resolved_cards: Sequence[str],
    csrf: str,
    seq: int,
    resolved_shown: int,
    filters: Filters | None = None,
) -> str:
    """The whole alerts page (cards rendered by :func:`card`), open alerts in triage order."""
    f = filters or Filters()
    n_open = len(open_cards)
    query = "&".join(f"{k}={v}" for k, v in f.query().items())
    return (
        head("Relapse-risk alerts")
        + f'<body><main id="feed" data-seq="{seq}" data-csrf="{e(csrf)}" '
        f'data-resolved-shown="{resolved_shown}" data-stream="/alerts/stream" '
        f'data-query="{e(query)}">'
        + top("Relapse-risk alerts", clinician, n_subjects, csrf, "alerts")
        + f'<p class="disclaimer">{e(DISCLAIMER)}</p>'
        f'<section id="open"><h2>Open alerts <span class="count">{n_open}</span> '
        '<span class="order">highest level first, then score, then most recent</span></h2>'
        f"{filter_bar(f)}{LEGEND}"
        f'<div class="cards">{"".join(open_cards)}</div>'
        '<p class="empty">No open alerts for your patients'
        + (" that match the filters" if f.active else "")
        + ". New alerts appear here without reloading.</p></section>"
        '<section id="resolved"><h2>Closed recently</h2>'
        f'<div class="cards">{"".join(resolved_cards)}</div>'
        '<p class="empty">None.</p></section>'
        "</main></body></html>"
    )


def login_page(error: str | None = None) -> str:
    """The sign-in form (the only page served without a session)."""
    err = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Sign in - relapse-risk alerts</title>"
        '<link rel="stylesheet" href="/static/feed.css"></head>'
        '<body><main class="login"><h1>Relapse-risk alerts</h1>'
        f"{err}"
        '<form method="post" action="/login"><label for="token">Access token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'required minlength="32">'
        '<button type="submit">Sign in</button></form>'
        "<p>Your access token comes from the team that runs this service. It is stored "
        "only as a hash.</p></main></body></html>"
    )


# --------------------------------------------------------------------------- caseload
_CASE_COLUMNS = (
    ("subject", "Patient", ""),
    ("alert", "Open alert", ""),
    ("data_state", "Data", "data-gap notice from the workers, or days without any data"),
    ("last_data", "Last data", "the newest day with data from the wearable"),
    ("worn_7", "Worn, last 7 days", "days worn long enough for their data to count"),
    ("worn_28", "Worn, last 28 days", "days worn long enough for their data to count"),
    ("session", "Last treatment session", ""),
    ("self_report", "Latest self-report", "the newest score reported, whatever its date"),
)


def _data_cell(row: CaseRow) -> str:
    state = row.data_state
    if state == "gap" and row.gap_since is not None:
        return (
            f'<span class="pill gap">data gap</span> no usable data since {e(day(row.gap_since))}'
        )
    if state == "none":
        return '<span class="pill gap">no data</span> nothing received yet'
    n = row.days_without_data
    if state == "stale" and n is not None:
        return f'<span class="pill low">late</span> nothing for {n} days'
    return "receiving"


def case_row_html(row: CaseRow) -> str:
    """One ``<tr>`` of the caseload table (id ``pt-<subject>``, replaced live)."""
    if row.level is not None:
        ack = "acknowledged" if row.acknowledged else "not acknowledged"
        alert = (
            f'<span class="badge {e(row.level)}">{e(LEVEL_NAMES[row.level])}</span> '
            f"{e(short_day(row.alert_date)) if row.alert_date else ''}"
            f'<span class="win">{e(ack)}</span>'
        )
    elif row.closed_unresolved is not None:
        alert = (
            '<span class="unresolved">closed, not resolved</span>'
            f'<span class="win">{e(short_day(row.closed_unresolved))}, while still away from '
            "usual</span>"
        )
    else:
        alert = '<span class="muted">none</span>'
    session = "-"
    if row.last_session is not None:
        session = f"{_MODALITY.get(row.session_modality or 'other', 'treatment')}, " + day(
            row.last_session
        )
    report = "-"
    if row.self_report is not None:
        report = row.self_report + (
            f" ({day(row.self_report_date)})" if row.self_report_date else ""
        )
    cls = f"case {row.data_state}"
    return (
        f'<tr id="pt-{e(row.subject_id)}" class="{e(cls)}" data-state="{e(row.data_state)}" '
        f'data-level="{e(row.level or "")}">'
        f'<td class="subj"><a href="/patients/{e(row.subject_id)}">{e(row.subject_id)}</a></td>'
        f"<td>{alert}</td>"
        f'<td class="data">{_data_cell(row)}</td>'
        f"<td>{e(day(row.last_data)) if row.last_data else '-'}</td>"
        f'<td class="num">{row.worn_7} of 7</td>'
        f'<td class="num">{row.worn_28} of 28</td>'
        f"<td>{e(session)}</td>"
        f'<td class="report">{e(report)}</td></tr>'
    )


def caseload_summary(rows: Sequence[CaseRow]) -> str:
    """The line above the caseload (HTML): how many patients, alerted, without data."""
    as_of = rows[0].as_of if rows else None
    n_gap = sum(r.data_state in ("gap", "none") for r in rows)
    n_alert = sum(r.level is not None for r in rows)
    return (
        f"{len(rows)} patients &middot; {n_alert} with an open alert &middot; "
        f"{n_gap} without usable data"
        + (f" &middot; as of {e(day(as_of))} (the newest data received)" if as_of else "")
    )


def caseload_page(
    *,
    clinician: str,
    rows: Sequence[CaseRow],
    csrf: str,
    seq: int,
    sort: str,
    reverse: bool,
) -> str:
    """Every patient on the roster, sortable by any column (plain links, no script)."""
    heads = []
    for key, label, tip in _CASE_COLUMNS:
        flip = "&amp;reverse=1" if key == sort and not reverse else ""
        mark = (" &#9660;" if not reverse else " &#9650;") if key == sort else ""
        title = f' title="{e(tip)}"' if tip else ""
        heads.append(
            f'<th scope="col"{title}><a href="/patients?sort={key}{flip}">{e(label)}</a>{mark}</th>'
        )
    summary = caseload_summary(rows)
    query = f"sort={sort}" + ("&reverse=1" if reverse else "")
    return (
        head("My patients") + f'<body><main id="feed" data-seq="{seq}" data-csrf="{e(csrf)}" '
        f'data-stream="/patients/stream" data-query="{e(query)}">'
        + top("My patients", clinician, len(rows), csrf, "caseload")
        + f'<p class="summary" id="summary">{summary}</p>'
        '<p class="disclaimer">Sorted by what needs attention first (open alert level, '
        "then an episode closed while still away from usual, then missing data, then fewest "
        "worn days) unless you pick a column. Rows update "
        "and move to their place live.</p>"
        '<table class="caseload"><thead><tr>' + "".join(heads) + "</tr></thead>"
        f'<tbody id="caseload">{"".join(case_row_html(r) for r in rows)}</tbody></table>'
        "</main></body></html>"
    )


def coverage_chart(dates: Sequence[dt.date], coverage: NDArray[np.float64]) -> str:
    """Daily wear coverage as bars (0-100%); a missing day has no bar."""
    n = len(dates)
    pw, ph = W - _L - _R, H - _T - _B

    def x(i: int) -> float:
        return round(_L + i * pw / n, 1)

    bw = max(pw / n - 1, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="wear: share of each day the device was worn, last {n} days">',
        f'<text class="ct" x="{_L}" y="15">Device worn<tspan class="unit"> (% of the day)'
        "</tspan></text>",
        f'<rect class="plot" x="{_L}" y="{_T}" width="{pw}" height="{ph}"/>',
    ]
    for t in (0, 50, 100):
        yy = round(_T + (100 - t) / 100 * ph, 1)
        parts.append(f'<line class="grid" x1="{_L}" x2="{W - _R}" y1="{yy}" y2="{yy}"/>')
        parts.append(f'<text class="yl" x="{_L - 4}" y="{yy + 3.5}">{t}%</text>')
    for i, v in enumerate(coverage.tolist()):
        if not math.isfinite(v):
            continue
        hgt = round(max(v, 0.0) * ph, 1)
        parts.append(
            f'<rect class="{"wear" if v >= 0.5 else "wearlow"}" x="{x(i)}" '
            f'y="{round(_T + ph - hgt, 1)}" width="{bw:.1f}" height="{hgt}">'
            f"<title>{e(day(dates[i]))}: {v:.0%}</title></rect>"
        )
    for i in sorted({0, n // 2, n - 1}):
        anchor = "start" if i == 0 else ("end" if i == n - 1 else "middle")
        parts.append(
            f'<text class="xl" x="{x(i) + bw / 2:.1f}" y="{H - 6}" text-anchor="{anchor}">'
            f"{e(short_day(dates[i]))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _engine_feedback(notes: Sequence[EngineFeedback]) -> str:
    """The engine's account of each feedback it applied (its ``feedback_applied``
    notices), newest first."""
    if not notes:
        return ""
    items = []
    for n in reversed(notes):
        span = ""
        if n.applies_from is not None:
            until = day(n.applies_until) if n.applies_until else "open-ended"
            span = f" ({e(day(n.applies_from))} to {e(until)})"
        items.append(
            f"<li><strong>{e(day(n.date))}, {e(REASONS.get(n.reason, n.reason))}</strong>"
            f"{span}: {e(n.effect or 'applied')}</li>"
        )
    return (
        '<h2>What the risk engine did with the feedback</h2><ul class="timeline engine">'
        + "".join(items)
        + "</ul>"
    )


def patient_page(
    *,
    clinician: str,
    n_subjects: int,
    row: CaseRow,
    charts: Sequence[str],
    episodes: Sequence[Episode],
    names: Mapping[str, str],
    csrf: str,
    seq: int,
    days: int,
    feedback: Sequence[EngineFeedback] = (),
) -> str:
    """One patient: the caseload facts, the charts of the last ``days`` days (the alert's
    contributing features, activity, sleep and wear), every alert with its
    acknowledgements, and what the risk engine did with the clinicians' feedback."""
    facts = (
        '<dl class="facts">'
        f"<div><dt>Data</dt><dd>{_data_cell(row)}</dd></div>"
        f"<div><dt>Last data</dt><dd>{e(day(row.last_data)) if row.last_data else '-'}</dd></div>"
        f"<div><dt>Worn</dt><dd>{row.worn_7} of the last 7 days, {row.worn_28} of 28</dd></div>"
        f"<div><dt>Latest self-report</dt><dd>{e(row.self_report or '-')}"
        f"{' (' + e(day(row.self_report_date)) + ')' if row.self_report_date else ''}</dd></div>"
        "</dl>"
    )
    items = []
    for ep in episodes:
        for entry in ep.entries:
            a = entry.alert
            lvl = (
                ""
                if a.kind == "resolved"
                else (f'<span class="badge {e(a.level)}">{e(LEVEL_NAMES[a.level])}</span> ')
            )
            acks = "".join(ack_line(x, names) for x in entry.acks)
            form = ""
            if ep.resolved is None and entry is ep.current and not entry.acks:
                form = ack_form(a, csrf)
            text = closed_text(ep) if a.kind == "resolved" else a.explanation
            items.append(
                f"<li>{lvl}<strong>{e(_step_name(ep, a.kind).rstrip(','))} {e(day(a.date))}"
                f"</strong>: {e(text)}"
                + (f'<ul class="acks">{acks}</ul>' if acks else "")
                + (f'<div class="ackbar">{form}</div>' if form else "")
                + "</li>"
            )
    history = (
        f'<ol class="timeline" reversed>{"".join(reversed(items))}</ol>'
        if items
        else '<p class="empty">No alerts for this patient.</p>'
    )
    return (
        head(f"Patient {row.subject_id}")
        + f'<body><main id="feed" data-seq="{seq}" data-csrf="{e(csrf)}" '
        'data-stream="/patients/stream" data-query="">'
        + top(f"Patient {row.subject_id}", clinician, n_subjects, csrf, "")
        + facts
        + f"<h2>The last {days} days</h2>"
        + LEGEND
        + f'<div class="charts">{"".join(charts)}</div>'
        + "<h2>Alerts and acknowledgements</h2>"
        + history
        + _engine_feedback(feedback)
        + "</main></body></html>"
    )
