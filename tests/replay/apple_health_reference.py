"""Apple Health ``export.xml`` (the "Export All Health Data" archive, unzipped).

The file is streamed with :func:`xml.etree.ElementTree.iterparse` and every element is
cleared once used, so memory stays bounded by the number of *days* recorded, not by the
size of the file (exports often exceed 1 GB). Every ``Record`` carries its own UTC offset
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
    ``AsleepREM``, ``Awake``) merged into :class:`SleepEpisode` s (segments less than
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
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from phenotyping.errors import FormatError
from phenotyping.events import AnyMessage, DailySummary, SleepEpisode
from phenotyping.replay.formats._util import (
    ReadOptions,
    ReadReport,
    StepGrid,
    beat_batches,
    event_id,
    sorted_messages,
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
    minutes = StepGrid()
    beats: list[tuple[list[float], list[float], int]] = []
    daily: dict[tuple[int, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    segments: list[tuple[int, int, int, int]] = []  # start s, end s, offset, priority
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
                    _record(kind, elem, minutes, beats, daily, segments)
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
    out: list[Any] = []
    for seg_start, seg_end, seg_off, _ in segments:
        minutes.mark(seg_start // 60, -(-seg_end // 60), seg_off)
    out += minutes.batches(
        subject, SOURCE, report, "apple_health steps", heart_gap=HR_GAP_MIN, step_gap=STEP_GAP_MIN
    )
    for beat_ms, rr, off in beats:
        out += beat_batches(subject, SOURCE, beat_ms, rr, off, report, "apple_health HRV beats")
    out += _sleep(subject, segments, report)
    out += _summaries(subject, daily, report)
    report.messages += len(out)
    yield from sorted_messages(out)


def _short(kind: str) -> str:
    return kind.removeprefix(_HK).removeprefix("HKCategoryTypeIdentifier")


def _record(
    kind: str,
    elem: ET.Element,
    minutes: StepGrid,
    beats: list[tuple[list[float], list[float], int]],
    daily: dict[tuple[int, int], dict[str, list[float]]],
    segments: list[tuple[int, int, int, int]],
) -> None:
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
            segments.append((start, end, off, SLEEP_VALUES[value][1]))
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
        minutes.add_steps(elem.get("sourceName") or "", mins, vals)
        minutes.mark(mins[0], mins[-1] + 1, off)
    elif kind == HEART_RATE:
        if not 20 <= number <= 250:
            raise ValueError("heart rate outside 20..250 bpm")
        minutes.mark(start // 60, start // 60 + 1, off)
        minutes.heart = True
    elif kind == RESTING_HR:
        day = (start + off * 60) // 86400
        daily[(day, off)]["resting_hr_bpm"].append(number)
    elif kind == SDNN:
        bpm_list = elem.find("HeartRateVariabilityMetadataList")
        points = [] if bpm_list is None else bpm_list.findall("InstantaneousBeatsPerMinute")
        if points:
            beats.append(_beats(points, start, off))
        else:
            day = (start + off * 60) // 86400
            daily[(day, off)]["sdnn_ms"].append(number)


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


def _sleep(
    subject: str, segments: list[tuple[int, int, int, int]], report: ReadReport
) -> list[Any]:
    if not segments:
        return []
    segments.sort()
    episodes: list[list[tuple[int, int, int, int]]] = [[segments[0]]]
    end = segments[0][1]
    for seg in segments[1:]:
        if seg[0] <= end + EPISODE_GAP_MIN * 60:
            episodes[-1].append(seg)
        else:
            episodes.append([seg])
        end = max(end, seg[1])
    built: list[dict[str, Any]] = []
    for segs in episodes:
        a = min(s[0] for s in segs) // 60
        b = -(-max(s[1] for s in segs) // 60)
        if b - a > _DAY:
            report.reject("apple_health sleep: episode longer than 24 h", len(segs))
            continue
        code = np.full(b - a, -1, np.int64)
        for s, e, _, prio in segs:
            lo, hi = round(s / 60) - a, round(e / 60) - a
            if hi > lo:
                code[lo:hi] = np.maximum(code[lo:hi], prio)
        asleep = np.flatnonzero(code >= 2)
        off = segs[0][2]
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
        built.append(body)
    # the longest episode ending on each local date is that night's main sleep
    longest: dict[int, int] = {}
    for i, body in enumerate(built):
        end_day = (int(body["end"].timestamp()) + body["tz_offset_min"] * 60) // 86400
        j = longest.get(end_day)
        if j is None or body["time_in_bed_min"] > built[j]["time_in_bed_min"]:
            longest[end_day] = i
    mains = set(longest.values())
    out: list[Any] = []
    for i, body in enumerate(built):
        msg = validated(
            SleepEpisode,
            {
                "event_id": event_id(subject, "sleep", body["start"], SOURCE),
                "subject_id": subject,
                "source": SOURCE,
                "is_main_sleep": i in mains,
                **body,
            },
            report,
            1,
        )
        if msg is not None:
            out.append(msg)
    return out


def _summaries(
    subject: str, daily: dict[tuple[int, int], dict[str, list[float]]], report: ReadReport
) -> list[Any]:
    merged: dict[int, tuple[int, dict[str, float]]] = {}
    for (day, off), values in sorted(daily.items()):
        _, fields = merged.setdefault(day, (off, {}))
        for k, v in values.items():
            fields[k] = round(float(np.mean(v)), 3)
    out: list[Any] = []
    for day, (off, fields) in sorted(merged.items()):
        date = dt.date.fromordinal(day + 719163)
        start = dt.datetime.combine(date, dt.time(), dt.timezone(dt.timedelta(minutes=off)))
        msg = validated(
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
        if msg is not None:
            out.append(msg)
    return out
