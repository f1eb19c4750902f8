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
from numpy.typing import NDArray

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


_VALUE_AT = 31  # the activity count starts here in ``YYYY-MM-DD HH:MM:SS,YYYY-MM-DD,<digits>``


def _raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.lower().endswith(".gz") else data


_U = np.uint64
U64 = NDArray[np.uint64]


def _pattern(text: bytes, digit: int, other: int | None) -> np.uint64:
    """A little-endian word: ``digit`` at each ``d`` of ``text``, ``other`` (None: the
    byte itself) at any other byte, 0 at each ``_``."""
    word = 0
    for i, ch in enumerate(text):
        byte = 0 if ch == ord("_") else digit if ch == ord("d") else ch if other is None else other
        word |= byte << (8 * i)
    return _U(word)


# the first 20 bytes of a row (``YYYY-MM-DD HH:MM:SS,``) as three little-endian words
_ROW = (b"dddd-dd-", b"dd dd:dd", b":dd,____")
_CARE = tuple(_pattern(w, 0xF0, 0xFF) for w in _ROW)  # high nibble of digits, all of the rest
_WANT = tuple(_pattern(w, 0x30, None) for w in _ROW)
_DIGIT = tuple(_pattern(w, 0xFF, 0) for w in _ROW)
_SIX = tuple(_pattern(w, 0x06, 0) for w in _ROW)
_HIGH = tuple(_pattern(w, 0xF0, 0) for w in _ROW)
_THREE = tuple(_pattern(w, 0x30, 0) for w in _ROW)
# the last k bytes of a word (the value's last digits), k = 0..8
_TAIL = np.array([((1 << 64) - 1) ^ ((1 << (8 * (8 - k))) - 1) for k in range(9)], np.uint64)
_F0, _30, _06, _0F = (_U(int(b * 8, 16)) for b in ("F0", "30", "06", "0F"))
_CUM_DAYS = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334], np.int64)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def _all_digits(
    w: U64,
    care: np.uint64,
    want: np.uint64,
    digit: np.uint64,
    six: np.uint64,
    high: np.uint64,
    three: np.uint64,
) -> bool:
    """Every byte of ``w`` where ``care`` asks for a digit is one, the others equal ``want``."""
    return bool(np.all((w & care) == want)) and bool(np.all((((w & digit) + six) & high) == three))


def _eight_digits(x: U64) -> U64:
    """The number written by 8 digit values (one per byte, most significant first;
    leading zeros for a shorter number) in a little-endian word."""
    x = x * _U(10) + (x >> _U(8))
    return (
        ((x & _U(0x000000FF000000FF)) * _U(100 + (1_000_000 << 32)))
        + (((x >> _U(16)) & _U(0x000000FF000000FF)) * _U(1 + (10_000 << 32)))
    ) >> _U(32)


def _field(w: U64, byte: int) -> U64:
    return (w >> _U(8 * byte)) & _U(0x0F)


def fast_columns(raw: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    r"""Wall-clock seconds (``datetime64[s]``) and counts of a *pristine* actiwatch CSV,
    parsed with NumPy on the raw bytes; None when any row is not exactly
    ``YYYY-MM-DD HH:MM:SS,YYYY-MM-DD,<digits>`` with a valid date and time, so that the
    general (pandas) path reads the file and counts every bad row with its reason.

    Every check is a vectorised operation over all rows: no Python work per row. The
    bytes are read eight at a time: each row's first 24 bytes as three little-endian
    words and its count's last 8 (or 16) bytes as one (two), from a strided view of the
    file; digits and separators are checked and digits combined within a word (SWAR), and
    the calendar is checked and converted once per run of rows with the same date.

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
    if starts[-1] == len(buf):
        starts, ends = starts[:-1], ends[:-1]
    width = ends - starts - _VALUE_AT
    if not len(starts) or width.min() < 1 or width.max() > 15:
        return None
    # the 8 bytes from every offset of the file as one little-endian word (a strided view)
    words = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=raw, strides=(1,))
    w0, w1, w2 = words[starts], words[starts + 8], words[starts + 16]
    for k, w in enumerate((w0, w1, w2)):
        if not _all_digits(w, _CARE[k], _WANT[k], _DIGIT[k], _SIX[k], _HIGH[k], _THREE[k]):
            return None
    if not np.all(buf[starts + 30] == ord(",")):
        return None
    values = np.zeros(len(starts), np.uint64)
    for part in range((int(width.max()) + 7) // 8):  # 8 digits at a time, the last first
        mask = _TAIL[np.clip(width - 8 * part, 0, 8)]
        w = words[ends - 8 * (part + 1)] & mask
        if not _all_digits(w, mask & _F0, mask & _30, mask, mask & _06, mask & _F0, mask & _30):
            return None
        values += _eight_digits(w & _0F) * _U(10 ** (8 * part))
    hh = _field(w1, 3) * _U(10) + _field(w1, 4)
    mm = _field(w1, 6) * _U(10) + _field(w1, 7)
    ss = _field(w2, 1) * _U(10) + _field(w2, 2)
    if np.any((hh > 23) | (mm > 59) | (ss > 59)):
        return None
    # the calendar once per run of rows with the same date (a few runs per file): the
    # date's bytes in one word, the day's two digits in place of the two dashes
    date = w0 & _U(0x00FFFF00FFFFFFFF) | (w1 & _U(0xFF)) << _U(32) | (w1 & _U(0xFF00)) << _U(48)
    first = np.r_[0, np.flatnonzero(date[1:] != date[:-1]) + 1]
    d0, d1 = w0[first], w1[first]
    digits = [_field(d0, b).astype(np.int64) for b in (0, 1, 2, 3, 5, 6)]
    year = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3]
    month = digits[4] * 10 + digits[5]
    day = (_field(d1, 0) * 10 + _field(d1, 1)).astype(np.int64)
    if np.any((year < 1900) | (year > 2200) | (month < 1) | (month > 12) | (day < 1)):
        return None
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    if np.any(day > _MONTH_DAYS[month - 1] + (leap & (month == 2))):
        return None
    y = year - 1  # days since 1970-01-01, proleptic Gregorian
    days = (
        y * 365 + y // 4 - y // 100 + y // 400 - 719_162
        + _CUM_DAYS[month - 1] + (leap & (month > 2)) + day - 1
    )  # fmt: skip
    run = np.diff(np.r_[first, len(starts)])
    seconds = np.repeat(days * 86_400, run) + (hh * _U(3600) + mm * _U(60) + ss).astype(np.int64)
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


def _fixed_offset(wall_s: NDArray[np.int64], tz: str) -> int | None:
    """The UTC offset of zone ``tz`` (seconds) when it is one and the same at every whole
    hour from the hour before the first wall-clock time to the hour after the last, each
    of those hours existing once; else None (and the general localisation decides).

    An offset that changes between two whole hours differs at them, and a skipped or
    repeated stretch that contains a whole hour makes that hour unresolvable, so with one
    offset at every hour each time in between is in no transition: it maps to UTC by that
    offset, exactly what ``tz_localize(ambiguous="infer", nonexistent="raise")`` gives.
    Localising the ~24 hours of a day costs a few microseconds against ~40 ns per minute.

    >>> t = np.array(["2003-05-07T12:00", "2003-05-20T08:00"], "datetime64[s]").astype(np.int64)
    >>> _fixed_offset(t, "Europe/Oslo")
    7200
    >>> _fixed_offset(t - 40 * 86_400, "Europe/Oslo") is None  # 30 March 2003: DST began
    True
    """
    if not len(wall_s):
        return None
    lo, hi = int(wall_s.min()) // 3600 - 1, int(wall_s.max()) // 3600 + 1
    if hi - lo > 24 * 366:  # long recordings: the general path
        return None
    wall = np.arange(lo, hi + 1, dtype=np.int64) * 3600
    try:
        local = pd.DatetimeIndex(wall.astype("datetime64[s]")).tz_localize(
            tz, ambiguous="NaT", nonexistent="NaT"
        )
    except Exception:  # e.g. an unknown zone: the general path says what it says
        return None
    if local.isna().any():
        return None
    utc = local.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
    offset = wall - utc.astype(np.int64)
    if not np.all(offset == offset[0]):
        return None
    return int(offset[0])


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
    wall_s = ts.to_numpy(dtype="datetime64[s]").astype(np.int64)
    fixed = _fixed_offset(wall_s, tz)
    if fixed is not None:  # no change of offset anywhere near the recording
        utc_s = wall_s - fixed
    else:
        try:  # a repeated hour is resolved in recording order
            local = ts.dt.tz_localize(tz, ambiguous="infer", nonexistent="raise")
        except (ValueError, TypeError):  # a skipped local time, or a repeat that cannot be ordered
            local = ts.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            unresolved = local.isna().to_numpy()
            report.reject(
                f"actiwatch: local time ambiguous or nonexistent in {tz}", int(unresolved.sum())
            )
            local, counts, ts = local[~unresolved], counts[~unresolved], ts[~unresolved]
            if not len(local):
                return
        # UTC instants and the offsets the zone gave them: plain integer arithmetic on the
        # wall-clock and UTC seconds (both exact), not pandas datetime accessors
        utc_s = local.to_numpy(dtype="datetime64[s]").astype(np.int64)
        wall_s = ts.to_numpy(dtype="datetime64[s]").astype(np.int64)  # = local's wall clock
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
