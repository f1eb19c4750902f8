"""The evaluation helpers (surrogates, injection, outcomes, effect sizes) on hand-derivable
cases, one surrogate through the real pipeline, and the day pool against the raw CSV."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phenotyping.evaluate import metrics as mt
from phenotyping.evaluate import surrogates as ev
from phenotyping.events import ActivityBatch
from phenotyping.pipeline import Pipeline
from phenotyping.replay.formats.actiwatch import read_actiwatch
from phenotyping.risk.engine import ordinal


def test_complete_day_needs_validity_and_1440_observed_minutes() -> None:
    row = {"valid": True, "minutes_in_day": 1440, "observed_min": 1440}
    assert ev.is_complete(row)
    assert not ev.is_complete(dict(row, valid=False))
    assert not ev.is_complete(dict(row, observed_min=1439))  # partial first/last day
    assert not ev.is_complete(dict(row, minutes_in_day=1500, observed_min=1500))  # DST end


def test_local_day_grid_cuts_at_local_midnight_and_keeps_the_larger_duplicate() -> None:
    d = 12_000
    # UTC+2: local 23:58 of day d is UTC minute d*1440 + 1438 - 120
    start = d * 1440 + 1438 - 120
    parts = [(start, 120, [1.0, 2.0, 3.0, 4.0]), (start + 3, 120, [9.0])]
    grid = ev.local_day_grid(parts, [d, d + 1])
    assert grid.shape == (2, 1440)
    assert grid[0, 1438:].tolist() == [1.0, 2.0]
    assert grid[1, :2].tolist() == [3.0, 9.0]  # max(4, 9) at local 00:01
    assert np.isnan(grid[0, :1438]).all() and np.isnan(grid[1, 2:]).all()
    assert np.isnan(ev.local_day_grid(parts, [d + 5])).all()  # a day no part covers


def test_resampling_is_seeded_with_replacement_and_in_range() -> None:
    a = ev.resample_days(13, 70, seed=[2018, 4])
    assert np.array_equal(a, ev.resample_days(13, 70, seed=[2018, 4]))
    assert not np.array_equal(a, ev.resample_days(13, 70, seed=[2018, 5]))
    assert a.min() >= 0 and a.max() <= 12
    assert len(np.unique(a)) < 70  # 70 draws from 13 days must repeat days
    assert ev.resample_days(1, 5, seed=0).tolist() == [0] * 5
    with pytest.raises(ValueError):
        ev.resample_days(0, 5, seed=0)


def test_surrogate_series_lays_whole_days_end_to_end() -> None:
    pool = np.stack([np.full(1440, 10.0), np.full(1440, 20.0), np.full(1440, 30.0)])
    x = ev.surrogate_series(pool, np.array([2, 0, 0, 1]))
    assert x.reshape(4, 1440)[:, 0].tolist() == [30.0, 10.0, 10.0, 20.0]
    with pytest.raises(ValueError):
        ev.surrogate_series(np.zeros((2, 100)), np.array([0]))


def test_inject_scales_and_delays_from_the_onset_repeating_the_evening_before() -> None:
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    y = ev.inject(x, onset_min=4, scale=0.5, shift_min=2)
    # before the onset untouched; from it on, 0.5 * x[t - 2]: minutes 2, 3 are lived again
    assert y.tolist() == [1.0, 2, 3, 4, 1.5, 2, 2.5, 3]
    assert x.tolist() == [1.0, 2, 3, 4, 5, 6, 7, 8]  # input not modified
    assert ev.inject(x, 4, scale=0.7).tolist() == pytest.approx([1, 2, 3, 4, 3.5, 4.2, 4.9, 5.6])
    with pytest.raises(ValueError):
        ev.inject(x, onset_min=1, shift_min=2)  # nothing before the onset to delay


def test_day_batches_start_at_local_midnight_of_consecutive_dates() -> None:
    x = np.arange(3 * 1440, dtype=float)
    batches = ev.day_batches(x, first_date=10, offset_min=60)
    assert [s for s, _ in batches] == [(d * 1440 - 60) * 60 for d in (10, 11, 12)]
    assert np.array_equal(np.concatenate([c for _, c in batches]), x)
    with pytest.raises(ValueError):
        ev.day_batches(np.zeros(100), 0, 0)


def test_detection_day_and_delay_summary() -> None:
    assert mt.detection_day([3, 50], 48) == 3  # alert on the third deteriorated day
    assert mt.detection_day([47], 48) is None  # before the onset: a false alarm, not a hit
    s = mt.delay_summary([2, 4, 6, 8, 20, None, None, None])
    assert s["n"] == 8 and s["never"] == 3
    assert s["within_7"] == 3 / 8 and s["within_14"] == 4 / 8
    assert s["median"] == 6.0 and s["q1"] == 4.0 and s["q3"] == 8.0 and s["max"] == 20
    empty = mt.delay_summary([None, None])
    assert empty["within_7"] == 0.0 and math.isnan(empty["median"]) and empty["never"] == 2


def test_rate_per_90_days() -> None:
    assert mt.per_90(3, 270) == 1.0
    assert math.isnan(mt.per_90(0, 0))


def test_cohens_d_with_pooled_sd() -> None:
    # means 2 and 5, both SDs 1 -> d = -3; NaN values are ignored
    assert mt.cohens_d([1.0, 2, 3, np.nan], [4.0, 5, 6]) == pytest.approx(-3.0)
    # unequal n: variances 2 and 4 (ddof=1): pooled var = (1*2 + 2*4) / 3 = 10/3
    assert mt.cohens_d([0.0, 2.0], [0.0, 2.0, 4.0]) == pytest.approx((1 - 2) / math.sqrt(10 / 3))
    assert math.isnan(mt.cohens_d([1.0], [1.0, 2.0]))
    assert math.isnan(mt.cohens_d([1.0, 1.0], [1.0, 1.0]))


def test_cliffs_delta_counts_pairs() -> None:
    assert mt.cliffs_delta([5.0], [1.0, 2, 3, 4]) == 1.0
    assert mt.cliffs_delta([1.0, 2, 3], [2.0]) == 0.0  # one below, one tie, one above
    assert mt.cliffs_delta([1.0, 1.0], [2.0, 0.0]) == 0.0
    assert mt.cliffs_delta([0.0, 3.0], [1.0, 2.0, np.nan]) == 0.0
    assert math.isnan(mt.cliffs_delta([], [1.0]))


def test_unwrap_clock_keeps_times_near_midnight_together() -> None:
    u = mt.unwrap_clock([1380.0, 60.0])  # 23:00 and 01:00, centre midnight
    assert abs(u[1] - u[0]) == pytest.approx(120.0)
    assert np.isnan(mt.unwrap_clock([0.0, 720.0])).all()  # cancel out: no centre


def test_surrogate_through_the_pipeline_gives_the_drawn_days() -> None:
    """A surrogate fed as messages yields one valid daily row per drawn day, in order,
    whose activity is the drawn day's (so the seams and offsets are right)."""
    rng = np.random.default_rng(0)
    night = np.zeros(420)
    pool = np.stack([np.r_[night, rng.poisson(lam, 1020).astype(float)] for lam in (100, 200, 300)])
    pool[:, :420] = rng.poisson(2, (3, 420))  # a restless but worn night (no flat run)
    order = ev.resample_days(3, 12, seed=[1, 2])
    series = ev.surrogate_series(pool, order)
    first = ordinal("2024-03-01")
    tz = dt.timezone(dt.timedelta(minutes=60))
    pipe = Pipeline()
    daily = []
    for i, (start_s, counts) in enumerate(ev.day_batches(series, first, 60)):
        msg = ActivityBatch(
            event_id=f"activity:test{i}",
            subject_id="s1",
            source="test",
            tz_offset_min=60,
            start=dt.datetime.fromtimestamp(start_s, tz),
            epoch_s=60,
            counts=counts.tolist(),
        )
        daily += pipe.process(msg).daily
    daily += pipe.flush().daily
    assert [r["date"] for r in daily] == [
        str(np.datetime64(first + i, "D")) for i in range(len(order))
    ]
    assert all(r["valid"] and r["observed_min"] == 1440 for r in daily)
    assert [r["activity_mean"] for r in daily] == pytest.approx(pool[order].mean(axis=1).tolist())


@pytest.mark.realdata
def test_complete_day_pool_equals_the_raw_csv(data_dir: Path) -> None:
    """The pool of complete days, cut from the reader's messages, holds exactly the CSV's
    activity for those dates (read independently, by its own ``date`` column)."""
    path = data_dir / "depresjon" / "control" / "control_1.csv.gz"
    msgs = list(read_actiwatch(path))
    pipe = Pipeline()
    daily = []
    for m in msgs:
        daily += pipe.process(m).daily
    daily += pipe.flush().daily
    complete = [r["date"] for r in daily if ev.is_complete(r)]
    assert len(complete) >= 10
    assert "2003-03-30" not in complete  # the 23-hour DST day is never complete
    parts = [(int(m.start.timestamp()) // 60, m.tz_offset_min, m.counts) for m in msgs]
    grid = ev.local_day_grid(parts, [ordinal(d) for d in complete])
    raw = pd.read_csv(path)
    for i, date in enumerate(complete):
        expected = raw.loc[raw["date"] == date, "activity"].to_numpy(dtype=float)
        assert expected.size == 1440
        assert np.array_equal(grid[i], expected)
