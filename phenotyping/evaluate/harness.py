"""The evaluation: subjects split once into tuning and reporting halves, surrogates per
seed, every scenario through the engine, figures per seed and their 95% intervals.

Only the TUNING half may be used to choose engine settings (``RiskParams``); the tables a
report quotes come from the REPORTING half. The split is fixed (a seeded permutation of
the sorted subject names, :data:`SPLIT_SEED`) and never re-drawn.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from phenotyping.evaluate import metrics as mt
from phenotyping.evaluate.runner import ONSET, RunResult, Source, cached_rows, run_scenarios
from phenotyping.evaluate.scenarios import SCENARIOS
from phenotyping.risk.engine import RiskParams

SPLIT_SEED = 20261128
HORIZONS = (7, 14)


def split(subjects: Sequence[str], seed: int = SPLIT_SEED) -> tuple[list[str], list[str]]:
    """(tuning, reporting): a fixed seeded half of the sorted subjects each.

    Examples
    --------
    >>> t, r = split([f"s{i}" for i in range(6)])
    >>> len(t), len(r), sorted(t + r) == [f"s{i}" for i in range(6)], set(t) & set(r)
    (3, 3, True, set())
    >>> split([f"s{i}" for i in range(6)]) == (t, r)
    True
    """
    names = sorted(subjects)
    perm = np.random.default_rng(seed).permutation(len(names))
    half = len(names) // 2
    return sorted(names[i] for i in perm[:half]), sorted(names[i] for i in perm[half:])


@dataclass(frozen=True)
class Record:
    subject: str
    seed: int
    scenario: str
    result: RunResult


R = TypeVar("R")
S = TypeVar("S")  # what a subject is to the work: a Source, a message list, ...
_SRC: dict[str, Any] = {}
_WORK: Callable[[Any, int], list[Any]] | None = None


def _init(sources: dict[str, Any], work: Callable[[Any, int], list[Any]]) -> None:
    global _SRC, _WORK
    _SRC, _WORK = sources, work


def _one(task: tuple[str, int]) -> list[Any]:
    assert _WORK is not None
    return _WORK(_SRC[task[0]], task[1])


def collect(
    sources: dict[str, S], seeds: Sequence[int], work: Callable[[S, int], list[R]], *, jobs: int = 1
) -> list[R]:
    """``work(source, seed)`` for every subject and seed, in sorted subject then seed
    order; ``jobs`` worker processes (fork: the sources and ``work`` are inherited, not
    pickled) when > 1. The one driver of every evaluation (:class:`Scenarios`,
    :class:`phenotyping.evaluate.feedback.Feedback`, the device recordings of
    :mod:`phenotyping.evaluate.device`).

    Examples
    --------
    >>> src = Source("s1", 0, (0,), np.zeros((1, 1440)))
    >>> collect({"s1": src}, [0, 1], lambda s, seed: [(s.subject, seed)])
    [('s1', 0), ('s1', 1)]
    """
    tasks = [(s, seed) for s in sorted(sources) for seed in seeds]
    if jobs <= 1:
        out = [work(sources[s], seed) for s, seed in tasks]
    else:
        ctx = mp.get_context("fork")
        with ctx.Pool(jobs, initializer=_init, initargs=(sources, work)) as pool:
            out = pool.map(_one, tasks, chunksize=1)
    return [r for rs in out for r in rs]


@dataclass(frozen=True)
class Scenarios:
    """The main evaluation's work: every scenario of ``names`` through the engine with
    ``params`` (rows cached under ``cache``)."""

    params: RiskParams
    names: tuple[str, ...] = tuple(SCENARIOS)
    cache: Path | None = None

    def __call__(self, src: Source, seed: int) -> list[Record]:
        rows = cached_rows(src, seed, self.names, self.cache)
        res = run_scenarios(rows, self.params, src.subject, src.first_date)
        return [Record(src.subject, seed, k, v) for k, v in res.items()]


def detected(result: RunResult) -> int | None:
    """Detection day of a run (see :func:`metrics.detection_day`)."""
    return mt.detection_day(list(result.opened), ONSET)


def raised_in(result: RunResult, days: int) -> bool:
    """An episode opened during a negative control of ``days`` days (0: permanent, judged
    over 14 days) or in the 7 days after it."""
    end = ONSET + (days + 7 if days > 0 else 14)
    return any(ONSET <= d < end for d in result.opened)


@dataclass(frozen=True)
class Figure:
    """A figure's per-seed values and their mean with a 95% interval."""

    per_seed: tuple[float, ...]
    mean: float
    lo: float
    hi: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Figure:
        m, lo, hi = mt.mean_ci(values)
        return cls(tuple(values), m, lo, hi)

    def text(self, digits: int = 2, pct: bool = False) -> str:
        f = 100.0 if pct else 1.0
        d = 0 if pct else digits
        return f"{self.mean * f:.{d}f} ({self.lo * f:.{d}f}–{self.hi * f:.{d}f})"


def summarise(records: Sequence[Record]) -> dict[str, Any]:
    """Per-seed figures with 95% intervals (see :mod:`phenotyping.evaluate.metrics`)."""
    seeds = sorted({r.seed for r in records})
    by: dict[tuple[str, int], list[RunResult]] = {}
    for r in records:
        by.setdefault((r.scenario, r.seed), []).append(r.result)
    names = [n for n in SCENARIOS if any(k[0] == n for k in by)]
    out: dict[str, Any] = {"seeds": seeds, "subjects": len({r.subject for r in records})}
    if "null" in names:
        rates, warm, window = [], [], []
        k = days = 0
        for s in seeds:
            runs = by[("null", s)]
            ep = sum(len(x.opened) for x in runs)
            ad = sum(x.assessable for x in runs)
            k, days = k + ep, days + ad
            rates.append(mt.per_90(ep, ad))
            warm.append(float(np.median([x.first_assessable or 0 for x in runs])))
            window.append(float(np.mean([raised_in(x, 7) for x in runs])))
        out["false_per_90"] = Figure.of(rates)
        out["false_pooled"] = (k, days, *mt.poisson_ci(k, days))
        out["warmup_days"] = Figure.of(warm)
        out["null_in_week_window"] = Figure.of(window)
    for n in names:
        sc = SCENARIOS[n]
        if sc.kind == "positive":
            for h in HORIZONS:
                vals = [mt.within([detected(x) for x in by[(n, s)]], h) for s in seeds]
                out[f"{n}.within_{h}"] = Figure.of(vals)
        elif sc.kind == "negative":
            vals = [float(np.mean([raised_in(x, sc.days) for x in by[(n, s)]])) for s in seeds]
            out[f"{n}.raised"] = Figure.of(vals)
    if "null" in names and "step" in names:
        f = out["false_per_90"].mean
        sens = out["step.within_14"].mean
        for p in (0.2, 0.5):
            out[f"ppv_{int(p * 100)}"] = mt.ppv(sens, f, p)
            out[f"alerts_week_{int(p * 100)}"] = mt.alerts_per_clinician_week(sens, f, p)
    return out


def report(summary: dict[str, Any], title: str) -> str:
    """Markdown tables of a summary."""
    s = summary
    lines = [f"### {title}", ""]
    lines.append(
        f"{s['subjects']} subjects x {len(s['seeds'])} seeds ({s['seeds'][0]}–"
        f"{s['seeds'][-1]}); mean over seeds (95% t-interval over seeds)."
    )
    lines.append("")
    if "false_per_90" in s:
        k, days, lo, hi = s["false_pooled"]
        lines += [
            "| stable people (nothing injected) | value |",
            "|---|---|",
            f"| false elevated episodes / 90 person-days | {s['false_per_90'].text()} |",
            f"| pooled: episodes / assessable days (exact Poisson 95%) | {k} / {days} "
            f"({lo:.2f}–{hi:.2f} per 90 d) |",
            f"| days to the first possible alert (median of runs) | {s['warmup_days'].text(1)} |",
            f"| runs with a false episode in the week after the onset day | "
            f"{s['null_in_week_window'].text(pct=True)} % |",
            "",
        ]
    lines += ["| relapse pattern | alerted within 7 d, % | within 14 d, % |", "|---|---|---|"]
    for n, sc in SCENARIOS.items():
        if sc.kind == "positive" and f"{n}.within_7" in s:
            lines.append(
                f"| {sc.label} | {s[f'{n}.within_7'].text(pct=True)} | "
                f"{s[f'{n}.within_14'].text(pct=True)} |"
            )
    lines += [
        "",
        "| negative control (not a relapse) | runs with an elevated alert, % |",
        "|---|---|",
    ]
    for n, sc in SCENARIOS.items():
        if sc.kind == "negative" and f"{n}.raised" in s:
            lines.append(f"| {sc.label} | {s[f'{n}.raised'].text(pct=True)} |")
    if "ppv_20" in s:
        lines += [
            "",
            "| 50-patient caseload (combined step, detection within 14 d) | 20% relapse / quarter"
            " | 50% relapse / quarter |",
            "|---|---|---|",
            f"| new alerts per clinician-week | {s['alerts_week_20']:.1f} | "
            f"{s['alerts_week_50']:.1f} |",
            f"| PPV (share of alerts that are a relapse) | {100 * s['ppv_20']:.0f}% | "
            f"{100 * s['ppv_50']:.0f}% |",
        ]
    return "\n".join(lines) + "\n"
