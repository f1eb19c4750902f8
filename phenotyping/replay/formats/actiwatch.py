"""``actiwatch``: Depresjon / Psykose minute CSV (``timestamp,date,activity``).

One row per minute in local wall-clock time. Local time is resolved with an IANA zone
(``Europe/Oslo`` for both datasets; ``ReadOptions.tz`` overrides it); a repeated hour at the
end of daylight saving time is resolved in recording order, a skipped hour simply has no
rows. One :class:`~phenotyping.events.ActivityBatch` per local day and contiguous run, like
a watch that syncs daily.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from phenotyping.errors import FormatError
from phenotyping.events import ActivityBatch
from phenotyping.replay.formats.base import (
    ReadOptions,
    ReadReport,
    event_id,
    first_line,
    validated,
)

NAME = "actiwatch"
#: The time zone of the Depresjon and Psykose recordings (Bergen, Norway).
ACTIWATCH_TZ = "Europe/Oslo"
_HEADER = "timestamp,date,activity"
_SUFFIXES = (".csv", ".csv.gz")


def sniff(path: Path) -> bool:
    """A CSV file whose header starts ``timestamp,date,activity`` (raises
    :class:`~phenotyping.errors.FormatError` when a CSV file is unreadable)."""
    if not (path.is_file() and path.name.lower().endswith(_SUFFIXES)):
        return False
    return first_line(path).replace(" ", "").lower().startswith(_HEADER)


def units(path: Path) -> list[Path]:
    """The actiwatch CSV files under ``path``; an unreadable CSV is kept, so that reading it
    reports why."""
    if path.is_file():
        return [path] if sniff(path) else []
    out = []
    for p in sorted(path.rglob("*")):
        if not (p.is_file() and p.name.lower().endswith(_SUFFIXES)):
            continue
        try:
            if sniff(p):
                out.append(p)
        except FormatError:
            out.append(p)
    return out


def read(
    unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
) -> Iterator[ActivityBatch]:
    """The reader contract's ``read``: :func:`read_actiwatch` with ``options.tz``."""
    tz = options.tz if options is not None and options.tz else ACTIWATCH_TZ
    return read_actiwatch(unit, tz=tz, report=report)


def subject_of(path: Path) -> str:
    """Subject id from a file name (``condition_1.csv.gz`` -> ``condition_1``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", path.name.split(".")[0])[:64] or "_"


def _parse_wall_clock(text: pd.Series) -> pd.Series:
    """``YYYY-MM-DD HH:MM:SS`` strings -> naive datetimes (NaT where unparseable or outside
    the years the schema accepts, 1990..2199: a row in 2300 must not overflow pandas'
    nanosecond timestamps and abort the file)."""
    values = text.to_numpy(dtype=object)
    parsed: pd.Series | None = None
    if len(values) and all(
        isinstance(v, str) and len(v) == 19 for v in values[:: max(1, len(values) // 50)]
    ):
        try:  # NumPy parses ISO 8601 (space or T) about 5x faster than strptime
            seconds = values.astype("datetime64[s]")
            lo_s, hi_s = np.datetime64("1990-01-01", "s"), np.datetime64("2200-01-01", "s")
            seconds[(seconds < lo_s) | (seconds >= hi_s)] = np.datetime64("NaT")
            parsed = pd.Series(seconds.astype("datetime64[ns]"), index=text.index)
        except ValueError:
            parsed = None
    if parsed is None:
        parsed = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce")
        lo, hi = pd.Timestamp("1990-01-01"), pd.Timestamp("2200-01-01")
        parsed = parsed.where((parsed >= lo) & (parsed < hi))
    return parsed


# fixed positions in ``YYYY-MM-DD HH:MM:SS,YYYY-MM-DD,<digits>``
_TS_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_SEPARATORS = ((4, b"-"), (7, b"-"), (10, b" "), (13, b":"), (16, b":"), (19, b","), (30, b","))
_VALUE_AT = 31


def _raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.lower().endswith(".gz") else data


def fast_columns(raw: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    r"""Wall-clock seconds (``datetime64[s]``) and counts of a *pristine* actiwatch CSV,
    parsed with NumPy on the raw bytes; None when any row is not exactly
    ``YYYY-MM-DD HH:MM:SS,YYYY-MM-DD,<digits>`` with a valid date and time, so that the
    general (pandas) path reads the file and counts every bad row with its reason.

    Every check is a vectorised operation over all rows: no Python work per row.

    Examples
    --------
    >>> ts, x = fast_columns(b"timestamp,date,activity\n2003-03-30 01:59:00,2003-03-30,7\n")
    >>> str(ts[0]), float(x[0])
    ('2003-03-30T01:59:00', 7.0)
    >>> fast_columns(b"timestamp,date,activity\n2003-02-30 01:59:00,2003-02-30,7\n") is None
    True
    """
    buf = np.frombuffer(raw, np.uint8)
    nl = np.flatnonzero(buf == 10)
    if not len(nl) or b"\r" in raw:
        return None
    if raw[: int(nl[0])].replace(b" ", b"").lower() != _HEADER.encode():
        return None
    starts = nl + 1
    ends = np.r_[nl[1:], len(buf)]
    if starts[-1] == len(buf):  # the usual trailing newline
        starts, ends = starts[:-1], ends[:-1]
    width = ends - starts - _VALUE_AT
    if not len(starts) or width.min() < 1 or width.max() > 15:
        return None
    for pos, ch in _SEPARATORS:
        if not np.all(buf[starts + pos] == ch[0]):
            return None
    d = buf[starts[:, None] + _TS_DIGITS].astype(np.int64) - 48
    cols = np.arange(int(width.max()))
    inside = cols < width[:, None]
    v = buf[np.minimum(starts[:, None] + _VALUE_AT + cols, len(buf) - 1)].astype(np.int64) - 48
    if np.any((d < 0) | (d > 9)) or np.any(inside & ((v < 0) | (v > 9))):
        return None
    values = np.zeros(len(starts), np.int64)
    for j in cols:  # Horner over the (few) digit columns
        values = np.where(inside[:, j], values * 10 + v[:, j], values)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
    hh, mm, ss = d[:, 8] * 10 + d[:, 9], d[:, 10] * 10 + d[:, 11], d[:, 12] * 10 + d[:, 13]
    if np.any((year < 1900) | (year > 2200) | (month < 1) | (month > 12) | (day < 1)) or np.any(
        (hh > 23) | (mm > 59) | (ss > 59)
    ):
        return None
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    days = first.astype("datetime64[D]") + (day - 1)
    if np.any(days.astype("datetime64[M]") != first):  # 30 February and the like
        return None
    seconds = days.astype(np.int64) * 86_400 + hh * 3600 + mm * 60 + ss
    return seconds.astype("datetime64[s]"), values.astype(np.float64)


def read_actiwatch(
    path: Path, *, tz: str = ACTIWATCH_TZ, report: ReadReport | None = None
) -> Iterator[ActivityBatch]:
    """Depresjon/Psykose minute CSV -> one :class:`ActivityBatch` per local day and run."""
    report = report if report is not None else ReadReport()
    subject = subject_of(path)
    try:
        fast = fast_columns(_raw_bytes(path))
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise FormatError(f"{path}: unreadable ({exc})") from None
    if fast is not None:  # a pristine file: the same columns without pandas' CSV parser
        report.rows += len(fast[0])
        yield from _batches(subject, pd.Series(fast[0]), pd.Series(fast[1]), tz, report)
        return
    try:
        cols = ["timestamp", "activity"]
        try:  # fast path: a clean numeric column
            df = pd.read_csv(path, usecols=cols, dtype={"timestamp": str, "activity": np.float64})
        except ValueError:  # some row is not a number: read as text, count those rows below
            df = pd.read_csv(path, usecols=cols, dtype={"timestamp": str, "activity": str})
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise FormatError(f"{path}: unreadable ({exc})") from None
    missing = {"timestamp", "activity"} - set(df.columns)
    if missing:
        raise FormatError(f"{path}: missing column(s) {sorted(missing)}")
    report.rows += len(df)
    yield from _batches(subject, _parse_wall_clock(df["timestamp"]), df["activity"], tz, report)


def _batches(
    subject: str, ts: pd.Series, counts: pd.Series, tz: str, report: ReadReport
) -> Iterator[ActivityBatch]:
    """Wall-clock times and counts -> validated batches (bad rows counted by reason)."""
    if counts.dtype != np.float64:
        counts = pd.to_numeric(counts, errors="coerce")
    bad_ts = ts.isna().to_numpy()
    bad_count = (~np.isfinite(counts.to_numpy(np.float64)) | (counts < 0).to_numpy()) & ~bad_ts
    report.reject("actiwatch: unparseable timestamp", int(bad_ts.sum()))
    report.reject("actiwatch: activity not a number >= 0", int(bad_count.sum()))
    ok = ~(bad_ts | bad_count)
    ts, counts = ts[ok], counts[ok]
    if not len(ts):
        return
    try:  # a repeated hour is resolved in recording order
        local = ts.dt.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except (ValueError, TypeError):  # a skipped local time, or a repeat that cannot be ordered
        local = ts.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        unresolved = local.isna().to_numpy()
        report.reject(
            f"actiwatch: local time ambiguous or nonexistent in {tz}", int(unresolved.sum())
        )
        local, counts = local[~unresolved], counts[~unresolved]
        if not len(local):
            return
    # UTC instants and the offsets the zone gave them: plain integer arithmetic on the
    # wall-clock and UTC seconds (both exact), not pandas datetime accessors
    utc_s = local.to_numpy(dtype="datetime64[s]").astype(np.int64)
    wall_s = local.dt.tz_localize(None).to_numpy(dtype="datetime64[s]").astype(np.int64)
    off_min = (wall_s - utc_s) // 60
    values = counts.to_numpy(dtype=np.float64)
    if np.any(np.diff(utc_s) <= 0):
        order = np.argsort(utc_s, kind="stable")
        dup = np.r_[False, np.diff(utc_s[order]) == 0]
        report.reject("actiwatch: duplicate or out-of-order timestamp", int(dup.sum()))
        keep = order[~dup]
        utc_s, off_min, values = utc_s[keep], off_min[keep], values[keep]
    minute = utc_s // 60
    local_day = (minute + off_min) // 1440
    # a new message wherever the local day, the offset or the 1-minute cadence changes
    cut = (
        np.flatnonzero((np.diff(local_day) != 0) | (np.diff(off_min) != 0) | (np.diff(minute) != 1))
        + 1
    )
    bounds = np.r_[0, cut, len(minute)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        off = int(off_min[a])
        start = dt.datetime.fromtimestamp(int(utc_s[a]), dt.timezone(dt.timedelta(minutes=off)))
        msg = validated(
            ActivityBatch,
            {
                "event_id": event_id(subject, "activity", start, "actiwatch-aw4"),
                "subject_id": subject,
                "source": "actiwatch-aw4",
                "tz_offset_min": off,
                "start": start,
                "epoch_s": 60,
                "counts": values[a:b].tolist(),
            },
            report,
            b - a,
        )
        if msg is not None:
            report.messages += 1
            yield msg
