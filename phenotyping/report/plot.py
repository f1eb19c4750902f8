"""Per-subject plots: daily features against the personal baseline, alerts and treatment.

Shell code (matplotlib, files), never imported by the engine. One figure per subject, a
panel per watched feature (:data:`phenotyping.risk.monitor.MONITORED`) that has at least
one usable value, sharing one date axis:

* the day's value as a point joined to its neighbours -- a missing or invalid value is
  not drawn, so a gap is a break in the line (the same validity rule the risk engine uses,
  :func:`~phenotyping.risk.monitor.value_of`); points outside the baseline band are red;
* the personal baseline: median (dashed) and band ``base_X +- 2 x scale_X`` from the daily
  row's risk columns -- absent during the warm-up, where those columns are empty;
* alert episodes shaded in their level's colour from the ``opened`` alert to the
  ``resolved`` one (to the last day when still open; an escalation changes the colour from
  its day), with a lighter hatched span from the estimated ``episode_start`` to the
  opening;
* days below the wear-coverage threshold, or without a row, shaded grey in every panel;
* treatment sessions as vertical lines in the modality's colour, a clinician-recorded
  response as a dashed green line, a medication change as a dotted brown line;
* self-reported scores (PHQ-9, MADRS, mood) in their own panel at the bottom, PHQ-9 with
  its severity bands.

Days are local days; a day's point sits at its noon, a clinical event at its local time.
Clock-time features (sleep midpoint, activity peak) are unwrapped around the subject's
circular mean, so a night crossing midnight does not jump by 24 h, and labelled as clock
times. The title names the pseudonymous subject id and the date range; the file name is
the caller's (:func:`write_plots` uses ``<subject>.png``, nothing else). The Agg canvas is
used directly (no pyplot, no global backend state).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MultipleLocator
from numpy.typing import NDArray

from phenotyping.errors import FormatError, InputError
from phenotyping.events import natural_key
from phenotyping.risk.monitor import MONITORED, Monitored, value_of

__all__ = [
    "LEVEL_COLOURS",
    "Outputs",
    "episodes",
    "load_outputs",
    "plot_subject",
    "subject_figure",
    "write_plots",
]

Row = Mapping[str, Any]

#: Shading colour of an alert episode by level.
LEVEL_COLOURS = {"watch": "#f2c14e", "elevated": "#f28e2b", "high": "#d62728"}
MODALITY_COLOURS = {
    "ketamine": "#7b3294",
    "esketamine": "#7b3294",
    "tms": "#1b7837",
    "ect": "#2166ac",
    "psilocybin": "#c51b7d",
    "other": "#555555",
}
C_VALUE, C_OUT, C_MEDIAN, C_BAND, C_GAP = "#1f4e79", "#c0392b", "#555555", "#9ecae1", "#b0b0b0"
C_RESPONSE, C_MEDICATION = "#1a9850", "#8c510a"

_UNIT_LABEL = {
    "counts": "counts / min",
    "steps": "steps / day",
    "min": "minutes",
    "clock": "clock time",
    "ms": "ms",
    "bpm": "beats / min",
}
_INDEX_LABEL = {
    "sri7d": "-100 to 100",
    "circ7d_IS": "0 to 1",
    "circ7d_IV": "0 to 2",
    "circ7d_RA": "0 to 1",
}
#: plain-language panel names first; the technical name follows in brackets and is
#: explained once in the figure's glossary line (:data:`GLOSSARY`)
PLAIN = {
    "activity_mean_worn": "Daily activity",
    "steps_total": "Daily steps",
    "sleep_tst_min": "Total sleep",
    "sleep_midpoint_clock_min": "Middle of the night's sleep",
    "sri7d": "How regular sleep times are (SRI)",
    "night_rmssd": "Heart-rate variability at night (RMSSD)",
    "night_mean_hr": "Heart rate at night",
    "circ7d_IV": "How broken-up the daily rhythm is (IV)",
    "circ7d_IS": "How similar one day is to the next (IS)",
    "circ7d_RA": "Day/night activity contrast (RA)",
    "circ7d_cosinor_peak_minute_of_day": "Time of day activity peaks",
}
GLOSSARY = {
    "sri7d": "SRI: sleep regularity index",
    "night_rmssd": "RMSSD: beat-to-beat variation",
    "circ7d_IV": "IV: intradaily variability",
    "circ7d_IS": "IS: interdaily stability",
    "circ7d_RA": "RA: relative amplitude",
    "circ7d_cosinor_peak_minute_of_day": "peak time from a 24-h cosine fit (cosinor)",
}
#: the clinician panels: what contributed to an alert, plus these, plus data coverage
CLINICIAN_BASE = ("activity_mean_worn", "sleep_tst_min")
_WHAT = {
    "activity_mean_worn": "mean counts per worn minute",
    "steps_total": "steps per day",
    "sleep_tst_min": "actigraphy, main sleep period",
    "sleep_midpoint_clock_min": "actigraphy, main sleep period",
    "sri7d": "last 7 days",
    "night_rmssd": "during sleep",
    "night_mean_hr": "during sleep",
    "circ7d_IV": "last 7 days",
    "circ7d_IS": "last 7 days",
    "circ7d_RA": "last 7 days",
    "circ7d_cosinor_peak_minute_of_day": "last 7 days",
}
_PHQ9_BANDS = ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "mod. severe"), (20, "severe"))
_INSTRUMENT_COLOURS = {
    "PHQ-9": "#333333",
    "MADRS": "#8e44ad",
    "mood_0_10": "#16a085",
    # PMSys daily wellness (PMData): shown, never scored as PHQ-9
    "pmsys_mood_1_5": "#16a085",
    "pmsys_stress_1_5": "#c0392b",
    "pmsys_fatigue_1_5": "#d35400",
    "pmsys_sleep_quality_1_5": "#2980b9",
    "pmsys_readiness_0_10": "#7f8c8d",
}
_DEPRESSION_SCALES = {"PHQ-9", "MADRS", "mood_0_10"}
_DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- inputs


class Outputs(NamedTuple):
    """The parts of a replay output folder a plot needs."""

    daily: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    clinical: list[dict[str, Any]]


def _cell(key: str, text: str) -> Any:
    """A ``daily_features.csv`` cell as the replay wrote it: '' -> NaN, True/False, number."""
    if key in ("subject_id", "date"):
        return text
    if text == "":
        return float("nan")
    if text in ("True", "False"):
        return text == "True"
    try:
        return float(text)
    except ValueError:
        return text


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_outputs(folder: Path) -> Outputs:
    """Read ``daily_features.csv``, ``alerts.jsonl`` and ``clinical_events.jsonl`` (the
    last two may be absent: no alerts, no clinical events) of a replay output folder.

    Raises
    ------
    FormatError
        when ``folder`` has no ``daily_features.csv``.
    """
    daily_csv = folder / "daily_features.csv"
    if not daily_csv.is_file():
        raise FormatError(f"{folder}: no daily_features.csv (not a replay output folder?)")
    with daily_csv.open(newline="") as fh:
        daily = [{k: _cell(k, v) for k, v in row.items()} for row in csv.DictReader(fh)]
    return Outputs(daily, _jsonl(folder / "alerts.jsonl"), _jsonl(folder / "clinical_events.jsonl"))


def _num(v: Any) -> float:
    if v is None or v == "":
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _date(v: Any) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))


# The date axis is in days: x = proleptic ordinal of the local date (+ fraction of the day),
# so ``dt.date.fromordinal(int(x))`` is the local date of any point, line or span edge.


def _noon(d: dt.date) -> float:
    return d.toordinal() + 0.5


def _midnight(d: dt.date) -> float:
    return float(d.toordinal())


def _local_time(event: Row) -> float:
    """A clinical event's local wall-clock time on the date axis (``at`` + ``tz_offset_min``)."""
    at = dt.datetime.fromisoformat(str(event["at"])).astimezone(dt.UTC)
    local = at + dt.timedelta(minutes=int(event.get("tz_offset_min", 0)))
    return local.toordinal() + (local.hour * 60 + local.minute + local.second / 60) / 1440


def _date_text(x: float, _pos: object = None) -> str:
    return f"{dt.date.fromordinal(int(math.floor(x))):%d %b}"


# --------------------------------------------------------------------------- episodes


@dataclass
class Episode:
    """One alert episode of a subject, from its alert messages."""

    start: dt.date  # estimated start of the deviation (the alerts' episode_start)
    opened: dt.date
    levels: list[tuple[dt.date, str]] = field(default_factory=list)  # (from, level)
    resolved: dt.date | None = None
    after_response: bool = False
    explanation: str = ""  # of the current (latest opened/escalated) alert
    features: set[str] = field(default_factory=set)

    @property
    def level(self) -> str:
        """Highest level reached."""
        order = list(LEVEL_COLOURS)
        return max((lv for _, lv in self.levels), key=order.index)

    @property
    def current_level(self) -> str:
        """The level of the latest opened/escalated alert (what the headline states)."""
        return self.levels[-1][1]


def episodes(alerts: Iterable[Row], subject: str) -> list[Episode]:
    """The subject's alert episodes, in order (opened -> escalated... -> resolved).

    Examples
    --------
    >>> a = [dict(subject_id="s", kind="opened", date="2024-03-02", level="elevated",
    ...           episode_start="2024-02-28", after_response=True, explanation="x",
    ...           contributing=[{"feature": "activity_mean_worn"}]),
    ...      dict(subject_id="s", kind="resolved", date="2024-03-09", level="elevated",
    ...           episode_start="2024-02-28")]
    >>> e, = episodes(a, "s")
    >>> e.start, e.opened, e.resolved, e.level, e.features
    (datetime.date(2024, 2, 28), datetime.date(2024, 3, 2), datetime.date(2024, 3, 9), \
'elevated', {'activity_mean_worn'})
    """
    out: list[Episode] = []
    current: dict[dt.date, Episode] = {}
    for a in alerts:
        if a.get("subject_id") != subject:
            continue
        start, day, kind = _date(a["episode_start"]), _date(a["date"]), a["kind"]
        ep = current.get(start)
        if ep is None or kind == "opened":
            ep = Episode(start=start, opened=day, after_response=bool(a.get("after_response")))
            ep.explanation = str(a.get("explanation", ""))
            current[start] = ep
            out.append(ep)
        if kind in ("opened", "escalated"):
            ep.levels.append((day, str(a["level"])))
            ep.explanation = str(a.get("explanation", ""))  # the current level's reason
            ep.features.update(str(c["feature"]) for c in a.get("contributing") or [])
        elif kind == "resolved":
            if not ep.levels:
                ep.levels.append((day, str(a["level"])))
            ep.resolved = day
            del current[start]
    return out


# --------------------------------------------------------------------------- drawing


def _clock_text(v: float, _pos: object = None) -> str:
    m = int(round(v)) % 1440
    return f"{m // 60:02d}:{m % 60:02d}"


def _hours_text(v: float, _pos: object = None) -> str:
    return f"{v / 60:g} h"


def _unwrap(values: NDArray[np.float64], centre: float) -> NDArray[np.float64]:
    """Clock minutes mapped into ``[centre - 720, centre + 720)``."""
    return np.asarray((values - centre + 720.0) % 1440.0 - 720.0 + centre, dtype=np.float64)


def _circular_centre(values: NDArray[np.float64]) -> float:
    ok = values[np.isfinite(values)]
    ang = ok * (2 * math.pi / 1440.0)
    c = math.atan2(float(np.sin(ang).mean()), float(np.cos(ang).mean()))
    return (c * 1440.0 / (2 * math.pi)) % 1440.0


def _spans(days: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive runs of sorted days as (first, last)."""
    runs: list[tuple[dt.date, dt.date]] = []
    for d in days:
        if runs and d == runs[-1][1] + _DAY:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


def _feature_panel(
    ax: Axes,
    spec: Monitored,
    rows: Sequence[dict[str, Any]],
    x: NDArray[np.float64],
    in_alert: bool,
) -> None:
    y = np.array([value_of(spec, r) for r in rows], dtype=np.float64)
    med = np.array([_num(r.get(f"base_{spec.column}")) for r in rows], dtype=np.float64)
    scale = np.array([_num(r.get(f"scale_{spec.column}")) for r in rows], dtype=np.float64)
    if spec.circular:
        centre = _circular_centre(y)
        y = _unwrap(y, centre)
        med = _unwrap(med, centre)
    lo, hi = med - 2 * scale, med + 2 * scale
    ax.fill_between(x, lo, hi, color=C_BAND, alpha=0.45, linewidth=0, zorder=1, gid="band")
    ax.plot(x, med, "--", color=C_MEDIAN, linewidth=1.0, zorder=2, gid="median")
    ax.plot(x, y, "-o", color=C_VALUE, markersize=2.8, linewidth=0.8, zorder=3, gid="values")
    with np.errstate(invalid="ignore"):
        out = np.isfinite(y) & np.isfinite(lo) & ((y < lo) | (y > hi))
    ax.plot(x[out], y[out], "o", color=C_OUT, markersize=4.2, zorder=4, ls="none", gid="outside")
    title = PLAIN.get(spec.column, spec.label[0].upper() + spec.label[1:])
    what = _WHAT.get(spec.column)
    if what:
        title += f" ({what})"
    if in_alert:
        title += "  - contributed to the alert"
    ax.set_title(
        title,
        loc="left",
        fontsize=9.5,
        fontweight="bold" if in_alert else "normal",
        color=C_OUT if in_alert else "black",
    )
    ax.set_ylabel(_INDEX_LABEL.get(spec.column, _UNIT_LABEL.get(spec.unit, "")), fontsize=8)
    if spec.unit in ("counts", "steps", "min", "ms", "bpm") and ax.get_ylim()[0] < 0:
        ax.set_ylim(bottom=0)  # the band may reach below 0; the quantity cannot
    if spec.unit == "min":
        ax.set_ylabel("hours", fontsize=8)
        ax.yaxis.set_major_locator(MultipleLocator(120))
        ax.yaxis.set_major_formatter(FuncFormatter(_hours_text))
    if spec.unit == "clock":
        finite = np.concatenate([y[np.isfinite(y)], lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
        span = float(finite.max() - finite.min()) if finite.size else 0.0
        step = next((s for s in (30, 60, 120, 180, 240, 360) if span / s <= 5), 720)
        ax.yaxis.set_major_locator(MultipleLocator(step))
        ax.yaxis.set_major_formatter(FuncFormatter(_clock_text))
    ax.set_gid(spec.column)


def _coverage_panel(ax: Axes, rows: Sequence[dict[str, Any]], x: NDArray[np.float64]) -> None:
    """How much of each day the device was worn (0-100 %), the data behind every panel."""
    cov = np.array([_num(r.get("coverage")) for r in rows], dtype=np.float64) * 100
    ok = np.isfinite(cov)
    low = ok & (np.array([r.get("valid") is not True for r in rows]))
    ax.bar(x[ok & ~low], cov[ok & ~low], width=0.8, color="#7fa8cf", gid="coverage")
    ax.bar(x[low], cov[low], width=0.8, color="#e0a35a", gid="coverage_low")
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of day", fontsize=8)
    ax.set_title(
        "Device worn (share of each day; orange: too little to use)", loc="left", fontsize=9.5
    )
    ax.set_gid("coverage")


def _report_panel(ax: Axes, events: Sequence[Row]) -> None:
    instruments = sorted({str(e["instrument"]) for e in events})
    for inst in instruments:
        mine = [e for e in events if e["instrument"] == inst]
        ax.plot(
            [_local_time(e) for e in mine],
            [float(e["score"]) for e in mine],
            "-s",
            color=_INSTRUMENT_COLOURS.get(inst, "#333333"),
            markersize=4 if len(mine) < 60 else 1.5,  # daily reports: a line, not blobs
            linewidth=1.0,
            label=inst,
            zorder=3,
        )
    if instruments == ["PHQ-9"]:
        ax.set_ylim(0, 27)
        for lo, name in _PHQ9_BANDS:
            if lo:
                ax.axhline(lo, color="#dddddd", linewidth=0.6, zorder=0)
            ax.text(1.005, (lo + 2.5) / 27, name, transform=ax.transAxes, fontsize=7, va="center")
        ax.set_ylabel("PHQ-9 (0–27)", fontsize=8)
    else:
        ax.set_ylabel("score", fontsize=8)
        ax.legend(fontsize=7, loc="upper right", frameon=False)
    what = "depression score" if set(instruments) <= _DEPRESSION_SCALES else "scores"
    ax.set_title(f"Self-reported {what} (" + ", ".join(instruments) + ")", loc="left", fontsize=9.5)
    ax.set_gid("self_report")


def subject_figure(
    daily_rows: Iterable[Row],
    alerts: Iterable[Row],
    clinical_events: Iterable[Row],
    subject: str,
    *,
    panels: Literal["clinician", "all"] = "clinician",
) -> Figure:
    """The subject's figure (see the module docstring); nothing is written.

    ``panels="clinician"`` (the default) draws fewer panels: the features that contributed
    to an alert, daily activity and total sleep, and the day's wear coverage; ``"all"``
    draws every watched feature that has a usable value (for researchers).

    Panels (``gid``): ``"events"`` (a strip naming the treatment course, the response and
    the alerts; only when there is one of them), one per plotted feature (its column
    name), ``"coverage"`` (clinician panels), ``"self_report"``.
    Artists: episode shading ``"episode:<level>"``
    (``"onset:<level>"`` for the estimated start), session lines ``"session:<modality>"``,
    responses ``"response"``, gap spans ``"gap"``; in a feature panel ``"values"``,
    ``"outside"`` (values outside the band), ``"median"`` and ``"band"``. The x axis is in
    days: ``dt.date.fromordinal(int(x))`` is the local date.

    Raises
    ------
    InputError
        when there is no daily row of ``subject``, or nothing to plot.
    """
    rows = sorted((dict(r) for r in daily_rows if r.get("subject_id") == subject), key=_row_date)
    if not rows:
        raise InputError(f"subject {subject!r}: no daily rows")
    alerts = [a for a in alerts if a.get("subject_id") == subject]
    events = [e for e in clinical_events if e.get("subject_id") == subject]
    eps = episodes(alerts, subject)
    dates = [_date(r["date"]) for r in rows]
    first, last = dates[0], dates[-1]
    x = np.array([_noon(d) for d in dates], dtype=np.float64)
    in_alert: set[str] = set()
    for ep in eps:
        in_alert |= ep.features
    specs = [s for s in MONITORED if any(math.isfinite(value_of(s, r)) for r in rows)]
    if panels == "clinician":
        wanted = in_alert | set(CLINICIAN_BASE)
        specs = [s for s in specs if s.column in wanted]
    reports = [e for e in events if e.get("kind") == "self_report" and "score" in e]
    if not specs and not reports:
        raise InputError(f"subject {subject!r}: no usable feature value to plot")
    sessions = [e for e in events if e.get("kind") == "treatment_session"]
    responses = _responses(alerts, events)
    strip = bool(sessions or responses or eps)  # nothing to name: no strip
    coverage = panels == "clinician"
    ratios = [0.55] * strip + [1.0] * len(specs) + [0.6] * coverage + [0.75] * bool(reports)
    has_baseline = any(math.isfinite(_num(r.get(f"base_{s.column}"))) for s in specs for r in rows)

    # layout in inches: header (title, alert lines, legend), panels, date axis
    alert_lines = [_alert_line(e) for e in eps if e.levels]
    wrapped = [w for line in alert_lines for w in textwrap.wrap(line, 160)]
    header = 0.85 + 0.19 * len(wrapped) + 0.75
    panel_h, bottom, width = 1.45, 0.55, 11.0
    height = math.ceil((header + panel_h * sum(ratios) + bottom) * 110) / 110  # whole pixels
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        len(ratios),
        1,
        height_ratios=ratios,
        left=0.085,
        right=0.9,
        top=1 - header / height,
        bottom=bottom / height,
        hspace=0.6,
    )
    axes: list[Axes] = []
    for i in range(len(ratios)):
        axes.append(fig.add_subplot(grid[i, 0], sharex=axes[0] if axes else None))
    if strip:
        _events_strip(axes[0], sessions, responses, eps, (_midnight(first), _midnight(last) + 1))
    for ax, spec in zip(axes[int(strip) :], specs, strict=False):
        _feature_panel(ax, spec, rows, x, spec.column in in_alert)
    if coverage:
        _coverage_panel(axes[int(strip) + len(specs)], rows, x)
    if reports:
        _report_panel(axes[-1], reports)

    valid = {d for d, r in zip(dates, rows, strict=True) if r.get("valid") is True}
    span_days = [first + k * _DAY for k in range((last - first).days + 1)]
    gaps = _spans([d for d in span_days if d not in valid])
    for ax in axes:
        for a, b in gaps:
            ax.axvspan(_midnight(a), _midnight(b) + 1, color=C_GAP, alpha=0.3, lw=0, gid="gap")
        for ep in eps:
            _shade_episode(ax, ep, last)
        for e in sessions:
            colour = MODALITY_COLOURS.get(str(e.get("modality")), "#555555")
            ax.axvline(
                _local_time(e),
                color=colour,
                linewidth=1.1,
                alpha=0.8,
                zorder=2.5,
                gid=f"session:{e.get('modality')}",
            )
        for t in responses:
            ax.axvline(t, color=C_RESPONSE, linestyle="--", lw=1.3, zorder=2.5, gid="response")
        for e in events:
            if e.get("kind") == "medication_change":
                ax.axvline(_local_time(e), color=C_MEDICATION, linestyle=":", lw=1.3, gid="med")
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[0].set_xlim(_midnight(first), _midnight(last) + 1)
    mondays = [_midnight(d) for d in span_days if d.weekday() == 0]
    axes[-1].xaxis.set_major_locator(FixedLocator(mondays))
    axes[-1].xaxis.set_minor_locator(MultipleLocator(1.0))
    axes[-1].xaxis.set_major_formatter(FuncFormatter(_date_text))
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("local date (ticks on Mondays)", fontsize=8)

    def at(inches: float) -> float:
        return 1 - inches / height

    fig.text(
        0.01,
        at(0.3),
        f"{subject}   {first:%d %b %Y} to {last:%d %b %Y}",
        fontsize=13,
        fontweight="bold",
        va="center",
    )
    if has_baseline:
        sub = (
            "Daily values against this person's own usual range (dashed: their median; "
            "band: ±2 robust SD of earlier days; none during the first weeks"
            + (", restarted after a treatment response)" if responses else ")")
        )
    else:
        sub = "Daily values only: too few days yet for this person's usual range"
    terms = [GLOSSARY[s.column] for s in specs if s.column in GLOSSARY]
    if terms:
        sub += ".  " + "; ".join(terms)
    fig.text(0.01, at(0.56), sub, fontsize=9, va="center", color="#444444")
    for k, line in enumerate(wrapped):
        fig.text(0.01, at(0.82 + 0.19 * k), line, fontsize=8.5, va="center")
    fig.legend(
        handles=_legend(eps, sessions, responses, events, bool(gaps), has_baseline),
        loc="upper left",
        bbox_to_anchor=(0.01, at(0.76 + 0.19 * len(wrapped))),
        ncol=5,
        fontsize=8,
        frameon=False,
        handlelength=2.2,
    )
    return fig


def _row_date(r: Row) -> str:
    return str(r["date"])


def _responses(alerts: Sequence[Row], events: Sequence[Row]) -> list[float]:
    """Responses on the date axis: clinician-recorded ones (at their time) and the ones the
    engine recognised (an alert's ``date - days_since_response``, at the day's start)."""
    out = {_local_time(e) for e in events if e.get("kind") == "response"}
    days = {_local_time(e) // 1 for e in events if e.get("kind") == "response"}
    for a in alerts:
        n = a.get("days_since_response")
        if n is not None:
            day = _midnight(_date(a["date"]) - int(n) * _DAY)
            if day not in days:
                days.add(day)
                out.add(day)
    return sorted(out)


def _events_strip(
    ax: Axes,
    sessions: Sequence[Row],
    responses: Sequence[float],
    eps: Sequence[Episode],
    span: tuple[float, float],
) -> None:
    """Top strip: the treatment course(s), responses and alerts, named in words."""
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_title("Treatment and alerts", loc="left", fontsize=9.5)
    ax.set_gid("events")
    middle = (span[0] + span[1]) / 2
    box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0}

    def label(x: float, y: float, text: str, colour: str, bold: bool = False) -> None:
        right = x > middle  # text runs towards the middle, so it stays inside the strip
        ax.text(
            x,
            y,
            f"{text} " if right else f" {text}",
            ha="right" if right else "left",
            va="center",
            fontsize=8,
            fontweight="bold" if bold else "normal",
            color=colour,
            bbox=box,
        )

    for modality in dict.fromkeys(str(e.get("modality")) for e in sessions):
        mine = [_local_time(e) for e in sessions if str(e.get("modality")) == modality]
        d0, d1 = (dt.date.fromordinal(int(t)) for t in (min(mine), max(mine)))
        n = len(mine)
        text = f"{modality}: {n} session{'s' * (n > 1)}, {d0:%d %b} to {d1:%d %b}"
        label(min(mine), 0.8, text, MODALITY_COLOURS.get(modality, "#555555"))
    for t in responses:
        label(t, 0.5, "response", C_RESPONSE)
    for ep in eps:
        if not ep.levels:
            continue
        x = _midnight(ep.opened)
        ax.plot([x], [0.2], "v", color=LEVEL_COLOURS.get(ep.levels[0][1]), markersize=7)
        text = f"{ep.levels[0][1]} alert {ep.opened:%d %b}"
        text += "".join(f", {lv} from {d:%d %b}" for d, lv in ep.levels[1:])
        if ep.after_response:
            text += " (after response)"
        label(x, 0.2, text, LEVEL_COLOURS.get(ep.level, "#999999"), bold=True)


def _alert_line(ep: Episode) -> str:
    """The headline of one episode: its current level and that level's explanation."""
    since = ep.levels[-1][0]
    if ep.resolved:
        state = f"resolved {ep.resolved:%d %b}; last level {ep.current_level} from {since:%d %b}"
    else:
        state = f"still open; now {ep.current_level} since {since:%d %b}"
    return (
        f"Alert opened {ep.opened:%d %b} ({state}; the change began about "
        f"{ep.start:%d %b}): {ep.explanation}"
    )


def _shade_episode(ax: Axes, ep: Episode, last: dt.date) -> None:
    first_level = ep.levels[0][1]
    if ep.start < ep.opened:
        ax.axvspan(
            _midnight(ep.start),
            _midnight(ep.opened),
            facecolor=LEVEL_COLOURS.get(first_level, "#999999"),
            alpha=0.1,
            hatch="///",
            edgecolor=LEVEL_COLOURS.get(first_level, "#999999"),
            linewidth=0,
            gid=f"onset:{first_level}",
        )
    end = (ep.resolved or last) + _DAY
    bounds = [d for d, _ in ep.levels[1:]] + [end]
    for (start, level), stop in zip(ep.levels, bounds, strict=True):
        ax.axvspan(
            _midnight(start),
            _midnight(stop),
            color=LEVEL_COLOURS.get(level, "#999999"),
            alpha=0.25,
            lw=0,
            gid=f"episode:{level}",
        )


def _legend(
    eps: Sequence[Episode],
    sessions: Sequence[Row],
    responses: Sequence[float],
    events: Sequence[Row],
    gaps: bool,
    baseline: bool = True,
) -> list[Any]:
    handles: list[Any] = [
        Line2D([], [], color=C_VALUE, marker="o", markersize=3, lw=0.8, label="daily value")
    ]
    if baseline:  # no baseline drawn: no baseline in the legend
        handles += [
            Line2D([], [], color=C_OUT, marker="o", markersize=4, lw=0, label="outside usual"),
            Line2D([], [], color=C_MEDIAN, linestyle="--", lw=1, label="usual (median)"),
            Patch(color=C_BAND, alpha=0.45, label="usual range (±2 robust SD)"),
        ]
    levels = {lv for ep in eps for _, lv in ep.levels}
    for level in LEVEL_COLOURS:
        if level in levels:
            handles.append(Patch(color=LEVEL_COLOURS[level], alpha=0.3, label=f"{level} alert"))
    if any(ep.start < ep.opened for ep in eps):
        handles.append(
            Patch(facecolor="#fbeee0", hatch="///", edgecolor="#f28e2b", label="estimated onset")
        )
    if gaps:
        handles.append(Patch(color=C_GAP, alpha=0.35, label="not enough wear data"))
    for modality in dict.fromkeys(str(e.get("modality")) for e in sessions):
        colour = MODALITY_COLOURS.get(modality, "#555555")
        handles.append(Line2D([], [], color=colour, lw=1.2, label=f"{modality} session"))
    if responses:
        handles.append(Line2D([], [], color=C_RESPONSE, ls="--", lw=1.3, label="response"))
    if any(e.get("kind") == "medication_change" for e in events):
        handles.append(
            Line2D([], [], color=C_MEDICATION, ls=":", lw=1.3, label="medication change")
        )
    return handles


# --------------------------------------------------------------------------- files


def plot_subject(
    daily_rows: Iterable[Row],
    alerts: Iterable[Row],
    clinical_events: Iterable[Row],
    subject: str,
    out_png: Path,
    *,
    panels: Literal["clinician", "all"] = "clinician",
) -> Path:
    """Draw :func:`subject_figure` and write it to ``out_png`` (parent folders created).

    Examples
    --------
    >>> import tempfile
    >>> rows = [{"subject_id": "s-1", "date": f"2024-01-{d:02d}", "valid": True,
    ...          "activity_mean_worn": 200.0 + d} for d in range(1, 15)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png = plot_subject(rows, [], [], "s-1", Path(tmp) / "s-1.png")
    ...     png.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    fig = subject_figure(daily_rows, alerts, clinical_events, subject, panels=panels)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, format="png")
    return out_png


def write_plots(
    daily_rows: Sequence[Row],
    alerts: Sequence[Row],
    clinical_events: Sequence[Row],
    out_dir: Path,
    *,
    panels: Literal["clinician", "all"] = "clinician",
) -> list[Path]:
    """``out_dir/<subject>.png`` for every subject with an alert; returns the paths."""
    subjects = sorted({str(a["subject_id"]) for a in alerts}, key=natural_key)
    return [
        plot_subject(daily_rows, alerts, clinical_events, s, out_dir / f"{s}.png", panels=panels)
        for s in subjects
    ]
