"""The actiwatch fast path (NumPy on the raw bytes) reads exactly what the pandas path
reads, and leaves every file it cannot vouch for to the pandas path."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from phenotyping.events import encode
from phenotyping.replay.formats import actiwatch
from phenotyping.replay.formats.base import ReadReport

GOOD = (
    b"timestamp,date,activity\n"
    b"2003-03-29 23:58:00,2003-03-29,0\n"
    b"2003-03-29 23:59:00,2003-03-29,12\n"
    b"2003-03-30 00:00:00,2003-03-30,345\n"
    b"2003-03-30 01:59:00,2003-03-30,7\n"
    b"2003-03-30 03:00:00,2003-03-30,1000000\n"
)


def both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    fast, slow = ReadReport(), ReadReport()
    a = [encode(m) for m in actiwatch.read_actiwatch(path, report=fast)]
    with monkeypatch.context() as m:
        m.setattr(actiwatch, "fast_columns", lambda raw: None)
        b = [encode(m) for m in actiwatch.read_actiwatch(path, report=slow)]
    return (a, fast.rows, dict(fast.unusable)), (b, slow.rows, dict(slow.unusable))


def test_fast_path_equals_pandas_path_on_a_dst_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "control_9.csv.gz"
    path.write_bytes(gzip.compress(GOOD))
    assert actiwatch.fast_columns(GOOD) is not None
    fast, slow = both(path, monkeypatch)
    assert fast == slow
    assert fast[1] == 5 and len(fast[0]) >= 2  # type: ignore[index]


@pytest.mark.parametrize(
    "row",
    [
        b"2003-03-30 04:00:00,2003-03-30,12.5\n",  # not an integer
        b"2003-03-30 04:00:00,2003-03-30,-3\n",  # negative
        b"2003-02-30 04:00:00,2003-02-30,3\n",  # no such date
        b"2003-03-30 24:00:00,2003-03-30,3\n",  # no such time
        b"2003-03-30 04:00,2003-03-30,3\n",  # short timestamp
        b"\n",  # blank line
        b"2003-03-30 04:00:00,2003-03-30,\n",  # empty count
        b"2003-03-30 04:00:00,2003-03-30,3,9\n",  # extra column
    ],
)
def test_a_file_with_any_unusual_row_goes_to_the_pandas_path(row: bytes) -> None:
    assert actiwatch.fast_columns(GOOD) is not None
    assert actiwatch.fast_columns(GOOD + row) is None
