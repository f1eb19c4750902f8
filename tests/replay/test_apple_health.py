"""Apple Health export.xml: what each record type becomes, bad records, a generated export."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from apple_export import generator

from phenotyping.cli import main
from phenotyping.errors import FormatError
from phenotyping.events import ActivityBatch, DailySummary, HeartBeatBatch, SleepEpisode
from phenotyping.replay.formats import ReadReport, apple_health, detect

DATA = Path(__file__).parent.parent / "data" / "importers"
EXPORT = DATA / "apple_health_export"
CET = dt.timezone(dt.timedelta(hours=1))


def _read(path: Path) -> tuple[dict[str, list[Any]], ReadReport]:
    report = ReadReport()
    out: dict[str, list[Any]] = {}
    for m in apple_health.read(path, report=report):
        out.setdefault(m.type, []).append(m)
    return out, report


def test_detected_as_a_folder_and_as_a_file() -> None:
    assert detect(EXPORT) == "apple_health"
    assert detect(EXPORT / "export.xml") == "apple_health"


def test_steps_take_the_larger_source_per_minute_and_keep_each_records_total() -> None:
    msgs, _ = _read(EXPORT)
    day1: ActivityBatch = msgs["activity"][0]
    assert day1.start == dt.datetime(2023, 1, 5, 8, 0, tzinfo=CET) and day1.tz_offset_min == 60
    assert day1.steps is not None
    # iPhone 90 steps over 3 min (30/min) and Watch 100 over 2 min (50/min): 50, 50, 30
    assert day1.steps[:3] == [50, 50, 30]
    # 41 steps from 12:00:30 to 12:01:30: half in each minute (20.5 rounds to even)
    assert day1.steps[240:242] == [20, 21]
    assert sum(s or 0 for s in day1.steps) == 50 + 50 + 30 + 41


def test_wear_is_steps_heart_rate_and_sleep_with_short_gaps_bridged() -> None:
    msgs, _ = _read(EXPORT)
    day1 = msgs["activity"][0]
    assert day1.steps is not None
    worn = [i for i, s in enumerate(day1.steps) if s is not None]
    # 08:00-08:20 (steps 08:00-08:02, heart rate 08:05 and 08:20: gaps <= 15 min bridged),
    # 09:00 (heart rate; 39 min after 08:20: not bridged), 12:00-12:01 (steps),
    # 23:00-23:59 (in bed)
    expected = list(range(0, 21)) + [60, 240, 241] + list(range(15 * 60, 16 * 60))
    assert worn == expected
    assert day1.steps[3:21] == [0] * 18  # worn without steps: 0 steps


def test_sleep_segments_become_one_episode_with_stages() -> None:
    msgs, _ = _read(EXPORT)
    night, nap = msgs["sleep"]
    assert isinstance(night, SleepEpisode)
    assert night.start == dt.datetime(2023, 1, 5, 23, 0, tzinfo=CET)
    assert night.end == dt.datetime(2023, 1, 6, 7, 0, tzinfo=CET)
    assert night.is_main_sleep and not nap.is_main_sleep
    # in bed 480 min; asleep from 23:20 (latency 20); awake 03:00-03:10 (WASO 10);
    # last asleep minute 06:29, then 30 min in bed
    assert (night.latency_min, night.waso_min, night.tst_min) == (20, 10, 480 - 20 - 10 - 30)
    assert night.efficiency_pct == 87.5
    assert night.stages is not None and night.stages.epoch_s == 60
    st = night.stages.stages
    assert st[0] == "unknown" and st[20] == "light" and st[180] == "deep"
    assert st[240] == "wake" and st[250] == "rem" and st[-1] == "unknown"
    assert (nap.tst_min, nap.start.hour) == (30, 14)


def test_hrv_beats_cross_midnight_and_sdnn_without_beats_is_a_daily_summary() -> None:
    msgs, _ = _read(EXPORT)
    (beats,) = msgs["heartbeat"]
    assert isinstance(beats, HeartBeatBatch)
    # beats at 23:59:59, 00:00:00, 00:00:01.2, 00:00:02.0 at 60, 60, 50, 75 bpm
    assert beats.rr_ms == [1000.0, 1000.0, 1200.0, 800.0]
    assert beats.first_beat == dt.datetime(2023, 1, 5, 23, 59, 58, tzinfo=CET)
    (summary,) = msgs["daily_summary"]
    assert isinstance(summary, DailySummary)
    assert summary.date == dt.date(2023, 1, 5)
    assert summary.resting_hr_bpm == 54.0
    assert summary.sdnn_ms == 45.0  # the mean of 40 and 50; the reading with beats is beats


def test_bad_records_are_counted_and_nothing_else_is_lost() -> None:
    msgs, report = _read(EXPORT)
    assert dict(report.unusable) == {
        "apple_health StepCount: time outside 1990..2100 (device clock?)": 1,
        "apple_health StepCount: value 'lots' is not a number >= 0": 1,
    }
    assert report.rows == 19  # records of the five types read (blood pressure is not)
    assert {k: len(v) for k, v in msgs.items()} == {
        "activity": 2,
        "sleep": 2,
        "heartbeat": 1,
        "daily_summary": 1,
    }


def test_no_source_or_device_name_reaches_a_message() -> None:
    msgs, _ = _read(EXPORT)
    text = json.dumps([m.model_dump(mode="json") for v in msgs.values() for m in v])
    assert "Test Watch" not in text and "iPhone" not in text


def test_broken_xml_keeps_what_was_read_and_a_non_export_is_one_line(tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    cut.mkdir()
    text = (EXPORT / "export.xml").read_text()
    (cut / "export.xml").write_text(text[: text.index("<Correlation")] + "<Record type=")
    msgs, report = _read(cut)
    assert len(msgs["activity"]) == 1 and "daily_summary" in msgs
    assert any(k.startswith("apple_health: XML broken at") for k in report.unusable)
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00\xffnot xml at all <<")
    with pytest.raises(FormatError, match="not readable XML"):
        list(apple_health.read(garbage, report=ReadReport()))
    other = tmp_path / "other.xml"
    other.write_text("<Foo><Record/></Foo>")
    with pytest.raises(FormatError, match=r"not an Apple Health export \(root <Foo>\)"):
        list(apple_health.read(other, report=ReadReport()))


def test_cli_replay_of_the_fixture(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["replay", str(EXPORT), "--out", str(out), "-q", "--subject", "a01"]) == 0
    daily = pd.read_csv(out / "daily_features.csv").set_index("date")
    assert set(daily["subject_id"]) == {"a01"}
    assert daily.loc["2023-01-05", "steps_total"] == 171
    assert daily.loc["2023-01-05", "worn_min"] == 84
    assert daily.loc["2023-01-05", "dev_resting_hr"] == 54.0
    assert daily.loc["2023-01-05", "dev_sdnn"] == 45.0
    assert daily.loc["2023-01-06", "device_sleep_tst_min"] == 420
    assert daily.loc["2023-01-06", "night_n_beats"] == 4


def test_generated_export_replays_with_exact_daily_steps(tmp_path: Path) -> None:
    gen = generator()
    truth = gen.write_export(tmp_path / "apple_health_export", 3_000_000, seed=1)
    assert len(truth) >= 3
    out = tmp_path / "out"
    assert main(["replay", str(tmp_path / "apple_health_export"), "--out", str(out), "-q"]) == 0
    daily = pd.read_csv(out / "daily_features.csv").set_index("date")
    for date, steps in truth.items():
        assert daily.loc[date, "steps_total"] == steps
        assert daily.loc[date, "worn_min"] == 1440  # heart rate every <= 10 min all day
    report = json.loads((out / "report.json").read_text())
    assert report["unusable"] == {}
