"""Hostile recordings: every reader (actiwatch, mmash, jsonl) either yields valid messages
and counts what it could not use, or raises ``FormatError`` for the whole file -- never an
undocumented exception (issue 11, item 6). Fixed, small, derandomized budget.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phenotyping.errors import FormatError
from phenotyping.events import decode, encode
from phenotyping.replay.formats import ReadReport, reader

BUDGET = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

timestamps = st.one_of(
    st.datetimes(
        min_value=__import__("datetime").datetime(1, 1, 1),
        max_value=__import__("datetime").datetime(9999, 12, 31),
    ).map(lambda t: t.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0")),
    st.sampled_from(
        [
            "2003-03-30 02:30:00",  # skipped by DST in Oslo
            "2003-10-26 02:30:00",  # repeated by DST
            "2300-01-01 00:00:00",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59",
            "",
            "not a time",
            "2003-13-45 25:61:61",
        ]
    ),
    st.text(max_size=20),
)
activity = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", "nan", "inf", "-1", "1e308", "abc", '"']),
)


def _consume(path: Path, fmt: str) -> ReadReport:
    report = ReadReport()
    try:
        for msg in reader(fmt).read(path, report=report):  # the module itself: no wrapper
            decode(encode(msg))  # every yielded message is valid on the wire
    except FormatError:
        pass
    return report


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


@BUDGET
@given(
    st.lists(st.tuples(timestamps, activity), min_size=1, max_size=40),
    st.booleans(),
)
def test_actiwatch_never_raises_an_undocumented_error(
    rows: list[tuple[str, str]], sorted_rows: bool
) -> None:
    if sorted_rows:
        rows = sorted(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "condition_1.csv"
        body = "\n".join(f"{_csv_field(t)},x,{_csv_field(a)}" for t, a in rows)
        path.write_text("timestamp,date,activity\n" + body + "\n")
        report = _consume(path, "actiwatch")
        assert report.rows == len(rows)


@BUDGET
@given(st.lists(st.one_of(st.text(max_size=80), st.binary(max_size=80)), max_size=10))
def test_jsonl_never_raises_an_undocumented_error(lines: list[str | bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.jsonl"
        data = b"\n".join(
            x if isinstance(x, bytes) else x.encode("utf-8", "replace") for x in lines
        )
        path.write_bytes(data)
        _consume(path, "jsonl")


cells = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "x", "25:99:99", "10:00:00", "1", "2", "-3", "1e18", "99:00"]),
)


@BUDGET
@given(
    st.lists(st.tuples(cells, cells, cells), min_size=1, max_size=15),
    st.lists(st.tuples(cells, cells, cells), min_size=1, max_size=15),
    st.lists(st.tuples(cells, cells, cells, cells), max_size=3),
)
def test_mmash_never_raises_an_undocumented_error(
    rr: list[tuple[str, str, str]],
    acti: list[tuple[str, str, str]],
    sleep: list[tuple[str, str, str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "user_1"
        folder.mkdir()

        def table(name: str, header: list[str], rows: list[tuple[str, ...]]) -> None:
            lines = ["," + ",".join(header)]
            lines += [f"{i}," + ",".join(_csv_field(c) for c in r) for i, r in enumerate(rows)]
            (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")

        table("RR", ["ibi_s", "day", "time"], rr)
        table("Actigraph", ["Axis1", "day", "time"], acti)
        table("sleep", ["In Bed Date", "In Bed Time", "Out Bed Date", "Out Bed Time"], sleep)
        _consume(folder, "mmash")
