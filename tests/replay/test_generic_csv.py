"""Generic epoch CSV (ActiLife, GGIR, timestamp,counts[,steps]): parsing, bad rows, --tz, replay."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phenotyping.cli import main
from phenotyping.errors import FormatError
from phenotyping.replay.formats import ReadReport, detect, generic_csv
from phenotyping.replay.formats.base import ReadOptions

DATA = Path(__file__).parent.parent / "data" / "importers"

ACTILIFE_HEADER = (
    "------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.3 Firmware v2.5.0 "
    "date format M/d/yyyy at 30 Hz  Filter Normal -----------\n"
    "Serial Number: NEO1F00000000\nStart Time {time}\nStart Date {date}\n"
    "Epoch Period (hh:mm:ss) 00:01:00\nDownload Time 10:00:00\nDownload Date 1/1/2021\n"
    "Current Memory Address: 0\nCurrent Battery Voltage: 4.05     Mode = 12\n"
    "--------------------------------------------------\n"
)


def _read(path: Path, **opts: object) -> tuple[list[generic_csv.Message], ReadReport]:
    report = ReadReport()
    return list(generic_csv.read(path, report=report, options=ReadOptions(**opts))), report  # type: ignore[arg-type]


def test_actilife_with_date_time_columns_cuts_days_on_local_time() -> None:
    msgs, report = _read(DATA / "actilife_dated.csv", tz="Europe/Oslo")
    assert [m.start.isoformat() for m in msgs] == [
        "2020-03-07T23:58:00+01:00",
        "2020-03-08T00:00:00+01:00",
    ]
    assert [m.counts for m in msgs] == [[120.0, 0.0], [45.0, 300.0, 0.0, 18.0]]
    assert [m.steps for m in msgs] == [[3, 0], [1, 12, 0, 0]]
    assert {m.source for m in msgs} == {"actigraph-actilife"}
    assert {m.subject_id for m in msgs} == {"actilife_dated"}
    assert report.rows == 6 and not report.unusable


def test_actilife_without_headers_takes_time_from_the_header_block() -> None:
    msgs, report = _read(DATA / "actilife_plain.csv", tz="Europe/Oslo")
    assert [m.epoch_s for m in msgs] == [30, 30]  # "Epoch Period (hh:mm:ss) 00:00:30"
    assert msgs[0].start.isoformat() == "2020-03-07T23:58:00+01:00"
    assert msgs[0].counts == [120.0, 0.0, 45.0, 300.0]  # Axis1, the first column
    assert msgs[1].steps == [0, 0]  # Steps, the fourth column
    assert not report.unusable


def test_ggir_keeps_each_rows_own_offset_and_5_s_epochs() -> None:
    msgs, report = _read(DATA / "ggir_epochs.csv", tz="Europe/Oslo")  # tz unused: offsets given
    assert len(msgs) == 1
    m = msgs[0]
    assert (m.tz_offset_min, m.epoch_s, m.source) == (-240, 5, "ggir-enmo")
    assert m.start.isoformat() == "2019-05-31T05:25:00-04:00"
    assert m.counts is not None and m.counts[:3] == [0.0001, 0.0153, 0.0014]
    assert m.n_epochs == 12 and not report.unusable


def test_bad_rows_are_counted_with_reasons_and_the_rest_is_kept() -> None:
    msgs, report = _read(DATA / "generic_minutes.csv", tz="Europe/Oslo")
    assert dict(report.unusable) == {
        "generic_csv: time outside 1990..2100 (device clock?)": 1,  # the year-2300 row
        "generic_csv: unparseable time": 1,
        "generic_csv: counts not a number >= 0": 2,  # -4 and "abc"
        "generic_csv: steps not a whole number 0..1000": 1,
    }
    (m,) = msgs
    assert m.counts == [10.0, 20.0, 30.0, None, None, None, None, 8.0]
    assert m.tz_offset_min == 60


def test_tz_places_local_times_and_utc_is_the_default(tmp_path: Path) -> None:
    f = tmp_path / "s1.csv"
    f.write_text("time,activity\n2021-07-01 12:00:00,5\n2021-07-01 12:01:00,6\n")
    (oslo,), _ = _read(f, tz="Europe/Oslo")
    (utc,), _ = _read(f)
    assert oslo.tz_offset_min == 120 and utc.tz_offset_min == 0
    assert oslo.start.astimezone(dt.UTC).hour == 10 and utc.start.astimezone(dt.UTC).hour == 12


def test_column_mapping_by_flag_and_unix_times(tmp_path: Path) -> None:
    f = tmp_path / "weird.csv"
    t0 = 1_600_000_040  # unix seconds, not on a whole minute: floored to the 10-s grid
    rows = "\n".join(f"{t0 + 10 * i},{i},{i % 3}" for i in range(6))
    f.write_text(f"t_unix,mag,stp\n{rows}\n")
    assert not generic_csv.sniff(f)
    assert generic_csv.sniff(f, ReadOptions(columns={"time": "t_unix", "counts": "mag"}))
    (m,), report = _read(
        f, columns={"time": "t_unix", "counts": "mag", "steps": "stp"}, subject="p01"
    )
    assert m.subject_id == "p01" and m.epoch_s == 10
    assert m.start == dt.datetime.fromtimestamp(1_600_000_040 // 60 * 60, dt.UTC)
    assert m.counts == [None, None, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, None, None, None, None]
    assert m.steps is not None and m.steps[2:8] == [0, 1, 2, 0, 1, 2]


def test_a_file_that_cannot_be_used_says_why_in_one_line(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text(
        "timestamp,counts\n2021-01-01 00:00:00,1\n2021-01-01 00:00:07,1\n2021-01-01 00:00:14,1\n"
    )
    with pytest.raises(FormatError, match=r"epoch: the times step by 7 s"):
        _read(f)
    with pytest.raises(FormatError, match=r"--counts-col: no column 'nope'"):
        _read(f, columns={"counts": "nope"})
    g = tmp_path / "b.csv"
    g.write_text("timestamp,lux\n2021-01-01 00:00:00,1\n")
    with pytest.raises(FormatError, match="no counts or steps column"):
        _read(g)


def test_auto_detection() -> None:
    for name in ("actilife_dated.csv", "actilife_plain.csv", "ggir_epochs.csv"):
        assert detect(DATA / name) == "generic_csv"


def _write_actilife(path: Path, start: dt.datetime, counts: np.ndarray, steps: np.ndarray) -> None:
    with path.open("w", newline="") as fh:
        fh.write(
            ACTILIFE_HEADER.format(
                time=f"{start:%H:%M:%S}", date=f"{start.month}/{start.day}/{start.year}"
            )
        )
        fh.write("Date,Time,Axis1,Axis2,Axis3,Steps,Lux\n")
        for i, (c, s) in enumerate(zip(counts, steps, strict=True)):
            t = start + dt.timedelta(minutes=i)
            fh.write(f"{t.month}/{t.day}/{t.year},{t:%H:%M:%S},{c},0,0,{s},0\n")


def test_cli_replay_of_an_actilife_export_end_to_end(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 3 * 1440
    minute = np.arange(n) % 1440
    awake = (minute >= 7 * 60) & (minute < 23 * 60)
    counts = np.where(awake, rng.integers(20, 400, n), rng.integers(0, 3, n))
    steps = np.where(awake, rng.integers(0, 60, n), 0)
    src = tmp_path / "subj7.csv"
    _write_actilife(src, dt.datetime(2021, 1, 4), counts, steps)
    out = tmp_path / "out"
    assert main(["replay", str(src), "--out", str(out), "--tz", "Europe/Oslo", "-q"]) == 0
    daily = pd.read_csv(out / "daily_features.csv")
    assert list(daily["date"]) == ["2021-01-04", "2021-01-05", "2021-01-06"]
    assert list(daily["subject_id"].unique()) == ["subj7"]
    # daily steps equal the file's steps of each local day (the file is in Oslo time)
    expected = steps.reshape(3, 1440).sum(axis=1)
    np.testing.assert_array_equal(daily["steps_total"].to_numpy(), expected)
    assert daily["valid"].all()
    report = json.loads((out / "report.json").read_text())
    assert report["rows"] == n and report["unusable"] == {}


def test_cli_bad_tz_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(DATA / "ggir_epochs.csv"), "--tz", "Mars/Olympus", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --tz: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Oslo)"]


def test_one_bad_file_does_not_lose_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.csv").write_text((DATA / "ggir_epochs.csv").read_text())
    (folder / "bad.csv").write_text(
        "timestamp,counts\n2021-01-01 00:00:00,1\n2021-01-01 00:00:07,1\n"
    )
    out = tmp_path / "out"
    assert main(["replay", str(folder), "--out", str(out), "-q"]) == 0
    daily = pd.read_csv(out / "daily_features.csv")
    assert list(daily["subject_id"].unique()) == ["good"]
    report = json.loads((out / "report.json").read_text())
    (why,) = report["unusable"]
    assert why.startswith("file not used: ") and "epoch: the times step by 7 s" in why
