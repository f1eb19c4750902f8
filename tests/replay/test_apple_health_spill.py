"""The Apple Health reader spills to disk (bounded memory) yet emits exactly what the
in-memory reader did: same messages, same ids, same order, same report.

Three yardsticks, none of them the code under test:

* ``apple_health_golden.json``: digests of the former in-memory reader's output (messages,
  ids, order, report). The fixture and generated-export digests were taken before the spill
  was written; the travel export's and the seeded random corpus's were taken with that
  reader's verbatim copy (kept in the tests until then, commit 965cf24) just before the copy
  was removed.
* small exports whose expected messages are written out by hand from the format's rules;
* properties that need no second reader, checked on random exports with one-day chunks and
  cache so that every chunk boundary, context margin, offset carry and cache eviction is
  used: the same output whatever the chunk size, no record lost or counted twice, every
  rejection the one its rule names, wear exactly the bridged evidence, step totals, order,
  daily summaries and sleep episodes as the format's rules say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from apple_export import generator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phenotyping.events import ActivityBatch, DailySummary, SleepEpisode
from phenotyping.replay.formats import ReadReport, apple_health

HERE = Path(__file__).parent
EXPORT = HERE.parent / "data" / "importers" / "apple_health_export"
GOLDEN = json.loads((HERE / "apple_health_golden.json").read_text())

Rec = tuple[str, str, str, str, str]  # type, source, startDate, endDate, value
_HK = "HKQuantityTypeIdentifier"
STEPS, HEART_RATE = _HK + "StepCount", _HK + "HeartRate"
RESTING_HR, SDNN = _HK + "RestingHeartRate", _HK + "HeartRateVariabilitySDNN"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"


def _digest(path: Path) -> dict[str, Any]:
    return _digest_of(*_read(path))


def _digest_of(msgs: list[Any], report: ReadReport) -> dict[str, Any]:
    """What the golden file keeps of a read: count, a hash of every message in order, the
    report's rejections."""
    h = hashlib.sha256()
    for m in msgs:
        h.update(m.model_dump_json().encode())
        h.update(b"\n")
    assert report.messages == len(msgs)
    return {
        "messages": len(msgs),
        "sha256": h.hexdigest(),
        "unusable": dict(sorted(report.unusable.items())),
    }


@contextmanager
def _chunks(days: int, cache: int) -> Iterator[None]:
    """The reader with ``days``-day chunks and ``cache`` cached day grids."""
    saved = apple_health.CHUNK_DAYS, apple_health.GRID_CACHE_DAYS
    apple_health.CHUNK_DAYS, apple_health.GRID_CACHE_DAYS = days, cache
    try:
        yield
    finally:
        apple_health.CHUNK_DAYS, apple_health.GRID_CACHE_DAYS = saved


@pytest.fixture
def tiny_chunks() -> Iterator[None]:
    with _chunks(1, 1):
        yield


def _export(parent: Path, records: list[Rec]) -> Path:
    """An export folder holding ``records`` (its name, the subject id, fixed: the digests
    cover the subject id)."""
    d = parent / "apple_health_export"
    d.mkdir(parents=True)
    body = "".join(
        f'<Record type="{kind}" sourceName="{src}" startDate="{a}" endDate="{b}" value="{v}"/>'
        for kind, src, a, b, v in records
    )
    (d / "export.xml").write_text(
        '<?xml version="1.0"?><HealthData locale="en_US">' + body + "</HealthData>"
    )
    return d


def _read(path: Path) -> tuple[list[Any], ReadReport]:
    report = ReadReport()
    return list(apple_health.read(path, report=report)), report


# --- golden digests of the former reader ---------------------------------------------


def test_fixture_matches_golden() -> None:
    assert _digest(EXPORT) == GOLDEN["fixture"]


@pytest.mark.parametrize("chunk", [28, 1])
def test_generated_exports_match_golden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(apple_health, "CHUNK_DAYS", chunk)
    monkeypatch.setattr(apple_health, "GRID_CACHE_DAYS", 2 if chunk == 1 else 64)
    gen = generator()
    for mb, seed in [(1.5, 1), (3, 2)]:
        path = tmp_path / f"s{seed}" / "apple_health_export"
        gen.write_export(path, int(mb * 1e6), seed=seed)
        assert _digest(path) == GOLDEN[f"generated_{mb}mb_seed{seed}"]


def _travel_records() -> list[Rec]:
    """Offsets that change mid-run (travel), a run of days with wear but steps only on some,
    gaps just under and over the bridge, sleep across midnight in another zone: with
    one-day chunks every batch straddles a chunk edge somewhere."""
    recs: list[Rec] = []
    for day in range(1, 9):
        tz = "+0100" if day < 4 else ("-0500" if day < 7 else "+0930")
        d = f"2023-03-{day:02d}"
        recs.append((STEPS, "Watch", f"{d} 23:50:00 {tz}", f"{d} 23:59:00 {tz}", "120"))
        recs.append((STEPS, "Phone", f"{d} 23:50:00 {tz}", f"{d} 23:55:00 {tz}", "90"))
        if day % 3:
            recs.append((STEPS, "Watch", f"{d} 00:10:00 {tz}", f"{d} 00:40:00 {tz}", "300"))
        recs.append((HEART_RATE, "Watch", f"{d} 12:00:00 {tz}", f"{d} 12:00:00 {tz}", "70"))
        recs.append((HEART_RATE, "Watch", f"{d} 12:14:00 {tz}", f"{d} 12:14:00 {tz}", "71"))
        recs.append((HEART_RATE, "Watch", f"{d} 13:00:00 {tz}", f"{d} 13:00:00 {tz}", "72"))
        core = "HKCategoryValueSleepAnalysisAsleepCore"
        recs.append((SLEEP, "Watch", f"{d} 01:00:00 {tz}", f"{d} 06:30:00 {tz}", core))
        recs.append(
            (RESTING_HR, "Watch", f"{d} 09:00:00 {tz}", f"{d} 09:00:00 {tz}", str(50 + day))
        )
    return recs


def test_travel_gaps_and_chunk_edges_match_golden(tmp_path: Path, tiny_chunks: None) -> None:
    digest = _digest(_export(tmp_path, _travel_records()))
    assert digest["messages"] > 20
    assert digest == GOLDEN["travel_chunk_edges"]


# The corpus: the lists the property test below samples from, drawn with a seeded
# ``random.Random`` so that the golden digests pin exactly these exports.
DATE_LIST = [
    "2023-01-05 08:00:00 +0100",
    "2023-01-05 08:03:00 +0100",
    "2023-01-05 23:58:00 +0100",
    "2023-01-06 00:20:00 +0000",
    "2023-01-06 07:00:00 -0930",
    "2023-01-07 03:00:00 +1400",
    "2023-01-08 10:00:00 +0100",
    "2023-01-12 10:00:00 +0100",
    "1970-01-01 00:00:00 +0000",
    "yesterday",
]
KIND_LIST = [STEPS, HEART_RATE, RESTING_HR, SDNN, SLEEP]
SOURCE_LIST = ["Watch", "Phone"]
VALUE_LIST = [
    "90",
    "0",
    "2000",
    "45.5",
    "-3",
    "x",
    "HKCategoryValueSleepAnalysisAsleepDeep",
    "HKCategoryValueSleepAnalysisInBed",
    "HKCategoryValueSleepAnalysisAwake",
]
CORPUS = 300


def _corpus_records(seed: int) -> list[Rec]:
    rng = random.Random(seed)
    return [
        (
            rng.choice(KIND_LIST),
            rng.choice(SOURCE_LIST),
            rng.choice(DATE_LIST),
            rng.choice(DATE_LIST),
            rng.choice(VALUE_LIST),
        )
        for _ in range(rng.randint(0, 25))
    ]


def test_seeded_random_exports_match_golden(tmp_path: Path, tiny_chunks: None) -> None:
    golden = GOLDEN["random_corpus"]  # sha256 of each read's digest, first 16 hex digits
    assert len(golden) == CORPUS
    for seed in range(CORPUS):
        d = tmp_path / str(seed)
        records = _corpus_records(seed)
        msgs, report = _read(_export(d, records))
        digest = json.dumps(_digest_of(msgs, report), sort_keys=True).encode()
        assert hashlib.sha256(digest).hexdigest()[:16] == golden[seed], seed
        _check_properties(records, msgs, report)


# --- an export whose messages are written out by hand ---------------------------------


def _at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M %z")


def test_steps_across_midnight_travel_and_chunk_edges_by_hand(
    tmp_path: Path, tiny_chunks: None
) -> None:
    """Steps only (no heart rate), so gaps of up to 120 min are worn with 0 steps."""
    w, p = "Watch", "Phone"
    recs: list[Rec] = [
        # 10 steps a minute 23:30-23:39 (+0100), 7 more at 23:35 from the same source
        (STEPS, w, "2023-03-01 23:30:00 +0100", "2023-03-01 23:40:00 +0100", "100"),
        (STEPS, w, "2023-03-01 23:35:00 +0100", "2023-03-01 23:36:00 +0100", "7"),
        # 5 a minute 00:20-00:29: the 40 min before are bridged and local midnight cuts
        (STEPS, w, "2023-03-02 00:20:00 +0100", "2023-03-02 00:30:00 +0100", "50"),
        # 13.5 h later in New York: a new run; the phone's 2/min loses to the watch's
        # 5/min, its 15/min wins
        (STEPS, w, "2023-03-02 08:00:00 -0500", "2023-03-02 08:05:00 -0500", "25"),
        (STEPS, p, "2023-03-02 08:00:00 -0500", "2023-03-02 08:02:00 -0500", "4"),
        (STEPS, p, "2023-03-02 08:03:00 -0500", "2023-03-02 08:05:00 -0500", "30"),
        # 45 min bridged, 2 a minute, 35 min bridged at the carried offset -0500,
        (STEPS, w, "2023-03-02 08:50:00 -0500", "2023-03-02 08:55:00 -0500", "10"),
        # then the offset changes (+0100): a new batch, same local date
        (STEPS, w, "2023-03-02 15:30:00 +0100", "2023-03-02 15:35:00 +0100", "15"),
        # across UTC midnight (a chunk edge) but one local day (+0930): one batch, which
        # a sleep segment 20 min later extends (in bed: worn, 0 steps)
        (STEPS, w, "2023-03-04 09:20:00 +0930", "2023-03-04 09:40:00 +0930", "40"),
        (
            SLEEP,
            w,
            "2023-03-04 10:00:00 +0930",
            "2023-03-04 10:30:00 +0930",
            "HKCategoryValueSleepAnalysisInBed",
        ),
        # one local date, two offsets: the summary takes the date's smallest offset and
        # each field the mean of its readings at the largest offset
        (RESTING_HR, w, "2023-03-02 07:00:00 +0100", "2023-03-02 07:00:00 +0100", "60"),
        (RESTING_HR, w, "2023-03-02 09:00:00 -0500", "2023-03-02 09:00:00 -0500", "50"),
        (RESTING_HR, w, "2023-03-02 10:00:00 -0500", "2023-03-02 10:00:00 -0500", "54"),
        (SDNN, w, "2023-03-02 10:00:00 -0500", "2023-03-02 10:00:00 -0500", "40"),
        (SDNN, w, "2023-03-02 11:00:00 -0500", "2023-03-02 11:00:00 -0500", "45"),
    ]
    msgs, report = _read(_export(tmp_path, recs))
    assert (report.rows, report.messages, dict(report.unusable)) == (15, 7, {})
    got = [
        (m.type, m.start, m.tz_offset_min, m.steps) for m in msgs if isinstance(m, ActivityBatch)
    ]
    assert got == [
        ("activity", _at("2023-03-01 23:30 +0100"), 60, [10] * 5 + [17] + [10] * 4 + [0] * 20),
        ("activity", _at("2023-03-02 00:00 +0100"), 60, [0] * 20 + [5] * 10),
        (
            "activity",
            _at("2023-03-02 08:00 -0500"),
            -300,
            [5, 5, 5, 15, 15] + [0] * 45 + [2] * 5 + [0] * 35,
        ),
        ("activity", _at("2023-03-02 15:30 +0100"), 60, [3] * 5),
        ("activity", _at("2023-03-04 09:20 +0930"), 570, [2] * 20 + [0] * 50),
    ]
    (summary,) = [m for m in msgs if isinstance(m, DailySummary)]
    assert (summary.date, summary.tz_offset_min) == (dt.date(2023, 3, 2), -300)
    assert (summary.resting_hr_bpm, summary.sdnn_ms) == (60.0, 42.5)
    (night,) = [m for m in msgs if isinstance(m, SleepEpisode)]
    assert (night.start, night.end, night.tz_offset_min) == (
        _at("2023-03-04 10:00 +0930"),
        _at("2023-03-04 10:30 +0930"),
        570,
    )
    assert (night.time_in_bed_min, night.tst_min, night.is_main_sleep) == (30.0, None, True)
    # event-time order: the summary's day starts at local midnight (-0500), the sleep
    # episode after the activity batch it overlaps
    assert [m.type for m in msgs] == [
        "activity",
        "activity",
        "daily_summary",
        "activity",
        "activity",
        "activity",
        "sleep",
    ]


def test_the_rules_at_their_boundaries_by_hand(tmp_path: Path, tiny_chunks: None) -> None:
    """Gaps of 15/16 min with heart rate and 120/121 min without; sleep segments 60 and
    60.5 min apart, 29 and 30 s long."""
    w, core = "Watch", "HKCategoryValueSleepAnalysisAsleepCore"

    def rec(kind: str, a: str, b: str, value: str) -> Rec:
        return (kind, w, f"2023-05-0{a} +0000", f"2023-05-0{b} +0000", value)

    with_hr = [
        rec(STEPS, "1 10:00:00", "1 10:01:00", "8"),
        rec(HEART_RATE, "1 10:16:00", "1 10:16:00", "70"),  # 15 min after: bridged
        rec(HEART_RATE, "1 10:33:00", "1 10:33:00", "70"),  # 16 min after: not
        rec(SLEEP, "3 00:00:00", "3 01:00:00", core),
        rec(SLEEP, "3 02:00:00", "3 03:00:00", core),  # 60 min after: one episode
        rec(SLEEP, "3 04:00:30", "3 05:00:00", core),  # 60.5 min after: another
        rec(SLEEP, "3 06:00:00", "3 06:00:29", core),  # 29 s: no segment, no wear
        rec(SLEEP, "3 07:00:00", "3 07:00:30", core),  # 30 s: a one-minute episode
    ]
    msgs, report = _read(_export(tmp_path / "hr", with_hr))
    assert (report.rows, dict(report.unusable)) == (8, {})
    day1, day3 = [m for m in msgs if isinstance(m, ActivityBatch)]
    assert day1.start == _at("2023-05-01 10:00 +0000")
    assert day1.steps == [8] + [0] * 16 + [None] * 16 + [0]
    assert day3.start == _at("2023-05-03 00:00 +0000")  # sleep is wear, with 0 steps
    hour, none = [0] * 60, [None] * 60
    assert day3.steps == hour + none + hour + none + hour + none + none + [0]
    nights = [
        (m.start.hour, m.end.hour, m.end.minute, m.time_in_bed_min, m.tst_min, m.is_main_sleep)
        for m in msgs
        if isinstance(m, SleepEpisode)
    ]
    # the 04:00:30 segment's first minute is 04:00; the 30-s segment rounds to no minute
    assert nights == [
        (0, 3, 0, 180.0, 120.0, True),
        (4, 5, 0, 60.0, 60.0, False),
        (7, 7, 1, 1.0, None, False),
    ]

    steps_only = [
        rec(STEPS, "1 10:00:00", "1 10:01:00", "8"),
        rec(STEPS, "1 12:01:00", "1 12:02:00", "9"),  # 120 min after: bridged
        rec(STEPS, "1 14:03:00", "1 14:04:00", "7"),  # 121 min after: not
    ]
    (batch,) = _read(_export(tmp_path / "steps", steps_only))[0]
    assert batch.start == _at("2023-05-01 10:00 +0000")
    assert batch.steps == [8] + [0] * 120 + [9] + [None] * 121 + [7]


# --- properties of random exports -----------------------------------------------------

_SHORT = {
    STEPS: "StepCount",
    HEART_RATE: "HeartRate",
    RESTING_HR: "RestingHeartRate",
    SDNN: "HeartRateVariabilitySDNN",
    SLEEP: "SleepAnalysis",
}


def _instant(text: str) -> tuple[int, int] | None:
    """``startDate`` -> (UTC seconds, offset minutes), None if not Apple's format."""
    try:
        t = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    off = t.utcoffset()
    assert off is not None
    return int(t.timestamp()), int(off.total_seconds()) // 60


def _rule_broken(kind: str, a: str, b: str, value: str) -> str | None:
    """The rule a record breaks (the reader's wording), from the format's rules. Assumes
    what the lists above give: whole-minute times, so that steps spread evenly."""
    start = _instant(a)
    if start is None:
        return f"date {a!r} is not 'YYYY-MM-DD HH:MM:SS +HHMM'"
    end = start if b == a else _instant(b)
    if end is None:
        return f"date {b!r} is not 'YYYY-MM-DD HH:MM:SS +HHMM'"
    s, e = start[0], end[0]
    if e < s:
        return "endDate before startDate"
    if not dt.datetime(1990, 1, 1, tzinfo=dt.UTC).timestamp() <= s < 4102444800:
        return "time outside 1990..2100 (device clock?)"
    if e - s > 7 * 86400:
        return "record spans more than 7 days"
    if kind == SLEEP:
        return (
            None
            if value.startswith("HKCategoryValueSleepAnalysis")
            else (f"sleep value {value[:40]!r} unknown")
        )
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:
        return f"value {value[:20]!r} is not a number >= 0"
    if kind == STEPS and round(number) / len(_step_minutes(s, e)) > 1000:
        return "more than 1000 steps in a minute"
    if kind == HEART_RATE and not 20 <= number <= 250:
        return "heart rate outside 20..250 bpm"
    return None


def _step_minutes(s: int, e: int) -> range:
    """The UTC minutes a record spans (one at least)."""
    return range(s // 60, max(-(-e // 60), s // 60 + 1))


class Valid(NamedTuple):
    """A record that breaks no rule: its type, source, UTC start and end (s), offset."""

    kind: str
    source: str
    start: int
    end: int
    off: int
    value: str


def _check_properties(records: list[Rec], msgs: list[Any], report: ReadReport) -> None:
    assert report.rows == len(records)  # every record is of a type read
    assert report.messages == len(msgs)
    starts = [m.span()[0] for m in msgs]
    assert starts == sorted(starts)  # event-time order
    valid = _check_rejections(records, report)
    _check_activity(valid, [m for m in msgs if isinstance(m, ActivityBatch)], report)
    _check_summaries(valid, [m for m in msgs if isinstance(m, DailySummary)], report)
    _check_sleep(valid, [m for m in msgs if isinstance(m, SleepEpisode)], report)


def _check_rejections(records: list[Rec], report: ReadReport) -> list[Valid]:
    """Every record rejected is rejected once, under its rule; the others are returned."""
    valid: list[Valid] = []
    rejected: Counter[str] = Counter()
    for kind, src, a, b, value in records:
        rule = _rule_broken(kind, a, b, value)
        start, end = _instant(a), _instant(b) or _instant(a)
        if rule is None and start is not None and end is not None:
            valid.append(Valid(kind, src, start[0], end[0], start[1], value))
        else:
            rejected[f"apple_health {_SHORT[kind]}: {rule}"] += 1
    by_record = {k: v for k, v in report.unusable.items() if k.startswith("apple_health ")}
    by_record.pop("apple_health sleep: episode longer than 24 h", None)
    assert by_record == dict(rejected)
    return valid


def _segments(valid: list[Valid]) -> list[Valid]:
    """The sleep records that become segments (30 s or longer)."""
    return [v for v in valid if v.kind == SLEEP and v.end - v.start >= 30]


def _check_activity(valid: list[Valid], batches: list[ActivityBatch], report: ReadReport) -> None:
    """Wear is exactly the minutes with evidence (steps, heart rate, sleep) plus the gaps
    between them of at most 15 min (heart rate seen) or 120 min (steps only); no minute
    twice; one local day a batch; steps of one source add up, across sources each minute
    takes the larger."""
    steps = [v for v in valid if v.kind == STEPS]
    evidence: set[int] = set()
    for v in steps:
        evidence.update(_step_minutes(v.start, v.end))
    evidence.update(v.start // 60 for v in valid if v.kind == HEART_RATE)
    for v in _segments(valid):
        evidence.update(range(v.start // 60, -(-v.end // 60)))
    max_gap = 15 if any(v.kind == HEART_RATE for v in valid) else 120
    bridged = set(evidence)
    ordered = sorted(evidence)
    for x, y in zip(ordered, ordered[1:], strict=False):
        if y - x - 1 <= max_gap:
            bridged.update(range(x, y))
    worn: Counter[int] = Counter()
    total = 0
    for m in batches:
        assert m.steps is not None and m.epoch_s == 60 and m.counts is None
        first = int(m.start.timestamp()) // 60
        worn.update(first + i for i, n in enumerate(m.steps) if n is not None)
        total += sum(n or 0 for n in m.steps)
        last_local = m.start + dt.timedelta(minutes=len(m.steps) - 1)
        assert last_local.date() == m.start.date()
    assert all(n == 1 for n in worn.values())
    if not steps:
        assert not batches  # wear alone gives no activity
        return
    if any(k.startswith("ActivityBatch") for k in report.unusable):
        return  # a batch lost to a message rule (e.g. > 1000 steps summed in a minute)
    assert set(worn) == bridged
    per_source = Counter[str]()
    for v in steps:
        per_source[v.source] += round(float(v.value))
    assert max(per_source.values()) <= total <= sum(per_source.values())
    if len(per_source) == 1:
        assert total == sum(per_source.values())
    offsets = {v.off for v in valid if v.kind in (STEPS, HEART_RATE, SLEEP)}
    if len(offsets) == 1:
        assert {m.tz_offset_min for m in batches} == offsets


def _check_summaries(valid: list[Valid], summaries: list[DailySummary], report: ReadReport) -> None:
    """One summary per local date, at the date's smallest offset; each field the mean of
    its readings at the largest offset; a value out of range loses that date's summary."""
    readings: dict[dt.date, dict[str, dict[int, list[float]]]] = {}
    for v in valid:
        if v.kind in (RESTING_HR, SDNN):
            date = dt.datetime.fromtimestamp(v.start + v.off * 60, dt.UTC).date()
            field = "resting_hr_bpm" if v.kind == RESTING_HR else "sdnn_ms"
            per_off = readings.setdefault(date, {}).setdefault(field, {})
            per_off.setdefault(v.off, []).append(float(v.value))
    expected: dict[dt.date, tuple[int, dict[str, float]]] = {}
    for date, fields in readings.items():
        off = min(o for per_off in fields.values() for o in per_off)
        values = {f: per_off[max(per_off)] for f, per_off in fields.items()}
        means = {f: round(sum(x) / len(x), 3) for f, x in values.items()}
        hr, sdnn = means.get("resting_hr_bpm"), means.get("sdnn_ms")
        if (hr is None or 20 < hr < 250) and (sdnn is None or 0 < sdnn <= 1000):
            expected[date] = (off, means)
    got = {
        m.date: (
            m.tz_offset_min,
            {f: getattr(m, f) for f in ("resting_hr_bpm", "sdnn_ms") if getattr(m, f) is not None},
        )
        for m in summaries
    }
    assert len(got) == len(summaries) and got == expected
    lost = sum(n for k, n in report.unusable.items() if k.startswith("DailySummary"))
    assert lost == len(readings) - len(expected)


def _check_sleep(valid: list[Valid], nights: list[SleepEpisode], report: ReadReport) -> None:
    """Segments at most 60 min apart are one episode, from its first minute to its last,
    at the first segment's offset; an episode longer than 24 h is dropped and its
    segments counted; the longest episode ending on a local date is the main sleep."""
    episodes: list[list[Valid]] = []
    end = -math.inf
    for v in sorted(_segments(valid), key=lambda v: (v.start, v.end, v.off)):
        if v.start > end + 3600:
            episodes.append([])
        episodes[-1].append(v)
        end = max(end, v.end)
    want: set[tuple[int, int, int]] = set()
    too_long = 0
    for segs in episodes:
        a, b = min(v.start for v in segs) // 60, -(-max(v.end for v in segs) // 60)
        if b - a > 1440:
            too_long += len(segs)
        else:
            want.add((a, b, segs[0].off))
    have = {
        (int(m.start.timestamp()) // 60, int(m.end.timestamp()) // 60, m.tz_offset_min)
        for m in nights
    }
    assert len(have) == len(nights) and have == want
    assert report.unusable.get("apple_health sleep: episode longer than 24 h", 0) == too_long
    by_date: dict[dt.date, list[SleepEpisode]] = {}
    for m in nights:
        by_date.setdefault(m.end.date(), []).append(m)
    for same_day in by_date.values():
        (main,) = [m for m in same_day if m.is_main_sleep]
        assert main.time_in_bed_min == max(m.time_in_bed_min or 0.0 for m in same_day)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(KIND_LIST),
            st.sampled_from(SOURCE_LIST),
            st.sampled_from(DATE_LIST),
            st.sampled_from(DATE_LIST),
            st.sampled_from(VALUE_LIST),
        ),
        max_size=25,
    )
)
def test_random_exports_keep_the_formats_rules_whatever_the_chunk_size(
    records: list[Rec],
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = _export(Path(d), records)
        with _chunks(1, 1):
            msgs, report = _read(path)
        with _chunks(10_000, 10_000):  # one chunk, every grid in memory
            whole, whole_report = _read(path)
    assert [m.model_dump() for m in msgs] == [m.model_dump() for m in whole]
    assert (report.rows, report.messages, report.unusable) == (
        whole_report.rows,
        whole_report.messages,
        whole_report.unusable,
    )
    _check_properties(records, msgs, report)
