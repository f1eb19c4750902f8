"""Generic epoch CSV: ActiGraph ActiLife epoch exports, GGIR epoch output, and any
``timestamp,counts[,steps]`` table.

* **ActiLife** (``.csv`` "epoch data" export): a 10-line header block (``------------ Data
  File Created By ActiGraph ...`` with ``Start Time``, ``Start Date``, ``Epoch Period
  (hh:mm:ss)`` and the ``date format`` of the file), then rows with or without a column
  header row, with or without ``Date,Time`` columns. Without them, epoch ``i`` starts at
  ``Start Date Start Time + i x epoch``. Counts are ``Axis1`` (the vertical axis, the
  ActiGraph count most sleep/activity literature uses); steps are ``Steps``.
* **GGIR** epoch output (``timestamp,ENMO,anglez``, ISO 8601 times with an offset): counts
  are ``ENMO`` (in the file's unit: g or mg), device-specific units like any count.
* **Anything else** with a header row: the time column is the first of ``timestamp``,
  ``datetime``, ``date_time``, ``time``, ``timenum`` (or ``--time-col``; ``--date-col`` joins
  a separate date column), counts the first of ``counts``, ``activity``, ``axis1``, ``enmo``,
  ``acc``, ``vector magnitude`` (or ``--counts-col``), steps ``steps`` (or ``--steps-col``).

Times: unix seconds/milliseconds, ISO 8601 with an offset (kept per row), or local wall
clock without an offset, placed in ``--tz`` (default **UTC**: a generic file says nothing
about where it was recorded, so give ``--tz`` for local times). Epoch: ``--epoch``, else the
ActiLife header, else the most common step between consecutive times; it must be one of
1, 2, 5, 10, 15, 20, 30 or 60 s. Subject: ``--subject``, else the file name before its
first dot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from phenotyping.errors import FormatError
from phenotyping.events import EPOCHS_S, AnyMessage
from phenotyping.replay.formats._util import (
    ReadOptions,
    ReadReport,
    activity_batches,
    head_lines,
    open_text,
    parse_instants,
    subject_from,
)

NAME = "generic_csv"
DEFAULT_TZ = "UTC"
TIME_COLUMNS = ("timestamp", "datetime", "date_time", "time", "timenum")
COUNT_COLUMNS = ("counts", "activity", "axis1", "enmo", "acc", "vector magnitude")
STEP_COLUMNS = ("steps",)
#: ActiLife's column order when the export has no header row (after optional Date, Time).
ACTILIFE_COLUMNS = (
    "axis1",
    "axis2",
    "axis3",
    "steps",
    "lux",
    "inclinometer off",
    "inclinometer standing",
    "inclinometer sitting",
    "inclinometer lying",
    "vector magnitude",
)
_SUFFIXES = (".csv", ".csv.gz", ".txt", ".agd.csv")


@dataclass(frozen=True)
class ActiLifeHeader:
    start: str  # "M/d/yyyy HH:MM:SS" as written
    date_format: str  # strftime of the file's dates
    epoch_s: int


def _flag(opts: ReadOptions, name: str) -> str | None:
    """The column given on the command line for our ``name`` (``--time-col`` ...), if any."""
    return opts.columns.get(name)


def names_columns(options: ReadOptions | None) -> bool:
    """Whether ``options`` name a time, count or step column, which :func:`sniff` then
    looks for instead of the usual names.

    >>> names_columns(None), names_columns(ReadOptions(columns={"time": "t"}))
    (False, True)
    """
    return options is not None and any(_flag(options, n) for n in ("time", "counts", "steps"))


def _is_actilife(lines: list[str]) -> bool:
    return bool(lines) and "data file created by actigraph" in lines[0].lower()


def _header_names(line: str) -> list[str]:
    return [c.strip().strip('"').strip().lower() for c in line.split(",")]


def sniff(path: Path, options: ReadOptions | None = None) -> bool:
    """A CSV with an ActiLife header block, or a header row naming a time and a count/step
    column (or the columns given on the command line)."""
    if not path.is_file() or not path.name.lower().endswith(_SUFFIXES):
        return False
    lines = head_lines(path, 2)
    if _is_actilife(lines):
        return True
    if not lines:
        return False
    names = _header_names(lines[0])
    if names[:3] == ["timestamp", "date", "activity"]:  # the Depresjon/Psykose layout
        return False
    opts = options or ReadOptions()
    time_flag = _flag(opts, "time")
    times = (time_flag.lower(),) if time_flag else TIME_COLUMNS
    values = tuple(c.lower() for c in (_flag(opts, "counts"), _flag(opts, "steps")) if c) or (
        COUNT_COLUMNS + STEP_COLUMNS
    )
    return any(t in names for t in times) and any(v in names for v in values)


def units(path: Path, options: ReadOptions | None = None) -> list[Path]:
    """The CSV recordings under ``path`` (a file, or every matching file in a folder)."""
    if path.is_file():
        return [path]
    return [p for p in sorted(path.rglob("*")) if sniff(p, options)]


_DATE_TOKENS = (("yyyy", "%Y"), ("MM", "%m"), ("M", "%m"), ("dd", "%d"), ("d", "%d"))


def _strftime(date_format: str) -> str:
    """ActiLife's ``M/d/yyyy`` -> ``%m/%d/%Y``.

    >>> _strftime("M/d/yyyy"), _strftime("dd.MM.yyyy")
    ('%m/%d/%Y', '%d.%m.%Y')
    """
    out = ""
    i = 0
    while i < len(date_format):
        for token, code in _DATE_TOKENS:
            if date_format.startswith(token, i):
                out += code
                i += len(token)
                break
        else:
            out += date_format[i]
            i += 1
    return out


def _actilife_header(path: Path, lines: list[str]) -> ActiLifeHeader:
    text = "\n".join(lines[:10])
    fmt = re.search(r"date format\s+(\S+)", text, re.I)
    t = re.search(r"Start Time\s+(\d{1,2}:\d\d(?::\d\d)?)", text)
    d = re.search(r"Start Date\s+(\S+)", text)
    e = re.search(r"Epoch Period \(hh:mm:ss\)\s+(\d\d):(\d\d):(\d\d)", text)
    if not (t and d and e):
        raise FormatError(
            f"{path}: ActiLife header: needs 'Start Time', 'Start Date' and 'Epoch Period' lines"
        )
    epoch = int(e.group(1)) * 3600 + int(e.group(2)) * 60 + int(e.group(3))
    clock = t.group(1) if t.group(1).count(":") == 2 else t.group(1) + ":00"
    return ActiLifeHeader(
        start=f"{d.group(1)} {clock}",
        date_format=_strftime(fmt.group(1) if fmt else "M/d/yyyy"),
        epoch_s=epoch,
    )


def _read_table(path: Path, skip: int, header: bool) -> pd.DataFrame:
    try:
        with open_text(path) as fh:
            df = pd.read_csv(
                fh,
                skiprows=skip,
                header=0 if header else None,
                dtype=str,
                skipinitialspace=True,
                on_bad_lines="skip",
                engine="c",
            )
    except (OSError, ValueError, UnicodeDecodeError, EOFError, pd.errors.ParserError) as exc:
        raise FormatError(f"{path}: unreadable CSV ({str(exc).splitlines()[0][:120]})") from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    return df


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...]) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    if wanted is not None:
        return lower.get(wanted.strip().lower())
    return next((lower[c] for c in candidates if c in lower), None)


def _infer_epoch(utc: np.ndarray, path: Path) -> int:
    steps = np.diff(np.unique(utc))
    if not len(steps):
        return 60
    values, freq = np.unique(steps, return_counts=True)
    epoch = int(values[np.argmax(freq)])
    if epoch not in EPOCHS_S:
        raise FormatError(
            f"{path}: epoch: the times step by {epoch} s, not one of {EPOCHS_S} "
            "(give --epoch, or resample)"
        )
    return epoch


def _numbers(df: pd.DataFrame, col: str | None) -> np.ndarray | None:
    if col is None:
        return None
    return np.asarray(pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64))


def read(
    unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
) -> Iterator[AnyMessage]:
    """One CSV -> :class:`~phenotyping.events.ActivityBatch` messages (per local day)."""
    opts = options or ReadOptions()
    report = report if report is not None else ReadReport()
    tz = opts.tz or DEFAULT_TZ
    subject = subject_from(opts.subject or unit.name.split(".")[0])
    lines = head_lines(unit, 11)
    acti = _actilife_header(unit, lines) if _is_actilife(lines) else None
    if acti is not None:
        first_data = lines[10] if len(lines) > 10 else ""
        has_header = bool(re.search(r"[A-Za-z]{3}", first_data))
        df = _read_table(unit, 10, has_header)
        if not has_header and len(df.columns):
            first = str(df.iloc[0, 0]) if df.shape[0] else ""
            dated = bool(re.search(r"\d[/.-]\d", first))
            names = (["date", "time"] if dated else []) + list(ACTILIFE_COLUMNS)
            df.columns = [names[i] if i < len(names) else f"col{i}" for i in range(len(df.columns))]
        source = "actigraph-actilife"
    else:
        df = _read_table(unit, 0, True)
        source = "generic-csv"
    report.rows += len(df)
    if df.empty:
        return
    columns = [str(c) for c in df.columns]
    df.columns = columns
    counts_col = _pick(columns, _flag(opts, "counts"), COUNT_COLUMNS)
    steps_col = _pick(columns, _flag(opts, "steps"), STEP_COLUMNS)
    for flag, wanted, got in (
        ("--counts-col", _flag(opts, "counts"), counts_col),
        ("--steps-col", _flag(opts, "steps"), steps_col),
    ):
        if wanted is not None and got is None:
            raise FormatError(f"{unit}: {flag}: no column {wanted!r} (columns: {columns[:12]})")
    if counts_col is None and steps_col is None:
        raise FormatError(
            f"{unit}: no counts or steps column (looked for {COUNT_COLUMNS + STEP_COLUMNS}; "
            f"columns: {columns[:12]}; use --counts-col/--steps-col)"
        )
    if "enmo" == (counts_col or "").lower():
        source = "ggir-enmo"

    label = NAME
    time_col = _pick(columns, _flag(opts, "time"), TIME_COLUMNS)
    date_col = _pick(columns, _flag(opts, "date"), ("date",))
    if _flag(opts, "date") is None and (time_col or "").lower() != "time":
        date_col = None  # a full timestamp column needs no date column
    if _flag(opts, "time") is not None and time_col is None:
        raise FormatError(
            f"{unit}: --time-col: no column {_flag(opts, 'time')!r} (columns: {columns[:12]})"
        )
    if acti is not None and time_col is None:
        # no Date/Time columns: epoch i starts at the header's start + i x epoch
        start = pd.to_datetime(
            pd.Series([acti.start]), format=f"{acti.date_format} %H:%M:%S", errors="coerce"
        )
        if start.isna().all():
            raise FormatError(f"{unit}: ActiLife header: start {acti.start!r} is not a date")
        times = pd.Series(start.iloc[0] + pd.to_timedelta(np.arange(len(df)) * acti.epoch_s, "s"))
        utc, off, ok = parse_instants(times.dt.strftime("%Y-%m-%d %H:%M:%S"), tz, report, label)
    elif time_col is None:
        raise FormatError(
            f"{unit}: no time column (looked for {TIME_COLUMNS}; columns: {columns[:12]}; "
            "use --time-col)"
        )
    else:
        text = df[time_col]
        fmt = None
        if date_col is not None and date_col != time_col:
            text = df[date_col].astype(str).str.strip() + " " + text.astype(str).str.strip()
            if acti is not None:
                fmt = f"{acti.date_format} %H:%M:%S"
        numeric = pd.to_numeric(text, errors="coerce")
        if numeric.notna().mean() > 0.5:
            text = numeric
        utc, off, ok = parse_instants(text, tz, report, label, fmt=fmt)
    counts = _numbers(df, counts_col)
    steps = _numbers(df, steps_col)
    for name, arr, hi in (("counts", counts, np.inf), ("steps", steps, 1000.0)):
        if arr is None:
            continue
        bad = ok & (~np.isfinite(arr) | (arr < 0) | (arr > hi))
        rule = "a number >= 0" if name == "counts" else "a whole number 0..1000"
        report.reject(f"{label}: {name} not {rule}", int(bad.sum()))
        ok &= ~bad
    if steps is not None:
        steps = np.round(steps)
    if not ok.any():
        return
    epoch = opts.epoch_s or (acti.epoch_s if acti is not None else _infer_epoch(utc[ok], unit))
    if epoch not in EPOCHS_S:
        raise FormatError(f"{unit}: epoch: {epoch} s is not one of {EPOCHS_S}")
    msgs = activity_batches(
        subject,
        source,
        utc[ok],
        off[ok],
        None if counts is None else counts[ok],
        None if steps is None else steps[ok],
        epoch,
        report,
        label,
    )
    report.messages += len(msgs)
    yield from msgs
