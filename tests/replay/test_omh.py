"""Open mHealth: reading data points, and `phenotyping export --omh` round-tripped."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phenotyping.cli import main
from phenotyping.errors import FormatError
from phenotyping.events import ActivityBatch, HeartBeatBatch, SleepEpisode
from phenotyping.replay.formats import ReadReport, detect, omh
from phenotyping.replay.formats.base import ReadOptions
from phenotyping.replay.omh_export import data_points

POINTS = Path(__file__).parent.parent / "data" / "importers" / "omh" / "points.json"
CEST = dt.timezone(dt.timedelta(hours=2))


def _read(path: Path = POINTS, **opts: object) -> tuple[dict[str, list[object]], ReadReport]:
    report = ReadReport()
    out: dict[str, list[object]] = {}
    for m in omh.read(path, report=report, options=ReadOptions(**opts)):  # type: ignore[arg-type]
        out.setdefault(m.type, []).append(m)
    return out, report


def test_detected_before_our_own_jsonl(tmp_path: Path) -> None:
    assert detect(POINTS) == "omh"
    lines = tmp_path / "points.jsonl"
    lines.write_text("\n".join(json.dumps(p) for p in json.loads(POINTS.read_text())[:3]))
    assert detect(lines) == "omh"


def test_each_schema_becomes_the_wire_message_a_device_would_send() -> None:
    msgs, report = _read()
    evening, act = msgs["activity"]  # one batch per local day
    assert isinstance(act, ActivityBatch) and act.subject_id == "omh-s1"
    assert isinstance(evening, ActivityBatch) and evening.steps == [0] * 60  # 23:00-23:59
    # phone 300 steps over 08:00-08:05 (60/min), watch 100 in 08:00: the larger per minute;
    # the heart rate at 08:12 makes 08:05-08:12 worn with 0 steps (gap <= 15 min);
    # the sleep episode (23:00-07:00) is worn too, without steps
    assert act.start == dt.datetime(2021, 6, 1, 0, 0, tzinfo=CEST)
    steps = act.steps
    assert steps is not None and len(steps) == (8 * 60 + 13)
    assert steps[-13:] == [100, 60, 60, 60, 60] + [0] * 8
    (beats,) = msgs["heartbeat"]
    assert isinstance(beats, HeartBeatBatch)
    assert beats.rr_ms == [1000.0, 950.0, 1050.0]  # 0.95 sec -> 950 ms
    assert beats.first_beat == dt.datetime(2021, 6, 1, 3, 0, tzinfo=CEST)
    (sleep,) = msgs["sleep"]
    assert isinstance(sleep, SleepEpisode)
    # OMH's frame is onset .. final awakening; in bed = onset - latency (15 min)
    assert sleep.start == dt.datetime(2021, 5, 31, 23, 0, tzinfo=CEST)
    assert (sleep.tst_min, sleep.waso_min, sleep.efficiency_pct) == (420, 45, 90.3)
    assert dict(report.unusable) == {
        "omh: schema 'body-weight' not read": 1,
        "omh step-count: date_time: outside 1990..2100 (device clock?)": 1,
        "omh: header.schema_id: needs a name": 1,
        "omh: data point: not a JSON object": 1,
    }


def test_user_ids_that_are_not_pseudonymous_are_never_copied(tmp_path: Path) -> None:
    points = json.loads(POINTS.read_text())[:2]
    for p in points:
        p["header"]["user_id"] = "jane.doe@example.org"
    f = tmp_path / "export1.json"
    f.write_text(json.dumps(points))
    msgs, _ = _read(f)
    assert {m.subject_id for v in msgs.values() for m in v} == {"export1"}  # type: ignore[attr-defined]
    msgs, _ = _read(f, subject="p7")
    assert {m.subject_id for v in msgs.values() for m in v} == {"p7"}  # type: ignore[attr-defined]


def test_a_file_that_is_not_json_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"header": {"schema_id": 1}, "body": ')
    with pytest.raises(FormatError, match="not valid JSON"):
        _read(f)


def test_export_writes_omh_data_points_with_local_day_intervals() -> None:
    row = {
        "subject_id": "s1",
        "date": "2021-10-31",
        "steps_total": "5012.0",
        "sleep_tst_min": "401.0",
        "night_mean_hr": "58.5",
        "night_rmssd": "41.0",
        "valid": "True",
        "activity_mean_worn": "",
    }
    pts = list(data_points([row], "Europe/Oslo"))
    names = [(p["header"]["schema_id"]["namespace"], p["header"]["schema_id"]["name"]) for p in pts]
    assert names == [
        ("omh", "step-count"),
        ("omh", "sleep-duration"),
        ("omh", "heart-rate"),
        ("phenotyping", "daily-feature"),
    ]
    day = pts[0]["body"]["effective_time_frame"]["time_interval"]
    # the day daylight saving ends in Oslo: 25 hours, each end with its own offset
    assert day == {
        "start_date_time": "2021-10-31T00:00:00+02:00",
        "end_date_time": "2021-11-01T00:00:00+01:00",
    }
    assert pts[0]["body"]["step_count"] == 5012
    assert pts[1]["body"]["sleep_duration"] == {"value": 401.0, "unit": "min"}
    assert pts[2]["body"]["descriptive_statistic"] == "average"
    assert pts[3]["body"]["feature"] == "night_rmssd" and pts[3]["body"]["valid"] is True
    assert [p["header"]["id"] for p in pts] == [
        p["header"]["id"] for p in data_points([row], "Europe/Oslo")
    ]


def test_export_then_replay_gives_the_same_daily_steps(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 3 * 1440
    steps = np.where((np.arange(n) % 1440) > 420, rng.integers(0, 80, n), 0)
    src = tmp_path / "s9.csv"
    t = pd.date_range("2021-03-26", periods=n, freq="min")  # crosses the spring DST change
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "steps": steps}).to_csv(
        src, index=False
    )
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["replay", str(src), "--out", str(first), "--tz", "Europe/Oslo", "-q"]) == 0
    assert main(["export", "--omh", str(first), "--tz", "Europe/Oslo"]) == 0
    exported = first / "daily_features.omh.jsonl"
    assert main(["replay", str(exported), "--out", str(second), "-q"]) == 0
    a = pd.read_csv(first / "daily_features.csv")
    b = pd.read_csv(second / "daily_features.csv")
    assert list(b["subject_id"].unique()) == ["s9"]  # the pseudonymous user_id comes back
    assert list(a["date"]) == list(b["date"])
    np.testing.assert_array_equal(a["steps_total"], b["steps_total"])
    # and equal to the file's own sums per local day (a DST day has 1380 minutes)
    local = t.tz_localize("Europe/Oslo", nonexistent="NaT")
    assert local.isna().sum() == 60
    per_day = (
        pd.Series(steps[~local.isna()], index=local[~local.isna()].date).groupby(level=0).sum()
    )
    assert list(b["steps_total"]) == [float(x) for x in per_day]


def test_export_of_a_folder_without_outputs_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--omh", str(tmp_path)]) == 1
    assert "no daily_features.csv" in capsys.readouterr().err
