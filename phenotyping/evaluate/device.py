"""Relapse patterns injected into real device recordings, replayed through ``pipeline.step``.

The surrogate evaluation (:mod:`phenotyping.evaluate.harness`) injects relapse into wrist
*counts*; a device that logs sleep itself (Fitbit, Oura, Apple Watch) measures a lie-in
directly. Here the recordings are real Fitbit exports (PMData, read by
:mod:`phenotyping.replay.formats.fitbit`, the importer ``phenotyping replay`` uses), the
pattern is injected into the *messages* from an onset date drawn per seed, and every
message goes through :func:`phenotyping.pipeline.step` -- the day engine and the risk
engine exactly as a worker runs them.

Patterns (:data:`PATTERNS`; the onset date is the first local day changed; a night is the
one ending on the morning of its date, as the day engine labels it)

``null``
    nothing changed: false episodes before the onset, and over the whole recording.
``hypersomnia``
    every main sleep log of a night from the onset on ends :data:`SHIFT_MIN` (90) min
    later: time in bed and minutes asleep +90, the added epochs scored light sleep
    (``classic`` logs: asleep), and any steps in those minutes 0 (in bed).
``insomnia``
    every main sleep log starts 90 min later (falling asleep later): time in bed and
    minutes asleep -90, the first 90 min of epochs dropped. Logs shorter than 2 h are left
    as they are.
``phase_delay``
    the whole day 90 min later: main sleep logs start and end 90 min later, and each
    minute's steps are those recorded 90 min earlier (a minute with nothing recorded then
    is missing).
``activity``
    steps x 0.7 (rounded) from the onset on.
``step``
    the combined step: ``phase_delay`` and ``activity`` together (as the surrogates'
    combined step: activity -30% and the whole day 90 min later).

Patterns that change steps need a steps file: on an export without one they cannot be
expressed and are not run (:func:`expressible`). Nothing else (daily summaries, resting
heart rate, self-reports) is changed: a relapse would move them too, so detection here is,
if anything, understated.

Onsets
    Per subject and seed, a day drawn uniformly from :data:`MIN_BASELINE_DAYS` (35) days
    after the recording's first day to :data:`FOLLOW_DAYS` (14) days before its last, so
    that a full baseline precedes it and two weeks follow it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from phenotyping.evaluate import harness
from phenotyping.evaluate import metrics as mt
from phenotyping.evaluate.harness import HORIZONS, Figure
from phenotyping.events import ActivityBatch, AnyMessage, SleepEpisode
from phenotyping.features.day import EngineParams
from phenotyping.features.time import night_of, ordinal
from phenotyping.pipeline import SubjectState, flush, step
from phenotyping.risk.params import RiskParams

#: Minutes of the injected change (lie-in, later onset, phase delay).
SHIFT_MIN = 90
#: Steps factor of the activity patterns (-30%).
ACTIVITY_FACTOR = 0.7
#: Days of recording before the earliest possible onset (a full 28-day baseline and a week).
MIN_BASELINE_DAYS = 35
#: Days of recording the onset must leave after it (detection is judged within 14 days).
FOLLOW_DAYS = 14
#: A main sleep log shorter than this is not shortened by ``insomnia`` (nothing sensible left).
MIN_SHORTEN_MIN = 120

SleepChange = Literal["none", "longer", "later_onset", "delay"]


@dataclass(frozen=True)
class DevicePattern:
    """One pattern: how main sleep logs change, the steps factor, the minutes of delay."""

    label: str
    sleep: SleepChange = "none"
    steps_factor: float = 1.0
    delay_min: int = 0

    @property
    def needs_steps(self) -> bool:
        """The pattern changes steps (it cannot be expressed on an export without them)."""
        return self.steps_factor != 1.0 or (self.delay_min != 0 and self.sleep == "none")


PATTERNS: dict[str, DevicePattern] = {
    "null": DevicePattern("nothing injected"),
    "step": DevicePattern(
        "combined step: steps -30% and the whole day 90 min later",
        sleep="delay",
        steps_factor=ACTIVITY_FACTOR,
        delay_min=SHIFT_MIN,
    ),
    "activity": DevicePattern("steps -30%", steps_factor=ACTIVITY_FACTOR),
    "hypersomnia": DevicePattern("sleep +90 min (sleep log ends later)", sleep="longer"),
    "insomnia": DevicePattern("sleep -90 min (sleep log starts later)", sleep="later_onset"),
    "phase_delay": DevicePattern(
        "phase delay +90 min (sleep log and steps)", sleep="delay", delay_min=SHIFT_MIN
    ),
}


# --------------------------------------------------------------------------- injection
def _local_min(t: dt.datetime, off: int) -> int:
    return int(t.timestamp()) // 60 + off


def night(ep: SleepEpisode) -> int:
    """The night (local date ordinal) a sleep log belongs to, as the day engine labels it:
    the one ending on the morning of that date.

    >>> from phenotyping.events import decode
    >>> from phenotyping.features.time import iso_date
    >>> ep = decode({"type": "sleep", "event_id": "e", "subject_id": "s", "source": "t",
    ...     "tz_offset_min": 60, "start": "2020-01-01T23:00:00+01:00",
    ...     "end": "2020-01-02T07:00:00+01:00", "is_main_sleep": True})
    >>> iso_date(night(ep))
    '2020-01-02'
    """
    return int(night_of(_local_min(ep.end, ep.tz_offset_min)))


def change_sleep(ep: SleepEpisode, pattern: DevicePattern) -> SleepEpisode:
    """One main sleep log changed by ``pattern`` (re-validated as a message).

    >>> from phenotyping.events import decode
    >>> ep = decode({"type": "sleep", "event_id": "e", "subject_id": "s", "source": "t",
    ...     "tz_offset_min": 60, "start": "2020-01-01T23:00:00+01:00",
    ...     "end": "2020-01-02T07:00:00+01:00", "is_main_sleep": True, "tst_min": 420,
    ...     "time_in_bed_min": 480,
    ...     "stages": {"epoch_s": 3600, "stages": ["wake"] + ["light"] * 7}})
    >>> longer = change_sleep(ep, PATTERNS["hypersomnia"])
    >>> longer.end.isoformat(), longer.tst_min, longer.time_in_bed_min
    ('2020-01-02T08:30:00+01:00', 510.0, 570.0)
    >>> later = change_sleep(ep, PATTERNS["insomnia"])
    >>> later.start.isoformat(), later.tst_min, later.time_in_bed_min
    ('2020-01-02T00:30:00+01:00', 330.0, 390.0)
    >>> moved = change_sleep(ep, PATTERNS["phase_delay"])
    >>> moved.start.isoformat(), moved.end.isoformat(), moved.tst_min
    ('2020-01-02T00:30:00+01:00', '2020-01-02T08:30:00+01:00', 420.0)
    """
    d = dt.timedelta(minutes=SHIFT_MIN)
    data = ep.model_dump()
    length = (ep.end - ep.start).total_seconds() / 60
    stages = ep.stages

    def plus(key: str, x: float) -> None:
        if data.get(key) is not None:
            data[key] = min(1440.0, max(0.0, data[key] + x))

    if pattern.sleep == "delay":
        data["start"], data["end"] = ep.start + d, ep.end + d
    elif pattern.sleep == "longer":
        if length + SHIFT_MIN > 1440:
            return ep
        data["end"] = ep.end + d
        plus("tst_min", SHIFT_MIN)
        plus("time_in_bed_min", SHIFT_MIN)
        asleep = "light" if stages is not None and stages.epoch_s < 60 else "asleep"
        if data.get("stage_min"):
            key = asleep if asleep in data["stage_min"] else next(iter(data["stage_min"]))
            data["stage_min"][key] = min(1440.0, data["stage_min"][key] + SHIFT_MIN)
        if stages is not None:
            extra = math.ceil(SHIFT_MIN * 60 / stages.epoch_s)
            data["stages"] = {
                "epoch_s": stages.epoch_s,
                "stages": [*stages.stages, *[asleep] * extra],
            }
    elif pattern.sleep == "later_onset":
        if length < MIN_SHORTEN_MIN:
            return ep
        data["start"] = ep.start + d
        tst = ep.tst_min
        plus("tst_min", -SHIFT_MIN)
        plus("time_in_bed_min", -SHIFT_MIN)
        if data.get("stage_min") and tst is not None:
            left = SHIFT_MIN  # taken from the sleep stages, largest first
            for key in sorted(data["stage_min"], key=lambda k: -data["stage_min"][k]):
                if key in ("wake", "awake") or left <= 0:
                    continue
                cut = min(left, data["stage_min"][key])
                data["stage_min"][key] -= cut
                left -= cut
        if stages is not None:
            drop = round(SHIFT_MIN * 60 / stages.epoch_s)
            rest = stages.stages[drop:]
            data["stages"] = {"epoch_s": stages.epoch_s, "stages": rest} if rest else None
        if data.get("tst_min") is not None:
            data["tst_min"] = min(data["tst_min"], length - SHIFT_MIN)
    else:
        return ep
    return SleepEpisode.model_validate(data)


def _steps_map(messages: Sequence[AnyMessage]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Every recorded minute's steps (UTC minute, value; NaN for a null minute), sorted."""
    mins, vals = [], []
    for m in messages:
        if isinstance(m, ActivityBatch) and m.steps is not None:
            if m.epoch_s != 60:
                raise ValueError(f"steps: {m.event_id} has epoch_s {m.epoch_s}, expected 60")
            start = int(m.start.timestamp()) // 60
            mins.append(np.arange(start, start + len(m.steps), dtype=np.int64))
            vals.append(np.array([np.nan if v is None else v for v in m.steps], np.float64))
    if not mins:
        return np.empty(0, np.int64), np.empty(0)
    t, v = np.concatenate(mins), np.concatenate(vals)
    order = np.argsort(t, kind="stable")
    return t[order], v[order]


def change_steps(
    batch: ActivityBatch,
    pattern: DevicePattern,
    onset: int,
    recorded: tuple[NDArray[np.int64], NDArray[np.float64]],
    in_bed: NDArray[np.int64],
) -> ActivityBatch:
    """One steps batch changed from local date ``onset`` on: steps of ``delay_min`` earlier
    (from ``recorded``, every minute of the export), times ``steps_factor`` (rounded), and 0
    in the minutes of ``in_bed`` (UTC minutes a lengthened sleep log now covers).

    >>> from phenotyping.events import decode
    >>> b = decode({"type": "activity", "event_id": "a", "subject_id": "s", "source": "t",
    ...     "tz_offset_min": 0, "start": "2020-01-02T00:00:00+00:00", "epoch_s": 60,
    ...     "steps": [10, 20, None, 40]})
    >>> rec = _steps_map([b])
    >>> d = ordinal("2020-01-02")
    >>> change_steps(b, PATTERNS["activity"], d, rec, np.empty(0, np.int64)).steps
    [7, 14, None, 28]
    >>> change_steps(b, PATTERNS["activity"], d + 1, rec, np.empty(0, np.int64)).steps
    [10, 20, None, 40]
    >>> bed = np.array([int(b.start.timestamp()) // 60 + 1])
    >>> change_steps(b, PATTERNS["hypersomnia"], d, rec, bed).steps
    [10, 0, None, 40]
    """
    if batch.steps is None:
        return batch
    start = int(batch.start.timestamp()) // 60
    t = np.arange(start, start + len(batch.steps), dtype=np.int64)
    v = np.array([np.nan if x is None else x for x in batch.steps], np.float64)
    on = (t + batch.tz_offset_min) // 1440 >= onset
    if not on.any():
        return batch
    new = v.copy()
    if pattern.delay_min:
        rt, rv = recorded
        src = t - pattern.delay_min
        i = np.clip(np.searchsorted(rt, src), 0, max(len(rt) - 1, 0))
        found = (rt[i] == src) if len(rt) else np.zeros(len(t), bool)
        shifted = np.where(found, rv[i] if len(rv) else np.nan, np.nan)
        new[on] = shifted[on]
    if pattern.steps_factor != 1.0:
        new[on] = np.floor(new[on] * pattern.steps_factor + 0.5)
    bed = on & np.isin(t, in_bed) & ~np.isnan(new)
    new[bed] = 0.0
    if np.array_equal(new, v, equal_nan=True):
        return batch
    steps = [None if math.isnan(x) else int(x) for x in new.tolist()]
    return ActivityBatch.model_validate({**batch.model_dump(), "steps": steps})


def inject(messages: Sequence[AnyMessage], pattern: DevicePattern, onset: int) -> list[AnyMessage]:
    """The recording's messages with ``pattern`` from local date ``onset`` on, in the order
    the Fitbit reader sends them (by the end of what each covers). Unchanged messages are
    the same objects (a run shares the replay up to the first changed one).

    >>> from phenotyping.events import decode
    >>> ep = decode({"type": "sleep", "event_id": "e", "subject_id": "s", "source": "t",
    ...     "tz_offset_min": 0, "start": "2020-01-01T23:00:00+00:00",
    ...     "end": "2020-01-02T07:00:00+00:00", "is_main_sleep": True})
    >>> [m.end.isoformat() for m in inject([ep], PATTERNS["hypersomnia"], ordinal("2020-01-02"))]
    ['2020-01-02T08:30:00+00:00']
    >>> inject([ep], PATTERNS["hypersomnia"], ordinal("2020-01-03"))[0] is ep
    True
    """
    if pattern.sleep == "none" and pattern.steps_factor == 1.0 and not pattern.delay_min:
        return list(messages)
    out: list[AnyMessage] = []
    bed: list[NDArray[np.int64]] = []
    for m in messages:
        if isinstance(m, SleepEpisode) and m.is_main_sleep and night(m) >= onset:
            new = change_sleep(m, pattern)
            if pattern.sleep == "longer" and new is not m:
                a = int(m.end.timestamp()) // 60
                bed.append(np.arange(a, a + SHIFT_MIN, dtype=np.int64))
            m = new
        out.append(m)
    in_bed = np.concatenate(bed) if bed else np.empty(0, np.int64)
    needs_steps = pattern.steps_factor != 1.0 or pattern.delay_min or len(in_bed)
    if needs_steps:
        none: tuple[NDArray[np.int64], NDArray[np.float64]] = (np.empty(0, np.int64), np.empty(0))
        recorded = _steps_map(messages) if pattern.delay_min else none
        out = [
            change_steps(m, pattern, onset, recorded, in_bed) if isinstance(m, ActivityBatch) else m
            for m in out
        ]
    out.sort(key=lambda m: (m.span()[1], m.span()[0], m.type))
    return out


def expressible(messages: Sequence[AnyMessage], pattern: DevicePattern) -> bool:
    """The recording has what the pattern changes (steps for the activity patterns).

    >>> expressible([], PATTERNS["activity"]), expressible([], PATTERNS["hypersomnia"])
    (False, True)
    """
    if pattern.needs_steps:
        return any(isinstance(m, ActivityBatch) and m.steps is not None for m in messages)
    return True


# --------------------------------------------------------------------------- onsets and runs
def span_dates(messages: Sequence[AnyMessage]) -> tuple[int, int]:
    """First and last local date (ordinals) the recording's messages cover."""
    lo = min(_local_min(m.span()[0], m.tz_offset_min) for m in messages) // 1440
    hi = max(_local_min(m.span()[1], m.tz_offset_min) - 1 for m in messages) // 1440
    return int(lo), int(hi)


def draw_onset(subject: str, seed: int, first: int, last: int) -> int:
    """The onset date of ``subject`` for ``seed``: uniform over ``first + 35 .. last - 14``
    (a fixed function of subject and seed).

    >>> a = draw_onset("p01", 0, 0, 150)
    >>> 35 <= a <= 136, a == draw_onset("p01", 0, 0, 150), a == draw_onset("p02", 0, 0, 150)
    (True, True, False)
    """
    lo, hi = first + MIN_BASELINE_DAYS, last - FOLLOW_DAYS
    if hi < lo:
        raise ValueError(
            f"recording of {subject}: {last - first + 1} days, needs at least "
            f"{MIN_BASELINE_DAYS + FOLLOW_DAYS + 1}"
        )
    key = int(hashlib.blake2b(subject.encode(), digest_size=4).hexdigest(), 16)
    return int(np.random.default_rng([seed, key]).integers(lo, hi + 1))


@dataclass(frozen=True)
class DeviceRun:
    """One replay of one pattern (dates are local date ordinals)."""

    subject: str
    seed: int
    pattern: str
    onset: int
    assessable_before: int  # days judged (past the warm-up) before the onset
    assessable: int  # days judged over the whole replay
    opened: tuple[int, ...]  # dates of ``opened`` alerts
    changed_nights: int  # main sleep logs changed in the 14 days from the onset

    def detection_day(self) -> int | None:
        """1 + days from the onset to the first ``opened`` alert on or after it."""
        return mt.detection_day(list(self.opened), self.onset)

    def false_before(self) -> int:
        """Episodes opened before the onset (nothing injected yet: false)."""
        return sum(1 for d in self.opened if d < self.onset)


def replay(
    runs: dict[str, list[AnyMessage]],
    params: RiskParams,
    engine: EngineParams | None = None,
) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Each named message list through :func:`phenotyping.pipeline.step` (then the
    subject's flush): its daily rows and alerts. The messages every list shares at its
    start are stepped once and the state copied (``to_bytes``/``from_bytes``, what the
    workers keep)."""
    names = list(runs)
    lists = [runs[k] for k in names]
    n = min(len(x) for x in lists)
    common = 0
    while common < n and all(x[common] is lists[0][common] for x in lists):
        common += 1
    engine = engine or EngineParams()
    state = SubjectState.new(engine, params)
    rows: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for m in lists[0][:common]:
        out = step(state, m)
        rows += out.daily
        alerts += out.alerts
    snap = state.to_bytes()
    result = {}
    for k in names:
        st = SubjectState.from_bytes(snap)
        r, a = list(rows), list(alerts)
        for m in runs[k][common:]:
            out = step(st, m)
            r += out.daily
            a += out.alerts
        subject = runs[k][0].subject_id if runs[k] else ""
        out = flush(subject, st)
        result[k] = (r + out.daily, a + out.alerts)
    return result


def run_subject(
    subject: str,
    messages: Sequence[AnyMessage],
    seed: int,
    params: RiskParams,
    names: Sequence[str] = tuple(PATTERNS),
) -> list[DeviceRun]:
    """Every expressible pattern of ``names`` on one recording for ``seed``."""
    first, last = span_dates(messages)
    onset = draw_onset(subject, seed, first, last)
    picked = [k for k in names if expressible(messages, PATTERNS[k])]
    lists = {k: inject(messages, PATTERNS[k], onset) for k in picked}
    out = []
    for k, (rows, alerts) in replay(lists, params).items():
        judged = [ordinal(r["date"]) for r in rows if r.get("risk_warming_up") is False]
        changed = sum(
            1
            for m in lists[k]
            if isinstance(m, SleepEpisode)
            and m.is_main_sleep
            and onset <= night(m) < onset + FOLLOW_DAYS
            and not any(m is x for x in messages)
        )
        out.append(
            DeviceRun(
                subject=subject,
                seed=seed,
                pattern=k,
                onset=onset,
                assessable_before=sum(1 for d in judged if d < onset),
                assessable=len(judged),
                opened=tuple(ordinal(a["date"]) for a in alerts if a["kind"] == "opened"),
                changed_nights=changed,
            )
        )
    return out


# --------------------------------------------------------------------------- the evaluation
def collect(
    recordings: dict[str, list[AnyMessage]],
    seeds: Sequence[int],
    params: RiskParams,
    names: Sequence[str] = tuple(PATTERNS),
    *,
    jobs: int = 1,
) -> list[DeviceRun]:
    """:func:`run_subject` for every recording and seed (sorted subject, then seed order;
    ``jobs`` forked worker processes when > 1: :func:`phenotyping.evaluate.harness.collect`)."""

    def job(item: tuple[str, list[AnyMessage]], seed: int) -> list[DeviceRun]:
        return run_subject(item[0], item[1], seed, params, names)

    return harness.collect({k: (k, m) for k, m in recordings.items()}, seeds, job, jobs=jobs)


def read_pmdata(root: Path, subjects: Sequence[str] | None = None) -> dict[str, list[AnyMessage]]:
    """Each PMData participant's messages as the Fitbit importer reads them."""
    from phenotyping.replay.formats import fitbit
    from phenotyping.replay.formats.base import ReadOptions, ReadReport

    out = {}
    for unit in sorted(p for p in root.iterdir() if p.is_dir()):
        if subjects is None or unit.name in subjects:
            out[unit.name] = list(fitbit.read(unit, report=ReadReport(), options=ReadOptions()))
    return out


def summarise(runs: Sequence[DeviceRun]) -> dict[str, Any]:
    """Per-seed figures with 95% t-intervals over seeds (and pooled counts).

    ``false_before``: episodes opened before the onset per 90 days judged before it;
    ``<pattern>.within_<h>``: share of the pattern's runs alerted within ``h`` days.
    """
    seeds = sorted({r.seed for r in runs})
    out: dict[str, Any] = {"seeds": seeds, "subjects": sorted({r.subject for r in runs})}
    null = [r for r in runs if r.pattern == "null"]
    if null:
        rates, k, days = [], 0, 0
        for s in seeds:
            sel = [r for r in null if r.seed == s]
            ep, ad = sum(r.false_before() for r in sel), sum(r.assessable_before for r in sel)
            rates.append(mt.per_90(ep, ad))
            k, days = k + ep, days + ad
        out["false_before"] = Figure.of(rates)
        out["false_before_pooled"] = (k, days, *mt.poisson_ci(k, days))
        whole = {r.subject: r for r in null}  # the whole null replay does not depend on the seed
        kk = sum(len(r.opened) for r in whole.values())
        dd = sum(r.assessable for r in whole.values())
        out["false_whole"] = (kk, dd, *mt.poisson_ci(kk, dd))
    for name in PATTERNS:
        sel = [r for r in runs if r.pattern == name]
        if name == "null" or not sel:
            continue
        out[f"{name}.runs"] = len(sel)
        out[f"{name}.subjects"] = sorted({r.subject for r in sel})
        out[f"{name}.nights"] = float(np.median([r.changed_nights for r in sel]))
        for h in HORIZONS:
            vals = [
                mt.within([r.detection_day() for r in sel if r.seed == s], h)
                for s in seeds
                if any(r.seed == s for r in sel)
            ]
            out[f"{name}.within_{h}"] = Figure.of(vals)
            out[f"{name}.pooled_{h}"] = sum(
                1 for r in sel if (x := r.detection_day()) is not None and x <= h
            )
    return out


def report(summary: dict[str, Any], title: str) -> str:
    """Markdown tables of :func:`summarise`."""
    s = summary
    lines = [
        f"### {title}",
        "",
        f"Participants {', '.join(s['subjects'])} x {len(s['seeds'])} seeds "
        f"({s['seeds'][0]}–{s['seeds'][-1]}), one onset per participant and seed; mean over "
        "seeds (95% t-interval over seeds).",
        "",
    ]
    if "false_before" in s:
        k, days, lo, hi = s["false_before_pooled"]
        kw, dw, lw, hw = s["false_whole"]
        lines += [
            "| nothing injected | value |",
            "|---|---|",
            f"| false elevated episodes / 90 person-days before the onset | "
            f"{s['false_before'].text()} |",
            f"| pooled over seeds: episodes / days judged before the onset (exact Poisson 95%) "
            f"| {k} / {days} ({lo:.2f}–{hi:.2f} per 90 d) |",
            f"| whole recordings: episodes / days judged (exact Poisson 95%) | {kw} / {dw} "
            f"({mt.per_90(kw, dw):.2f}; {lw:.2f}–{hw:.2f} per 90 d) |",
            "",
        ]
    lines += [
        "| relapse pattern (injected into the Fitbit messages) | runs | main sleep logs "
        "changed in 14 d (median) | alerted within 7 d, % | within 14 d, % |",
        "|---|---|---|---|---|",
    ]
    for name, pat in PATTERNS.items():
        if f"{name}.runs" in s:
            who = s[f"{name}.subjects"]
            runs = f"{s[f'{name}.runs']} ({', '.join(who)})" if len(who) < 4 else s[f"{name}.runs"]
            lines.append(
                f"| {pat.label} | {runs} | {s[f'{name}.nights']:.0f} | "
                f"{s[f'{name}.within_7'].text(pct=True)} | "
                f"{s[f'{name}.within_14'].text(pct=True)} |"
            )
    return "\n".join(lines) + "\n"
