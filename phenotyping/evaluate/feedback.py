"""What clinician feedback does on the negative controls (issue 13 item 3).

For each negative control (ordinary life, not a relapse) a run is repeated with a clinician
who acknowledges the FIRST episode opened on or after the onset day: a
``ClinicalEvent(kind="feedback")`` dated the alert's date + 1 day is put through
:func:`phenotyping.pipeline.step` (the path a worker or a replay takes) before that day's
row is judged. Two kinds of acknowledgement are measured separately:

``reason``
    the reason that fits the control (:data:`FITTING`): ``holiday_travel``, ``illness`` or
    ``device_problem``, with ``until`` the control's last day (a permanent device change:
    the run's last day). When the alert comes after the control ended, ``until`` lies
    before the feedback date and the engine applies its own default period.
``fine``
    ``contacted_fine`` without ``until`` (the engine's ``contacted_fine_days``).

Daily rows are judged as :func:`phenotyping.pipeline.step` judges them (``RiskState.assess``
in date order, as :mod:`phenotyping.evaluate.runner` does). Figures count from the onset day
only (the days before it are the same in every variant): episodes opened per 90 assessable
person-days, the share of runs alerted (identical with and without feedback by construction:
feedback follows the first alert) and the share of runs with a further episode after the
acknowledged one.

Examples
--------
>>> FITTING["holiday"], FITTING["device_down"], control_end(7, 42, 63), control_end(0, 42, 63)
('holiday_travel', 'device_problem', 48, 62)
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing as mp
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phenotyping.evaluate import metrics as mt
from phenotyping.evaluate.runner import ONSET, Source, cached_rows
from phenotyping.evaluate.scenarios import SCENARIOS
from phenotyping.events import ClinicalEvent
from phenotyping.features.time import ordinal
from phenotyping.pipeline import SubjectState, step
from phenotyping.risk.engine import RiskParams

FITTING = {
    "holiday": "holiday_travel",
    "illness": "illness",
    "trip": "holiday_travel",
    "device_up": "device_problem",
    "device_down": "device_problem",
}
VARIANTS = ("none", "reason", "fine")


def control_end(days: int, onset: int, n_days: int) -> int:
    """Day index of a control's last day (``days`` 0: it lasts to the run's last day)."""
    return onset + days - 1 if days > 0 else n_days - 1


@dataclass(frozen=True)
class FeedbackRun:
    """One run's figures from the onset day on."""

    assessable: int  # assessable days from the onset day
    episodes: int  # episodes opened from the onset day
    acknowledged: int | None  # day index of the acknowledged episode (None: no alert)
    repeat: bool  # another episode opened after the acknowledged one


def feedback_event(
    subject: str, day: int, first_date: int, tz_offset_min: int, reason: str, until: int | None
) -> ClinicalEvent:
    """The acknowledgement as the feed publishes it: local noon of day index ``day``."""
    tz = dt.timezone(dt.timedelta(minutes=tz_offset_min))
    local = dt.date(1970, 1, 1) + dt.timedelta(days=first_date + day)
    return ClinicalEvent(
        event_id=f"feedback:{subject}:{day}",
        subject_id=subject,
        source="evaluate",
        tz_offset_min=tz_offset_min,
        at=dt.datetime.combine(local, dt.time(12), tz),
        kind="feedback",
        reason=reason,  # checked by the model (FeedbackReason)
        until=None if until is None else dt.date(1970, 1, 1) + dt.timedelta(first_date + until),
    )


def run_feedback(
    rows: Sequence[dict[str, Any]],
    params: RiskParams,
    subject: str,
    first_date: int,
    *,
    tz_offset_min: int = 0,
    onset: int = ONSET,
    reason: str | None = None,
    until: int | None = None,
) -> FeedbackRun:
    """The risk engine over daily rows in date order; with ``reason``, the first episode
    opened on or after ``onset`` is acknowledged with it (``until``: day index) on the next
    day, through :func:`phenotyping.pipeline.step`, before that day is judged."""
    state = SubjectState.new(risk=params)
    assessable = episodes = 0
    acked: int | None = None
    repeat = False
    pending: int | None = None
    for r in rows:
        i = ordinal(r["date"]) - first_date
        if pending is not None and i >= pending and reason is not None:
            step(state, feedback_event(subject, pending, first_date, tz_offset_min, reason, until))
            pending = None
        row = {k: (math.nan if v is None else v) for k, v in r.items()}
        cols, alerts, _ = state.risk.assess(subject, row)
        if i < onset:
            continue
        if cols and not cols["risk_warming_up"]:
            assessable += 1
        for a in alerts:
            if a["kind"] != "opened":
                continue
            episodes += 1
            if acked is None:
                acked, pending = i, i + 1
            else:
                repeat = True
    return FeedbackRun(assessable, episodes, acked, repeat)


@dataclass(frozen=True)
class Record:
    subject: str
    seed: int
    scenario: str
    variant: str
    run: FeedbackRun


_SRC: dict[str, Source] = {}


def _init(sources: dict[str, Source]) -> None:
    global _SRC
    _SRC = sources


def _one(args: tuple[str, int, RiskParams, tuple[str, ...], Path | None]) -> list[Record]:
    subject, seed, params, names, cache = args
    src = _SRC[subject]
    rows = cached_rows(src, seed, names, cache)
    out = []
    for name in names:
        r = rows[name]
        n_days = ordinal(r[-1]["date"]) - src.first_date + 1
        end = control_end(SCENARIOS[name].days, ONSET, n_days)
        for variant in VARIANTS:
            reason = {"none": None, "reason": FITTING[name], "fine": "contacted_fine"}[variant]
            run = run_feedback(
                r,
                params,
                subject,
                src.first_date,
                tz_offset_min=src.offset,
                reason=reason,
                until=end if variant == "reason" else None,
            )
            out.append(Record(subject, seed, name, variant, run))
    return out


def collect(
    sources: dict[str, Source],
    seeds: Sequence[int],
    params: RiskParams,
    *,
    scenarios: Sequence[str] = tuple(FITTING),
    cache: Path | None = None,
    jobs: int = 1,
) -> list[Record]:
    """Every (subject, seed, negative control, variant) run."""
    tasks = [(s, seed, params, tuple(scenarios), cache) for s in sorted(sources) for seed in seeds]
    if jobs <= 1:
        _init(sources)
        out = [_one(t) for t in tasks]
    else:
        ctx = mp.get_context("fork")
        with ctx.Pool(jobs, initializer=_init, initargs=(sources,)) as pool:
            out = pool.map(_one, tasks, chunksize=1)
    return [r for rs in out for r in rs]


def summarise(records: Sequence[Record]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (control, variant): per-seed figures with 95% t-intervals over seeds, and the
    pooled episodes / assessable days with an exact Poisson interval."""
    from phenotyping.evaluate.harness import Figure

    seeds = sorted({r.seed for r in records})
    by: dict[tuple[str, str, int], list[FeedbackRun]] = {}
    for r in records:
        by.setdefault((r.scenario, r.variant, r.seed), []).append(r.run)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for name in dict.fromkeys(r.scenario for r in records):
        for v in VARIANTS:
            rate, alerted, repeat = [], [], []
            k = days = 0
            for s in seeds:
                runs = by[(name, v, s)]
                ep, ad = sum(x.episodes for x in runs), sum(x.assessable for x in runs)
                k, days = k + ep, days + ad
                rate.append(mt.per_90(ep, ad))
                alerted.append(float(np.mean([x.acknowledged is not None for x in runs])))
                repeat.append(float(np.mean([x.repeat for x in runs])))
            out[(name, v)] = {
                "per_90": Figure.of(rate),
                "alerted": Figure.of(alerted),
                "repeat": Figure.of(repeat),
                "pooled": (k, days, *mt.poisson_ci(k, days)),
            }
    return out


def report(summary: dict[tuple[str, str], dict[str, Any]], subjects: int, seeds: int) -> str:
    """The Markdown table of :func:`summarise`."""
    label = {"none": "no feedback", "reason": "fitting reason", "fine": "contacted_fine"}
    lines = [
        f"{subjects} subjects x {seeds} seeds; from the onset day to the run's end; mean over "
        "seeds (95% t-interval over seeds); pooled: exact Poisson 95%.",
        "",
        "| negative control | feedback on the first alert | false episodes / 90 pd | pooled "
        "episodes / days (95%) | runs alerted, % | runs alerted again after the "
        "acknowledged alert, % |",
        "|---|---|---|---|---|---|",
    ]
    for (name, v), f in summary.items():
        k, days, lo, hi = f["pooled"]
        what = label[v] + (f" (`{FITTING[name]}`)" if v == "reason" else "")
        lines.append(
            f"| {SCENARIOS[name].label} | {what} | {f['per_90'].text()} | {k} / {days} "
            f"({lo:.2f}–{hi:.2f}) | {f['alerted'].text(pct=True)} | "
            f"{f['repeat'].text(pct=True)} |"
        )
    return "\n".join(lines) + "\n"
