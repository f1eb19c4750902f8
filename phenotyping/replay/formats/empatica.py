"""Empatica E4 session folders (the CSV layout of E4 connect downloads; also what tools
that convert EmbracePlus raw data to the E4 layout write).

``IBI.csv``
    line 1: ``<session start, unix seconds>, IBI``; then ``<t>,<ibi>`` rows: the beat at
    ``start + t`` seconds closes an interval of ``ibi`` seconds. Beats the device could not
    detect (motion) leave gaps: where consecutive beat times and the interval disagree, a new
    :class:`~phenotyping.events.HeartBeatBatch` starts.
``ACC.csv``
    line 1: the start time (per axis), line 2: the sample rate (Hz, 32 on the E4), then
    ``x,y,z`` in 1/64 g. Summarised per minute as ENMO (Euclidean norm minus one g, negative
    values 0) in milli-g: :class:`~phenotyping.events.ActivityBatch` counts in
    device-specific units (``source="empatica-e4-enmo"``); a minute with fewer than half its
    samples is ``null``.
``HR.csv``
    not read: 10-s averages derived from the BVP signal carry no beat timing and the E4
    reports no resting heart rate; ``IBI.csv`` is the heart's source. (Counted as a file
    seen, not as rows.)

Times are UTC (unix); local days need the wearer's zone: ``--tz`` (default ``UTC``).
Subject: ``--subject``, else the session folder's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phenotyping.errors import FormatError
from phenotyping.events import AnyMessage
from phenotyping.replay.formats._util import (
    EARLIEST_S,
    LATEST_S,
    activity_batches,
    beat_batches,
    head_lines,
    open_text,
    parse_instants,
    sorted_messages,
    subject_from,
)
from phenotyping.replay.formats.base import ReadOptions, ReadReport

NAME = "empatica"
DEFAULT_TZ = "UTC"
SOURCE_BEATS = "empatica-e4"
SOURCE_ACC = "empatica-e4-enmo"


def _file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _start(line: str) -> float | None:
    try:
        return float(line.split(",")[0])
    except ValueError:
        return None


def sniff(path: Path) -> bool:
    """A folder with an E4 ``IBI.csv`` (first line ``<unix start>, IBI``) or ``ACC.csv``."""
    if not path.is_dir():
        return False
    ibi = _file(path, "IBI.csv")
    if ibi is not None:
        head = head_lines(ibi, 1)
        return bool(head) and head[0].replace(" ", "").upper().endswith(",IBI")
    acc = _file(path, "ACC.csv")
    if acc is not None:
        head = head_lines(acc, 2)
        return len(head) == 2 and all(_start(x) is not None for x in head)
    return False


def units(path: Path) -> list[Path]:
    """E4 session folders under ``path``."""
    if sniff(path):
        return [path]
    if not path.is_dir():
        return []
    return [p for p in sorted(path.rglob("*")) if p.is_dir() and sniff(p)]


def _table(path: Path, skip: int) -> pd.DataFrame:
    try:
        with open_text(path) as fh:
            return pd.read_csv(fh, skiprows=skip, header=None, dtype=str, on_bad_lines="skip")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (OSError, ValueError, UnicodeDecodeError, EOFError, pd.errors.ParserError) as exc:
        raise FormatError(f"{path}: unreadable CSV ({str(exc).splitlines()[0][:120]})") from None


def _offsets(
    utc_s: np.ndarray, tz: str, report: ReadReport, label: str
) -> tuple[np.ndarray, np.ndarray]:
    """UTC offsets in ``tz`` and the usable mask (times outside 1990..2100 are counted)."""
    _, off, ok = parse_instants(pd.Series(utc_s.astype(np.float64)), tz, report, label)
    return off, ok


def read(
    unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
) -> Iterator[AnyMessage]:
    """One E4 session folder -> heart-beat batches (IBI.csv) and activity (ACC.csv)."""
    opts = options or ReadOptions()
    report = report if report is not None else ReadReport()
    tz = opts.tz or DEFAULT_TZ
    subject = subject_from(opts.subject or unit.name)
    out: list[Any] = []
    ibi = _file(unit, "IBI.csv")
    if ibi is not None:
        out += _beats(ibi, subject, tz, report)
    acc = _file(unit, "ACC.csv")
    if acc is not None:
        out += _activity(acc, subject, tz, report)
    report.messages += len(out)
    yield from sorted_messages(out)


def _beats(path: Path, subject: str, tz: str, report: ReadReport) -> list[Any]:
    head = head_lines(path, 1)
    start = _start(head[0]) if head else None
    if start is None or not np.isfinite(start):
        report.reject(f"empatica IBI.csv: first line is not '<unix start>, IBI' ({path.name})")
        return []
    if not EARLIEST_S <= start < LATEST_S:
        report.reject("empatica IBI.csv: start time outside 1990..2100 (device clock?)")
        return []
    df = _table(path, 1)
    report.rows += len(df)
    if df.empty or df.shape[1] < 2:
        return []
    t = pd.to_numeric(df[0], errors="coerce").to_numpy(np.float64)
    ibi = pd.to_numeric(df[1], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(t) | ~np.isfinite(ibi) | (t < 0) | (t > 366 * 86400)
    report.reject(
        "empatica IBI.csv: row is not two numbers (0 <= t <= 1 year, ibi)", int(bad.sum())
    )
    t, ibi = t[~bad], ibi[~bad]
    if not len(t):
        return []
    beat_s = start + t
    off, ok = _offsets(np.floor(beat_s), tz, report, "empatica IBI.csv")
    return beat_batches(
        subject,
        SOURCE_BEATS,
        beat_s[ok] * 1000.0,
        ibi[ok] * 1000.0,
        off[ok],
        report,
        "empatica IBI.csv",
    )


def _activity(path: Path, subject: str, tz: str, report: ReadReport) -> list[Any]:
    head = head_lines(path, 2)
    start = _start(head[0]) if head else None
    rate = _start(head[1]) if len(head) > 1 else None
    if start is None or rate is None or not (0 < rate <= 1000) or not np.isfinite(start):
        report.reject(f"empatica ACC.csv: needs '<unix start>' and '<rate Hz>' lines ({path.name})")
        return []
    if not EARLIEST_S <= start < LATEST_S:
        report.reject("empatica ACC.csv: start time outside 1990..2100 (device clock?)")
        return []
    df = _table(path, 2)
    report.rows += len(df)
    if df.empty or df.shape[1] < 3:
        return []
    xyz = np.column_stack(
        [pd.to_numeric(df[i], errors="coerce").to_numpy(np.float64) for i in range(3)]
    )
    good = np.isfinite(xyz).all(axis=1)
    report.reject("empatica ACC.csv: row is not three numbers", int((~good).sum()))
    t = start + np.arange(len(df)) / rate
    vm = np.sqrt((xyz[good] ** 2).sum(axis=1)) / 64.0
    enmo = np.maximum(vm - 1.0, 0.0) * 1000.0
    minute = np.floor(t[good] / 60.0).astype(np.int64)
    if not len(minute):
        return []
    uniq, inverse, n = np.unique(minute, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=enmo) / n
    enough = n >= rate * 60 / 2
    report.reject(
        "empatica ACC.csv: samples of minutes with fewer than half their samples",
        int(n[~enough].sum()),
    )
    utc_s = uniq[enough] * 60
    off, ok = _offsets(utc_s, tz, report, "empatica ACC.csv")
    counts = np.round(mean[enough], 3)
    return activity_batches(
        subject, SOURCE_ACC, utc_s[ok], off[ok], counts[ok], None, 60, report, "empatica ACC.csv"
    )
