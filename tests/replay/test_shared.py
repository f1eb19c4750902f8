"""A replay shared among processes (``jobs > 1``): the same result as one process, a bad
file loses nothing else, and a worker that fails or dies is an error in the parent, not
a hang or a silently smaller result."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path
from typing import Any

import pytest

from phenotyping.events import encode
from phenotyping.replay import run as run_module
from phenotyping.replay.formats import detect, files_in
from phenotyping.replay.run import ReplayResult, replay
from phenotyping.simulate import CohortSpec, simulate

DEPRESJON = [
    "control/control_1",
    "control/control_3",
    "condition/condition_2",
    "condition/condition_7",
]


def _cohort(data_dir: Path, folder: Path) -> Path:
    """Four Depresjon recordings (linked, not copied), a truncated gzip file, and two JSONL
    files sharing three simulated subjects (so one group holds both)."""
    folder.mkdir()
    for name in DEPRESJON:
        (folder / f"{name.split('/')[1]}.csv.gz").symlink_to(
            data_dir / "depresjon" / f"{name}.csv.gz"
        )
    bad = gzip.compress(b"timestamp,date,activity\n2003-05-07 12:00:00,2003-05-07,1\n")
    (folder / "broken_9.csv.gz").write_bytes(bad[:25])
    msgs = list(simulate(CohortSpec(n_subjects=3, days=9, seed=11, rr=False)))
    (folder / "a.jsonl").write_bytes(b"\n".join(encode(m) for m in msgs[::2]) + b"\n")
    (folder / "b.jsonl").write_bytes(b"\n".join(encode(m) for m in msgs[1::2]) + b"\n")
    return folder


def _everything(r: ReplayResult) -> dict[str, Any]:
    nan = "nan"  # NaN != NaN: compared as a marker

    def plain(rows: Any) -> list[Any]:
        return [{k: nan if v != v else v for k, v in row.items()} for row in rows]

    return {
        "daily": plain(r.daily),
        "recordings": plain(r.recordings),
        "alerts": list(r.alerts),
        "notices": list(r.notices),
        "clinical": r.clinical,
        "report": (r.report.files, r.report.rows, r.report.messages, dict(r.report.unusable)),
        "late": r.late,
        "samples": r.samples,
    }


@pytest.mark.realdata
def test_shared_replays_equal_one_process_and_a_bad_file_costs_only_itself(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = _cohort(data_dir, tmp_path / "cohort")
    one = replay([folder], jobs=1)
    expected = _everything(one)
    subjects = {r["subject_id"] for r in one.recordings}
    assert len(subjects) == 4 + 3  # every good recording, every simulated subject
    [why] = [k for k in one.report.unusable if k.startswith("file not used")]
    assert "broken_9.csv.gz" in why
    assert len(one.daily) > 100 and one.notices
    for jobs in (2, 3):
        assert _everything(replay([folder], jobs=jobs)) == expected, jobs


def test_groups_keep_a_subject_in_one_process_without_sniffing_every_file(
    tmp_path: Path,
) -> None:
    """Each recording its own group, the files that may hold many subjects (JSONL, OMH)
    together: the grouping the formats' detection gives, file by file."""
    msgs = list(simulate(CohortSpec(n_subjects=2, days=3, seed=3, rr=False)))
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(encode(m) for m in msgs[::2]) + b"\n")
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b"\n".join(encode(m) for m in msgs[1::2])))
    (tmp_path / "c_1.csv").write_text("timestamp,date,activity\n2003-05-07 12:00:00,2003-05-07,5\n")
    (tmp_path / "c_2.csv").write_text("timestamp,date,activity\n2003-05-07 12:00:00,2003-05-07,5\n")
    (tmp_path / "epochs.csv").write_text("timestamp,counts\n2024-01-01 00:00:00,3\n")
    files = files_in(tmp_path)
    assert len(files) == 5
    kinds = {f: detect(f) for f in files}
    many = [f for f in files if kinds[f] in ("jsonl", "omh")]
    expected = [[f] for f in files if f not in many]
    groups = run_module._subject_groups(files, "auto")
    assert sorted(groups, key=str) == sorted([*expected, many], key=str)
    assert sorted(len(g) for g in groups) == [1, 1, 1, 2]


def _slow_parent_first_group(monkeypatch: pytest.MonkeyPatch, in_worker: Any) -> None:
    """``_replay_files`` as it is in the parent (its first group taking long enough for the
    worker to claim groups), ``in_worker`` in a forked worker."""
    parent, real = os.getpid(), run_module._replay_files
    first = [True]

    def patched(*args: Any, **kwargs: Any) -> ReplayResult:
        if os.getpid() != parent:
            in_worker()
        elif first[0]:
            first[0] = False
            time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "_replay_files", patched)


def _small_cohort(folder: Path) -> Path:
    folder.mkdir()
    for k in range(4):
        (folder / f"s_{k}.csv").write_text(
            "timestamp,date,activity\n"
            + "".join(f"2003-05-07 {h:02d}:00:00,2003-05-07,{h}\n" for h in range(24))
        )
    return folder


def test_a_worker_that_raises_makes_the_replay_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom() -> None:
        raise ValueError("boom in the worker")

    _slow_parent_first_group(monkeypatch, boom)
    with pytest.raises(RuntimeError, match="ValueError: boom in the worker"):
        replay([_small_cohort(tmp_path / "c")], jobs=2)


def test_a_worker_that_dies_makes_the_replay_raise_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow_parent_first_group(monkeypatch, lambda: os._exit(3))
    with pytest.raises(RuntimeError, match=r"worker process stopped \(exit code 3\)"):
        replay([_small_cohort(tmp_path / "c")], jobs=2)


def _actiwatch(path: Path, days: int, seed: int) -> None:
    """A Depresjon-style recording of ``days`` days (synthetic counts)."""
    import datetime as dt

    import numpy as np

    rng = np.random.default_rng(seed)
    start = dt.datetime(2003, 5, 7, 12)
    lines = ["timestamp,date,activity"]
    for m in range(days * 1440):
        t = start + dt.timedelta(minutes=m)
        awake = 7 <= t.hour < 23
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{t:%Y-%m-%d},{int(rng.gamma(2, 150 if awake else 5))}")
    path.write_text("\n".join(lines) + "\n")


def test_a_cohort_file_is_replayed_here_spilled_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSONL cohort beside single recordings: the parent replays the cohort as one
    process would (states parked, rows spilled: memory does not grow with its subjects),
    the workers the recordings, and the merged result is the one-process result."""
    folder = tmp_path / "study"
    folder.mkdir()
    for k in range(3):
        _actiwatch(folder / f"watch_{k}.csv", days=4, seed=k)
    msgs = list(simulate(CohortSpec(n_subjects=5, days=9, seed=3, rr=False)))
    (folder / "cohort.jsonl").write_bytes(b"\n".join(encode(m) for m in msgs) + b"\n")
    monkeypatch.setattr(run_module, "LIVE_STATES", 2)  # 5 subjects: 3 of them parked
    expected = _everything(replay([folder], jobs=1))
    calls: list[tuple[list[str], bool]] = []
    real = run_module._replay_files

    def spy(files: Any, *args: Any, **kwargs: Any) -> ReplayResult:
        calls.append(([Path(f).name for f in files], bool(args[5])))  # args[5]: spill
        return real(files, *args, **kwargs)

    monkeypatch.setattr(run_module, "_replay_files", spy)
    got = _everything(replay([folder], jobs=2))
    assert (["cohort.jsonl"], True) in calls  # in this process, spilled
    assert all(not spill for names, spill in calls if names != ["cohort.jsonl"])
    assert got == expected
    assert len({r["subject_id"] for r in got["recordings"]}) == 5 + 3
    assert got["alerts"] or got["notices"]  # the keyed merge had something to order


def _generic(path: Path, days: int, seed: int, start_hour: int = 12) -> None:
    """A generic CSV recording (``datetime,counts``) of ``days`` days (synthetic counts)."""
    import datetime as dt

    import numpy as np

    rng = np.random.default_rng(seed)
    start = dt.datetime(2003, 5, 7, start_hour)
    lines = ["datetime,counts"]
    for m in range(days * 1440):
        t = start + dt.timedelta(minutes=m)
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{int(rng.gamma(2, 150 if 7 <= t.hour < 23 else 5))}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "case", ["subject option", "file given twice", "one name, two files", "two names, one id"]
)
def test_one_subjects_files_stay_in_one_process(tmp_path: Path, case: str) -> None:
    """Whatever makes two files one subject's -- ``--subject``, the same file given twice,
    two files whose names give one subject id -- a shared replay keeps them in one process
    (two processes gave two states of one subject: other rows, alerts and notices)."""
    from phenotyping.replay.formats import ReadOptions

    options = None
    if case == "subject option":
        _generic(tmp_path / "g1.csv", days=6, seed=1)
        _generic(tmp_path / "g2.csv", days=6, seed=2, start_hour=15)
        paths, options = [tmp_path], ReadOptions(subject="S1")
    elif case == "file given twice":
        _actiwatch(tmp_path / "a.csv", days=6, seed=1)
        _actiwatch(tmp_path / "b.csv", days=6, seed=2)
        paths = [tmp_path / "a.csv", tmp_path / "a.csv", tmp_path / "b.csv"]
    elif case == "two names, one id":  # "s 1" and "s_1" both give the subject id s_1
        _actiwatch(tmp_path / "s 1.csv", days=6, seed=1)
        _actiwatch(tmp_path / "s_1.csv", days=6, seed=2)
        paths = [tmp_path / "s 1.csv", tmp_path / "s_1.csv"]
    else:
        _actiwatch(tmp_path / "g1.csv", days=6, seed=1)
        (tmp_path / "more").mkdir()
        _actiwatch(tmp_path / "more" / "g1.part2.csv", days=6, seed=2)
        paths = [tmp_path / "g1.csv", tmp_path / "more" / "g1.part2.csv"]
    expected = _everything(replay(paths, jobs=1, options=options))
    assert len({r["subject_id"] for r in expected["recordings"]}) == (
        2 if case == "file given twice" else 1
    )
    assert _everything(replay(paths, jobs=2, options=options)) == expected


def test_a_worker_does_not_outlive_a_parent_killed_by_a_signal(tmp_path: Path) -> None:
    """A parent ended by SIGTERM (``docker stop``, ``timeout``) runs no cleanup: its worker
    must fail at its next send instead of blocking for ever on a pipe it still reads."""
    import signal
    import subprocess
    import sys

    for k in range(16):
        _actiwatch(tmp_path / f"w{k}.csv", days=10, seed=k)
    # the pipe left at 64 KiB, so that the worker's parts (~80 KiB) fill it
    script = (
        "import sys; from pathlib import Path; from phenotyping.replay import run; "
        "run._widen = lambda conn: None; run.replay([Path(sys.argv[1])], jobs=2)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)])
    try:
        worker = None
        for _ in range(600):  # the worker is forked once the files are listed
            kids = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
            if kids:
                worker = int(kids[0])
                break
            time.sleep(0.01)
        assert worker is not None, "no worker was forked"
        parent.send_signal(signal.SIGTERM)
        parent.wait(30)
        for _ in range(200):  # it ends at its next send (a few 10-day groups at most)
            if not Path(f"/proc/{worker}").exists() or "Z" in _state(worker):
                break
            time.sleep(0.05)
        else:
            os.kill(worker, signal.SIGKILL)
            pytest.fail("the worker outlived its parent by 10 s")
    finally:
        if parent.poll() is None:
            parent.kill()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_report_json_is_the_same_file_with_two_processes(tmp_path: Path) -> None:
    """Unusable-row reasons come from the parts in any order; report.json lists them by
    reason, so the file does not depend on which process finished first."""
    import json

    from phenotyping.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    for k, bad in enumerate(("not a time,2003-05-08,3", "2003-05-08 00:01:00,2003-05-08,-4")):
        _actiwatch(folder / f"w{k}.csv", days=3, seed=k)
        with (folder / f"w{k}.csv").open("a") as fh:
            fh.write(bad + "\n")
    texts = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        assert main(["replay", str(folder), "--out", str(out), "--jobs", jobs, "-q"]) == 0
        text = (out / "report.json").read_text()
        reasons = list(json.loads(text)["unusable"])
        assert len(reasons) == 2 and reasons == sorted(reasons)
        texts.append([line for line in text.splitlines() if '"seconds"' not in line])
    assert texts[0] == texts[1]
