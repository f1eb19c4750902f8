"""A one-process replay holds its alerts, notices, recording rows and parked states on
disk: they read back equal and in order, a failing spill file says so, and the Python
objects the replay keeps do not grow with the number of days, rows or alerts."""

from __future__ import annotations

import dataclasses
import gc
import math
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phenotyping.features.day import EngineParams
from phenotyping.pipeline import SubjectState
from phenotyping.replay.run import ReplayResult, replay
from phenotyping.replay.spill import (
    MemoryReturn,
    ParkedStates,
    SpilledItems,
    SpilledRows,
    SpillError,
)
from phenotyping.risk.engine import RiskParams
from phenotyping.simulate.spec import CohortSpec, demo_spec
from phenotyping.simulate.uploads import simulate, write_jsonl

run_module = sys.modules["phenotyping.replay.run"]  # the package attribute is the function

ALERT = {
    "alert_id": "a1",
    "kind": "opened",
    "domains": ["sleep", "circadian"],
    "contributing": [{"feature": "tst", "z": np.float64(-2.5), "days": np.int64(3)}],
    "score": float("nan"),
    "after_response": np.bool_(True),
    "pair": (1, "x"),
    "note": None,
}


def test_items_read_back_equal_in_order_as_builtins() -> None:
    items = SpilledItems("alerts")
    produced = [ALERT, {"kind": "resolved", "n": 2}, {"kind": "note", "text": "é ✓"}]
    items.extend(produced)
    assert len(items) == 3 and items[1] == {"kind": "resolved", "n": 2}
    first = items[0]
    assert first["contributing"] == [{"feature": "tst", "z": -2.5, "days": 3}]
    z, days = first["contributing"][0]["z"], first["contributing"][0]["days"]
    assert type(z) is float and type(days) is int and first["after_response"] is True
    assert first["pair"] == (1, "x") and math.isnan(first["score"])
    assert list(first) == list(ALERT)  # key order kept (the JSON lines are written sorted)
    assert [i["kind"] for i in items] == ["opened", "resolved", "note"]
    assert items[-1]["text"] == "é ✓" and items[1:] == produced[1:]
    with pytest.raises(IndexError):
        items[3]
    # equal to the list it stands for, both ways, and unequal when one item differs
    same = [dict(ALERT, score=None), *produced[1:]]
    other = SpilledItems("alerts")
    other.extend(same)
    assert other == same and same == other and other != produced
    assert items != produced[:2] and items != "abc"


def test_items_spilled_during_reads_keep_appending_in_order() -> None:
    items = SpilledItems("notices")
    for n in range(50):
        items.append({"n": n})
        assert items[n // 2] == {"n": n // 2}  # a read between appends moves the file position
    assert [i["n"] for i in items] == list(range(50))


def test_an_item_that_cannot_be_stored_is_named() -> None:
    items = SpilledItems("alerts")
    items.append({"ok": 1})
    with pytest.raises(SpillError, match=r"alerts: record 1 cannot be stored"):
        items.append({"bad": object()})
    assert len(items) == 1  # nothing half-stored


def test_a_damaged_spill_file_gives_a_clear_error() -> None:
    items = SpilledItems("notices")
    items.extend([{"kind": "late_data", "n": 1}, {"kind": "data_gap", "n": 2}])
    fh = items._file._fh
    assert fh is not None
    fh.flush()
    fh.seek(0)
    fh.write(b"\x00" * 4)  # an unknown marshal type code where the first record starts
    fh.flush()
    items._file._appending = False
    with pytest.raises(SpillError, match=r"notices: a record does not read back"):
        items[0]
    fh.truncate(items._ends[0] + 2)  # the second record cut short
    with pytest.raises(SpillError, match=r"notices: record at \d+ is short"):
        items[1]


def test_an_unusable_temporary_folder_stops_the_replay_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohort = tmp_path / "c.jsonl"
    write_jsonl(simulate(CohortSpec(n_subjects=1, days=4, seed=1, rr=False)), cohort)
    missing = tmp_path / "no-such-folder"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    with pytest.raises(SpillError, match=r"cannot create a temporary file in .*no-such-folder"):
        replay([cohort])  # not "file not used" for a recording that is fine
    with pytest.raises(SpillError, match=r"^spilled daily rows: .*set TMPDIR"):
        SpilledRows().append({"subject_id": "s", "date": "2024-01-01"})


def test_parked_states_on_disk_read_back_exactly_and_reuse_their_slots() -> None:
    store = ParkedStates(live=1)
    states = {s: SubjectState.new() for s in ("a", "b", "c")}
    for s, st in states.items():
        store[s] = st
    blobs = {s: st.to_bytes() for s, st in states.items()}
    assert store.parked() == 2 and store.parked_bytes() == len(blobs["a"]) + len(blobs["b"])
    assert all(isinstance(v, int) for v in store._parked.values())  # no bytes in memory
    for s, st, n in store.peek():
        assert st.to_bytes() == blobs[s] and n == len(blobs[s])
    sizes = []
    for _ in range(30):  # every access unparks one state and parks another
        for s in ("a", "b", "c"):
            assert store[s].to_bytes() == blobs[s]
        sizes.append(store.file_bytes())
    assert sizes[-1] == sizes[0] > 0  # slots reused: the file does not grow with accesses
    del store["a"], store["c"]
    assert sorted(store) == ["b"] and store.parked_bytes() == (
        0 if "b" in store._live else len(blobs["b"])
    )


def test_parked_states_in_memory_still_work() -> None:
    store = ParkedStates(live=1, on_disk=False)
    store["a"], store["b"] = SubjectState.new(), SubjectState.new()
    assert isinstance(store._parked["a"], bytes) and store.file_bytes() == 0
    assert store["a"].to_bytes() == SubjectState.new().to_bytes()


def _held(root: Any) -> int:
    """Python objects reachable from ``root``, not descending into classes, modules or
    functions (the code, not the data); open files are not counted (a spill file is
    opened with its first record)."""
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or hasattr(obj, "fileno"):
            continue
        seen.add(id(obj))
        if not isinstance(obj, skip):
            stack.extend(gc.get_referents(obj))
    return len(seen)


def _cohort(tmp: Path, subjects: int, days: int) -> Path:
    """The demo cohort (a relapse after a treatment course: alerts, notices and clinical
    events), cut to ``subjects`` and ``days``."""
    path = tmp / f"c{subjects}x{days}.jsonl"
    spec = dataclasses.replace(demo_spec(), n_subjects=subjects, days=days)
    write_jsonl(simulate(spec), path)
    return path


def _held_outputs(result: ReplayResult) -> int:
    """Objects held by a replay's result, but its clinical events (the input's own
    events echoed back, a few a month)."""
    return _held(dataclasses.replace(result, clinical=[]))


def test_objects_held_do_not_grow_with_days(tmp_path: Path) -> None:
    """Three times the days (and so the rows, alerts and notices) hold no more Python
    objects; the lists a worker process returns do (so the measure can fail)."""
    short, long = _cohort(tmp_path, 5, 28), _cohort(tmp_path, 5, 84)
    a, b = replay([short]), replay([long])
    assert len(b.daily) > 2 * len(a.daily) and len(b.alerts) > len(a.alerts)
    assert len(b.notices) > len(a.notices)
    assert _held_outputs(b) == _held_outputs(a)
    params, risk = EngineParams(), RiskParams()
    lists = run_module._replay_files([long], "jsonl", params, risk, False, spill=False)
    assert _held_outputs(lists) > _held_outputs(b) + 50 * len(lists.daily)  # dicts, values


def test_objects_held_grow_by_a_few_per_subject(tmp_path: Path) -> None:
    five, ten = replay([_cohort(tmp_path, 5, 21)]), replay([_cohort(tmp_path, 10, 21)])
    assert len(ten.daily) > len(five.daily)
    assert 0 < _held_outputs(ten) - _held_outputs(five) <= 3 * 5  # the name in two indexes


def _part(file: str, subject: str, dates: list[str]) -> ReplayResult:
    """A worker's result: rows, one notice while reading ``file`` and one alert at the
    final closes of ``subject``, and its recording row."""
    rows = [{"subject_id": subject, "date": d, "x": float(i)} for i, d in enumerate(dates)]
    return ReplayResult(
        daily=rows,
        recordings=[{"subject_id": subject, "n": len(dates)}],
        report=run_module.ReadReport(files=1, rows=len(dates)),
        late=1,
        seconds=0.0,
        samples=10,
        notices=[{"kind": "gap", "file": file}, {"kind": "late", "file": file}],
        alerts=[{"kind": "opened", "subject_id": subject}],
        notice_keys=[(0, file, 0), (0, file, 1)],
        alert_keys=[(1, subject, 0)],
    )


def test_parts_of_a_shared_replay_come_out_in_one_process_order_whatever_their_arrival() -> None:
    files = [Path("a.csv"), Path("b.csv"), Path("c.csv")]
    parts = [
        _part("a.csv", "s10", ["2024-01-02", "2024-01-01"]),
        _part("b.csv", "s2", ["2024-01-05"]),
        _part("c.csv", "s9", ["2024-01-01", "2024-01-03"]),
    ]
    results = []
    for arrival in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        merged = run_module._Merged(files)
        for i in arrival:
            merged.add(parts[i])
        results.append(merged.result())
    for r in results:
        # rows by subject in natural order (s2, s9, s10), then date
        assert [(x["subject_id"], x["date"]) for x in r.daily] == [
            ("s2", "2024-01-05"),
            ("s9", "2024-01-01"),
            ("s9", "2024-01-03"),
            ("s10", "2024-01-01"),
            ("s10", "2024-01-02"),
        ]
        assert [x["subject_id"] for x in r.recordings] == ["s2", "s9", "s10"]
        # notices raised while reading: file by file in the listed order, each file's in
        # its own order; alerts of the final closes: subject by subject as Pipeline.flush
        # (sorted ids: "s10" < "s2" < "s9")
        assert [(n["file"], n["kind"]) for n in r.notices] == [
            (f, k) for f in ("a.csv", "b.csv", "c.csv") for k in ("gap", "late")
        ]
        assert [a["subject_id"] for a in r.alerts] == ["s10", "s2", "s9"]
        assert (r.report.files, r.report.rows, r.late, r.samples) == (3, 5, 3, 30)
    assert all(list(r.alerts) == list(results[0].alerts) for r in results)


def test_memory_is_given_back_at_most_once_per_interval() -> None:
    """The first time too only after an interval: a short replay never trims mid-way."""
    calls: list[int] = []
    rare, often = MemoryReturn(every_s=3600.0), MemoryReturn(every_s=0.0)
    for give_back in (rare, often):
        assert give_back._trim is not None or sys.platform != "linux"  # glibc here
        give_back._trim = lambda pad, g=give_back: calls.append(id(g)) or 1
        for _ in range(5):
            give_back()
    assert calls.count(id(rare)) == 0 and calls.count(id(often)) == 5
