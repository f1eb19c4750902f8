"""Tests for phenotyping.simulate (the synthetic cohort generator).

Expected values are structural (derived from the documented model parameters, e.g.
"a day batch arrives at most 120 min after local midnight", "Europe/Oslo springs from
+60 to +120 at 01:00 UTC on 2024-03-31") or physiological plausibility ranges; the
activity levels are also checked against the real Depresjon controls (realdata).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import zoneinfo
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from phenotyping.events import (
    ActivityBatch,
    ClinicalEvent,
    HeartBeatBatch,
    SleepEpisode,
    decode,
    encode,
)
from phenotyping.simulate import (
    DEMO_RELAPSING,
    CohortSpec,
    Deterioration,
    SimMessage,
    Treatment,
    demo_spec,
    simulate,
    simulate_timed,
    subject_ids,
    write_jsonl,
)

#: No imperfect uploads at all (each test switches on what it needs).
CLEAN = CohortSpec(
    wear_gap_prob=0.0, nonwear_day_prob=0.0, late_upload_prob=0.0, duplicate_prob=0.0
)


def clean(**changes: Any) -> CohortSpec:
    return dataclasses.replace(CLEAN, **changes)


MIN = dt.timedelta(minutes=1)
START = CohortSpec().start


def _night_of(local: dt.datetime) -> int:
    """Night index of an instant in bed: nights run from evening (day n) to morning (n + 1)."""
    return ((local - dt.timedelta(hours=12)).date() - START).days


@functools.cache
def _cohort(spec: CohortSpec) -> tuple[SimMessage, ...]:
    return tuple(simulate(spec))


def _end(m: SimMessage) -> dt.datetime:
    return m.span()[1]


def _counts(m: ActivityBatch) -> np.ndarray:
    assert m.counts is not None
    return np.array([np.nan if v is None else v for v in m.counts], dtype=np.float64)


def _minutes(msgs: tuple[SimMessage, ...]) -> dict[str, dict[dt.datetime, float]]:
    """Per subject: UTC minute start -> count (NaN for a null epoch); checks no overlap."""
    out: dict[str, dict[dt.datetime, float]] = defaultdict(dict)
    seen: set[str] = set()
    for m in msgs:
        if m.type != "activity" or m.event_id in seen:
            continue
        seen.add(m.event_id)
        start = m.start.astimezone(dt.UTC)
        for i, v in enumerate(_counts(m).tolist()):
            key = start + i * MIN
            assert key not in out[m.subject_id]
            out[m.subject_id][key] = v
    return out


def _local_days(msgs: tuple[SimMessage, ...], sid: str) -> dict[dt.date, np.ndarray]:
    """Day batches of one subject (fixed-offset cohort): local date -> 1440 counts."""
    out = {}
    for m in msgs:
        if m.type == "activity" and m.subject_id == sid:
            assert m.n_epochs == 1440 and m.start.hour == 0 and m.start.minute == 0
            out[m.start.date()] = _counts(m)
    return out


# --------------------------------------------------------------------------- spec


def test_subject_ids_are_pseudonymous_and_ordered() -> None:
    assert subject_ids(CohortSpec(n_subjects=3)) == ["sim-001", "sim-002", "sim-003"]
    assert subject_ids(CohortSpec(n_subjects=1000))[-1] == "sim-1000"
    assert subject_ids(CohortSpec(n_subjects=1, subject_prefix="p"))[0] == "p-001"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_subjects=0),
        dict(days=0),
        dict(seed=-1),
        dict(batch="week"),
        dict(tz=900),
        dict(tz="Mars/Olympus_Mons"),
        dict(duplicate_prob=1.5),
        dict(wear_gap_prob=-0.1),
        dict(rr_burst_s=5),
        dict(subject_prefix="Jane Doe"),
        dict(deteriorate={"sim-999": Deterioration(day=3)}),
        dict(treat={"sim-999": Treatment(start_day=3)}),
    ],
)
def test_spec_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CohortSpec(**kwargs)


def test_deterioration_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        Deterioration(day=-1)
    with pytest.raises(ValueError):
        Deterioration(day=2, shift_min=500)
    with pytest.raises(ValueError):
        Deterioration(day=2, rmssd_factor=0)


# --------------------------------------------------------------------------- determinism

BUSY = CohortSpec(
    n_subjects=3,
    days=6,
    seed=11,
    wear_gap_prob=0.5,
    nonwear_day_prob=0.1,
    late_upload_prob=0.2,
    duplicate_prob=0.05,
    rr_day_bursts=2,
)


def test_same_seed_gives_byte_identical_jsonl(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    n = write_jsonl(simulate(BUSY), a)
    assert write_jsonl(simulate(BUSY), b) == n
    assert n == len(a.read_bytes().splitlines()) > 0
    assert a.read_bytes() == b.read_bytes()
    write_jsonl(simulate(dataclasses.replace(BUSY, seed=12)), c)
    assert c.read_bytes() != a.read_bytes()


def test_every_message_validates_and_round_trips() -> None:
    kinds: Counter[str] = Counter()
    for up in simulate_timed(BUSY):
        wire = encode(up.message)
        back = decode(wire, now=up.arrival)  # never "in the future" at its own arrival
        assert encode(back) == wire
        assert type(back) is type(up.message)
        kinds[back.type] += 1
    assert set(kinds) == {"activity", "heartbeat", "sleep"}


def test_subject_data_do_not_depend_on_cohort_size_or_length() -> None:
    small = CohortSpec(n_subjects=2, days=4, seed=5, duplicate_prob=0.1, late_upload_prob=0.2)
    big = CohortSpec(n_subjects=4, days=6, seed=5, duplicate_prob=0.1, late_upload_prob=0.2)
    small_set = Counter(encode(m) for m in _cohort(small))
    big_set = Counter(encode(m) for m in _cohort(big))
    assert all(big_set[k] == v for k, v in small_set.items())


def test_switching_rr_off_leaves_activity_and_sleep_unchanged() -> None:
    on = CohortSpec(n_subjects=2, days=4, seed=3, duplicate_prob=0.2, late_upload_prob=0.2)
    off = dataclasses.replace(on, rr=False)
    keep = [encode(m) for m in _cohort(on) if m.type != "heartbeat"]
    assert keep == [encode(m) for m in _cohort(off)]


# --------------------------------------------------------------------------- arrival order


def test_arrivals_never_decrease_and_follow_the_data() -> None:
    ups = list(simulate_timed(BUSY))
    arrivals = [u.arrival for u in ups]
    assert arrivals == sorted(arrivals)
    assert all(u.arrival >= _end(u.message) for u in ups)


def test_event_id_is_subject_type_and_utc_start() -> None:
    for m in _cohort(BUSY):
        first = m.first_beat if isinstance(m, HeartBeatBatch) else m.start
        sid, kind, stamp = m.event_id.split(":", 2)
        assert (sid, kind) == (m.subject_id, m.type)
        assert dt.datetime.fromisoformat(stamp) == first


def test_duplicates_share_event_id_and_bytes() -> None:
    spec = CohortSpec(n_subjects=2, days=4, seed=2, duplicate_prob=0.3)
    by_id: dict[str, set[bytes]] = defaultdict(set)
    n_by_id: Counter[str] = Counter()
    for m in _cohort(spec):
        by_id[m.event_id].add(encode(m))
        n_by_id[m.event_id] += 1
    assert all(len(v) == 1 for v in by_id.values())  # same id -> same content
    dup_share = sum(n > 1 for n in n_by_id.values()) / len(n_by_id)
    assert 0.2 < dup_share < 0.4  # about duplicate_prob of the messages
    # ... and a message is never duplicated without being asked to
    clean = CohortSpec(n_subjects=2, days=4, seed=2, duplicate_prob=0.0)
    ids = [m.event_id for m in _cohort(clean)]
    assert len(ids) == len(set(ids))


def _worst_regression(msgs: tuple[SimMessage, ...]) -> dt.timedelta:
    """Largest amount by which a message's data end precede data already uploaded."""
    latest: dict[str, dt.datetime] = {}
    worst = dt.timedelta(0)
    for m in msgs:
        end = _end(m)
        seen = latest.get(m.subject_id, end)
        worst = max(worst, seen - end)
        latest[m.subject_id] = max(seen, end)
    return worst


def test_late_uploads_arrive_after_later_data_only_when_asked() -> None:
    base = CohortSpec(n_subjects=3, days=8, seed=4, duplicate_prob=0.0, nonwear_day_prob=0.0)
    late = _cohort(dataclasses.replace(base, late_upload_prob=0.3))
    on_time = _cohort(dataclasses.replace(base, late_upload_prob=0.0))
    # late uploads are delayed by 24-72 h
    assert _worst_regression(late) > dt.timedelta(hours=24)
    # otherwise a day batch is sent <= 2 h after local midnight, a sleep episode <= 1 h
    # after getting up, an RR burst <= 30 s after its last beat
    assert _worst_regression(on_time) < dt.timedelta(hours=2, minutes=1)
    assert sorted(map(encode, late)) == sorted(map(encode, on_time))  # same data


# --------------------------------------------------------------------------- batches, gaps


def test_batch_shapes_carry_the_same_counts() -> None:
    base = CohortSpec(n_subjects=2, days=3, seed=9, rr=False, wear_gap_prob=1.0, duplicate_prob=0)
    day, hour, sample = (
        _cohort(dataclasses.replace(base, batch=b)) for b in ("day", "hour", "sample")
    )
    ref = {
        sid: {k: v for k, v in mins.items() if not math.isnan(v)}
        for sid, mins in _minutes(day).items()
    }
    for msgs, width in ((hour, 60), (sample, 1)):
        acts = [m for m in msgs if isinstance(m, ActivityBatch)]
        assert all(m.n_epochs <= width for m in acts)
        assert all(m.start.minute == 0 for m in acts) if width == 60 else True
        assert not any(np.isnan(_counts(m)).all() for m in acts)  # all-null batches not sent
        got = {
            sid: {k: v for k, v in mins.items() if not math.isnan(v)}
            for sid, mins in _minutes(msgs).items()
        }
        assert got == ref
    assert sum(isinstance(m, ActivityBatch) for m in day) == 2 * 3


def test_wear_gaps_are_null_runs_of_one_to_eight_hours() -> None:
    spec = clean(n_subjects=3, days=5, seed=1, rr=False, wear_gap_prob=1.0)
    for m in _cohort(spec):
        if isinstance(m, ActivityBatch):
            nan = np.isnan(_counts(m))
            edges = np.flatnonzero(np.diff(np.concatenate(([0], nan.astype(int), [0]))))
            assert edges.size == 2  # exactly one run of nulls
            assert 1 <= edges[1] - edges[0] <= 480
    no_gap = _cohort(clean(n_subjects=3, days=5, seed=1, rr=False))
    assert not any(np.isnan(_counts(m)).any() for m in no_gap if isinstance(m, ActivityBatch))


def test_nonwear_days_drop_the_day_and_its_night() -> None:
    spec = clean(n_subjects=4, days=20, seed=6, nonwear_day_prob=0.5)
    worn: dict[str, set[int]] = defaultdict(set)
    nights: dict[str, set[int]] = defaultdict(set)
    hr_nights: dict[str, set[int]] = defaultdict(set)
    for m in _cohort(spec):
        if isinstance(m, ActivityBatch):
            worn[m.subject_id].add((m.start.date() - START).days)
        elif isinstance(m, SleepEpisode):
            nights[m.subject_id].add(_night_of(m.start))
        else:
            hr_nights[m.subject_id].add(_night_of(m.first_beat))
    missing = sum(20 - len(worn[s]) for s in subject_ids(spec))
    assert 0.3 < missing / 80 < 0.7  # binomial(80, 0.5)
    for sid in subject_ids(spec):
        expected = {d for d in worn[sid] if d <= spec.days - 2}
        assert nights[sid] == expected
        assert hr_nights[sid] == expected


# --------------------------------------------------------------------------- time zones


def _zone_offset(zone: zoneinfo.ZoneInfo, t: dt.datetime) -> int:
    off = t.astimezone(zone).utcoffset()
    assert off is not None
    return int(off.total_seconds() // 60)


@pytest.mark.parametrize(
    ("start", "change", "first", "second"),
    [
        # Oslo springs forward at 01:00 UTC: 00:00-02:00 at +60 (120 min), then +120
        (dt.date(2024, 3, 29), dt.date(2024, 3, 31), (60, 120), (120, 1260)),
        # and falls back at 01:00 UTC: 00:00-03:00 at +120 (180 min), then +60
        (dt.date(2024, 10, 25), dt.date(2024, 10, 27), (120, 180), (60, 1320)),
    ],
)
def test_dst_change_splits_batches(
    start: dt.date, change: dt.date, first: tuple[int, int], second: tuple[int, int]
) -> None:
    zone = zoneinfo.ZoneInfo("Europe/Oslo")
    spec = clean(n_subjects=2, days=4, start=start, tz="Europe/Oslo")
    msgs = _cohort(spec)
    for sid in subject_ids(spec):
        acts = [m for m in msgs if isinstance(m, ActivityBatch) and m.subject_id == sid]
        on_day = [m for m in acts if m.start.date() == change]
        assert [(m.tz_offset_min, m.n_epochs) for m in on_day] == [first, second]
        assert on_day[0].span()[1] == on_day[1].start  # contiguous
        assert sum(m.n_epochs for m in acts if m.start.date() != change) == 3 * 1440
    for m in msgs:
        if isinstance(m, ActivityBatch):
            last = m.start + (m.n_epochs - 1) * MIN
            assert m.tz_offset_min == _zone_offset(zone, m.start) == _zone_offset(zone, last)
        elif isinstance(m, HeartBeatBatch):
            # every interval ends on the message's side of the change (its opening beat
            # may be the one before the change)
            first_end = m.first_beat + dt.timedelta(milliseconds=m.rr_ms[0])
            assert m.tz_offset_min == _zone_offset(zone, first_end) == _zone_offset(zone, _end(m))
        else:
            assert m.tz_offset_min == _zone_offset(zone, m.end)
    # the split is also where the heartbeat bursts change offset
    offsets = {m.tz_offset_min for m in msgs if isinstance(m, HeartBeatBatch)}
    assert offsets == {60, 120}


def test_fixed_offset_days_start_at_local_midnight() -> None:
    spec = clean(n_subjects=1, days=2, tz=-300, rr=False)
    acts = [m for m in _cohort(spec) if isinstance(m, ActivityBatch)]
    assert [m.start.isoformat() for m in acts] == [
        "2024-01-01T00:00:00-05:00",
        "2024-01-02T00:00:00-05:00",
    ]
    assert all(m.tz_offset_min == -300 for m in acts)


# --------------------------------------------------------------------------- deterioration


def test_deterioration_scales_activity_by_the_factor() -> None:
    base = CohortSpec(n_subjects=3, days=16, seed=8, rr=False)
    det = {"sim-002": Deterioration(day=9, activity_factor=0.7, shift_min=0)}
    a = _cohort(base)
    b = _cohort(dataclasses.replace(base, deteriorate=det))
    # other subjects, and everything before day 9, are untouched
    assert [encode(m) for m in a if m.subject_id != "sim-002"] == [
        encode(m) for m in b if m.subject_id != "sim-002"
    ]
    day9 = START + dt.timedelta(days=9)
    before_a = [encode(m) for m in a if m.subject_id == "sim-002" and _end(m).date() < day9]
    before_b = [encode(m) for m in b if m.subject_id == "sim-002" and _end(m).date() < day9]
    assert before_a == before_b
    # counts are round(0.7 * x) instead of round(x): |b - 0.7 a| <= 0.5 + 0.7 * 0.5
    da, db = _local_days(a, "sim-002"), _local_days(b, "sim-002")
    assert da.keys() == db.keys()
    for day, ca in da.items():
        cb = db[day]
        assert np.array_equal(np.isnan(ca), np.isnan(cb))
        ok = ~np.isnan(ca)
        if day < day9:
            assert np.array_equal(ca[ok], cb[ok])
        else:
            assert np.all(np.abs(cb[ok] - 0.7 * ca[ok]) <= 0.85 + 1e-9)
    after = [d for d in da if d >= day9]
    ratio = sum(np.nansum(db[d]) for d in after) / sum(np.nansum(da[d]) for d in after)
    assert ratio == pytest.approx(0.7, abs=0.01)


def _centre_of_mass_min(counts: np.ndarray) -> float:
    """Circular centre of mass of a day's activity, minutes after local midnight."""
    ang = 2 * np.pi * np.arange(counts.size) / 1440
    c = np.nan_to_num(counts)
    return float(np.degrees(np.arctan2((c * np.sin(ang)).sum(), (c * np.cos(ang)).sum())) * 4)


def test_deterioration_shifts_sleep_and_activity_timing() -> None:
    base = clean(n_subjects=4, days=21, seed=13)
    det = {
        sid: Deterioration(day=10, activity_factor=1.0, shift_min=90)
        for sid in ("sim-001", "sim-003")
    }
    a = _cohort(base)
    b = _cohort(dataclasses.replace(base, deteriorate=det))
    # device sleep episodes: nights >= 10 exactly 90 min later, earlier nights unchanged
    ep_a = {(m.subject_id, _night_of(m.start)): m for m in a if isinstance(m, SleepEpisode)}
    ep_b = {(m.subject_id, _night_of(m.start)): m for m in b if isinstance(m, SleepEpisode)}
    assert ep_a.keys() == ep_b.keys()
    for (sid, night), m in ep_b.items():
        twin = ep_a[sid, night]
        shift = dt.timedelta(minutes=90 if sid in det and night >= 10 else 0)
        assert (m.start - twin.start, m.end - twin.end) == (shift, shift)
    # activity: the daily centre of mass moves about 90 min later from day 11 on
    for sid in det:
        da, db = _local_days(a, sid), _local_days(b, sid)
        moved = []
        for day in da:
            if (day - START).days >= 11:
                delta = _centre_of_mass_min(db[day]) - _centre_of_mass_min(da[day])
                moved.append((delta + 720) % 1440 - 720)
            elif (day - START).days < 10:
                assert np.array_equal(da[day], db[day])
        assert 60 < np.mean(moved) < 120


def test_deterioration_ramp_and_heart_changes() -> None:
    det = Deterioration(day=4, ramp_days=2, hr_delta_bpm=8, rmssd_factor=0.5, shift_min=0)
    assert [det.progress(d) for d in (3, 4, 5, 6)] == [0.0, 0.5, 1.0, 1.0]
    base = clean(n_subjects=1, days=10, seed=21, rr_artefact_prob=0.0)
    a = _cohort(base)
    b = _cohort(dataclasses.replace(base, deteriorate={"sim-001": det}))
    na, nb = _nights_rr(a), _nights_rr(b)
    for night in na:
        hr_a, hr_b = 60_000 / np.mean(na[night]), 60_000 / np.mean(nb[night])
        rmssd_a, rmssd_b = _rmssd(na[night]), _rmssd(nb[night])
        if night < 4:
            assert np.array_equal(na[night], nb[night])
        elif night >= 5:  # full effect: +8 bpm, half the RMSSD
            assert 6 < hr_b - hr_a < 10
            assert 0.4 < rmssd_b / rmssd_a < 0.6


# --------------------------------------------------------------------------- RR and sleep


def _nights_rr(msgs: tuple[SimMessage, ...], sid: str = "sim-001") -> dict[int, np.ndarray]:
    """All RR intervals of each night (by the local date the night starts) of one subject."""
    out: dict[int, list[float]] = defaultdict(list)
    seen = set()
    for m in msgs:
        if isinstance(m, HeartBeatBatch) and m.subject_id == sid and m.event_id not in seen:
            seen.add(m.event_id)
            out[_night_of(m.first_beat)].extend(m.rr_ms)
    return {k: np.array(v) for k, v in out.items()}


def _rmssd(rr: np.ndarray) -> float:
    """RMSSD over successive differences between intervals within 20 % of each other."""
    d = np.diff(rr)
    ok = np.abs(d) <= 0.2 * rr[:-1]
    return float(np.sqrt(np.mean(d[ok] ** 2)))


def test_rr_bursts_partition_the_night_on_the_burst_grid() -> None:
    spec = clean(n_subjects=2, days=3, seed=17, rr_burst_s=300)
    bursts: dict[str, list[HeartBeatBatch]] = defaultdict(list)
    for m in _cohort(spec):
        if isinstance(m, HeartBeatBatch):
            bursts[m.subject_id].append(m)
    for seq in bursts.values():
        seq.sort(key=lambda m: m.first_beat)
        for prev, nxt in zip(seq, seq[1:], strict=False):
            if nxt.first_beat - _end(prev) < dt.timedelta(hours=1):  # same night
                assert nxt.first_beat == _end(prev)  # bursts share the boundary beat
        for m in seq:
            ends = m.first_beat + np.cumsum(m.rr_ms) * dt.timedelta(milliseconds=1)
            cells = {int(e.timestamp() * 1000) // 300_000 for e in ends}
            assert len(cells) == 1  # all intervals end in one 5-min UTC cell
            assert m.source == "sim-hrm"


def test_rr_is_physiologically_plausible_and_has_artefacts_when_asked() -> None:
    spec = clean(n_subjects=6, days=5, seed=23, rr_artefact_prob=0.01)
    spotless = dataclasses.replace(spec, rr_artefact_prob=0.0)
    for sid in subject_ids(spec):
        noisy, ok = _nights_rr(_cohort(spec), sid), _nights_rr(_cohort(spotless), sid)
        assert sorted(noisy) == [0, 1, 2, 3]
        for night, rr in noisy.items():
            assert 40 < 60_000 / np.median(rr) < 90  # sleeping heart rate, bpm
            assert 10 < _rmssd(rr) < 150  # ms
            med = np.median(ok[night])
            odd = (rr < 0.6 * med) | (rr > 1.45 * med)
            assert 0 < odd.mean() < 0.03  # artefacts: very short / very long intervals
            assert not ((ok[night] < 0.6 * med) | (ok[night] > 1.45 * med)).any()
            assert 5 * 3600 < rr.sum() / 1000 < 12 * 3600  # recorded the whole time in bed


def test_sleep_episodes_are_consistent_and_match_the_activity() -> None:
    spec = clean(n_subjects=5, days=8, seed=29, rr=False)
    msgs = _cohort(spec)
    minutes = _minutes(msgs)
    eps = [m for m in msgs if isinstance(m, SleepEpisode)]
    assert Counter(m.subject_id for m in eps) == {sid: 7 for sid in subject_ids(spec)}
    for m in eps:
        dur = (m.end - m.start) / MIN
        assert m.is_main_sleep and m.source == "sim-actiwatch"
        assert m.tst_min is not None and m.waso_min is not None and m.latency_min is not None
        assert m.tst_min + m.waso_min + m.latency_min <= dur
        assert 4 * 60 <= m.tst_min <= 11 * 60
        assert 1 <= m.latency_min <= 60
        assert m.efficiency_pct == round(100 * m.tst_min / dur, 1)
        inside = [
            minutes[m.subject_id][m.start.astimezone(dt.UTC) + i * MIN]
            for i in range(int(m.latency_min), int(dur))
        ]
        assert np.mean(np.array(inside) == 0) > 0.5  # mostly still while in bed


def test_weekend_nights_start_later() -> None:
    spec = clean(n_subjects=12, days=28, seed=31, rr=False)
    late: list[float] = []
    other: list[float] = []
    for m in _cohort(spec):
        if isinstance(m, SleepEpisode):
            night = START + dt.timedelta(days=_night_of(m.start))
            clock = (m.start - dt.datetime.combine(night, dt.time(), m.start.tzinfo)) / MIN
            (late if night.weekday() in (4, 5) else other).append(clock)
    assert np.mean(late) > np.mean(other) + 15


# --------------------------------------------------------------------------- activity levels


def _activity_summary(msgs: tuple[SimMessage, ...]) -> dict[str, np.ndarray]:
    """Per subject: daytime (09-21 h) mean and zero fraction, night (01-06 h) zero fraction."""
    rows = []
    by_sid: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for m in msgs:
        if isinstance(m, ActivityBatch):
            c = _counts(m)
            hour = (m.start.hour * 60 + m.start.minute + np.arange(c.size)) // 60 % 24
            by_sid[m.subject_id].append((c, hour))
    for parts in by_sid.values():
        c = np.concatenate([p[0] for p in parts])
        h = np.concatenate([p[1] for p in parts])
        ok = ~np.isnan(c)
        day, night = ok & (h >= 9) & (h < 21), ok & (h >= 1) & (h < 6)
        rows.append((c[day].mean(), (c[day] == 0).mean(), (c[night] == 0).mean()))
    arr = np.array(rows)
    return {"day_mean": arr[:, 0], "day_zero": arr[:, 1], "night_zero": arr[:, 2]}


SURVEY = CohortSpec(n_subjects=24, days=14, seed=37, rr=False)


def test_activity_levels_are_actiwatch_like() -> None:
    s = _activity_summary(_cohort(SURVEY))
    assert 200 < np.median(s["day_mean"]) < 450  # daytime means ~200-400 counts/min
    assert np.all(s["day_mean"] > 50) and np.all(s["day_mean"] < 1000)
    assert 0.05 < np.median(s["day_zero"]) < 0.35
    assert np.median(s["night_zero"]) > 0.65  # mostly zero at night


@pytest.mark.realdata
def test_activity_levels_fall_within_the_depresjon_controls(data_dir: Path) -> None:
    real = []
    for path in sorted((data_dir / "depresjon" / "control").glob("control_*.csv.gz")):
        df = pd.read_csv(path, usecols=["timestamp", "activity"])
        c = df["activity"].to_numpy(dtype=np.float64)
        h = df["timestamp"].str.slice(11, 13).astype(int).to_numpy()
        day, night = (h >= 9) & (h < 21), (h >= 1) & (h < 6)
        real.append((c[day].mean(), (c[day] == 0).mean(), (c[night] == 0).mean()))
    ref = np.array(real)
    assert ref.shape[0] == 32
    sim = _activity_summary(_cohort(SURVEY))
    for col, key in enumerate(("day_mean", "day_zero", "night_zero")):
        lo, hi = np.percentile(ref[:, col], [10, 90])
        assert lo <= np.median(sim[key]) <= hi, key
        # most simulated subjects lie within the controls' full range
        inside = (sim[key] >= ref[:, col].min()) & (sim[key] <= ref[:, col].max())
        assert inside.mean() >= 0.75, key


# --------------------------------------------------------------------------- scale


def test_larger_cohort_runs_lazily_with_expected_counts() -> None:
    """Sanity run of a wider cohort (not timed): one day batch per subject-day."""
    spec = clean(n_subjects=150, days=3, seed=41, rr=False)
    stream = simulate(spec)
    assert iter(stream) is stream  # a lazy iterator, not a list
    kinds = Counter((m.type, m.subject_id) for m in stream)
    assert all(kinds["activity", sid] == 3 for sid in subject_ids(spec))
    assert all(kinds["sleep", sid] == 2 for sid in subject_ids(spec))


# --------------------------------------------------------------------------- treatment

#: Noise-free PHQ-9 so the expected scores are hand-derivable.
COURSE = Treatment(
    start_day=7,
    modality="ketamine",
    sessions=3,
    every_days=7,
    phq9_before=21,
    phq9_after=9,
    phq9_sd=0.0,
    report_every_days=7,
)


def _clinical(msgs: tuple[SimMessage, ...], sid: str) -> list[ClinicalEvent]:
    return [m for m in msgs if isinstance(m, ClinicalEvent) and m.subject_id == sid]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(start_day=-1),
        dict(modality="prayer"),
        dict(sessions=0),
        dict(every_days=0),
        dict(report_every_days=0),
        dict(phq9_before=28),
        dict(phq9_after=-1),
        dict(phq9_sd=-0.5),
        dict(response_after_days=-2),
        dict(pre_activity_factor=0),
        dict(session_minute=30),
    ],
)
def test_treatment_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Treatment(**{"start_day": 3, **kwargs})


def test_treatment_emits_sessions_reports_and_course_end() -> None:
    spec = clean(n_subjects=2, days=30, seed=4, rr=False, treat={"sim-002": COURSE})
    msgs = _cohort(spec)
    assert _clinical(msgs, "sim-001") == []
    events = _clinical(msgs, "sim-002")
    day = {k: START + dt.timedelta(days=k) for k in range(30)}
    got = [(e.at.date(), e.at.time(), e.kind, e.modality, e.score) for e in events]
    ten, nine, noon = dt.time(10), dt.time(9), dt.time(12)
    # sessions on days 7, 14, 21 at 10:00; PHQ-9 every 7 days from day 0 at 09:00, linear
    # from 21 at the first session to 9 at the last (day 14: half way, 15); course end at
    # 12:00 on the last session's day
    assert got == [
        (day[0], nine, "self_report", None, 21.0),
        (day[7], nine, "self_report", None, 21.0),
        (day[7], ten, "treatment_session", "ketamine", None),
        (day[14], nine, "self_report", None, 15.0),
        (day[14], ten, "treatment_session", "ketamine", None),
        (day[21], nine, "self_report", None, 9.0),
        (day[21], ten, "treatment_session", "ketamine", None),
        (day[21], noon, "course_end", None, None),
        (day[28], nine, "self_report", None, 9.0),
    ]
    assert all(e.instrument == ("PHQ-9" if e.kind == "self_report" else None) for e in events)
    assert all(e.tz_offset_min == 60 and e.at.utcoffset() == dt.timedelta(hours=1) for e in events)
    # deterministic, unique ids: subject, "clinical", kind, UTC instant
    ids = [e.event_id for e in events]
    assert len(set(ids)) == len(ids)
    assert ids[2] == f"sim-002:clinical:treatment_session:{day[7].isoformat()}T09:00:00Z"
    assert ids == [e.event_id for e in _clinical(tuple(simulate(spec)), "sim-002")]


def test_clinical_events_arrive_in_order_shortly_after_they_happen() -> None:
    spec = dataclasses.replace(BUSY, days=16, treat={"sim-002": COURSE})
    ups = list(simulate_timed(spec))
    arrivals = [u.arrival for u in ups]
    assert arrivals == sorted(arrivals)
    clinical = [u for u in ups if isinstance(u.message, ClinicalEvent)]
    assert len(clinical) == 5  # reports on days 0, 7, 14; sessions on days 7, 14
    for u in clinical:
        assert isinstance(u.message, ClinicalEvent)
        assert MIN <= u.arrival - u.message.at <= 30 * MIN
        assert decode(encode(u.message), now=u.arrival) == u.message
    # within a day: questionnaire, then session (arrival keeps the order they happened in)
    ats = [u.message.at for u in clinical if isinstance(u.message, ClinicalEvent)]
    assert ats == sorted(ats)


def test_a_treatment_changes_no_device_message() -> None:
    """With pre_activity_factor 1 the course only adds clinical messages (the wearable
    streams, their perturbations and their arrival order are those of the untreated
    cohort)."""
    base = dataclasses.replace(BUSY, days=10)
    treated = dataclasses.replace(base, treat={"sim-001": Treatment(start_day=2)})
    plain = [encode(m) for m in _cohort(base)]
    assert [encode(m) for m in _cohort(treated) if not isinstance(m, ClinicalEvent)] == plain
    assert len(_cohort(treated)) > len(plain)


def test_response_event_and_phq9_relapse_with_a_deterioration() -> None:
    course = dataclasses.replace(COURSE, response_after_days=3, course_end=False)
    spec = clean(
        n_subjects=1,
        days=57,
        rr=False,
        treat={"sim-001": course},
        deteriorate={"sim-001": Deterioration(day=35, activity_factor=0.7, shift_min=60)},
    )
    events = _clinical(_cohort(spec), "sim-001")
    assert [e.kind for e in events].count("course_end") == 0
    (resp,) = [e for e in events if e.kind == "response"]
    assert resp.at.date() == START + dt.timedelta(days=24) and resp.at.time() == dt.time(11)
    scores = {(e.at.date() - START).days: e.score for e in events if e.kind == "self_report"}
    # 9 after the course; from day 35 it climbs back to 21 over 21 days: day 35:
    # 9 + 12 * 1/21 = 9.57 -> 10; day 42: 9 + 12 * 8/21 = 13.57 -> 14; day 49:
    # 9 + 12 * 15/21 = 17.57 -> 18; day 56: 21
    assert scores == {0: 21, 7: 21, 14: 15, 21: 9, 28: 9, 35: 10, 42: 14, 49: 18, 56: 21}


def test_phq9_noise_is_whole_points_within_range() -> None:
    course = Treatment(start_day=0, phq9_before=26, phq9_after=1, phq9_sd=3.0, report_every_days=1)
    spec = clean(n_subjects=3, days=40, rr=False, treat={"sim-003": course})
    scores = [e.score for e in _clinical(_cohort(spec), "sim-003") if e.kind == "self_report"]
    assert len(scores) == 40
    assert all(s is not None and s == int(s) and 0 <= s <= 27 for s in scores)
    expected = [course.phq9(d) for d in range(40)]
    diffs = np.array(scores, dtype=float) - np.array(expected)
    assert 1.5 < float(np.std(diffs)) < 4.5  # noise of SD 3, rounded and clipped
    assert len(set(scores)) > 10


def test_pre_course_activity_factor_eases_to_one_at_the_last_session() -> None:
    base = CohortSpec(n_subjects=2, days=24, seed=8, rr=False)
    course = Treatment(start_day=6, sessions=5, every_days=3, pre_activity_factor=0.6)
    a = _cohort(base)
    b = _cohort(dataclasses.replace(base, treat={"sim-002": course}))
    da, db = _local_days(a, "sim-002"), _local_days(b, "sim-002")
    assert da.keys() == db.keys()
    for day, ca in da.items():
        k = (day - START).days
        # 0.6 up to day 6, then linear to 1 at day 18 (the 5th session)
        factor = 0.6 + 0.4 * min(max((k - 6) / 12, 0.0), 1.0)
        ok = ~np.isnan(ca)
        assert np.array_equal(ok, ~np.isnan(db[day]))
        err = np.abs(db[day][ok] - factor * ca[ok])
        assert np.all(err <= 0.5 + 0.5 * factor + 1e-9), (k, factor)
    assert [encode(m) for m in a if m.subject_id == "sim-001"] == [
        encode(m) for m in b if m.subject_id == "sim-001" and not isinstance(m, ClinicalEvent)
    ]


def test_sessions_keep_their_local_time_across_a_dst_change() -> None:
    course = Treatment(start_day=0, sessions=4, every_days=1, session_minute=14 * 60)
    spec = clean(
        n_subjects=1,
        days=4,
        rr=False,
        start=dt.date(2024, 3, 29),
        tz="Europe/Oslo",
        treat={"sim-001": course},
    )
    sessions = [e for e in _clinical(_cohort(spec), "sim-001") if e.kind == "treatment_session"]
    assert [(e.at.day, e.at.hour, e.tz_offset_min) for e in sessions] == [
        (29, 14, 60),
        (30, 14, 60),
        (31, 14, 120),
        (1, 14, 120),
    ]


def test_demo_spec_is_one_treated_relapsing_subject_among_stable_ones() -> None:
    spec = demo_spec()
    assert (spec.n_subjects, spec.days, spec.rr) == (6, 84, False)
    assert set(spec.treat or {}) == set(spec.deteriorate or {}) == {DEMO_RELAPSING}
    treat, det = (spec.treat or {})[DEMO_RELAPSING], (spec.deteriorate or {})[DEMO_RELAPSING]
    assert treat.modality == "ketamine" and treat.phq9_after <= treat.phq9_before / 2
    assert treat.last_day < det.day < spec.days - 14  # relapse after the course, time to see it
    assert det.activity_factor == pytest.approx(0.65) and det.shift_min == 120
