"""The rolling window kept as per-day parts gives exactly what recomputing it from the
minutes gives (``SubjectDays(incremental=False)``), including the cases where the parts
must be thrown away: flat runs growing across midnight, gaps, daylight-saving changes,
writes into closed days, states saved by version 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from day_helpers import DAY, T0, same, synthetic_days

from phenotyping.features.day import SubjectDays
from phenotyping.features.envelope import pack, unpack
from phenotyping.pipeline import Pipeline, SubjectState
from phenotyping.replay.formats.actiwatch import read_actiwatch

Batch = tuple[int, np.ndarray, int]  # (UTC start minute, counts, offset)


def run(batches: list[Batch], *, incremental: bool, roundtrip: bool = False) -> list[Any]:
    eng = SubjectDays(incremental=incremental)
    rows: list[dict[str, Any]] = []
    for start, counts, off in batches:
        eng.push_activity(start * 60, 60, counts, None, off)
        rows += eng.advance()
        if roundtrip:
            eng = SubjectDays.from_bytes(eng.to_bytes())
    return rows + eng.flush()


def hourly(x: np.ndarray, off: int = 0) -> list[Batch]:
    return [(T0 + h * 60, x[h * 60 : (h + 1) * 60], off) for h in range(len(x) // 60)]


def tricky_days(n_days: int, seed: int) -> np.ndarray:
    """Synthetic days with non-wear runs across midnight, a run that becomes non-wear only
    once the next day is seen, noise-floor runs, missing hours and a gap of two days."""
    rng = np.random.default_rng(seed)
    x = synthetic_days(n_days, seed)
    for d in range(1, n_days - 1):
        kind = rng.integers(0, 4)
        end = d * DAY
        if kind == 0:  # zeros 23:10 .. 00:40: only the next day makes it 150 minutes long
            x[end - 50 : end + 100] = 0.0
        elif kind == 1:  # the noise floor of a watch on a table across midnight
            x[end - 70 : end + 80] = rng.choice([3.0, 5.0, 7.0], 150)
        elif kind == 2:  # a missing hour at noon and a constant run
            x[end + 720 : end + 780] = np.nan
            x[end + 900 : end + 1030] = 4.0
    x[(n_days - 5) * DAY : (n_days - 3) * DAY] = np.nan  # two days without data
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parts_equal_recomputing_the_window(seed: int) -> None:
    x = tricky_days(16, seed)
    batches = hourly(x)
    want = run(batches, incremental=False)
    assert len(want) == 16
    assert sum(np.isfinite(r["circ7d_IS"]) for r in want) >= 8
    assert same(run(batches, incremental=True), want)
    assert same(run(batches, incremental=True, roundtrip=True), want)


def test_parts_equal_recomputing_across_daylight_saving_changes() -> None:
    """+60 -> +120 (a skipped hour) on day 4, back to +60 (a repeated hour) on day 11."""
    x = synthetic_days(18, 5)
    batches = []
    for h in range(18 * 24):
        off = 120 if 4 * 24 + 1 <= h < 11 * 24 + 1 else 60
        batches.append((T0 + h * 60 - off, x[h * 60 : (h + 1) * 60], off))
    want = run(batches, incremental=False)
    assert {r["minutes_in_day"] for r in want} >= {1380, 1500}
    assert same(run(batches, incremental=True), want)


def test_parts_equal_recomputing_after_a_rewrite_of_a_closed_day() -> None:
    """A batch whose offset places closed minutes in an open day rewrites them: the parts
    built on those minutes are not trusted any more."""
    x = synthetic_days(12, 6)
    batches = hourly(x)
    # day 9 re-sent 12 h later on the clock: its first half lands on closed day 8's minutes
    batches.insert(11 * 24, (T0 + 9 * DAY - 720, x[9 * DAY : 10 * DAY] + 7.0, 720))
    assert same(run(batches, incremental=True), run(batches, incremental=False))


def test_a_version_1_state_loads_and_continues_identically() -> None:
    x = synthetic_days(12, 8)
    eng = SubjectDays()
    eng.push_activity(T0 * 60, 60, x[: 9 * DAY], None, 0)
    eng.advance()
    header, _ = unpack(eng.to_bytes(), b"PHDS", 2, _dtypes())
    for k in ("win_through", "win_from_utc", "win_worn_n", "win_sleep_n"):
        del header[k]
    names = ("counts", "steps", "offset", "hrv_burst", "hrv_bin", "hrv_off", "hrv_sums")
    v1 = {k: getattr(eng, k) for k in (*names, "episodes", "midpoints")}
    old = SubjectDays.from_bytes(pack(b"PHDS", 1, header, v1))  # what version 1 wrote
    assert old.win_through != eng.win_through  # no parts: the next close recomputes
    for e in (eng, old):
        e.push_activity((T0 + 9 * DAY) * 60, 60, x[9 * DAY :], None, 0)
    assert same(old.flush(), eng.flush())


def test_compact_encoding_round_trips_steps_and_offset_runs() -> None:
    eng = SubjectDays()
    x = synthetic_days(3, 9)
    eng.push_activity(T0 * 60, 60, x[:DAY], None, 60)
    eng.push_activity((T0 + DAY) * 60, 60, x[DAY:], np.arange(2 * DAY) % 50, 120)
    back = SubjectDays.from_bytes(eng.to_bytes())
    for k in ("counts", "steps", "offset"):
        np.testing.assert_array_equal(getattr(back, k), getattr(eng, k))
        assert getattr(back, k).dtype == getattr(eng, k).dtype
    assert same(back.flush(), eng.flush())


def _dtypes() -> dict[str, np.dtype[Any]]:
    from phenotyping.features import day

    return dict(day._STATE_DTYPES)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "rel",
    [
        "depresjon/control/control_1.csv.gz",  # spring-forward day
        "psykose/patient/patient_11.csv.gz",  # fall-back day
        "depresjon/condition/condition_3.csv.gz",
    ],
)
def test_real_recordings_parts_equal_recomputing(data_dir: Path, rel: str) -> None:
    messages = list(read_actiwatch(data_dir / rel))

    def rows(incremental: bool) -> list[dict[str, Any]]:
        state = SubjectState.new()
        state.days.incremental = incremental
        pipeline = Pipeline()
        pipeline.store[messages[0].subject_id] = state
        return list(pipeline.run(messages))

    want = rows(False)
    assert sum(np.isfinite(r["circ7d_IS"]) for r in want) >= 5
    assert same(rows(True), want)
