"""What the one-process replay keeps on disk or parked reads back exactly as it went in,
and parking states changes no output."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phenotyping.pipeline import SubjectState
from phenotyping.replay.run import replay
from phenotyping.replay.spill import ParkedStates, SpilledRows, SpilledSeries

run_module = sys.modules["phenotyping.replay.run"]  # the package attribute is the function


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


def test_rows_read_back_as_builtins_between_reads_and_appends() -> None:
    rows = SpilledRows()
    plain = {"subject_id": "s2", "date": "2024-01-02", "x": 1.5, "ok": True, "n": None}
    numpy = {
        "subject_id": "s1",
        "date": "2024-01-03",
        "x": np.float64(2.25),
        "nan": np.float64("nan"),
        "ok": np.bool_(False),
        "n": np.int64(7),
        "nested": [np.float64(1.0), 2],
    }
    rows.append(plain)
    assert _same(rows[0], plain)  # a read, then more appends: the file position moves back
    rows.append(numpy)
    rows.extend([{**plain, "date": "2024-01-01"}])
    assert _same(rows[0], plain)
    got = rows[1]
    assert type(got["x"]) is float and got["x"] == 2.25 and math.isnan(got["nan"])
    assert type(got["ok"]) is bool and got["ok"] is False
    assert type(got["n"]) is int and got["n"] == 7
    assert got["nested"] == [1.0, 2] and type(got["nested"][0]) is float
    rows.sort(lambda s: s)
    assert [(r["subject_id"], r["date"]) for r in rows] == [
        ("s1", "2024-01-03"),
        ("s2", "2024-01-01"),
        ("s2", "2024-01-02"),
    ]


def test_series_segments_read_back_in_order() -> None:
    series = SpilledSeries()
    a, b = np.arange(5, dtype=np.float64), np.array([np.nan, 3.5])
    series.add("s", 100, 60, a)
    assert [p[0] for p in series.parts("s")] == [100]
    series.add("t", 7, -300, b)
    series.add("s", 200, 120, b)
    parts = series.parts("s")
    assert [(p[0], p[1]) for p in parts] == [(100, 60), (200, 120)]
    np.testing.assert_array_equal(parts[0][2], a)
    np.testing.assert_array_equal(parts[1][2], b)
    assert series.subjects() == ["s", "t"]


def test_peek_gives_every_state_and_its_bytes_without_moving_any() -> None:
    store = ParkedStates(live=2)
    for s in ("a", "b", "c", "d"):
        store[s] = SubjectState.new()
    live_before, parked_before = list(store._live), dict(store._parked)
    seen = {s: (st, n) for s, st, n in store.peek()}
    assert sorted(seen) == ["a", "b", "c", "d"]
    assert all(n == len(st.to_bytes()) for st, n in seen.values())
    assert list(store._live) == live_before and store._parked == parked_before


@pytest.mark.realdata
def test_parked_states_and_two_processes_change_no_output(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # recordings whose last days raise notices (a gap), so that the order of notices read
    # from the files and of those of the final closes is exercised
    names = ["control/control_1", "control/control_3", "condition/condition_2", "control/control_5"]
    files = [data_dir / "depresjon" / f"{name}.csv.gz" for name in names]
    default = replay(files, measure_states=True)
    monkeypatch.setattr(run_module, "LIVE_STATES", 1)  # every other subject parked
    parked = replay(files, measure_states=True)
    two = replay(files, jobs=2, measure_states=True)  # few rows: held in the parent
    monkeypatch.setattr(run_module._Merged, "HELD_ROWS", 5)  # spilled by the parent
    two_spilled = replay(files, jobs=2, measure_states=True)
    assert isinstance(two_spilled.daily, SpilledRows) and isinstance(two.daily, list)
    for other in (parked, two, two_spilled):
        assert _same(list(other.daily), list(default.daily))
        assert _same(list(other.recordings), list(default.recordings))
        assert other.notices == default.notices and other.alerts == default.alerts
        assert (other.late, other.state_bytes) == (default.late, default.state_bytes)
    assert len(default.recordings) == 4 and default.state_bytes > 0
    assert len({n["subject_id"] for n in default.notices}) >= 3
    assert replay(files).state_bytes == 0  # measured only when asked
