"""A folder replay names the files no reader recognises instead of passing over them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phenotyping.cli import main
from phenotyping.replay.formats import files_in, not_recordings
from phenotyping.replay.run import replay

ACTIWATCH = "timestamp,date,activity\n2003-05-07 12:00:00,2003-05-07,5\n"


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "study"
    (d / "sub").mkdir(parents=True)
    (d / "s1.csv").write_text(ACTIWATCH)
    (d / "sub" / "s3.csv").write_text(ACTIWATCH)
    (d / "s2.csv").write_text('{"subject_id": "s2", "counts": [1, 2]}\n')  # JSON named .csv
    (d / "notes.txt").write_text("visit notes\n")
    (d / ".hidden").mkdir()
    (d / ".hidden" / "s9.csv").write_text("x\n")
    (d / ".DS_Store").write_bytes(b"\x00")
    return d


def test_files_no_reader_recognises_are_listed_with_the_replay(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    result = replay([d])
    assert result.report.files == 2 and result.samples == 2
    assert result.report.not_read == [str(d / "notes.txt"), str(d / "s2.csv")]
    lines = "\n".join(result.summary_lines())
    assert "2 file(s) in the folder(s) not read" in lines and "notes.txt, s2.csv" in lines


def test_a_folder_given_twice_names_its_files_once(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    assert replay([d, d, d / "sub"]).report.not_read == [str(d / "notes.txt"), str(d / "s2.csv")]


def test_the_same_with_two_processes(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    assert replay([d], jobs=2).report.not_read == [str(d / "notes.txt"), str(d / "s2.csv")]


def test_a_folder_of_recordings_only_has_nothing_not_read(tmp_path: Path) -> None:
    (tmp_path / "s1.csv").write_text(ACTIWATCH)
    (tmp_path / "s2.csv").write_text(ACTIWATCH)
    assert replay([tmp_path]).report.not_read == []
    # a recording named on its own: nothing around it is looked at
    (tmp_path / "notes.txt").write_text("x")
    assert replay([tmp_path / "s1.csv"]).report.not_read == []


def test_files_inside_a_recording_folder_are_the_readers_own(tmp_path: Path) -> None:
    """A recording folder (an MMASH user) owns its files, even those its reader skips."""
    user = tmp_path / "user_1"
    user.mkdir()
    for name in ("Actigraph.csv", "RR.csv", "sleep.csv", "user_info.csv"):
        (user / name).write_text("")
    (user / "extra.txt").write_text("x")
    (tmp_path / "readme.txt").write_text("x")
    found = files_in(tmp_path)
    assert found == [user]
    assert not_recordings(tmp_path, found) == [tmp_path / "readme.txt"]


def test_cli_report_json_lists_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _folder(tmp_path)
    assert main(["replay", str(d), "--out", str(tmp_path / "o")]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["not_read"] == [str(d / "notes.txt"), str(d / "s2.csv")]
    assert "not read, no reader recognises them" in capsys.readouterr().out
