"""``mmash``: MMASH ``user_N`` folders.

``RR.csv`` (Polar H7 beat intervals), ``Actigraph.csv`` (1-s ActiGraph epochs) and
``sleep.csv`` (the device software's sleep summary). MMASH gives a day index (1, 2) but no
calendar date, so day 1 is anchored on a fixed date (:data:`MMASH_DAY1`, arbitrary,
documented) at a fixed offset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phenotyping.errors import FormatError
from phenotyping.events import ActivityBatch, AnyMessage, HeartBeatBatch, SleepEpisode
from phenotyping.replay.formats.base import (
    M,
    ReadOptions,
    ReadReport,
    event_id,
    nullable,
    validated,
)

NAME = "mmash"
#: MMASH has day indices only: day 1 is anchored here (an arbitrary, documented choice).
MMASH_DAY1 = dt.date(2018, 1, 1)
MMASH_OFFSET_MIN = 60


def sniff(path: Path) -> bool:
    """A folder holding ``RR.csv`` or ``RR.csv.gz``."""
    return path.is_dir() and ((path / "RR.csv.gz").exists() or (path / "RR.csv").exists())


def units(path: Path) -> list[Path]:
    """The MMASH user folders under ``path`` (``path`` itself when it is one)."""
    if sniff(path):
        return [path]
    if not path.is_dir():
        return []
    return [p for p in sorted(path.rglob("*")) if sniff(p)]


def read(
    unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
) -> Iterator[AnyMessage]:
    """The reader contract's ``read``: :func:`read_mmash` (the offset is fixed)."""
    return read_mmash(unit, report=report)


def _mmash_times(day: pd.Series, clock: pd.Series) -> pd.Series:
    """Recording day (1, 2, ...) and clock time -> naive local times; NaT where either is
    unusable (a day outside 1..366 or a clock outside 0..48 h would overflow pandas'
    nanosecond arithmetic)."""
    base = pd.Timestamp(MMASH_DAY1)
    t = pd.to_timedelta(clock, errors="coerce")
    t = t.where((t >= pd.Timedelta(0)) & (t <= pd.Timedelta(hours=48)))
    d = pd.to_numeric(day, errors="coerce")
    d = d.where((d >= 1) & (d <= 366))
    return base + pd.to_timedelta(d - 1, unit="D") + t


_MMASH_COLUMNS = {
    "Actigraph": {"Axis1", "day", "time"},
    "RR": {"ibi_s", "day", "time"},
    "sleep": {"In Bed Date", "In Bed Time", "Out Bed Date", "Out Bed Time"},
}


def _mmash_csv(folder: Path, name: str) -> pd.DataFrame | None:
    for candidate in (folder / f"{name}.csv.gz", folder / f"{name}.csv"):
        if candidate.exists():
            try:
                df = pd.read_csv(candidate, index_col=0)
            except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
                raise FormatError(f"{candidate}: unreadable ({exc})") from None
            missing = _MMASH_COLUMNS[name] - set(df.columns)
            if missing:
                raise FormatError(f"{candidate}: missing column(s) {sorted(missing)}")
            return df
    return None


def _append(
    out: list[AnyMessage], model: type[M], data: dict[str, Any], report: ReadReport, rows: int
) -> None:
    msg = validated(model, data, report, rows)
    if msg is not None:
        out.append(msg)  # type: ignore[arg-type]


def read_mmash(folder: Path, *, report: ReadReport | None = None) -> Iterator[AnyMessage]:
    """One MMASH ``user_N`` folder -> activity, heart-beat and sleep-episode messages."""
    report = report if report is not None else ReadReport()
    subject = f"mmash_{folder.name}"
    tz = dt.timezone(dt.timedelta(minutes=MMASH_OFFSET_MIN))
    out: list[AnyMessage] = []

    acti = _mmash_csv(folder, "Actigraph")
    if acti is not None:
        report.rows += len(acti)
        t = _mmash_times(acti["day"], acti["time"])
        acti["Axis1"] = pd.to_numeric(acti["Axis1"], errors="coerce")
        bad = t.isna() | ~np.isfinite(acti["Axis1"]) | (acti["Axis1"] < 0)
        report.reject("mmash Actigraph: bad time or Axis1", int(bad.sum()))
        acti, t = acti[~bad], t[~bad]
        sec = (
            (t - pd.Timestamp("1970-01-01")).dt.total_seconds().astype(np.int64)
            - MMASH_OFFSET_MIN * 60
        ).to_numpy()
        order = np.argsort(sec, kind="stable")
        dup = np.concatenate([[False], np.diff(sec[order]) == 0])[: len(order)]
        report.reject("mmash Actigraph: duplicate second", int(dup.sum()))
        idx = order[~dup]
        sec = sec[idx]
        axis1 = acti["Axis1"].to_numpy(np.float64)[idx]
        steps = acti["Steps"].to_numpy(np.float64)[idx] if "Steps" in acti else None
        # one message per clock hour (hourly syncs): a 3600-second grid, null where the
        # device dropped a second (it keeps about 48 of every 60)
        hours = sec // 3600
        for hour in np.unique(hours):
            sel = hours == hour
            grid = np.full(3600, np.nan)
            grid[sec[sel] - hour * 3600] = axis1[sel]
            step_grid = None
            if steps is not None:
                step_grid = np.full(3600, np.nan)
                step_grid[sec[sel] - hour * 3600] = steps[sel]
            start = dt.datetime.fromtimestamp(int(hour * 3600), tz)
            _append(
                out,
                ActivityBatch,
                {
                    "event_id": event_id(subject, "activity", start, "actigraph-wgt3x"),
                    "subject_id": subject,
                    "source": "actigraph-wgt3x",
                    "tz_offset_min": MMASH_OFFSET_MIN,
                    "start": start,
                    "epoch_s": 1,
                    "counts": nullable(grid),
                    "steps": None if step_grid is None else nullable(step_grid, int),
                },
                report,
                int(sel.sum()),
            )

    rr = _mmash_csv(folder, "RR")
    if rr is not None:
        report.rows += len(rr)
        t = _mmash_times(rr["day"], rr["time"])
        ibi = pd.to_numeric(rr["ibi_s"], errors="coerce") * 1000.0
        bad = t.isna() | ibi.isna() | (ibi <= 0) | (ibi >= 60_000)
        report.reject("mmash RR: bad time or interval outside (0, 60 s)", int(bad.sum()))
        t, ibi = t[~bad], ibi[~bad]
        beat_s = (
            (t - pd.Timestamp("1970-01-01")).dt.total_seconds() - MMASH_OFFSET_MIN * 60
        ).to_numpy(np.float64)
        rr_ms = ibi.to_numpy(np.float64)
        # a new burst where the wall clock and the summed intervals disagree by > 3 s
        drift = np.diff(beat_s) - rr_ms[1:] / 1000.0
        cut = np.flatnonzero(np.abs(drift) > 3.0) + 1
        # and every 5 minutes of beats, like a strap that syncs in bursts
        bounds = [0]
        for end in [*cut.tolist(), len(rr_ms)]:
            a = bounds[-1]
            elapsed = np.cumsum(rr_ms[a:end])
            bounds.extend((a + np.flatnonzero(np.diff(elapsed // 300_000) != 0) + 1).tolist())
            bounds.append(end)
        bounds = sorted(set(bounds))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            # the first beat of the burst: the clock time of the row, minus its interval
            first = dt.datetime.fromtimestamp(float(beat_s[a]) - rr_ms[a] / 1000.0, tz)
            first = first.replace(microsecond=(first.microsecond // 1000) * 1000)
            _append(
                out,
                HeartBeatBatch,
                {
                    "event_id": event_id(subject, "heartbeat", first, "polar-h7"),
                    "subject_id": subject,
                    "source": "polar-h7",
                    "tz_offset_min": MMASH_OFFSET_MIN,
                    "first_beat": first,
                    "rr_ms": rr_ms[a:b].tolist(),
                },
                report,
                b - a,
            )

    sleep = _mmash_csv(folder, "sleep")
    if sleep is not None:
        report.rows += len(sleep)
        for _, row in sleep.iterrows():
            try:
                start = _mmash_times(
                    pd.Series([row["In Bed Date"]]), pd.Series([row["In Bed Time"] + ":00"])
                ).iloc[0]
                end = _mmash_times(
                    pd.Series([row["Out Bed Date"]]), pd.Series([row["Out Bed Time"] + ":00"])
                ).iloc[0]
                s = start.to_pydatetime().replace(tzinfo=tz)
                e = end.to_pydatetime().replace(tzinfo=tz)
                out.append(
                    SleepEpisode.model_validate(
                        {
                            "event_id": event_id(subject, "sleep", s, "actilife"),
                            "subject_id": subject,
                            "source": "actilife",
                            "tz_offset_min": MMASH_OFFSET_MIN,
                            "start": s,
                            "end": e,
                            "is_main_sleep": True,
                            "tst_min": float(row["Total Sleep Time (TST)"]),
                            "waso_min": float(row["Wake After Sleep Onset (WASO)"]),
                            "latency_min": float(row["Latency"]),
                            "efficiency_pct": float(row["Efficiency"]),
                        }
                    )
                )
            except (ValueError, KeyError, TypeError, OverflowError) as exc:
                report.reject(f"mmash sleep: {type(exc).__name__}: {str(exc)[:80]}")
    out.sort(key=lambda m: m.span()[0])
    report.messages += len(out)
    yield from out
