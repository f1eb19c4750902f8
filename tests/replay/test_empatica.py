"""Empatica E4 session folders: IBI.csv -> heart-beat bursts, ACC.csv -> ENMO per minute."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from phenotyping.cli import main
from phenotyping.events import ActivityBatch, HeartBeatBatch
from phenotyping.replay.formats import ReadReport, detect, empatica
from phenotyping.replay.formats.base import ReadOptions

SESSION = Path(__file__).parent.parent / "data" / "importers" / "empatica_e4_s01"
START = dt.datetime(2017, 5, 22, 7, 15, tzinfo=dt.UTC)  # 1495437300, the files' line 1


def _read(**opts: Any) -> tuple[list[Any], ReadReport]:
    report = ReadReport()
    msgs = list(empatica.read(SESSION, report=report, options=ReadOptions(**opts)))
    return msgs, report


def test_detected_as_a_session_folder() -> None:
    assert detect(SESSION) == "empatica"
    assert not empatica.sniff(SESSION / "IBI.csv")


def test_ibi_rows_become_bursts_split_where_beats_were_missed() -> None:
    msgs, report = _read()
    first, second = [m for m in msgs if isinstance(m, HeartBeatBatch)]
    # beats at start + 10.84375 s, ... : the first interval ends 0.84375 s after 10.0 s
    assert first.first_beat == START + dt.timedelta(seconds=10)
    assert first.rr_ms == [843.75, 859.375, 875.0, 812.5]
    # 7.5 s without detected beats: the next beat (0.90625 s interval) starts a new burst
    assert second.first_beat == START + dt.timedelta(seconds=20.891)  # ms precision
    assert second.rr_ms == [906.25, 921.875, 890.625]
    assert report.unusable["empatica IBI.csv: row is not two numbers (0 <= t <= 1 year, ibi)"] == 1


def test_acc_becomes_enmo_per_minute_in_milli_g() -> None:
    msgs, report = _read()
    (acc,) = [m for m in msgs if isinstance(m, ActivityBatch)]
    assert acc.start == START and acc.epoch_s == 60
    # minute 1: (0, 0, 64)/64 g -> |a| = 1 g -> 0 mg; minute 2: (0, 48, 64) -> 1.25 g -> 250 mg
    assert acc.counts == [0.0, 250.0]
    # the last 10 s are fewer than half a minute of samples: not a minute
    assert (
        report.unusable["empatica ACC.csv: samples of minutes with fewer than half their samples"]
        == 320
    )
    assert report.rows == 8 + 32 * 130  # IBI rows + ACC rows (HR.csv is not read)


def test_tz_gives_local_offsets_and_subject_flag() -> None:
    msgs, _ = _read(tz="America/New_York", subject="e4-07")
    assert {m.tz_offset_min for m in msgs} == {-240}
    assert {m.subject_id for m in msgs} == {"e4-07"}


def test_broken_files_are_counted_not_raised(tmp_path: Path) -> None:
    s = tmp_path / "sess"
    s.mkdir()
    (s / "IBI.csv").write_text("1495437300.0, IBI\n1.0,0.8\n1.8,0.8\n1.9,-5\n2.6\n")
    (s / "ACC.csv").write_text("1e30, 1e30, 1e30\n32, 32, 32\n" + "0,0,64\n" * 64)
    report = ReadReport()
    msgs = list(empatica.read(s, report=report))
    (beats,) = msgs
    assert isinstance(beats, HeartBeatBatch) and beats.rr_ms == [800.0, 800.0]
    assert report.unusable["empatica IBI.csv: bad time or interval outside (0, 60 s)"] == 1
    assert report.unusable["empatica IBI.csv: row is not two numbers (0 <= t <= 1 year, ibi)"] == 1
    assert report.unusable["empatica ACC.csv: start time outside 1990..2100 (device clock?)"] == 1


def test_cli_replay_of_the_session(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["replay", str(SESSION), "--out", str(out), "-q", "--tz", "Europe/Oslo"]) == 0
    daily = pd.read_csv(out / "daily_features.csv")
    assert list(daily["date"]) == ["2017-05-22"] and list(daily["subject_id"]) == [
        "empatica_e4_s01"
    ]
    assert daily.loc[0, "activity_total"] == 250.0
    assert daily.loc[0, "observed_min"] == 2
