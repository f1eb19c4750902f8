"""Fitbit export reader and device daily summaries on small exports written here by hand
(Fitbit's own file layout: minute steps, sleep logs, daily files, sleep_score.csv)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phenotyping.cli import main
from phenotyping.errors import InputError
from phenotyping.events import DailySummary, SleepEpisode, decode
from phenotyping.features.day import SubjectDays
from phenotyping.pipeline import Pipeline, SubjectState
from phenotyping.replay.formats import ReadOptions, ReadReport, detect, files_in, fitbit, read

OSLO_WINTER = 60


def _write(folder: Path, name: str, data: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data))


def _steps(day: str, minutes: dict[str, int]) -> list[dict[str, str]]:
    return [{"dateTime": f"{day} {hm}:00", "value": str(v)} for hm, v in minutes.items()]


def _sleep_log(**over: Any) -> dict[str, Any]:
    log: dict[str, Any] = {
        "logId": 111,
        "dateOfSleep": "2020-01-02",
        "startTime": "2020-01-01 23:00:00",
        "endTime": "2020-01-02T07:00:00.000",
        "duration": 8 * 3_600_000,
        "minutesToFallAsleep": 4,
        "minutesAsleep": 430,
        "minutesAwake": 46,
        "minutesAfterWakeup": 0,
        "timeInBed": 480,
        "efficiency": 93,
        "type": "stages",
        "mainSleep": True,
        "levels": {
            "summary": {
                "deep": {"count": 1, "minutes": 60},
                "light": {"count": 1, "minutes": 300},
                "rem": {"count": 1, "minutes": 70},
                "wake": {"count": 1, "minutes": 50},
            },
            "data": [
                {"dateTime": "2020-01-01T23:00:00.000", "level": "wake", "seconds": 600},
                {"dateTime": "2020-01-01T23:10:00.000", "level": "light", "seconds": 18000},
                {"dateTime": "2020-01-02T04:10:00.000", "level": "deep", "seconds": 3600},
                {"dateTime": "2020-01-02T05:10:00.000", "level": "rem", "seconds": 4200},
                {"dateTime": "2020-01-02T06:20:00.000", "level": "wake", "seconds": 2400},
            ],
            "shortData": [
                {"dateTime": "2020-01-02T01:00:00.000", "level": "wake", "seconds": 60},
            ],
        },
    }
    log.update(over)
    return log


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """pNN/fitbit/... plus pNN/pmsys/, the PMData layout."""
    root = tmp_path / "p07"
    fb = root / "fitbit"
    _write(
        fb,
        "steps.json",
        _steps("2020-01-02", {"08:00": 10, "08:30": 0, "12:00": 5, "12:01": 7}),
    )
    _write(fb, "sleep.json", [_sleep_log()])
    _write(
        fb,
        "resting_heart_rate.json",
        [
            {"dateTime": "2020-01-02 00:00:00", "value": {"date": "01/02/20", "value": 55.5}},
            {"dateTime": "2020-01-03 00:00:00", "value": {"date": "01/03/20", "value": 0.0}},
        ],
    )
    _write(fb, "sedentary_minutes.json", [{"dateTime": "2020-01-02 00:00:00", "value": "700"}])
    (fb / "sleep_score.csv").write_text(
        "timestamp,sleep_log_entry_id,overall_score,composition_score\n"
        "2020-01-02T06:00:00Z,111,81,20\n"
    )
    (root / "pmsys").mkdir()
    return root


def _by_type(messages: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in messages:
        out.setdefault(m.type, []).append(m)
    return out


def test_detected_as_one_subject_whether_given_the_export_or_its_parent(export: Path) -> None:
    assert detect(export) == detect(export.parent) == detect(export / "fitbit") == "fitbit"
    assert files_in(export.parent) == [export]
    assert fitbit.subject_of(export / "fitbit") == fitbit.subject_of(export) == "p07"


def _minutes(batches: list[Any], since: dt.datetime) -> dict[int, int | None]:
    """Minute (from ``since``) -> steps over all activity batches; each minute once."""
    out: dict[int, int | None] = {}
    for b in batches:
        first = int((b.start - since).total_seconds() // 60)
        for k, v in enumerate(b.steps):
            assert first + k not in out
            out[first + k] = v
    return out


def test_missing_minutes_are_zero_within_two_hours_of_evidence_else_not_worn(
    export: Path,
) -> None:
    """08:00 (10 steps) .. 08:30 (0): 29 missing minutes between -> worn, 0 steps;
    08:30 .. 12:00: 209 missing minutes -> not worn (no sample at all)."""
    batches = _by_type(list(read(export)))["activity"]
    eight = dt.datetime(2020, 1, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert [b.start for b in batches] == [eight, eight + dt.timedelta(hours=4)]
    assert {b.tz_offset_min for b in batches} == {OSLO_WINTER}
    got = _minutes(batches, eight)
    want = {0: 10, **dict.fromkeys(range(1, 30), 0), 30: 0, 240: 5, 241: 7}
    assert got == want  # only the span the steps file covers, null nowhere


def test_sleep_log_carried_with_fitbit_numbers_and_stages(export: Path) -> None:
    (ep,) = _by_type(list(read(export)))["sleep"]
    assert isinstance(ep, SleepEpisode)
    assert ep.start.isoformat() == "2020-01-01T23:00:00+01:00"
    assert ep.end.isoformat() == "2020-01-02T07:00:00+01:00"
    assert (ep.tst_min, ep.waso_min, ep.latency_min, ep.efficiency_pct) == (430, 46, 4, 93)
    assert (ep.time_in_bed_min, ep.after_wakeup_min, ep.is_main_sleep) == (480, 0, True)
    assert ep.stage_min == {"deep": 60, "light": 300, "rem": 70, "wake": 50}
    assert ep.stages is not None and ep.stages.epoch_s == 30
    st = ep.stages.stages
    assert len(st) == 960
    # 10 min wake, 300 min light with one short wake (2 epochs) at 01:00, 60 deep, 70 rem, 40 wake
    assert st.count("wake") == 20 + 2 + 80 and st.count("light") == 600 - 2
    assert st.count("deep") == 120 and st.count("rem") == 140
    assert st[(2 * 60 * 2) : (2 * 60 * 2) + 2] == ["wake", "wake"]  # 01:00 is 2 h after 23:00


def test_daily_files_become_one_summary_per_date(export: Path) -> None:
    report = ReadReport()
    summaries = _by_type(list(read(export, report=report)))["daily_summary"]
    assert [s.date for s in summaries] == [dt.date(2020, 1, 2)]
    (s,) = summaries
    assert (s.resting_hr_bpm, s.sleep_score, s.sedentary_min) == (55.5, 81, 700)
    assert s.tz_offset_min == OSLO_WINTER
    assert report.unusable == {
        "fitbit resting heart rate: 0 (Fitbit had too little data that day)": 1
    }


def test_daily_row_carries_device_columns_and_exact_sleep(export: Path) -> None:
    rows = {r["date"]: r for r in Pipeline().run(read(export))}
    day = rows["2020-01-02"]
    assert day["device_sleep_tst_min"] == 430
    assert day["device_sleep_efficiency_pct"] == 93
    assert day["dev_resting_hr"] == 55.5 and day["dev_sleep_score"] == 81
    assert day["dev_sedentary_min"] == 700 and math.isnan(day["dev_rmssd"])
    assert day["steps_total"] == 22
    assert day["worn_min"] == 1 + 29 + 1 + 2  # the 209 minutes without evidence are not worn


def test_export_without_steps_still_gives_sleep_and_summaries(export: Path) -> None:
    (export / "fitbit" / "steps.json").unlink()
    rows = list(Pipeline().run(read(export)))
    assert [r["date"] for r in rows] == ["2020-01-02"]
    (row,) = rows
    assert row["device_sleep_tst_min"] == 430 and row["dev_resting_hr"] == 55.5
    assert row["valid"] is False and math.isnan(row["steps_total"])


def test_tz_option_moves_the_offset(export: Path) -> None:
    msgs = _by_type(list(read(export, options=ReadOptions(tz="America/New_York"))))
    assert {m.tz_offset_min for t in msgs.values() for m in t} == {-300}
    assert msgs["sleep"][0].start.isoformat() == "2020-01-01T23:00:00-05:00"


def test_bad_file_is_counted_and_the_others_still_replay(export: Path) -> None:
    (export / "fitbit" / "sleep.json").write_text("{not json")
    report = ReadReport()
    msgs = _by_type(list(read(export, report=report)))
    assert "sleep" not in msgs and len(msgs["activity"]) == 2 and len(msgs["daily_summary"]) == 1
    (why,) = [k for k in report.unusable if k.startswith("file not used:")]
    assert "sleep.json: unreadable" in why


def test_bad_rows_are_counted_with_their_reason(export: Path) -> None:
    fb = export / "fitbit"
    _write(
        fb,
        "steps.json",
        [
            {"dateTime": "2020-01-02 08:00:00", "value": "10"},
            {"dateTime": "yesterday", "value": "3"},
            {"dateTime": "2300-01-01 00:00:00", "value": "3"},
            {"dateTime": "2020-01-02 08:01:00", "value": "-4"},
            {"dateTime": "2020-01-02 08:02:00", "value": "lots"},
            {"dateTime": "2020-01-02 08:02:00", "value": "5"},
            {"dateTime": "2020-01-02 08:02:00", "value": "5"},
            {"value": "5"},
        ],
    )
    _write(fb, "sleep.json", [_sleep_log(endTime="2020-01-01T22:00:00.000"), "x"])
    report = ReadReport()
    msgs = _by_type(list(read(export, report=report)))
    assert msgs["activity"][0].steps == [10, 0, 5]
    assert report.unusable == {
        "fitbit steps: dateTime missing, unparseable or outside 1990..2099": 3,
        "fitbit steps: value not a whole number 0..1000": 2,
        "fitbit steps: minute repeated with the same value (used once)": 1,
        "fitbit sleep: a log is not a JSON object": 1,
        "fitbit SleepEpisode: end: must be after start": 1,
        "fitbit resting heart rate: 0 (Fitbit had too little data that day)": 1,
    }


def test_nonexistent_local_time_is_counted(tmp_path: Path) -> None:
    """29 March 2020 02:30 does not exist in Oslo (clocks jump 02:00 -> 03:00)."""
    _write(
        tmp_path / "s1",
        "steps.json",
        _steps("2020-03-29", {"01:59": 4, "02:30": 9, "03:00": 6}),
    )
    report = ReadReport()
    winter, summer = list(read(tmp_path / "s1", report=report))
    assert (winter.steps, winter.tz_offset_min) == ([4], 60)
    assert (summer.steps, summer.tz_offset_min) == ([6], 120)  # the next UTC minute
    assert summer.start - winter.start == dt.timedelta(minutes=1)
    assert report.unusable == {
        "fitbit steps: local time ambiguous or nonexistent in Europe/Oslo": 1
    }


def test_daily_summary_rules_name_the_field() -> None:
    base = {
        "type": "daily_summary",
        "event_id": "d:1",
        "subject_id": "s1",
        "source": "fitbit",
        "tz_offset_min": 60,
        "date": "2020-01-02",
    }
    with pytest.raises(InputError, match="at least one of resting_hr_bpm"):
        decode(base)
    with pytest.raises(InputError, match="resting_hr_bpm"):
        decode({**base, "resting_hr_bpm": 300})
    with pytest.raises(InputError, match="sleep_score"):
        decode({**base, "sleep_score": 101})
    msg = decode({**base, "rmssd_ms": 42.0})
    assert (
        isinstance(msg, DailySummary) and msg.span()[0].isoformat() == "2020-01-02T00:00:00+01:00"
    )


def _summary(date: str, **values: float) -> DailySummary:
    return DailySummary.model_validate(
        {
            "event_id": f"daily_summary:{date}",
            "subject_id": "s1",
            "source": "test",
            "tz_offset_min": 0,
            "date": date,
            **values,
        }
    )


def test_summary_overrides_per_value_and_late_summary_is_counted() -> None:
    state = SubjectState.new()
    from phenotyping.pipeline import flush, step

    step(state, _summary("2021-05-01", resting_hr_bpm=60, rmssd_ms=30))
    step(state, _summary("2021-05-01", resting_hr_bpm=58))
    blob = state.to_bytes()
    restored = SubjectState.from_bytes(blob)
    (row,) = flush("s1", restored).daily
    assert (row["dev_resting_hr"], row["dev_rmssd"]) == (58, 30)
    assert math.isnan(row["dev_sdnn"]) and math.isnan(row["dev_sleep_score"])
    out = step(restored, _summary("2021-05-01", sdnn_ms=50))
    assert restored.days.late == 1
    assert out.notices and out.notices[0]["kind"] == "late_data"


def test_summaries_alone_close_their_days_in_event_time() -> None:
    eng = SubjectDays()
    d0 = (dt.date(2021, 5, 1) - dt.date(1970, 1, 1)).days
    for k in range(4):
        eng.push_summary(d0 + k, 120, [50.0 + k, None, None, None, None, None, None, None])
    rows = eng.advance()
    # the watermark is the end of the last summarised day; 36 h of grace closes 2 days
    assert [r["date"] for r in rows] == ["2021-05-01", "2021-05-02"]
    assert [r["dev_resting_hr"] for r in rows] == [50.0, 51.0]
    assert [r["minutes_in_day"] for r in rows] == [1440, 1440]
    assert [r["date"] for r in eng.flush()] == ["2021-05-03", "2021-05-04"]


def test_cli_replays_an_export(export: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "out"
    assert main(["replay", str(export.parent), "--out", str(out), "-q", "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert "read 1 recording(s)" in text and "1 subject(s)" in text
    daily = (out / "daily_features.csv").read_text().splitlines()
    header = daily[0].split(",")
    assert {"dev_resting_hr", "dev_rmssd", "dev_sdnn", "dev_sleep_score"} <= set(header)


def test_worn_minutes_against_a_loop() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        ev = np.unique(rng.integers(0, 400, size=rng.integers(1, 30)))
        got = fitbit.worn_minutes(ev, 0, 400, 50)
        want = np.zeros(400, bool)
        want[ev] = True
        for a, b in zip(ev[:-1], ev[1:], strict=True):
            if b - a - 1 <= 50:
                want[a:b] = True
        assert (got == want).all()


def test_wellness_becomes_self_reports_at_their_utc_time(export: Path) -> None:
    (export / "pmsys" / "wellness.csv").write_text(
        "effective_time_frame,fatigue,mood,readiness,sleep_duration_h,sleep_quality,"
        "soreness,soreness_area,stress\n"
        "2020-01-02T07:30:00.000Z,2,4,7,8,3,2,[],0\n"
        "not a time,2,4,7,8,3,2,[],2\n"
    )
    report = ReadReport()
    events = _by_type(list(read(export, report=report)))["clinical"]
    got = {e.instrument: e.score for e in events}
    assert got == {
        "pmsys_mood_1_5": 4,
        "pmsys_fatigue_1_5": 2,
        "pmsys_sleep_quality_1_5": 3,
        "pmsys_readiness_0_10": 7,
    }
    assert {e.kind for e in events} == {"self_report"}
    assert {e.at.isoformat() for e in events} == {"2020-01-02T08:30:00+01:00"}
    assert report.unusable["pmsys ClinicalEvent: score: pmsys_stress_1_5 must be within 1..5"] == 1
    assert report.unusable["pmsys wellness: effective_time_frame missing or unparseable"] == 1
    # recorded by the risk engine as the latest self-report, never as a PHQ-9
    pipeline = Pipeline()
    list(pipeline.run(read(export)))
    risk = pipeline.store["p07"].risk
    assert risk.report_instrument.startswith("pmsys_")
    assert not math.isfinite(risk.pre_course_phq9)


_WEIRD: list[Any] = [None, 1, "x", [], {}, [1], -5, True, "2300-01-01 00:00:00", [{"a": {}}]]
_SLEEP_KEYS = ["startTime", "endTime", "levels", "minutesAsleep", "mainSleep", "type", "logId"]


def _malformed() -> list[tuple[str, str]]:
    cases = [("steps.json", "{bad"), ("steps.json", '{"a": 1}'), ("sleep.json", "[1, 2]")]
    for w in _WEIRD:
        cases.append(("steps.json", json.dumps([{"dateTime": w, "value": w}])))
        cases.append(("resting_heart_rate.json", json.dumps([{"dateTime": w, "value": w}, w])))
        cases.append(("very_active_minutes.json", json.dumps([{"dateTime": w, "value": w}])))
        for key in _SLEEP_KEYS:
            log = _sleep_log(**{key: w})
            log["levels"] = {"data": [{"dateTime": w, "level": w, "seconds": w}], "summary": w}
            cases.append(("sleep.json", json.dumps([log])))
    cases.append(("sleep_score.csv", "timestamp,sleep_log_entry_id,overall_score\nzz,1e400,500\n"))
    cases.append(("sleep_score.csv", "a,b\n1,2\n"))
    return cases


def test_malformed_files_are_counted_never_raised(tmp_path: Path) -> None:
    """Each malformed file or field: the replay completes, counts something, and the good
    steps and sleep files beside it still give their messages."""
    for k, (name, text) in enumerate(_malformed()):
        fb = tmp_path / f"s{k}" / "fitbit"
        _write(fb, "steps.json", _steps("2020-01-02", {"08:00": 10}))
        _write(fb, "sleep.json", [_sleep_log()])
        (fb / name).write_text(text)
        report = ReadReport()
        rows = list(Pipeline().run(read(fb.parent, report=report)))
        assert rows, (name, text)
        types = {m.type for m in read(fb.parent)}
        assert name == "steps.json" or "activity" in types, (name, text)
        assert name == "sleep.json" or "sleep" in types, (name, text)
        assert report.unusable or name == "sleep.json", (name, text)


def test_path_with_nothing_replayable_says_what_it_found_and_fails(
    tmp_path: Path, capsys: Any
) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "notes.json").write_text("{}")
    (tmp_path / "in" / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "in" / "other.csv").write_text("a,b\n1,2\n")
    out = tmp_path / "out"
    assert main(["replay", str(tmp_path / "in"), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "no recording in a known format found (3 file(s): 2 .csv, 1 .json)" in err
    assert not out.exists()


def test_export_whose_files_hold_nothing_usable_fails(tmp_path: Path, capsys: Any) -> None:
    _write(tmp_path / "p01" / "fitbit", "steps.json", [{"dateTime": "garbage", "value": "1"}])
    out = tmp_path / "out"
    assert main(["replay", str(tmp_path / "p01"), "--out", str(out), "-q"]) == 1
    captured = capsys.readouterr()
    assert "nothing replayable (no usable message)" in captured.err
    assert "fitbit steps: dateTime missing, unparseable" in captured.out  # the reason shown
    assert not out.exists()


def test_heart_rate_marks_wear_and_only_short_gaps_are_bridged(export: Path) -> None:
    """With heart_rate.json, a minute is worn when it has a heart-rate sample (or a step
    record, or a sleep log); gaps of more than 5 minutes are not bridged."""
    beats = [
        {"dateTime": f"01/02/20 {hm}:{sec:02d}", "value": {"bpm": 70, "confidence": 2}}
        for hm in ("08:03", "08:10", "08:11", "08:12", "08:20", "09:00")
        for sec in (5, 35)
    ]
    _write(export / "fitbit", "heart_rate.json", beats)
    batches = _by_type(list(read(export)))["activity"]
    steps = _minutes(batches, dt.datetime(2020, 1, 2, 7, 0, tzinfo=dt.UTC))
    # step records 08:00 and 08:30 (+ 12:00, 12:01); heart rate 08:03, 08:10-08:12, 08:20,
    # 09:00; 08:01-08:02 (2 minutes) is bridged, 08:04-08:09 (6) and the longer gaps are not
    assert sorted(steps) == [0, 1, 2, 3, 10, 11, 12, 20, 30, 60, 240, 241]
    assert [steps[i] for i in (0, 1, 10, 30, 60, 240)] == [10, 0, 0, 0, 0, 5]


def test_heart_rate_scan_is_the_same_in_small_chunks(export: Path) -> None:
    beats = [
        {"dateTime": f"2020-01-02 {h:02d}:{m:02d}:{s:02d}", "value": {"bpm": 60 + s}}
        for h in (7, 8)
        for m in range(0, 60, 7)
        for s in (1, 31)
    ]
    _write(export / "fitbit", "heart_rate.json", beats)
    files = [export / "fitbit" / "heart_rate.json"]
    whole = fitbit._hr_minutes(files, "Europe/Oslo", ReadReport())
    small = fitbit._hr_minutes(files, "Europe/Oslo", ReadReport(), chunk=50)
    assert len(whole) == 2 * 9 and whole.tolist() == small.tolist()


def test_a_stray_record_years_away_is_its_own_small_batch(export: Path) -> None:
    """Grids follow the evidence: one record in 2099 gives a one-minute batch there, not a
    grid over the 79 years between."""
    records = _steps("2020-01-02", {"08:00": 10, "08:01": 3}) + _steps("2099-06-01", {"12:00": 4})
    _write(export / "fitbit", "steps.json", records)
    batches = _by_type(list(read(export)))["activity"]
    assert [len(b.steps) for b in batches] == [2, 1]
    assert batches[1].start.isoformat() == "2099-06-01T12:00:00+02:00"
