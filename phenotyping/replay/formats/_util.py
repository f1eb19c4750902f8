"""Helpers shared by the importer readers: options, time zones, time parsing, and turning
per-sample arrays into the batch messages a live device would send.

Readers report what they could not use in a :class:`ReadReport` (counted, with a reason) and
raise :class:`~phenotyping.errors.FormatError` (one line) only when a whole file cannot be
read; nothing here raises anything else on bad input.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from phenotyping.errors import FormatError
from phenotyping.events import EARLIEST, EPOCHS_S, ActivityBatch, HeartBeatBatch
from phenotyping.replay.formats.base import ReadOptions, ReadReport, event_id, validated

__all__ = [
    "StepGrid",
    "spread_steps",
    "ReadOptions",
    "ReadReport",
    "activity_batches",
    "beat_batches",
    "bridge_worn",
    "carry_offsets",
    "event_id",
    "localize",
    "open_text",
    "parse_instants",
    "subject_from",
    "validated",
    "zone",
]

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

#: Latest instant a recording may hold (a row in year 2300 is a device-clock error, counted).
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
EARLIEST_S = _EARLIEST_S = int(EARLIEST.timestamp())
_DAY = 1440
LATEST_S = _LATEST_S = int(LATEST.timestamp())


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a one-line :class:`FormatError`.

    >>> zone("Europe/Oslo").key
    'Europe/Oslo'
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise FormatError(f"--tz: {name!r} is not an IANA time zone (e.g. Europe/Oslo)") from None


def subject_from(text: str) -> str:
    """A valid pseudonymous subject id from a file or folder name (``[A-Za-z0-9._-]{1,64}``).

    >>> subject_from("apple health export")
    'apple_health_export'
    """
    out = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:64]
    return out or "subject"


def open_text(path: Path) -> IO[str]:
    """Open a (possibly gzipped) text file; a one-line :class:`FormatError` if it cannot be."""
    try:
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
        return path.open("r", encoding="utf-8-sig", errors="replace", newline="")
    except OSError as exc:
        raise FormatError(f"{path}: unreadable ({exc.strerror or exc})") from None


def head_lines(path: Path, n: int = 12) -> list[str]:
    """The first ``n`` lines (stripped), ``[]`` if the file cannot be read as text."""
    try:
        with open_text(path) as fh:
            out = []
            for _ in range(n):
                line = fh.readline(4096)
                if not line:
                    break
                out.append(line.strip())
            return out
    except (FormatError, OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile):
        return []


_OFFSET = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def parse_instants(
    values: pd.Series, tz: str, report: ReadReport, label: str, *, fmt: str | None = None
) -> tuple[I64, I64, NDArray[np.bool_]]:
    """Times of a column -> (UTC seconds, UTC offset minutes, usable mask).

    Accepts unix seconds or milliseconds (numbers), ISO 8601 with an offset (``Z``,
    ``+01:00``, ``-0400``: the row's own offset is kept) and local wall-clock times without an
    offset, which are placed in ``tz`` (a repeated hour at the end of daylight saving time is
    resolved in recording order; times in a skipped hour are counted, not guessed).
    ``fmt`` (strftime) parses wall-clock times that are not ISO 8601. Unparseable times and
    times outside 1990..2100 are counted in ``report`` under ``label``.

    >>> r = ReadReport()
    >>> s, off, ok = parse_instants(
    ...     pd.Series(["2020-01-01T00:00:00+01:00", "2020-01-01 00:01:00", "nonsense"]),
    ...     "UTC", r, "csv")
    >>> s[ok].tolist(), off[ok].tolist(), dict(r.unusable)
    ([1577833200, 1577836860], [60, 0], {'csv: unparseable time': 1})
    """
    n = len(values)
    utc = np.zeros(n, np.int64)
    off = np.zeros(n, np.int64)
    ok = np.zeros(n, bool)
    far = np.zeros(n, bool)  # local times far outside 1990..2100, counted once
    if n == 0:
        return utc, off, ok
    numeric = pd.to_numeric(values, errors="coerce") if values.dtype != object else None
    if numeric is not None and numeric.notna().any():
        x = numeric.to_numpy(np.float64)
        good = np.isfinite(x)
        x = np.where(good, x, 0.0)
        x = np.where(np.abs(x) > 1e11, x / 1000.0, x)  # unix milliseconds
        good &= np.abs(x) < 1e11  # far outside any date: counted below as unparseable
        sec = np.floor(np.where(good, x, 0.0)).astype(np.int64)
        utc, ok = sec, good
        off = _offsets_in(utc, ok, tz)
    else:
        text = values.astype(str).str.strip()
        found = text.str.extract(_OFFSET, expand=False)
        naive_text = text.str.replace(_OFFSET, "", regex=True).str.strip()
        if fmt is not None:
            naive = pd.to_datetime(naive_text, format=fmt, errors="coerce")
        else:
            naive = pd.to_datetime(naive_text, format="ISO8601", errors="coerce")
        parsed = naive.notna().to_numpy()
        naive_s = np.where(
            parsed,
            (naive.to_numpy("datetime64[s]").astype("datetime64[s]").astype(np.int64)),
            0,
        )
        has_off = found.notna().to_numpy() & parsed
        if has_off.any():
            o = found[has_off].str.replace(":", "", regex=False)
            o = o.where(o != "Z", "+0000")
            sign = np.where(o.str[0] == "-", -1, 1)
            hhmm = (o.str[1:3].astype(int) * 60 + o.str[3:5].astype(int)).to_numpy(np.int64)
            off[has_off] = sign * hhmm
            utc[has_off] = naive_s[has_off] - off[has_off] * 60
            ok[has_off] = (np.abs(off[has_off]) <= 840) & (off[has_off] >= -720)
        local = parsed & ~has_off
        in_range = (naive_s >= _EARLIEST_S - 86400) & (naive_s < _LATEST_S + 86400)
        far = local & ~in_range
        report.reject(f"{label}: time outside 1990..2100 (device clock?)", int(far.sum()))
        local &= in_range
        if local.any():
            as_ns = pd.Series(pd.to_datetime(naive_s[local], unit="s"))
            u, o2, k = _localize_naive(as_ns, tz, report, label)
            utc[local], off[local], ok[local] = u, o2, k
        ok[far] = True  # already counted: kept out below without a second count
        utc[far] = _LATEST_S
    bad_parse = ~ok
    report.reject(f"{label}: unparseable time", int(bad_parse.sum()))
    out_of_range = ok & ((utc < _EARLIEST_S) | (utc >= _LATEST_S))
    report.reject(
        f"{label}: time outside 1990..2100 (device clock?)", int((out_of_range & ~far).sum())
    )
    ok &= ~out_of_range
    return utc, off, ok


def _offsets_in(utc: I64, ok: NDArray[np.bool_], tz: str) -> I64:
    """UTC offset (minutes) of zone ``tz`` at each instant."""
    off = np.zeros(len(utc), np.int64)
    if not ok.any() or tz == "UTC":
        return off
    inside = ok & (utc >= _EARLIEST_S) & (utc < _LATEST_S)
    ts = pd.to_datetime(pd.Series(utc[inside]), unit="s", utc=True).dt.tz_convert(zone(tz))
    delta = ts.dt.tz_localize(None) - ts.dt.tz_convert("UTC").dt.tz_localize(None)
    off[inside] = (delta.dt.total_seconds().to_numpy() // 60).astype(np.int64)
    return off


def _localize_naive(
    naive: pd.Series, tz: str, report: ReadReport, label: str
) -> tuple[I64, I64, NDArray[np.bool_]]:
    zone(tz)  # a clear error for a bad name
    n = len(naive)
    ok = np.ones(n, bool)
    try:
        local = naive.dt.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except (ValueError, TypeError, OverflowError):
        try:
            local = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        except (ValueError, TypeError, OverflowError):
            report.reject(f"{label}: local time not placeable in {tz}", n)
            return np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, bool)
        unresolved = local.isna().to_numpy()
        report.reject(
            f"{label}: local time ambiguous or nonexistent in {tz}", int(unresolved.sum())
        )
        ok = ~unresolved
    utc = np.zeros(n, np.int64)
    off = np.zeros(n, np.int64)
    if ok.any():
        good = local[ok]
        utc[ok] = (good - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        delta = good.dt.tz_localize(None) - good.dt.tz_convert("UTC").dt.tz_localize(None)
        off[ok] = (delta.dt.total_seconds().to_numpy() // 60).astype(np.int64)
    return utc, off, ok


def localize(naive: pd.Series, tz: str, report: ReadReport, label: str) -> tuple[I64, I64, Any]:
    """Naive local datetimes -> (UTC seconds, offset minutes, usable mask) in zone ``tz``."""
    return _localize_naive(naive, tz, report, label)


def _nulls(values: F64) -> list[float | None]:
    return [None if v != v else float(v) for v in values.tolist()]


def activity_batches(
    subject: str,
    source: str,
    utc_s: I64,
    off_min: I64,
    counts: F64 | None,
    steps: F64 | None,
    epoch_s: int,
    report: ReadReport,
    label: str,
) -> list[ActivityBatch]:
    """Per-epoch samples -> one :class:`ActivityBatch` per local day and UTC offset.

    Times are floored to the epoch grid (epochs tile the minute, so the grid is aligned to
    whole minutes); a batch covers whole minutes; epochs without a sample are ``null``.
    Duplicate epochs (same time twice) are counted and the first is kept.

    >>> r = ReadReport()
    >>> t = np.array([0, 60, 120, 86400 - 60, 86400]) + 1577836800
    >>> [b.counts for b in activity_batches("s", "x", t, np.zeros(5, np.int64),
    ...  np.array([1.0, 2, 3, 4, 5]), None, 60, r, "t")][0][:3]
    [1.0, 2.0, 3.0]
    """
    if epoch_s not in EPOCHS_S:
        raise FormatError(f"epoch: {epoch_s} s is not one of {EPOCHS_S}")
    if not len(utc_s):
        return []
    k = utc_s // epoch_s
    order = np.argsort(k, kind="stable")
    k, off = k[order], off_min[order]
    c = None if counts is None else counts[order]
    s = None if steps is None else steps[order]
    dup = np.r_[False, np.diff(k) == 0]
    report.reject(f"{label}: duplicate time", int(dup.sum()))
    if dup.any():
        k, off = k[~dup], off[~dup]
        c = None if c is None else c[~dup]
        s = None if s is None else s[~dup]
    t = k * epoch_s
    day = (t + off * 60) // 86400
    cut = np.flatnonzero((np.diff(day) != 0) | (np.diff(off) != 0)) + 1
    bounds = np.r_[0, cut, len(t)]
    out: list[ActivityBatch] = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        first = int(t[a]) // 60 * 60
        last = -(-(int(t[b - 1]) + epoch_s) // 60) * 60
        n = (last - first) // epoch_s
        idx = (t[a:b] - first) // epoch_s
        grid_c = grid_s = None
        if c is not None:
            grid_c = np.full(n, np.nan)
            grid_c[idx] = c[a:b]
        if s is not None:
            grid_s = np.full(n, np.nan)
            grid_s[idx] = s[a:b]
        o = int(off[a])
        start = dt.datetime.fromtimestamp(first, dt.timezone(dt.timedelta(minutes=o)))
        msg = validated(
            ActivityBatch,
            {
                "event_id": event_id(subject, "activity", start, source),
                "subject_id": subject,
                "source": source,
                "tz_offset_min": o,
                "start": start,
                "epoch_s": epoch_s,
                "counts": None if grid_c is None else _nulls(grid_c),
                "steps": None
                if grid_s is None
                else [None if v != v else int(v) for v in grid_s.tolist()],
            },
            report,
            b - a,
        )
        if msg is not None:
            out.append(msg)
    return out


def beat_batches(
    subject: str,
    source: str,
    beat_ms: Sequence[float] | F64,
    rr_ms: Sequence[float] | F64,
    off_min: int | Sequence[int] | I64,
    report: ReadReport,
    label: str,
    *,
    tolerance_ms: float = 1000.0,
    burst_ms: float = 300_000.0,
) -> list[HeartBeatBatch]:
    """Beats (the instant each interval *ends*, unix ms) and their intervals -> batches.

    A new burst starts wherever consecutive beat times and the interval between them
    disagree by more than ``tolerance_ms`` (beats the device did not detect), where the UTC
    offset changes, and every ``burst_ms`` of beats (like a strap that syncs in bursts).

    >>> r = ReadReport()
    >>> b = beat_batches("s", "x", [1e12 + 1000, 1e12 + 2000, 1e12 + 9000], [1000, 1000, 800],
    ...                  0, r, "ibi")
    >>> [(m.rr_ms, m.first_beat.isoformat()) for m in b]
    [([1000.0, 1000.0], '2001-09-09T01:46:40+00:00'), ([800.0], '2001-09-09T01:46:48.200000+00:00')]
    """
    t = np.asarray(beat_ms, dtype=np.float64)
    rr = np.asarray(rr_ms, dtype=np.float64)
    offs = np.broadcast_to(np.asarray(off_min, dtype=np.int64), t.shape)
    if not len(t):
        return []
    bad = ~np.isfinite(t) | ~np.isfinite(rr) | (rr <= 0) | (rr >= 60_000)
    bad |= (t < _EARLIEST_S * 1000.0) | (t >= _LATEST_S * 1000.0)
    report.reject(f"{label}: bad time or interval outside (0, 60 s)", int(bad.sum()))
    t, rr, offs = t[~bad], rr[~bad], offs[~bad]
    if not len(t):
        return []
    order = np.argsort(t, kind="stable")
    t, rr, offs = t[order], rr[order], offs[order]
    dup = np.r_[False, np.diff(t) <= 0]
    report.reject(f"{label}: duplicate beat time", int(dup.sum()))
    t, rr, offs = t[~dup], rr[~dup], offs[~dup]
    if not len(t):
        return []
    gap = np.abs(np.diff(t) - rr[1:]) > tolerance_ms
    cut = np.flatnonzero(gap | (np.diff(offs) != 0)) + 1
    bounds: list[int] = [0]
    for end in [*cut.tolist(), len(t)]:
        a = bounds[-1]
        elapsed = t[a:end] - t[a]
        bounds.extend((a + np.flatnonzero(np.diff(elapsed // burst_ms) != 0) + 1).tolist())
        bounds.append(end)
    edges = sorted(set(bounds))
    out: list[HeartBeatBatch] = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        o = int(offs[a])
        first_ms = round(t[a] - rr[a])
        first = dt.datetime.fromtimestamp(first_ms / 1000.0, dt.timezone(dt.timedelta(minutes=o)))
        msg = validated(
            HeartBeatBatch,
            {
                "event_id": event_id(subject, "heartbeat", first, source),
                "subject_id": subject,
                "source": source,
                "tz_offset_min": o,
                "first_beat": first,
                "rr_ms": [float(x) for x in rr[a:b].tolist()],
            },
            report,
            b - a,
        )
        if msg is not None:
            out.append(msg)
    return out


def bridge_worn(evidence: NDArray[np.bool_], max_gap: int) -> NDArray[np.bool_]:
    """Evidence of wear per minute, plus gaps of at most ``max_gap`` minutes between two
    evidence minutes (vectorised).

    >>> bridge_worn(np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0], bool), 2).astype(int).tolist()
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    """
    n = len(evidence)
    if not evidence.any():
        return evidence.copy()
    idx = np.arange(n)
    prev = np.where(evidence, idx, -1)
    np.maximum.accumulate(prev, out=prev)
    nxt = np.where(evidence, idx, n)
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    inside = (prev >= 0) & (nxt < n) & (nxt - prev - 1 <= max_gap)
    return np.asarray(evidence | inside)


class StepGrid:
    """Steps and evidence of wear per UTC minute, allocated only for days that have data
    (memory grows with the days recorded, not with the records read).

    Steps of one source add up; across sources each minute takes the largest (a phone and
    a watch counting the same walk are not summed). A minute is worn when a step record,
    a heart-rate sample or a sleep record covers it (:meth:`mark`); gaps between worn
    minutes are bridged up to ``heart_gap`` minutes when heart rate was seen, else
    ``step_gap`` (:meth:`batches`).
    """

    def __init__(self) -> None:
        self.steps: dict[str, dict[int, NDArray[np.float32]]] = defaultdict(dict)
        self.evidence: dict[int, NDArray[np.bool_]] = {}
        self.offset: dict[int, NDArray[np.int16]] = {}
        self.heart = False  # any heart-rate sample: wear is known more precisely

    def _day(self, d: int) -> tuple[NDArray[np.bool_], NDArray[np.int16]]:
        if d not in self.evidence:
            self.evidence[d] = np.zeros(_DAY, bool)
            self.offset[d] = np.full(_DAY, -32768, np.int16)
        return self.evidence[d], self.offset[d]

    def mark(self, a: int, b: int, off: int) -> None:
        """UTC minutes [a, b) are worn, at offset ``off``."""
        if b - a == 1:  # the common case (a heart-rate sample): no slicing
            d, i = divmod(a, _DAY)
            ev1, o1 = self._day(d)
            ev1[i] = True
            o1[i] = off
            return
        for d in range(a // _DAY, (b - 1) // _DAY + 1):
            ev, o = self._day(d)
            lo, hi = max(a - d * _DAY, 0), min(b - d * _DAY, _DAY)
            ev[lo:hi] = True
            o[lo:hi] = off

    def add_steps(self, source: str, minutes: Sequence[int], values: Sequence[int]) -> None:
        """Add one record's steps (``values`` per UTC minute) to ``source``'s minutes."""
        per = self.steps[source]
        for m, v in zip(minutes, values, strict=True):
            d, i = divmod(m, _DAY)
            arr = per.get(d)
            if arr is None:
                arr = per[d] = np.full(_DAY, np.nan, np.float32)
            old = arr[i]
            arr[i] = v if old != old else old + v  # NaN: no step record yet

    def batches(
        self,
        subject: str,
        source: str,
        report: ReadReport,
        label: str,
        *,
        heart_gap: int,
        step_gap: int,
    ) -> list[ActivityBatch]:
        """Steps-only 60-s :class:`ActivityBatch` es of the worn minutes (0 steps where worn
        without a step record), one per local day; nothing without any step record."""
        if not self.steps:
            return []  # wear without any step record gives no activity messages
        days = sorted(self.evidence)
        out: list[Any] = []
        # contiguous runs of days are processed together (gaps can be bridged across midnight)
        runs: list[list[int]] = [[days[0]]]
        for d in days[1:]:
            (runs[-1].append(d) if d == runs[-1][-1] + 1 else runs.append([d]))
        max_gap = heart_gap if self.heart else step_gap
        for run in runs:
            ev = np.concatenate([self.evidence[d] for d in run])
            offs = np.concatenate([self.offset[d] for d in run]).astype(np.int64)
            steps = np.full(len(ev), np.nan, np.float64)
            for per in self.steps.values():
                for i, d in enumerate(run):
                    arr = per.get(d)
                    if arr is not None:
                        seg = steps[i * _DAY : (i + 1) * _DAY]
                        np.fmax(seg, arr.astype(np.float64), out=seg)
            worn = bridge_worn(ev, max_gap)
            offs = carry_offsets(offs)  # each record's, carried over the bridged minutes
            sel = np.flatnonzero(worn)
            values = np.where(np.isnan(steps[sel]), 0.0, steps[sel])
            utc_s = (run[0] * _DAY + sel) * 60
            out += activity_batches(
                subject, source, utc_s, offs[sel], None, values, 60, report, label
            )
        return out


def carry_offsets(offs: I64) -> I64:
    """Per-minute UTC offsets with the minutes that have none (``-32768``: bridged, worn
    without a record) given the last known offset before them; minutes before the first
    known one take that one.

    >>> carry_offsets(np.array([-32768, 60, -32768, -32768, 120, -32768])).tolist()
    [60, 60, 60, 60, 120, 120]
    """
    known = offs != -32768
    idx = np.where(known, np.arange(len(offs)), 0)
    np.maximum.accumulate(idx, out=idx)
    first_known = int(np.flatnonzero(known)[0]) if known.any() else 0
    idx[: first_known + 1] = first_known
    return offs[idx]


def spread_steps(start_s: int, end_s: int, total: int) -> tuple[list[int], list[int]]:
    """Whole steps over the UTC minutes a record spans, in proportion to the overlap, the
    total kept exactly (plain Python: records are short and there are millions of them).

    >>> spread_steps(90, 210, 7)
    ([1, 2, 3], [2, 3, 2])
    >>> spread_steps(120, 120, 5)
    ([2], [5])
    """
    a, b = start_s // 60, -(-end_s // 60)
    if end_s <= start_s or b - a == 1:
        return [a], [total]
    span = end_s - start_s
    minutes, values, prev = [], [], 0
    for m in range(a, b):
        edge = min(max((m + 1) * 60, start_s), end_s)
        cum = round((edge - start_s) / span * total)
        minutes.append(m)
        values.append(cum - prev)
        prev = cum
    return minutes, values


def sorted_messages(messages: Iterable[Any]) -> list[Any]:
    """Messages in event-time order (the day engine closes days on the watermark)."""
    return sorted(messages, key=lambda m: m.span()[0])
