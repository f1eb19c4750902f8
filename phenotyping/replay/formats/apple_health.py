"""Apple Health ``export.xml`` (the "Export All Health Data" archive, unzipped).

The file is streamed with :func:`xml.etree.ElementTree.iterparse` (every element cleared
once used) in one pass. Apple groups records by type, not by time, so the messages can only
be handed over in event-time order once everything is read: the per-day minute grids, HRV
beats, sleep segments and daily readings go to a private temporary SQLite file
(:class:`_Spill`; only :data:`GRID_CACHE_DAYS` day grids stay in memory), the minute grid is
then assembled :data:`CHUNK_DAYS` days at a time, and every message goes through the same
file, which hands them back sorted by start time (SQLite sorts on disk). Memory does not grow
with the export (exports often exceed 1 GB); the messages are exactly those, in exactly the
order, that the former all-in-memory reader produced. Every ``Record`` carries its own UTC offset
(``startDate="2023-01-05 22:14:03 +0100"``); that offset is the record's ``tz_offset_min``,
so ``--tz`` is not needed (and ignored).

What becomes what (one export = one subject: ``--subject``, else the folder name):

``HKQuantityTypeIdentifierStepCount``
    steps spread over the minutes the record spans (whole steps, the total kept exactly);
    records of one source add up; where sources overlap (iPhone and Watch count the same
    walk) each minute takes the source with most steps, never the sum.
``HKQuantityTypeIdentifierHeartRate``
    evidence of wear only (the Watch measures heart rate only on the wrist).
``HKQuantityTypeIdentifierRestingHeartRate``
    :class:`~phenotyping.events.DailySummary` ``resting_hr_bpm`` of the record's local date.
``HKQuantityTypeIdentifierHeartRateVariabilitySDNN``
    with its ``InstantaneousBeatsPerMinute`` list: a :class:`HeartBeatBatch` (RR = 60000 /
    bpm, beat times from the list); without it: ``DailySummary.sdnn_ms`` = the mean of the
    local date's SDNN readings.
``HKCategoryTypeIdentifierSleepAnalysis``
    segments (``InBed``, ``Asleep``/``AsleepUnspecified``, ``AsleepCore``, ``AsleepDeep``,
    ``AsleepREM``, ``Awake``) merged into :class:`SleepEpisode` s (segments at most
    :data:`EPISODE_GAP_MIN` apart are one episode) with 60-s stages, TST, WASO, latency and
    efficiency; the longest episode ending on a local date is the main sleep.

Wear: a minute is worn when a step record, a heart-rate sample or a sleep segment covers
it; gaps between worn minutes of at most :data:`HR_GAP_MIN` minutes (with heart rate) or
:data:`STEP_GAP_MIN` (steps only, an iPhone without a Watch) are worn with 0 steps, longer
gaps are not worn (``null``).

Names of devices and sources (``sourceName`` often holds the owner's name) are never
copied into messages: ``source`` is always ``apple-health``.
"""

from __future__ import annotations

import datetime as dt
import marshal
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phenotyping.errors import FormatError
from phenotyping.events import AnyMessage, DailySummary, SleepEpisode, decode, encode
from phenotyping.replay.formats._util import (
    ReadOptions,
    ReadReport,
    activity_batches,
    beat_batches,
    bridge_worn,
    carry_offsets,
    event_id,
    spread_steps,
    subject_from,
    validated,
)

NAME = "apple_health"
SOURCE = "apple-health"
DEFAULT_TZ = None  # every record has its own offset
#: Sleep segments closer than this are one episode.
EPISODE_GAP_MIN = 60
#: Gaps (minutes) between worn minutes bridged as worn, with heart rate / steps only.
HR_GAP_MIN = 15
STEP_GAP_MIN = 120

_HK = "HKQuantityTypeIdentifier"
STEPS = _HK + "StepCount"
HEART_RATE = _HK + "HeartRate"
RESTING_HR = _HK + "RestingHeartRate"
SDNN = _HK + "HeartRateVariabilitySDNN"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
WANTED = frozenset({STEPS, HEART_RATE, RESTING_HR, SDNN, SLEEP})

#: Sleep values -> (our stage, priority when segments overlap).
SLEEP_VALUES: dict[str, tuple[str, int]] = {
    "HKCategoryValueSleepAnalysisInBed": ("unknown", 0),
    "HKCategoryValueSleepAnalysisAwake": ("wake", 1),
    "HKCategoryValueSleepAnalysisAsleep": ("asleep", 2),
    "HKCategoryValueSleepAnalysisAsleepUnspecified": ("asleep", 2),
    "HKCategoryValueSleepAnalysisAsleepCore": ("light", 3),
    "HKCategoryValueSleepAnalysisAsleepREM": ("rem", 4),
    "HKCategoryValueSleepAnalysisAsleepDeep": ("deep", 5),
}
_STAGE_OF_CODE = {
    -1: "unknown",
    0: "unknown",
    1: "wake",
    2: "asleep",
    3: "light",
    4: "rem",
    5: "deep",
}
_DAY = 1440


def _xml_of(path: Path) -> Path:
    return path / "export.xml" if path.is_dir() else path


def sniff(path: Path) -> bool:
    """``export.xml`` (or a folder holding one) whose root is ``HealthData``."""
    xml = _xml_of(path)
    if not xml.is_file() or not xml.name.lower().endswith(".xml"):
        return False
    try:
        with xml.open("rb") as fh:
            head = fh.read(8192)
    except OSError:
        return False
    return b"<HealthData" in head


def units(path: Path) -> list[Path]:
    """The export folders (or ``export.xml`` files) under ``path``."""
    if sniff(path):
        return [path]
    if path.is_dir():
        return [p.parent for p in sorted(path.rglob("export.xml")) if sniff(p)]
    return []


@lru_cache(maxsize=4096)
def _days(date: str) -> int:
    return dt.date(int(date[0:4]), int(date[5:7]), int(date[8:10])).toordinal() - 719163


def _instant(text: str | None) -> tuple[int, int]:
    """``2023-01-05 22:14:03 +0100`` -> (UTC seconds, offset minutes); ValueError if not.

    >>> _instant("2023-01-05 22:14:03 +0100")
    (1672953243, 60)
    """
    if text is None or len(text) != 25 or text[4] != "-" or text[19] != " ":
        raise ValueError(f"date {text!r} is not 'YYYY-MM-DD HH:MM:SS +HHMM'")
    sign = -1 if text[20] == "-" else 1
    off = sign * (int(text[21:23]) * 60 + int(text[23:25]))
    sod = int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
    return _days(text[:10]) * 86400 + sod - off * 60, off


_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d\d):(\d\d)(?:[.,](\d+))?\s*([AaPp]\.?[Mm]\.?)?\s*$")


def _clock_seconds(text: str) -> float:
    """``9:32:25.77 PM`` or ``21:32:25,77`` -> seconds after local midnight.

    >>> _clock_seconds("9:32:25.77 PM"), _clock_seconds("00:00:01,5"), _clock_seconds("12:00:00 AM")
    (77545.77, 1.5, 0.0)
    """
    m = _CLOCK.match(text)
    if m is None:
        raise ValueError(f"time {text!r}")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3))
    frac = float("0." + m.group(4)) if m.group(4) else 0.0
    if m.group(5):
        pm = m.group(5)[0] in "Pp"
        h = (h % 12) + (12 if pm else 0)
    if h > 23 or mi > 59 or s > 60:
        raise ValueError(f"time {text!r}")
    return h * 3600 + mi * 60 + s + frac


def read(
    unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
) -> Iterator[AnyMessage]:
    """One export -> activity, heart-beat, sleep-episode and daily-summary messages."""
    opts = options or ReadOptions()
    report = report if report is not None else ReadReport()
    xml = _xml_of(unit)
    holder = xml.parent if xml.name.lower() == "export.xml" else xml
    subject = subject_from(opts.subject or holder.name.split(".")[0])
    with _Spill() as spill:
        _parse(xml, spill, report)
        spill.flush()
        n = 0
        for stream, messages in enumerate(
            (
                _activity(subject, spill, report),
                _beat_messages(subject, spill, report),
                _sleep(subject, spill, report),
                _summaries(subject, spill, report),
            )
        ):
            for seq, msg in enumerate(messages):
                spill.message(stream, seq, msg)
                n += 1
        report.messages += n
        yield from spill.messages()


def _parse(xml: Path, spill: _Spill, report: ReadReport) -> None:
    """The one iterparse pass: every wanted record into the spill."""
    saw_root = False
    try:
        context = ET.iterparse(xml, events=("start", "end"))
        root: ET.Element | None = None
        for event, elem in context:
            if event == "start":
                if root is None:
                    root = elem
                    saw_root = elem.tag == "HealthData"
                    if not saw_root:
                        raise FormatError(f"{xml}: not an Apple Health export (root <{elem.tag}>)")
                continue
            if elem.tag != "Record":
                if elem.tag in ("Workout", "ActivitySummary", "Correlation", "ClinicalRecord"):
                    root.clear() if root is not None else None
                continue
            kind = elem.get("type")
            if kind in WANTED:
                report.rows += 1
                try:
                    _record(kind, elem, spill)
                except (ValueError, TypeError, OverflowError) as exc:
                    report.reject(f"apple_health {_short(kind)}: {str(exc)[:80]}")
            elem.clear()
            if root is not None:
                root.clear()
    except ET.ParseError as exc:
        if not saw_root:
            raise FormatError(f"{xml}: not readable XML ({exc})") from None
        report.reject(
            f"apple_health: XML broken at {exc.position[0]}:{exc.position[1]}, rest not read"
        )
    except OSError as exc:
        raise FormatError(f"{xml}: unreadable ({exc.strerror or exc})") from None


def _short(kind: str) -> str:
    return kind.removeprefix(_HK).removeprefix("HKCategoryTypeIdentifier")


def _record(kind: str, elem: ET.Element, spill: _Spill) -> None:
    start_text = elem.get("startDate")
    end_text = elem.get("endDate") or start_text
    start, off = _instant(start_text)
    end = start if end_text == start_text else _instant(end_text)[0]
    if end < start:
        raise ValueError("endDate before startDate")
    if not (631152000 <= start < 4102444800):  # 1990..2100
        raise ValueError("time outside 1990..2100 (device clock?)")
    if end - start > 86400 * 7:
        raise ValueError("record spans more than 7 days")
    if kind == SLEEP:
        value = elem.get("value") or ""
        if value not in SLEEP_VALUES:
            raise ValueError(f"sleep value {value[:40]!r} unknown")
        if end - start >= 30:
            spill.segment(start, end, off, SLEEP_VALUES[value][1])
        return
    text = elem.get("value") or ""
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not np.isfinite(number) or number < 0:
        raise ValueError(f"value {text[:20]!r} is not a number >= 0")
    if kind == STEPS:
        mins, vals = spread_steps(start, end, round(number))
        if max(vals) > 1000:
            raise ValueError("more than 1000 steps in a minute")
        spill.grid.add_steps(elem.get("sourceName") or "", mins, vals)
        spill.grid.mark(mins[0], mins[-1] + 1, off)
    elif kind == HEART_RATE:
        if not 20 <= number <= 250:
            raise ValueError("heart rate outside 20..250 bpm")
        spill.grid.mark(start // 60, start // 60 + 1, off)
        spill.grid.heart = True
    elif kind == RESTING_HR:
        spill.daily((start + off * 60) // 86400, off, "resting_hr_bpm", number)
    elif kind == SDNN:
        bpm_list = elem.find("HeartRateVariabilityMetadataList")
        points = [] if bpm_list is None else bpm_list.findall("InstantaneousBeatsPerMinute")
        if points:
            spill.beats(*_beats(points, start, off))
        else:
            spill.daily((start + off * 60) // 86400, off, "sdnn_ms", number)


def _beats(points: list[ET.Element], start: int, off: int) -> tuple[list[float], list[float], int]:
    """InstantaneousBeatsPerMinute (a bpm and a local clock time per beat) -> beat times (ms)
    and RR (60000 / bpm). The clock time has no date: the record's start date, or the day
    before/after when that puts the beat nearer the record's start (lists crossing midnight)."""
    local_start = start + off * 60
    midnight = local_start // 86400 * 86400
    times: list[float] = []
    rr: list[float] = []
    for p in points:
        bpm = float(p.get("bpm") or "nan")
        sod = _clock_seconds(p.get("time") or "")
        local = midnight + sod
        local += 86400 * round((local_start - local) / 86400)
        times.append((local - off * 60) * 1000.0)
        rr.append(60000.0 / bpm if bpm > 0 else float("nan"))
    return times, rr, off


def _sleep(subject: str, spill: _Spill, report: ReadReport) -> Iterator[Any]:
    """Episodes in start order; two passes over the sorted segments (the first finds each
    local date's longest episode, the main sleep; the second builds the messages)."""
    db = spill.db
    built = 0
    for a, b, off, _ in _episodes(spill, report, count=True):
        end_day = (b * 60 + off * 60) // 86400
        db.execute("INSERT INTO eps VALUES (?, ?, ?)", (built, end_day, b - a))
        built += 1
    # the longest episode ending on each local date (the first of equals) is the main sleep
    mains = db.execute(
        "SELECT i, i IN (SELECT i FROM (SELECT i, ROW_NUMBER() OVER (PARTITION BY end_day "
        "ORDER BY tib DESC, i) AS rn FROM eps) WHERE rn = 1) FROM eps ORDER BY i"
    )
    for (a, b, off, segs), (_, is_main) in zip(
        _episodes(spill, report, count=False), mains, strict=True
    ):
        code = np.full(b - a, -1, np.int64)
        for s, e, prio in segs:
            lo, hi = round(s / 60) - a, round(e / 60) - a
            if hi > lo:
                code[lo:hi] = np.maximum(code[lo:hi], prio)
        asleep = np.flatnonzero(code >= 2)
        tz = dt.timezone(dt.timedelta(minutes=off))
        body: dict[str, Any] = {
            "start": dt.datetime.fromtimestamp(a * 60, tz),
            "end": dt.datetime.fromtimestamp(b * 60, tz),
            "tz_offset_min": off,
            "time_in_bed_min": float(b - a),
        }
        if len(asleep):
            first, last = int(asleep[0]), int(asleep[-1])
            body["tst_min"] = float(len(asleep))
            body["latency_min"] = float(first)
            body["waso_min"] = float(np.count_nonzero(code[first : last + 1] < 2))
            body["efficiency_pct"] = round(100.0 * len(asleep) / (b - a), 2)
            body["stages"] = {"epoch_s": 60, "stages": [_STAGE_OF_CODE[int(c)] for c in code]}
        msg = validated(
            SleepEpisode,
            {
                "event_id": event_id(subject, "sleep", body["start"], SOURCE),
                "subject_id": subject,
                "source": SOURCE,
                "is_main_sleep": bool(is_main),
                **body,
            },
            report,
            1,
        )
        if msg is not None:
            yield msg


def _episodes(
    spill: _Spill, report: ReadReport, *, count: bool
) -> Iterator[tuple[int, int, int, list[tuple[int, int, int]]]]:
    """Sorted segments merged into episodes: (first minute, end minute, offset of the first
    segment, [(start s, end s, priority)]); episodes longer than a day are rejected (counted
    once, when ``count``)."""
    rows = spill.db.execute("SELECT a, b, off, prio FROM segs ORDER BY a, b, off, prio")
    segs: list[tuple[int, int, int, int]] = []
    end: int | None = None
    for seg in rows:
        if end is not None and seg[0] > end + EPISODE_GAP_MIN * 60:
            done = _episode(segs, report, count)
            if done is not None:
                yield done
            segs = []
        segs.append(seg)
        end = seg[1] if end is None else max(end, seg[1])
    if segs:
        done = _episode(segs, report, count)
        if done is not None:
            yield done


def _episode(
    segs: list[tuple[int, int, int, int]], report: ReadReport, count: bool
) -> tuple[int, int, int, list[tuple[int, int, int]]] | None:
    a = min(s[0] for s in segs) // 60
    b = -(-max(s[1] for s in segs) // 60)
    if b - a > _DAY:
        if count:
            report.reject("apple_health sleep: episode longer than 24 h", len(segs))
        return None
    return a, b, segs[0][2], [(s, e, p) for s, e, _, p in segs]


def _summaries(subject: str, spill: _Spill, report: ReadReport) -> Iterator[Any]:
    """One summary per local date: the mean of each field's readings (in reading order) of
    the date's first offset, a later offset's mean replacing it."""
    rows = spill.db.execute("SELECT day, off, field, value FROM daily ORDER BY day, off, seq")
    day: int | None = None
    off = 0
    fields: dict[str, float] = {}
    group: tuple[int, int, str] | None = None
    values: list[float] = []

    def close_group() -> None:
        if group is not None:
            fields[group[2]] = round(float(np.mean(values)), 3)

    for d, o, f, v in rows:
        if (d, o, f) != group:
            close_group()
            if d != day:
                if day is not None:
                    msg = _summary(subject, day, off, fields, report)
                    if msg is not None:
                        yield msg
                day, off, fields = d, o, {}
            group, values = (d, o, f), []
        values.append(v)
    close_group()
    if day is not None:
        msg = _summary(subject, day, off, fields, report)
        if msg is not None:
            yield msg


def _summary(subject: str, day: int, off: int, fields: dict[str, float], report: ReadReport) -> Any:
    date = dt.date.fromordinal(day + 719163)
    start = dt.datetime.combine(date, dt.time(), dt.timezone(dt.timedelta(minutes=off)))
    return validated(
        DailySummary,
        {
            "event_id": event_id(subject, "daily_summary", start, SOURCE),
            "subject_id": subject,
            "source": SOURCE,
            "tz_offset_min": off,
            "date": date,
            **fields,
        },
        report,
        1,
    )


def _beat_messages(subject: str, spill: _Spill, report: ReadReport) -> Iterator[Any]:
    """Each HRV record's beats, in reading order."""
    for (blob,) in spill.db.execute("SELECT blob FROM beats ORDER BY seq"):
        beat_ms, rr, off = marshal.loads(blob)
        yield from beat_batches(subject, SOURCE, beat_ms, rr, off, report, "apple_health HRV beats")


def _activity(subject: str, spill: _Spill, report: ReadReport) -> Iterator[Any]:
    """Steps-only 60-s activity batches, one per local day and offset, computed over
    :data:`CHUNK_DAYS` UTC days at a time.

    Each chunk is computed with :data:`_MARGIN_BEFORE` / :data:`_MARGIN_AFTER` days of
    context and emits only the batches whose first minute falls in the chunk. A batch spans
    less than a day and gaps are bridged over at most ``STEP_GAP_MIN`` (< 1 day) minutes, so
    with two days of context before and three after, every emitted batch sees exactly the
    minutes (worn, steps, offsets) that the whole series would give it, and so does the
    cut between it and its neighbours (the nearest minute that could differ is more than a
    day away, hence in another local day). Offsets carried over bridged minutes continue
    from the last known offset before the context (``carry``).
    """
    grid = spill.grid
    if not grid.any_steps:
        return  # wear without any step record gives no activity messages
    days = grid.days()
    max_gap = HR_GAP_MIN if grid.heart else STEP_GAP_MIN
    runs: list[tuple[int, int]] = []  # [first, last] day of each contiguous run
    for d in days:
        if runs and d == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    del days
    for first, last in runs:
        carry: int | None = None
        for c0 in range(first, last + 1, CHUNK_DAYS):
            c1 = min(c0 + CHUNK_DAYS, last + 1)
            e0, e1 = max(first, c0 - _MARGIN_BEFORE), min(last + 1, c1 + _MARGIN_AFTER)
            ev, offs, steps = grid.window(e0, e1)
            worn = bridge_worn(ev, max_gap)
            if carry is not None and offs[0] == -32768:
                offs[0] = carry  # the offset of the last known minute before the window
            offs = carry_offsets(offs)
            nxt = max(first, c1 - _MARGIN_BEFORE)  # the next chunk's context starts here
            carry = int(offs[(nxt - e0) * _DAY - 1]) if nxt > first else None
            sel = np.flatnonzero(worn)
            if not len(sel):
                continue
            t = (e0 * _DAY + sel) * 60
            o = offs[sel]
            local_day = (t + o * 60) // 86400
            starts = np.r_[0, np.flatnonzero((np.diff(local_day) != 0) | (np.diff(o) != 0)) + 1]
            keep = (t[starts] >= c0 * _DAY * 60) & (t[starts] < c1 * _DAY * 60)
            if not keep.any():
                continue
            bounds = np.r_[starts, len(t)]
            lo = int(starts[np.flatnonzero(keep)[0]])
            hi = int(bounds[np.flatnonzero(keep)[-1] + 1])
            part = sel[lo:hi]
            values = np.where(np.isnan(steps[part]), 0.0, steps[part])
            yield from activity_batches(
                subject, SOURCE, t[lo:hi], o[lo:hi], None, values, 60, report, "apple_health steps"
            )


#: UTC days of the minute grid assembled at once (memory ~ 50 bytes per minute of it).
CHUNK_DAYS = 28
_MARGIN_BEFORE = 2
_MARGIN_AFTER = 3
#: Day grids (per source, plus wear) held in memory while parsing; the rest is on disk.
GRID_CACHE_DAYS = 64


class _SpilledGrid:
    """:class:`~phenotyping.replay.formats._util.StepGrid`'s per-day arrays, with only the
    :data:`GRID_CACHE_DAYS` most recently used in memory and the others in the spill
    database (exports are grouped by type and, within a type, by time, so the cache nearly
    always hits)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.heart = False
        self.any_steps = False
        self._cache: OrderedDict[tuple[str | None, int], NDArray[Any]] = OrderedDict()

    def _get(self, key: tuple[str | None, int]) -> NDArray[Any] | None:
        arr = self._cache.get(key)
        if arr is not None:
            self._cache.move_to_end(key)
            return arr
        src, day = key
        row = self.db.execute(
            "SELECT blob FROM grid WHERE day = ? AND wear = ? AND src = ?",
            (day, src is None, src or ""),
        ).fetchone()
        if row is None:
            return None
        arr = np.frombuffer(row[0], _WEAR if src is None else np.float32).copy()
        self._put(key, arr)
        return arr

    def _put(self, key: tuple[str | None, int], arr: NDArray[Any]) -> None:
        self._cache[key] = arr
        while len(self._cache) > GRID_CACHE_DAYS:
            self._write(*self._cache.popitem(last=False))

    def _write(self, key: tuple[str | None, int], arr: NDArray[Any]) -> None:
        src, day = key
        self.db.execute(
            "INSERT OR REPLACE INTO grid VALUES (?, ?, ?, ?)",
            (day, src is None, src or "", arr.tobytes()),
        )

    def flush(self) -> None:
        while self._cache:
            self._write(*self._cache.popitem(last=False))

    def _wear(self, d: int) -> NDArray[Any]:
        arr = self._get((None, d))
        if arr is None:
            arr = np.zeros(_DAY, _WEAR)
            arr["off"] = -32768
            self._put((None, d), arr)
        return arr

    def mark(self, a: int, b: int, off: int) -> None:
        """UTC minutes [a, b) are worn, at offset ``off``."""
        for d in range(a // _DAY, (b - 1) // _DAY + 1):
            w = self._wear(d)
            lo, hi = max(a - d * _DAY, 0), min(b - d * _DAY, _DAY)
            w["ev"][lo:hi] = True
            w["off"][lo:hi] = off

    def add_steps(self, source: str, minutes: list[int], values: list[int]) -> None:
        """Add one record's steps (``values`` per UTC minute) to ``source``'s minutes."""
        self.any_steps = True
        for m, v in zip(minutes, values, strict=True):
            d, i = divmod(m, _DAY)
            arr = self._get((source, d))
            if arr is None:
                arr = np.full(_DAY, np.nan, np.float32)
                self._put((source, d), arr)
            old = arr[i]
            arr[i] = v if old != old else old + v  # NaN: no step record yet

    def days(self) -> list[int]:
        """Days with evidence of wear (one int each: a few bytes per day recorded)."""
        return [d for (d,) in self.db.execute("SELECT day FROM grid WHERE wear ORDER BY day")]

    def window(
        self, d0: int, d1: int
    ) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.float64]]:
        """Evidence, offsets and steps (the largest over sources) of UTC days [d0, d1)."""
        n = (d1 - d0) * _DAY
        ev = np.zeros(n, bool)
        offs = np.full(n, -32768, np.int64)
        steps = np.full(n, np.nan, np.float64)
        for wear, day, blob in self.db.execute(
            "SELECT wear, day, blob FROM grid WHERE day >= ? AND day < ?", (d0, d1)
        ):
            i = (day - d0) * _DAY
            if wear:
                w = np.frombuffer(blob, _WEAR)
                ev[i : i + _DAY] = w["ev"]
                offs[i : i + _DAY] = w["off"]
            else:
                seg = steps[i : i + _DAY]
                np.fmax(seg, np.frombuffer(blob, np.float32).astype(np.float64), out=seg)
        return ev, offs, steps


_WEAR = np.dtype([("ev", bool), ("off", np.int16)])


class _Spill:
    """The reader's private on-disk store: a temporary SQLite database (deleted when closed)
    holding the day grids, HRV beats, sleep segments, daily readings and finally the
    messages, which come back in event-time order (SQLite sorts on disk). Memory stays at
    the caches' size whatever the export's."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")  # "": a private temporary file, removed on close
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4000;
            PRAGMA temp_store = FILE;
            CREATE TABLE grid (day INTEGER, wear INTEGER, src TEXT, blob BLOB,
                               PRIMARY KEY (day, wear, src));
            CREATE TABLE beats (seq INTEGER PRIMARY KEY, blob BLOB);
            CREATE TABLE segs (seq INTEGER PRIMARY KEY, a INTEGER, b INTEGER, off INTEGER,
                               prio INTEGER);
            CREATE TABLE daily (seq INTEGER PRIMARY KEY, day INTEGER, off INTEGER, field TEXT,
                                value REAL);
            CREATE TABLE eps (i INTEGER PRIMARY KEY, end_day INTEGER, tib INTEGER);
            CREATE TABLE msgs (t INTEGER, stream INTEGER, seq INTEGER, blob BLOB);
            """
        )
        self.grid = _SpilledGrid(self.db)

    def __enter__(self) -> _Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()

    def segment(self, a: int, b: int, off: int, prio: int) -> None:
        self.db.execute("INSERT INTO segs (a, b, off, prio) VALUES (?, ?, ?, ?)", (a, b, off, prio))

    def daily(self, day: int, off: int, field: str, value: float) -> None:
        self.db.execute(
            "INSERT INTO daily (day, off, field, value) VALUES (?, ?, ?, ?)",
            (day, off, field, value),
        )

    def beats(self, beat_ms: list[float], rr: list[float], off: int) -> None:
        self.db.execute("INSERT INTO beats (blob) VALUES (?)", (marshal.dumps((beat_ms, rr, off)),))

    def flush(self) -> None:
        """End of parsing: day grids to disk, sleep segments marked as worn (in reading
        order, after every other record, as the in-memory reader did)."""
        for a, b, off in self.db.execute("SELECT a, b, off FROM segs ORDER BY seq").fetchall():
            self.grid.mark(a // 60, -(-b // 60), off)
        self.grid.flush()

    def message(self, stream: int, seq: int, msg: Any) -> None:
        t = (msg.span()[0] - _EPOCH) // _US
        # the wire encoding, read back with the wire decoder: no pickle, even in a private file
        self.db.execute("INSERT INTO msgs VALUES (?, ?, ?, ?)", (t, stream, seq, encode(msg)))

    def messages(self) -> Iterator[Any]:
        """Every message by start time; equal times in the order the in-memory reader's
        stable sort kept (activity, beats, sleep, summaries; then production order)."""
        for (blob,) in self.db.execute("SELECT blob FROM msgs ORDER BY t, stream, seq"):
            yield decode(blob)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)
