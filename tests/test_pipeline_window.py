"""The per-subject event-time window of :func:`phenotyping.pipeline.step` bounds the work
and memory one message can cause, in replays and workers alike (issue 11, rows 3 and 4);
a replay never aborts on one bad row.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phenotyping.cli import main
from phenotyping.events import ActivityBatch, decode
from phenotyping.pipeline import (
    MAX_AHEAD_DAYS,
    MAX_BEHIND_DAYS,
    OutOfWindow,
    Pipeline,
)
from phenotyping.replay.run import replay, write_outputs

DAY = 1440


def act(start: dt.datetime, n: int = 60, subject: str = "s1") -> ActivityBatch:
    msg = decode(
        {
            "type": "activity",
            "event_id": f"a:{start.timestamp():.0f}",
            "subject_id": subject,
            "source": "t",
            "tz_offset_min": 0,
            "start": start.isoformat(),
            "epoch_s": 60,
            "counts": [10.0] * n,
        }
    )
    assert isinstance(msg, ActivityBatch)
    return msg


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_a_stray_message_decades_ahead_is_refused_and_changes_nothing() -> None:
    """Row 3: 1990-01-02 then 2026-11-25 made 13k daily rows and a 1.1 GB grid."""
    pipe = Pipeline()
    pipe.process(act(utc(1990, 1, 2)))
    before = pipe.state("s1").to_bytes()
    with pytest.raises(OutOfWindow, match=f"more than {MAX_AHEAD_DAYS} days after"):
        pipe.process(act(utc(2026, 11, 25)))
    assert pipe.state("s1").to_bytes() == before
    assert len(pipe.flush().daily) == 1


def test_a_stray_message_decades_behind_is_late_data_and_grows_nothing() -> None:
    pipe = Pipeline()
    pipe.process(act(utc(2026, 11, 25)))
    late_before = pipe.state("s1").days.late
    out = pipe.process(act(utc(1990, 1, 2)))
    assert [n["kind"] for n in out.notices] == ["late_data"]
    assert pipe.state("s1").days.late == late_before + 60
    assert len(pipe.state("s1").days.counts) <= 2 * DAY


def test_samples_far_behind_into_open_days_are_refused() -> None:
    """Days that are not closed yet must not grow backwards without bound."""
    from phenotyping.features.day import SubjectDays
    from phenotyping.pipeline import check_window

    days = SubjectDays()
    days.watermark_local = int(utc(2026, 11, 25).timestamp()) // 60
    with pytest.raises(OutOfWindow, match=f"more than {MAX_BEHIND_DAYS} days before"):
        check_window(days, act(utc(1990, 1, 2)))
    check_window(days, act(utc(2026, 11, 25) - dt.timedelta(days=MAX_BEHIND_DAYS - 1)))


def test_the_window_edges_are_inclusive_of_normal_gaps() -> None:
    pipe = Pipeline()
    pipe.process(act(utc(2026, 1, 1)))
    pipe.process(act(utc(2026, 1, 1) + dt.timedelta(days=MAX_AHEAD_DAYS - 1)))  # a long gap
    pipe.process(act(utc(2026, 1, 1) + dt.timedelta(days=MAX_AHEAD_DAYS - 20)))  # late upload
    assert pipe.flush().daily


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.integers(min_value=0, max_value=200 * 365), min_size=2, max_size=8))
def test_any_sequence_of_times_keeps_the_grid_and_the_rows_bounded(days: list[int]) -> None:
    """Whatever times arrive (1990..2190), the grid of one subject stays within the window
    and no message closes more days than the window holds."""
    pipe = Pipeline()
    bound_days = MAX_AHEAD_DAYS + MAX_BEHIND_DAYS + pipe.params.window_days + 10
    for d in days:
        start = utc(1990, 1, 2) + dt.timedelta(days=d)
        try:
            out = pipe.process(act(start, n=120))
        except OutOfWindow:
            continue
        assert len(out.daily) <= bound_days
        assert len(pipe.state("s1").days.counts) <= bound_days * DAY


def _actiwatch(path: Path, extra: list[str]) -> Path:
    rows = ["timestamp,date,activity"]
    t = dt.datetime(2003, 3, 10, 12, 0)
    for i in range(3 * DAY):
        x = t + dt.timedelta(minutes=i)
        rows.append(f"{x:%Y-%m-%d %H:%M:%S},{x:%Y-%m-%d},{(i * 37) % 400}")
    rows[1500:1500] = extra
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("year", [2040, 2250, 2300])
def test_a_csv_row_far_in_the_future_never_aborts_the_replay(tmp_path: Path, year: int) -> None:
    """Row 3: a row in 2300 raised OutOfBoundsDatetime and aborted the whole replay; rows in
    2040 / 2250 grew the grid to the years between."""
    bad = _actiwatch(tmp_path / "a" / "condition_1.csv", [f"{year}-01-01 00:00:00,x,5"])
    good = _actiwatch(tmp_path / "a" / "control_1.csv", [])
    result = replay([bad.parent], jobs=1)
    assert {r["subject_id"] for r in result.daily} == {"condition_1", "control_1"}
    assert sum(result.report.unusable.values()) == 1, result.report.unusable
    clean = replay([good], jobs=1)
    mine = [r for r in result.daily if r["subject_id"] == "condition_1"]
    assert len(mine) == len([r for r in clean.daily if r["subject_id"] == "control_1"])


def test_report_json_is_written_with_rejected_rows_and_a_space_in_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Row 4: a rejected row (a NumPy int count) and a file name with a space crashed the
    report.json writer after the other files were written."""
    src = _actiwatch(tmp_path / "in" / "control 7.csv", ["2003-03-11 13:00:30,x,abc"])
    out = tmp_path / "out"
    assert main(["replay", str(src), "--out", str(out), "-q", "--jobs", "1"]) == 0
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    assert sum(report["unusable"].values()) >= 1
    daily = (out / "daily_features.csv").read_text()
    assert "control_7" in daily  # the file's subject is used, its id made valid


def test_write_outputs_accepts_numpy_counts(tmp_path: Path) -> None:
    import numpy as np

    result = replay([_actiwatch(tmp_path / "x" / "c_1.csv", [])], jobs=1)
    result.report.reject("numpy counted", np.int64(3))  # type: ignore[arg-type]
    write_outputs(result, tmp_path / "o")
    assert json.loads((tmp_path / "o" / "report.json").read_text())["unusable"] == {
        "numpy counted": 3
    }
