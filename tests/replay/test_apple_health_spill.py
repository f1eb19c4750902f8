"""The Apple Health reader spills to disk (bounded memory) yet emits exactly what the
in-memory reader did: same messages, same ids, same order, same report.

Two independent yardsticks, both made BEFORE the spill was written:
``apple_health_golden.json`` (digests of the old reader's output on the fixture and on
generated exports) and ``apple_health_reference.py`` (the old reader itself, verbatim),
compared on inputs the digests do not cover, with the chunk and cache sizes shrunk to one
day so that every chunk boundary, context margin, offset carry and cache eviction is used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phenotyping.replay.formats import ReadReport, apple_health

HERE = Path(__file__).parent
EXPORT = HERE.parent / "data" / "importers" / "apple_health_export"
GOLDEN = json.loads((HERE / "apple_health_golden.json").read_text())


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


reference = _load("apple_health_reference", HERE / "apple_health_reference.py")


def _generator() -> Any:
    return _load("make_apple_export", HERE.parents[1] / "benchmarks" / "make_apple_export.py")


def _digest(path: Path) -> dict[str, Any]:
    report = ReadReport()
    h = hashlib.sha256()
    n = 0
    for m in apple_health.read(path, report=report):
        h.update(m.model_dump_json().encode())
        h.update(b"\n")
        n += 1
    assert report.messages == n
    return {
        "messages": n,
        "sha256": h.hexdigest(),
        "unusable": dict(sorted(report.unusable.items())),
    }


@pytest.fixture
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(apple_health, "CHUNK_DAYS", 1)
    monkeypatch.setattr(apple_health, "GRID_CACHE_DAYS", 1)
    yield


def _same_as_reference(path: Path) -> int:
    new_report, old_report = ReadReport(), ReadReport()
    new = list(apple_health.read(path, report=new_report))
    old = list(reference.read(path, report=old_report))
    assert [m.event_id for m in new] == [m.event_id for m in old]
    assert [m.model_dump() for m in new] == [m.model_dump() for m in old]
    assert new_report.unusable == old_report.unusable
    assert (new_report.rows, new_report.messages) == (old_report.rows, old_report.messages)
    return len(new)


def test_fixture_matches_golden() -> None:
    assert _digest(EXPORT) == GOLDEN["fixture"]


@pytest.mark.parametrize("chunk", [28, 1])
def test_generated_exports_match_golden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(apple_health, "CHUNK_DAYS", chunk)
    monkeypatch.setattr(apple_health, "GRID_CACHE_DAYS", 2 if chunk == 1 else 64)
    gen = _generator()
    for mb, seed in [(1.5, 1), (3, 2)]:
        path = tmp_path / f"s{seed}" / "apple_health_export"
        gen.write_export(path, int(mb * 1e6), seed=seed)
        assert _digest(path) == GOLDEN[f"generated_{mb}mb_seed{seed}"]


def _export(d: Path, records: list[tuple[str, str, str, str, str]]) -> Path:
    body = "".join(
        f'<Record type="{kind}" sourceName="{src}" startDate="{a}" endDate="{b}" value="{v}"/>'
        for kind, src, a, b, v in records
    )
    (d / "export.xml").write_text(
        '<?xml version="1.0"?><HealthData locale="en_US">' + body + "</HealthData>"
    )
    return d


def test_travel_gaps_and_chunk_edges_match_reference(tmp_path: Path, tiny_chunks: None) -> None:
    """Offsets that change mid-run (travel), a run of days with wear but steps only on some,
    gaps just under and over the bridge, sleep across midnight in another zone: with
    one-day chunks every batch straddles a chunk edge somewhere."""
    st_, hr, sl = apple_health.STEPS, apple_health.HEART_RATE, apple_health.SLEEP
    recs: list[tuple[str, str, str, str, str]] = []
    for day in range(1, 9):
        tz = "+0100" if day < 4 else ("-0500" if day < 7 else "+0930")
        d = f"2023-03-{day:02d}"
        recs.append((st_, "Watch", f"{d} 23:50:00 {tz}", f"{d} 23:59:00 {tz}", "120"))
        recs.append((st_, "Phone", f"{d} 23:50:00 {tz}", f"{d} 23:55:00 {tz}", "90"))
        if day % 3:
            recs.append((st_, "Watch", f"{d} 00:10:00 {tz}", f"{d} 00:40:00 {tz}", "300"))
        recs.append((hr, "Watch", f"{d} 12:00:00 {tz}", f"{d} 12:00:00 {tz}", "70"))
        recs.append((hr, "Watch", f"{d} 12:14:00 {tz}", f"{d} 12:14:00 {tz}", "71"))
        recs.append((hr, "Watch", f"{d} 13:00:00 {tz}", f"{d} 13:00:00 {tz}", "72"))
        recs.append(
            (
                sl,
                "Watch",
                f"{d} 01:00:00 {tz}",
                f"{d} 06:30:00 {tz}",
                "HKCategoryValueSleepAnalysisAsleepCore",
            )
        )
        recs.append(
            (
                apple_health.RESTING_HR,
                "Watch",
                f"{d} 09:00:00 {tz}",
                f"{d} 09:00:00 {tz}",
                str(50 + day),
            )
        )
    assert _same_as_reference(_export(tmp_path, recs)) > 20


DATES = st.sampled_from(
    [
        "2023-01-05 08:00:00 +0100",
        "2023-01-05 08:03:00 +0100",
        "2023-01-05 23:58:00 +0100",
        "2023-01-06 00:20:00 +0000",
        "2023-01-06 07:00:00 -0930",
        "2023-01-07 03:00:00 +1400",
        "2023-01-08 10:00:00 +0100",
        "2023-01-12 10:00:00 +0100",
        "1970-01-01 00:00:00 +0000",
        "yesterday",
    ]
)
KINDS = st.sampled_from(
    [
        apple_health.STEPS,
        apple_health.HEART_RATE,
        apple_health.RESTING_HR,
        apple_health.SDNN,
        apple_health.SLEEP,
    ]
)
VALUES = st.sampled_from(
    [
        "90",
        "0",
        "2000",
        "45.5",
        "-3",
        "x",
        "HKCategoryValueSleepAnalysisAsleepDeep",
        "HKCategoryValueSleepAnalysisInBed",
        "HKCategoryValueSleepAnalysisAwake",
    ]
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    records=st.lists(
        st.tuples(KINDS, st.sampled_from(["Watch", "Phone"]), DATES, DATES, VALUES),
        max_size=25,
    )
)
def test_random_exports_match_reference(
    tiny_chunks: None, records: list[tuple[str, str, str, str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as d:
        _same_as_reference(_export(Path(d), records))
