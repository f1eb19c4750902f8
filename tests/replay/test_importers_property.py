"""Property tests: no reader of a third-party format ever raises anything but a one-line
FormatError, whatever bytes or rows it is given (fixed, small, derandomized budgets)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phenotyping.errors import FormatError
from phenotyping.events import MESSAGE_TYPES
from phenotyping.replay.formats import ReadReport, apple_health, empatica, generic_csv, omh
from phenotyping.replay.formats.base import ReadOptions

BUDGET = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Tokens that real files hold, and the ones that break naive readers.
TOKENS = st.sampled_from(
    [
        "2021-03-28 02:30:00",  # a local time that does not exist in Europe/Oslo
        "2021-10-31 02:30:00",  # one that exists twice
        "2300-01-01 00:00:00",
        "1970-01-01T00:00:00Z",
        "2020-01-01T00:00:00+14:00",
        "2020-01-01T00:00:00+25:00",
        "1600000000",
        "1e308",
        "-1",
        "0",
        "12",
        "999999",
        "nan",
        "inf",
        "",
        '"',
        "abc",
        "\x00",
        "3/8/2020",
        "25:61:61",
        "9:32:25.77 PM",
    ]
)
ROWS = st.lists(st.lists(TOKENS | st.text(max_size=8), max_size=5), max_size=30)


def _check(write: Callable[[Path], Path], reader: Any, options: ReadOptions | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        unit = write(Path(tmp))
        report = ReadReport()
        try:
            msgs = list(reader.read(unit, report=report, options=options))
        except FormatError as exc:
            assert "\n" not in str(exc) and str(exc)
            return
        for m in msgs:  # whatever is emitted is a valid wire message
            assert type(m) in MESSAGE_TYPES.values()
            type(m).model_validate(m.model_dump())


def _csv(rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in rows) + "\n"


@BUDGET
@given(rows=ROWS, epoch=st.sampled_from([None, 1, 7, 30, 60]))
def test_generic_csv_rows(rows: list[list[str]], epoch: int | None) -> None:
    def write(d: Path) -> Path:
        f = d / "g.csv"
        f.write_text("timestamp,counts,steps\n" + _csv(rows), errors="surrogatepass")
        return f

    _check(write, generic_csv, ReadOptions(tz="Europe/Oslo", epoch_s=epoch))


@BUDGET
@given(rows=ROWS, header=st.sampled_from(["Date,Time,Axis1,Axis2,Axis3,Steps", ""]))
def test_actilife_rows(rows: list[list[str]], header: str) -> None:
    block = (
        "------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.3 date format "
        "M/d/yyyy at 30 Hz -----------\nSerial Number: X\nStart Time 23:00:00\n"
        "Start Date 3/28/2021\nEpoch Period (hh:mm:ss) 00:00:30\nDownload Time 1\n"
        "Download Date 1\nCurrent Memory Address: 0\nCurrent Battery Voltage: 4\n"
        "--------------------------------------------------\n"
    )

    def write(d: Path) -> Path:
        f = d / "a.csv"
        f.write_text(block + (header + "\n" if header else "") + _csv(rows))
        return f

    _check(write, generic_csv, ReadOptions(tz="Europe/Oslo"))


@BUDGET
@given(data=st.binary(max_size=400))
def test_every_reader_on_garbage_bytes(data: bytes) -> None:
    def csv_file(d: Path) -> Path:
        (d / "x.csv").write_bytes(b"timestamp,counts\n" + data)
        return d / "x.csv"

    def xml_file(d: Path) -> Path:
        (d / "export.xml").write_bytes(b"<HealthData>" + data)
        return d

    def e4(d: Path) -> Path:
        (d / "IBI.csv").write_bytes(b"1600000000.0, IBI\n" + data)
        (d / "ACC.csv").write_bytes(b"1600000000, 1600000000, 1600000000\n32, 32, 32\n" + data)
        return d

    def omh_file(d: Path) -> Path:
        (d / "p.jsonl").write_bytes(b'{"header": {"schema_id": {}}, "body": {}}\n' + data)
        return d / "p.jsonl"

    for write, reader in (
        (csv_file, generic_csv),
        (xml_file, apple_health),
        (e4, empatica),
        (omh_file, omh),
    ):
        _check(write, reader)


RECORD_TYPES = st.sampled_from(
    [
        "HKQuantityTypeIdentifierStepCount",
        "HKQuantityTypeIdentifierHeartRate",
        "HKQuantityTypeIdentifierRestingHeartRate",
        "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
        "HKCategoryTypeIdentifierSleepAnalysis",
    ]
)
APPLE_DATES = st.sampled_from(
    [
        "2023-01-05 08:00:00 +0100",
        "2023-01-05 08:03:00 +0100",
        "2023-01-06 07:00:00 -0930",
        "2300-01-05 08:00:00 +0100",
        "1970-01-01 00:00:00 +0000",
        "2023-13-45 99:99:99 +9999",
        "yesterday",
        "",
    ]
)
APPLE_VALUES = st.sampled_from(
    [
        "90",
        "1e9",
        "-3",
        "nan",
        "HKCategoryValueSleepAnalysisAsleepCore",
        "HKCategoryValueSleepAnalysisInBed",
        "HKCategoryValueSleepAnalysisAwake",
        "x",
        "",
    ]
)


@BUDGET
@given(
    records=st.lists(
        st.tuples(
            RECORD_TYPES,
            APPLE_DATES,
            APPLE_DATES,
            APPLE_VALUES,
            st.lists(st.tuples(st.sampled_from(["60", "0", "-5", "x"]), TOKENS), max_size=4),
        ),
        max_size=12,
    )
)
def test_apple_records(records: list[tuple[str, str, str, str, list[tuple[str, str]]]]) -> None:
    def write(d: Path) -> Path:
        body = []
        for kind, a, b, value, beats in records:
            inner = "".join(
                f'<InstantaneousBeatsPerMinute bpm="{bpm}" time="{t}"/>' for bpm, t in beats
            )
            lst = f"<HeartRateVariabilityMetadataList>{inner}</HeartRateVariabilityMetadataList>"
            body.append(
                f'<Record type="{kind}" sourceName="W" startDate="{a}" endDate="{b}" '
                f'value="{value}">{lst if beats else ""}</Record>'
            )
        (d / "export.xml").write_text(
            '<?xml version="1.0"?><HealthData locale="en_US">' + "".join(body) + "</HealthData>",
            errors="surrogatepass",
        )
        return d

    _check(write, apple_health)


@BUDGET
@given(ibi=ROWS, acc=ROWS, start=st.sampled_from(["1495437300.0", "1e30", "-5", "x", ""]))
def test_empatica_rows(ibi: list[list[str]], acc: list[list[str]], start: str) -> None:
    def write(d: Path) -> Path:
        (d / "IBI.csv").write_text(f"{start}, IBI\n" + _csv(ibi))
        (d / "ACC.csv").write_text(f"{start}, {start}, {start}\n32, 32, 32\n" + _csv(acc))
        return d

    _check(write, empatica, ReadOptions(tz="America/New_York"))


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | TOKENS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
SCHEMAS = st.sampled_from(["step-count", "heart-rate", "rr-interval", "sleep-episode", "x"])
FRAMES = st.one_of(
    JSON,
    st.fixed_dictionaries({"date_time": TOKENS}),
    st.fixed_dictionaries(
        {
            "time_interval": st.fixed_dictionaries(
                {"start_date_time": TOKENS, "end_date_time": TOKENS}
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "time_interval": st.fixed_dictionaries(
                {
                    "start_date_time": TOKENS,
                    "duration": st.fixed_dictionaries(
                        {
                            "value": JSON,
                            "unit": st.sampled_from(["sec", "min", "h", "d", "fortnight"]),
                        }
                    ),
                }
            )
        }
    ),
)


@BUDGET
@given(
    points=st.lists(
        st.tuples(
            SCHEMAS,
            FRAMES,
            JSON,
            st.sampled_from(["step_count", "heart_rate", "rr_interval", "total_sleep_time"]),
        ),
        max_size=10,
    )
)
def test_omh_points(points: list[tuple[str, Any, Any, str]]) -> None:
    def write(d: Path) -> Path:
        data = [
            {
                "header": {
                    "schema_id": {"namespace": "omh", "name": name, "version": "1.0"},
                    "user_id": "u1",
                },
                "body": {"effective_time_frame": frame, field: value},
            }
            for name, frame, value, field in points
        ]
        (d / "p.json").write_text(json.dumps(data))
        return d / "p.json"

    _check(write, omh)
