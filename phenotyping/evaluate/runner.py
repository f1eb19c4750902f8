"""Running scenarios: minute series -> daily feature rows (cached) -> risk engine.

The day engine (:class:`phenotyping.features.day.SubjectDays`, fed by
:func:`phenotyping.pipeline.apply` exactly as :func:`phenotyping.pipeline.step` feeds it)
turns each scenario's minute series into daily feature rows once; the risk engine
(:class:`phenotyping.risk.engine.RiskState`, the object ``step`` calls) then runs over those
rows, as often as needed (different settings), in date order, as ``step`` would.

The pre-onset days are shared by every scenario of one surrogate: the day engine is run to
the onset once, its state copied (``to_bytes``/``from_bytes``, the state the workers keep),
and each scenario continues from that copy. Rows are cached as JSON per subject and seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phenotyping.evaluate import surrogates as sg
from phenotyping.evaluate.scenarios import SCENARIOS, Scenario
from phenotyping.events import ActivityBatch
from phenotyping.features.day import EngineParams, SubjectDays
from phenotyping.pipeline import apply
from phenotyping.risk.engine import RiskParams, RiskState, config_version, ordinal

N_WEEKS = 9
ONSET = 42  # day index of the onset: Monday of week 7 (6 weeks of baseline before it)
CACHE_VERSION = 2  # bump when a scenario or the surrogate changes


@dataclass(frozen=True)
class Source:
    """A control's complete days: what its surrogates are built from."""

    subject: str
    offset: int  # UTC offset (min) of the recording's first sample
    dates: tuple[int, ...]  # ordinals of the complete days (pool order)
    pool: NDArray[np.float64]  # (n, 1440) minute counts of those days

    @property
    def first_date(self) -> int:
        """The surrogate's day 0: the first Monday on or after the first complete day."""
        d = min(self.dates)
        return d + (7 - sg.weekday(d)) % 7


def load_source(subject: str, messages: Iterable[ActivityBatch]) -> Source:
    """Replay a recording's activity messages (e.g. a Depresjon CSV read by
    ``replay.formats.actiwatch``) through the day engine and keep its complete days."""
    msgs = list(messages)
    days = SubjectDays(EngineParams())
    rows: list[dict[str, Any]] = []
    for m in msgs:
        apply(days, m)
        rows += days.advance()
    rows += days.close_remaining_days()
    complete = [ordinal(r["date"]) for r in rows if sg.is_complete(r)]
    parts = [
        (int(m.start.timestamp()) // 60, m.tz_offset_min, np.array(m.counts, dtype=np.float64))
        for m in msgs
        if m.counts is not None
    ]
    return Source(
        subject=subject,
        offset=int(msgs[0].tz_offset_min),
        dates=tuple(complete),
        pool=sg.local_day_grid(parts, complete),
    )


def surrogate(src: Source, seed: int, weeks: int = N_WEEKS) -> NDArray[np.float64]:
    """The subject's weekly block-bootstrap surrogate of ``weeks`` weeks for ``seed``."""
    key = [seed, int(hashlib.blake2b(src.subject.encode(), digest_size=4).hexdigest(), 16)]
    order = sg.week_blocks(list(src.dates), weeks, key)
    return sg.surrogate_series(src.pool, order)


def _messages(src: Source, series: NDArray[np.float64], first_day: int) -> list[ActivityBatch]:
    tz = dt.timezone(dt.timedelta(minutes=src.offset))
    out = []
    batches = sg.day_batches(series, src.first_date, src.offset)
    for i, (start_s, counts) in enumerate(batches[first_day:], start=first_day):
        out.append(
            ActivityBatch(
                event_id=f"activity:{src.subject}:surrogate:{i}",
                subject_id=src.subject,
                source="surrogate",
                tz_offset_min=src.offset,
                start=dt.datetime.fromtimestamp(start_s, tz),
                epoch_s=60,
                counts=counts.tolist(),
            )
        )
    return out


def _feed(days: SubjectDays, msgs: Iterable[ActivityBatch], final: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for m in msgs:
        apply(days, m)
        rows += days.advance()
    if final:
        rows += days.close_remaining_days()
    return rows


def scenario_rows(
    src: Source,
    seed: int,
    names: Sequence[str],
    engine: EngineParams | None = None,
    *,
    weeks: int = N_WEEKS,
    catalogue: Mapping[str, Scenario] = SCENARIOS,
) -> dict[str, list[dict[str, Any]]]:
    """Daily feature rows of each named scenario (of ``catalogue``) on the subject's
    surrogate of ``weeks`` weeks for ``seed``."""
    base = surrogate(src, seed, weeks)
    engine = engine or EngineParams()
    days = SubjectDays(engine)
    pre = _feed(days, _messages(src, base, 0)[:ONSET], final=False)
    snapshot = days.to_bytes()
    out: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        series = catalogue[name].apply(base, ONSET, seed)
        cont = SubjectDays.from_bytes(snapshot)
        post = _feed(cont, _messages(src, series, ONSET), final=True)
        out[name] = [_clean(r) for r in pre + post]
    return out


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }


def cached_rows(
    src: Source, seed: int, names: Sequence[str], cache: Path | None
) -> dict[str, list[dict[str, Any]]]:
    """:func:`scenario_rows` of ``names`` through a JSON cache of every scenario, keyed by
    everything that shapes the rows (a subset never recomputes the others)."""
    if cache is None:
        return scenario_rows(src, seed, names)
    key = json.dumps([CACHE_VERSION, N_WEEKS, ONSET, asdict(EngineParams()), src.subject, seed])
    digest = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    path = cache / f"{src.subject}-{seed}-{digest}.json"
    if path.exists():
        data: dict[str, list[dict[str, Any]]] = json.loads(path.read_text())
    else:
        data = scenario_rows(src, seed, list(SCENARIOS))
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    return {k: data[k] for k in names}


@dataclass(frozen=True)
class RunResult:
    """What the tables need from one risk run (day indices relative to the surrogate)."""

    assessable: int  # days judged after the warm-up
    first_assessable: int | None  # day index of the first day past the warm-up
    opened: tuple[int, ...]  # day indices of ``opened`` alerts
    levels: tuple[str, ...]  # risk level of every day


def run_risk(
    rows: Sequence[dict[str, Any]], params: RiskParams, subject: str, first_date: int
) -> RunResult:
    """The risk engine over daily rows in date order (what ``pipeline.step`` does per row)."""
    state = RiskState(params=params, version=config_version(params))
    opened: list[int] = []
    levels: list[str] = []
    assessable = 0
    first: int | None = None
    for r in rows:
        row = {k: (math.nan if v is None else v) for k, v in r.items()}
        cols, alerts, _ = state.assess(subject, row)
        i = ordinal(r["date"]) - first_date
        if cols and not cols["risk_warming_up"]:
            assessable += 1
            first = i if first is None else first
        levels.append(str(cols.get("risk_level", "none")))
        opened += [i for a in alerts if a["kind"] == "opened"]
    return RunResult(assessable, first, tuple(opened), tuple(levels))


def run_scenarios(
    rows: dict[str, list[dict[str, Any]]], params: RiskParams, subject: str, first_date: int
) -> dict[str, RunResult]:
    """:func:`run_risk` on every scenario; the rows every scenario shares (before the
    onset) are judged once and the risk state copied (``to_bytes``/``from_bytes``)."""
    names = list(rows)
    n = min(len(v) for v in rows.values())
    common = 0
    while common < n and all(rows[k][common] == rows[names[0]][common] for k in names):
        common += 1
    state = RiskState(params=params, version=config_version(params))
    acc = _Acc()
    for r in rows[names[0]][:common]:
        acc.add(state, subject, r, first_date)
    snap, acc_snap = state.to_bytes(), acc.copy()
    out = {}
    for k in names:
        st, a = RiskState.from_bytes(snap), acc_snap.copy()
        for r in rows[k][common:]:
            a.add(st, subject, r, first_date)
        out[k] = RunResult(a.assessable, a.first, tuple(a.opened), tuple(a.levels))
    return out


@dataclass
class _Acc:
    assessable: int = 0
    first: int | None = None
    opened: list[int] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)

    def copy(self) -> _Acc:
        return _Acc(self.assessable, self.first, list(self.opened), list(self.levels))

    def add(self, state: RiskState, subject: str, r: dict[str, Any], first_date: int) -> None:
        row = {k: (math.nan if v is None else v) for k, v in r.items()}
        cols, alerts, _ = state.assess(subject, row)
        i = ordinal(r["date"]) - first_date
        if cols and not cols["risk_warming_up"]:
            self.assessable += 1
            self.first = i if self.first is None else self.first
        self.levels.append(str(cols.get("risk_level", "none")))
        self.opened += [i for a in alerts if a["kind"] == "opened"]
