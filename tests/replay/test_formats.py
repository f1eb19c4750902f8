"""The reader registry (``phenotyping.replay.formats``): every reader module keeps the
contract, the registry finds recordings and formats, and ``ReadOptions`` reach the reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from phenotyping.errors import FormatError
from phenotyping.replay.formats import FORMATS, READERS, ReadOptions, detect, files_in, read, reader

HEADER = "timestamp,date,activity\n"


def _actiwatch(path: Path, day: str = "2003-01-10") -> Path:
    rows = "".join(f"{day} 10:0{i}:00,{day},{10 * i}\n" for i in range(3))
    path.write_text(HEADER + rows)
    return path


def test_every_reader_module_keeps_the_contract() -> None:
    assert FORMATS == ("auto", *(r.NAME for r in READERS))
    assert len(set(FORMATS)) == len(FORMATS)
    for r in READERS:
        assert isinstance(r.NAME, str) and r.NAME
        assert callable(r.sniff) and callable(r.units) and callable(r.read)
        assert reader(r.NAME) is r


def test_an_unknown_format_names_the_choices() -> None:
    with pytest.raises(FormatError, match=r"format: 'garmin' is not one of \('auto'"):
        reader("garmin")


def test_options_reach_the_reader(tmp_path: Path) -> None:
    f = _actiwatch(tmp_path / "p1.csv")
    # January in Oslo is UTC+1; read as UTC the same wall-clock rows have offset 0
    (default,) = read(f)
    (utc,) = read(f, options=ReadOptions(tz="UTC"))
    assert (default.tz_offset_min, utc.tz_offset_min) == (60, 0)
    assert default.start.hour == utc.start.hour == 10
    assert (utc.start - default.start).total_seconds() == 3600


def test_files_in_finds_each_format_in_natural_order(tmp_path: Path) -> None:
    for user in ("user_10", "user_2"):
        (tmp_path / user).mkdir()
        (tmp_path / user / "RR.csv").write_text("x\n")
    (tmp_path / "a.jsonl").write_text("")
    _actiwatch(tmp_path / "x.csv")
    (tmp_path / "notes.txt").write_text("not a recording")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")  # a CSV of no known format
    found = [p.relative_to(tmp_path).as_posix() for p in files_in(tmp_path)]
    assert found == ["a.jsonl", "user_2", "user_10", "x.csv"]
    assert files_in(tmp_path / "user_2") == [tmp_path / "user_2"]
    assert [detect(p) for p in files_in(tmp_path)] == ["jsonl", "mmash", "mmash", "actiwatch"]
    with pytest.raises(FormatError, match="mixed formats"):
        detect(tmp_path)
