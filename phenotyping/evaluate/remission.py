"""Is the engine blind right after a treatment response? Detection of a relapse that starts
soon after a response, with and without the patient's known remission days.

Each relapse pattern's surrogate run (:mod:`phenotyping.evaluate.runner`: real weeks, the
pattern injected from :data:`~phenotyping.evaluate.runner.ONSET`) gets a clinician-marked
``response`` ``lag`` days before the onset. Two variants:

``prior``
    only the response: the baseline restarts from it, with the population prior (today's
    behaviour when nothing earlier is known);
``remission``
    a ``remission_period`` marked over the four weeks before the response (the surrogate's
    days ``ONSET - lag - 28`` to ``ONSET - lag - 1``: the patient's own usual days) and then
    the response: those days are the baseline after it.

Both run through :func:`phenotyping.pipeline.step` (the clinical events as the messages a
worker receives, the daily rows judged by ``RiskState.assess`` in date order, as the runner
does). Detection = the first ``opened`` alert on or after the onset, within 7 and 14 days;
false episodes = episodes opened from the response on in the run with nothing injected.

Examples
--------
>>> events_for("remission", lag=2)
[(12, 'remission_period', 39), (40, 'response', None)]
>>> events_for("prior", lag=2)
[(40, 'response', None)]
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing as mp
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phenotyping.evaluate import metrics as mt
from phenotyping.evaluate.runner import ONSET, Source, cached_rows
from phenotyping.evaluate.scenarios import SCENARIOS
from phenotyping.events import ClinicalEvent
from phenotyping.features.time import ordinal
from phenotyping.pipeline import SubjectState, step
from phenotyping.risk.engine import RiskParams

VARIANTS = ("prior", "remission")
REMISSION_DAYS = 28


def events_for(variant: str, lag: int) -> list[tuple[int, str, int | None]]:
    """(day index, kind, ``until`` day index) of the clinical events of a variant; the
    remission period is marked the day before the response (events of one day are put
    through before that day's row)."""
    response = ONSET - lag
    out: list[tuple[int, str, int | None]] = []
    if variant == "remission":
        out.append((response - REMISSION_DAYS, "remission_period", response - 1))
    out.append((response, "response", None))
    return out


@dataclass(frozen=True)
class Record:
    subject: str
    seed: int
    scenario: str
    variant: str
    detected: int | None  # detection day (1 = the onset day; None: no alert by the end)
    episodes: int  # episodes opened from the response day on
    assessable: int  # assessable days from the response day on


def clinical_event(
    subject: str, first_date: int, tz_offset_min: int, day: int, kind: str, until: int | None
) -> ClinicalEvent:
    """A clinician's event at local noon of day index ``day`` (``until``: day index)."""
    tz = dt.timezone(dt.timedelta(minutes=tz_offset_min))
    epoch = dt.date(1970, 1, 1)
    return ClinicalEvent(
        event_id=f"clinical:{subject}:{kind}:{day}",
        subject_id=subject,
        source="evaluate",
        tz_offset_min=tz_offset_min,
        at=dt.datetime.combine(epoch + dt.timedelta(days=first_date + day), dt.time(12), tz),
        kind=kind,
        until=None if until is None else epoch + dt.timedelta(days=first_date + until),
    )


def run_after_response(
    rows: Sequence[dict[str, Any]],
    params: RiskParams,
    subject: str,
    first_date: int,
    *,
    variant: str,
    lag: int,
    tz_offset_min: int = 0,
) -> tuple[int | None, int, int]:
    """(detection day of the first episode opened on or after the onset, 1 = the onset
    day; episodes and assessable days from
    the response on) of one run; the variant's events go through
    :func:`phenotyping.pipeline.step` on the response day, before its row is judged."""
    state = SubjectState.new(risk=params)
    response = ONSET - lag
    events = events_for(variant, lag)
    detected: int | None = None
    episodes = assessable = 0
    for r in rows:
        i = ordinal(r["date"]) - first_date
        if i == response:
            for day, kind, until in events:
                step(state, clinical_event(subject, first_date, tz_offset_min, day, kind, until))
        row = {k: (math.nan if v is None else v) for k, v in r.items()}
        cols, alerts, _ = state.risk.assess(subject, row)
        if i < response:
            continue
        assessable += int(bool(cols) and not cols["risk_warming_up"])
        for a in alerts:
            if a["kind"] == "opened":
                episodes += 1
                if i >= ONSET and detected is None:
                    detected = i - ONSET + 1
    return detected, episodes, assessable


_SRC: dict[str, Source] = {}


def _init(sources: dict[str, Source]) -> None:
    global _SRC
    _SRC = sources


def _one(args: tuple[str, int, RiskParams, tuple[str, ...], Path | None, int]) -> list[Record]:
    subject, seed, params, names, cache, lag = args
    src = _SRC[subject]
    rows = cached_rows(src, seed, names, cache)
    out = []
    for name in names:
        for variant in VARIANTS:
            det, ep, ad = run_after_response(
                rows[name],
                params,
                subject,
                src.first_date,
                variant=variant,
                lag=lag,
                tz_offset_min=src.offset,
            )
            out.append(Record(subject, seed, name, variant, det, ep, ad))
    return out


def collect(
    sources: dict[str, Source],
    seeds: Sequence[int],
    params: RiskParams,
    *,
    lag: int,
    scenarios: Sequence[str],
    cache: Path | None = None,
    jobs: int = 1,
) -> list[Record]:
    """Every (subject, seed, scenario, variant) run."""
    tasks = [
        (s, seed, params, tuple(scenarios), cache, lag) for s in sorted(sources) for seed in seeds
    ]
    if jobs <= 1:
        _init(sources)
        out = [_one(t) for t in tasks]
    else:
        ctx = mp.get_context("fork")
        with ctx.Pool(jobs, initializer=_init, initargs=(sources,)) as pool:
            out = pool.map(_one, tasks, chunksize=1)
    return [r for rs in out for r in rs]


def report(records: Sequence[Record], lag: int) -> str:
    """Markdown: per pattern and variant, detection within 7 and 14 days of the onset
    (mean over seeds, 95% t-interval); for the run with nothing injected, episodes per 90
    assessable person-days from the response on."""
    seeds = sorted({r.seed for r in records})
    names = [n for n in SCENARIOS if any(r.scenario == n for r in records)]
    lines = [
        f"Response {lag} days before the onset; remission period = the 28 days before the "
        "response.",
        "",
        "| pattern | baseline after the response | within 7 d, % | within 14 d, % |",
        "|---|---|---|---|",
    ]
    for n in names:
        for v in VARIANTS:
            runs = [r for r in records if r.scenario == n and r.variant == v]
            if n == "null":
                rates = []
                for s in seeds:
                    rs = [r for r in runs if r.seed == s]
                    rates.append(
                        mt.per_90(sum(r.episodes for r in rs), sum(r.assessable for r in rs))
                    )
                m, lo, hi = mt.mean_ci(rates)
                lines.append(
                    f"| nothing injected: false episodes / 90 pd | {v} | "
                    f"{m:.2f} ({lo:.2f}–{hi:.2f}) | |"
                )
                continue
            cells = []
            for h in (7, 14):
                vals = [mt.within([r.detected for r in runs if r.seed == s], h) for s in seeds]
                m, lo, hi = mt.mean_ci(vals)
                cells.append(f"{100 * m:.0f} ({100 * lo:.0f}–{100 * hi:.0f})")
            lines.append(f"| {SCENARIOS[n].label} | {v} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"
