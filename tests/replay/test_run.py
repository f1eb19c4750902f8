"""In-process replay end to end: files -> messages -> pipeline -> outputs."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from phenotyping.cli import main
from phenotyping.errors import FormatError
from phenotyping.replay.formats import detect
from phenotyping.replay.formats.mmash import read_mmash
from phenotyping.replay.run import replay

CIRCADIAN = ["IS", "IV", "L5", "M10", "RA"]


@pytest.mark.realdata
def test_replayed_recordings_match_pyactigraphy_on_all_55(data_dir: Path) -> None:
    """recording_summary.csv (the replay's whole-recording summary) against pyActigraphy 1.2.2."""
    ref = pd.read_csv(data_dir / "reference-outputs/pyactigraphy-1.2.2/depresjon_metrics.csv")
    result = replay([data_dir / "depresjon"], jobs=2)
    got = pd.DataFrame(result.recordings).set_index("subject_id").loc[ref["id"]]
    assert len(got) == 55
    pairs = [(f"{k}_{v}", f"{k}_{v}") for k in CIRCADIAN for v in ("raw", "bin4")] + [
        ("oakley_sleep_fraction", "oakley40_sleep_fraction"),
        ("sri_oakley_pyactigraphy", "SRI_oakley40"),
        ("sleep_midpoint_pyactigraphy_min", "SMP_oakley40_min"),
    ]
    for ours, theirs in pairs:
        pd.testing.assert_series_equal(
            got[ours].reset_index(drop=True), ref[theirs], rtol=1e-6, check_names=False
        )
    ok = ~ref["cosinor_fit_suspect"].to_numpy()
    for ours, theirs in [
        ("cosinor_mesor", "cosinor_Mesor"),
        ("cosinor_amplitude", "cosinor_Amplitude"),
        ("cosinor_acrophase", "cosinor_Acrophase"),
    ]:
        pd.testing.assert_series_equal(
            got[ours].reset_index(drop=True)[ok], ref[theirs][ok], rtol=1e-6, check_names=False
        )
    assert result.report.unusable == {}
    assert result.samples == int(ref["n_minutes"].sum())


@pytest.mark.realdata
def test_parallel_replay_equals_serial(data_dir: Path) -> None:
    files = sorted((data_dir / "depresjon" / "condition").glob("*.csv.gz"))[:6]
    one, two = replay(files), replay(files, jobs=2)
    assert len(one.daily) == len(two.daily) > 0
    for a, b in zip(one.daily, two.daily, strict=True):
        assert a.keys() == b.keys()
        assert all(
            a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k]))
            for k in a
        )
    # notices and alerts in the same order as the serial run, whatever process ends first
    assert one.notices == two.notices and one.alerts == two.alerts


@pytest.mark.realdata
def test_mmash_replay_gives_nightly_hrv_and_device_sleep(data_dir: Path) -> None:
    msgs = list(read_mmash(data_dir / "mmash" / "user_2"))
    kinds = {m.type for m in msgs}
    assert kinds == {"activity", "heartbeat", "sleep"}
    result = replay([data_dir / "mmash" / "user_2"])
    days = pd.DataFrame(result.daily).set_index("date")
    night = days.loc["2018-01-02"]  # MMASH day 2 (anchored), the morning after the recording night
    assert night["device_sleep_tst_min"] == 244  # ActiLife's own number, passed through
    # our own main sleep period (Oakley on 60-s sums of the 1-s Axis1; cut short by the
    # recording's 75-minute gap) starts within minutes of the device's in-bed onset
    assert abs(night["sleep_onset_clock_min"] - night["device_sleep_onset_clock_min"]) < 15
    # the HRV is of the beats inside that period: no more than its length at that rate
    assert 1000 < night["night_n_nn"] <= night["sleep_spt_min"] * night["night_mean_hr"]
    assert 0 < night["night_fraction_edited"] < 0.2
    assert 20 < night["night_rmssd"] < 120
    assert 40 < night["night_mean_hr"] < 80


def test_unusable_rows_are_counted_with_their_reason(tmp_path: Path) -> None:
    f = tmp_path / "s1.csv"
    f.write_text(
        "timestamp,date,activity\n"
        "2003-05-07 12:00:00,2003-05-07,0\n"
        "2003-05-07 12:01:00,2003-05-07,-4\n"
        "not a time,2003-05-07,3\n"
        "2003-05-07 12:03:00,2003-05-07,five\n"
        "2003-05-07 12:04:00,2003-05-07,7\n"
    )
    result = replay([f])
    assert result.report.unusable == {
        "actiwatch: activity not a number >= 0": 2,
        "actiwatch: unparseable timestamp": 1,
    }
    assert result.samples == 2


def test_jsonl_lines_that_fail_validation_are_counted_not_fatal(tmp_path: Path) -> None:
    good = {
        "type": "activity",
        "event_id": "a",
        "subject_id": "s1",
        "source": "w",
        "tz_offset_min": 0,
        "start": "2024-01-01T00:00:00Z",
        "epoch_s": 60,
        "counts": [1, 2],
    }
    f = tmp_path / "m.jsonl"
    f.write_text(json.dumps(good) + "\n{oops\n" + json.dumps({**good, "counts": [-1]}) + "\n")
    result = replay([f])
    assert result.report.messages == 1
    assert sum(result.report.unusable.values()) == 2


def test_detect_and_missing_path_errors(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        detect(tmp_path / "nope")
    weird = tmp_path / "x.txt"
    weird.write_text("hello")
    with pytest.raises(FormatError, match="cannot tell the format"):
        detect(weird)


def test_cli_replay_reports_a_missing_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "absent.csv: no such file or folder" in err


def test_bad_local_times_and_non_finite_counts_are_counted(tmp_path: Path) -> None:
    f = tmp_path / "s2.csv"
    f.write_text(
        "timestamp,date,activity\n"
        "2003-03-30 01:59:00,2003-03-30,3\n"
        "2003-03-30 02:30:00,2003-03-30,4\n"  # does not exist in Oslo (clocks jump 2 -> 3)
        "2003-03-30 03:00:00,2003-03-30,inf\n"
        "2003-03-30 03:01:00,2003-03-30,7\n"
    )
    result = replay([f])
    assert result.report.unusable == {
        "actiwatch: local time ambiguous or nonexistent in Europe/Oslo": 1,
        "actiwatch: activity not a number >= 0": 1,
    }
    assert result.samples == 2


def test_an_unreadable_file_is_counted_and_the_others_still_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("timestamp,date,activity\n2003-05-07 12:00:00,2003-05-07,5\n")
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(gzip.compress(b"timestamp,date,activity\n2003-05-07 12:00:00,x,1\n")[:20])
    result = replay([tmp_path])
    assert result.samples == 1
    [(why, n)] = [(k, v) for k, v in result.report.unusable.items() if "file not used" in k]
    assert "bad.csv.gz" in why and n == 1
    # named on its own, the same file is a one-line error
    assert main(["replay", str(bad), "--out", str(tmp_path / "o"), "-q"]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_jsonl_subjects_spread_over_files_give_the_same_result_with_jobs(tmp_path: Path) -> None:
    from phenotyping.events import encode
    from phenotyping.simulate import CohortSpec, simulate

    msgs = list(simulate(CohortSpec(n_subjects=3, days=10, seed=5, rr=False)))
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(encode(m) for m in msgs[::2]) + b"\n")
    (tmp_path / "b.jsonl").write_bytes(b"\n".join(encode(m) for m in msgs[1::2]) + b"\n")
    one = replay([tmp_path], jobs=1)
    two = replay([tmp_path], jobs=2)
    pd.testing.assert_frame_equal(pd.DataFrame(one.daily), pd.DataFrame(two.daily))
    assert len(one.recordings) == 3
