"""The actiwatch fast path (NumPy on the raw bytes) reads exactly what the pandas path
reads, and leaves every file it cannot vouch for to the pandas path."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phenotyping.events import encode
from phenotyping.replay.formats import actiwatch
from phenotyping.replay.formats.base import ReadReport

GOOD = (
    b"timestamp,date,activity\n"
    b"2003-03-29 23:58:00,2003-03-29,0\n"
    b"2003-03-29 23:59:00,2003-03-29,12\n"
    b"2003-03-30 00:00:00,2003-03-30,345\n"
    b"2003-03-30 01:59:00,2003-03-30,7\n"
    b"2003-03-30 03:00:00,2003-03-30,1000000\n"
)


def both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    fast, slow = ReadReport(), ReadReport()
    a = [encode(m) for m in actiwatch.read_actiwatch(path, report=fast)]
    with monkeypatch.context() as m:
        m.setattr(actiwatch, "fast_columns", lambda raw: None)
        b = [encode(m) for m in actiwatch.read_actiwatch(path, report=slow)]
    return (a, fast.rows, dict(fast.unusable)), (b, slow.rows, dict(slow.unusable))


def test_fast_path_equals_pandas_path_on_a_dst_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "control_9.csv.gz"
    path.write_bytes(gzip.compress(GOOD))
    assert actiwatch.fast_columns(GOOD) is not None
    fast, slow = both(path, monkeypatch)
    assert fast == slow
    assert fast[1] == 5 and len(fast[0]) >= 2  # type: ignore[index]


@pytest.mark.parametrize(
    "row",
    [
        b"2003-03-30 04:00:00,2003-03-30,12.5\n",  # not an integer
        b"2003-03-30 04:00:00,2003-03-30,-3\n",  # negative
        b"2003-02-30 04:00:00,2003-02-30,3\n",  # no such date
        b"2003-03-30 24:00:00,2003-03-30,3\n",  # no such time
        b"2003-03-30 04:00,2003-03-30,3\n",  # short timestamp
        b"\n",  # blank line
        b"2003-03-30 04:00:00,2003-03-30,\n",  # empty count
        b"2003-03-30 04:00:00,2003-03-30,3,9\n",  # extra column
    ],
)
def test_a_file_with_any_unusual_row_goes_to_the_pandas_path(row: bytes) -> None:
    assert actiwatch.fast_columns(GOOD) is not None
    assert actiwatch.fast_columns(GOOD + row) is None


# The previous fast path (one byte at a time, NumPy fancy indexing): an independent
# reference for the word-at-a-time parser, which must accept exactly the same files and
# read the same values.
_TS_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_SEPARATORS = ((4, b"-"), (7, b"-"), (10, b" "), (13, b":"), (16, b":"), (19, b","), (30, b","))


def reference_columns(raw: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    buf = np.frombuffer(raw, np.uint8)
    nl = np.flatnonzero(buf == 10)
    if not len(nl) or b"\r" in raw:
        return None
    if raw[: int(nl[0])].replace(b" ", b"").lower() != b"timestamp,date,activity":
        return None
    starts = nl + 1
    ends = np.r_[nl[1:], len(buf)]
    if starts[-1] == len(buf):
        starts, ends = starts[:-1], ends[:-1]
    width = ends - starts - 31
    if not len(starts) or width.min() < 1 or width.max() > 15:
        return None
    for pos, ch in _SEPARATORS:
        if not np.all(buf[starts + pos] == ch[0]):
            return None
    d = buf[starts[:, None] + _TS_DIGITS].astype(np.int64) - 48
    cols = np.arange(int(width.max()))
    inside = cols < width[:, None]
    v = buf[np.minimum(starts[:, None] + 31 + cols, len(buf) - 1)].astype(np.int64) - 48
    if np.any((d < 0) | (d > 9)) or np.any(inside & ((v < 0) | (v > 9))):
        return None
    values = np.zeros(len(starts), np.int64)
    for j in cols:
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
    if np.any(days.astype("datetime64[M]") != first):
        return None
    seconds = days.astype(np.int64) * 86_400 + hh * 3600 + mm * 60 + ss
    return seconds.astype("datetime64[s]"), values.astype(np.float64)


def same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[call-overload]


ROWS = b"".join(
    b"2003-%02d-%02d %02d:%02d:%02d,2003-%02d-%02d,%d\n" % (m, d, h, mi, s, m, d, v)
    for m, d, h, mi, s, v in [
        (2, 28, 23, 58, 0, 0), (2, 28, 23, 59, 59, 7), (3, 1, 0, 0, 0, 12345678),
        (12, 31, 9, 15, 30, 123456789012345), (12, 31, 9, 16, 0, 99999999), (1, 1, 0, 1, 0, 1),
    ]
)  # fmt: skip


def test_word_parser_accepts_and_reads_exactly_what_the_byte_parser_does() -> None:
    """Random edits (bytes changed, dropped, inserted; dates, leap days and long counts
    swapped in) of a clean file, compared with the byte-at-a-time reference."""
    rng = random.Random(12)
    good = b"timestamp,date,activity\n" + ROWS
    assert same(actiwatch.fast_columns(good), reference_columns(good))
    assert actiwatch.fast_columns(good) is not None
    alphabet = b"0123456789-: ,\n/;.+e\x00\xff\x3a\x2f"
    accepted = 0
    for _ in range(3000):
        b = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            p, op = rng.randrange(24, len(b)), rng.random()
            if op < 0.5:
                b[p] = rng.choice(alphabet)
            elif op < 0.7:
                del b[p]
            elif op < 0.9:
                b.insert(p, rng.choice(alphabet))
        for old, new in ((b"2003-02-28", b"%04d-02-%02d"), (b"2003-12-31", b"%04d-%02d-31")):
            if rng.random() < 0.3:
                year = rng.choice([1899, 1900, 2000, 2004, 2100, 2200, 2201])
                b = bytearray(
                    bytes(b).replace(old, new % (year, rng.choice([0, 2, 4, 12, 13, 29, 30])), 1)
                )
        if rng.random() < 0.2:
            b = b[:-1]  # no trailing newline
        raw = bytes(b)
        ours = actiwatch.fast_columns(raw)
        assert same(ours, reference_columns(raw)), raw
        accepted += ours is not None
    assert accepted > 300  # the edits leave many files clean (different values and dates)


@pytest.mark.parametrize(
    "tz",
    ["Europe/Oslo", "Australia/Lord_Howe", "America/St_Johns", "Asia/Kathmandu", "UTC",
     "Africa/Casablanca", "Pacific/Chatham"],
)  # fmt: skip
def test_a_fixed_offset_is_what_pandas_localisation_gives(tz: str) -> None:
    """Wherever the shortcut finds one offset, pandas' localisation (the general path)
    succeeds and gives exactly wall clock - that offset; near transitions (half-hour DST,
    Ramadan suspensions, odd offsets) it declines."""
    rng = np.random.default_rng(7)
    declined = 0
    for _ in range(60):
        start = int(rng.integers(np.datetime64("1995-01-01", "m").astype(int), 31 * 10**6))
        length = int(rng.integers(1, 40 * 1440))
        wall_min = start + np.arange(0, length, int(rng.integers(1, 90)))
        wall_s = wall_min.astype(np.int64) * 60
        fixed = actiwatch._fixed_offset(wall_s, tz)
        if fixed is None:
            declined += 1
            continue
        naive = pd.DatetimeIndex(wall_s.astype("datetime64[s]"))
        local = naive.tz_localize(tz, ambiguous="infer", nonexistent="raise")
        utc = local.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
        np.testing.assert_array_equal(utc.astype(np.int64), wall_s - fixed)
    assert declined < 30  # most windows hold no transition: the shortcut is taken
    if tz not in ("UTC", "Asia/Kathmandu"):  # zones with daylight saving in these years
        assert declined > 0
