"""``features/activity.py`` rule by rule, each boundary on both sides, values by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phenotyping.features.activity import daily_activity, flat_runs, runs_of, wear_mask

NAN = math.nan


def _alternating(a: float, b: float, n: int) -> np.ndarray:
    return np.resize(np.array([a, b]), n).astype(float)


def test_noise_floor_run_boundary_is_inclusive() -> None:
    """Counts AT the floor are noise: 120 minutes alternating 10/9 with floor 10 are off."""
    x = np.r_[50.0, _alternating(10, 9, 120), 50.0]
    worn = wear_mask(x, 120, noise_floor=10)
    assert worn.tolist() == [True] + [False] * 120 + [True]


def test_just_above_the_noise_floor_is_worn() -> None:
    x = np.r_[50.0, _alternating(10.5, 9, 120), 50.0]
    assert wear_mask(x, 120, noise_floor=10).all()


def test_noise_floor_run_needs_min_run_minutes_and_no_zero() -> None:
    assert wear_mask(_alternating(3, 5, 119), 120, noise_floor=10).all()
    assert not wear_mask(_alternating(3, 5, 120), 120, noise_floor=10).any()
    with_zero = _alternating(3, 5, 200)
    with_zero[100] = 0.0  # a sleeping wrist gives zeros: the run is broken in two of < 120
    assert wear_mask(with_zero, 120, noise_floor=10).all()
    assert wear_mask(_alternating(3, 5, 300), 120, noise_floor=0).all()  # rule disabled


def test_flat_run_boundary_and_nan() -> None:
    assert not flat_runs(np.full(119, 7.0), 120).any()
    assert flat_runs(np.full(120, 7.0), 120).all()
    x = np.full(200, 0.0)
    x[100] = NAN  # NaN breaks a run and is never part of one
    assert not flat_runs(x, 120).any()
    assert flat_runs(np.array([]), 3).shape == (0,)
    assert runs_of(np.array([], bool), 3).shape == (0,)
    assert runs_of(np.array([1, 1, 1, 0, 1, 1], bool), 3).tolist() == [1, 1, 1, 0, 0, 0]


def test_wear_mask_defaults_two_hours_and_no_noise_floor() -> None:
    assert not wear_mask(np.full(120, 0.0)).any()
    assert wear_mask(np.full(119, 0.0)).all()
    assert wear_mask(_alternating(3, 5, 300)).all()  # noise-floor rule off by default


def test_wear_mask_missing_minutes_are_not_worn() -> None:
    assert wear_mask(np.array([5.0, NAN, 6.0]), 120).tolist() == [True, False, True]


def _day(counts: np.ndarray, worn: np.ndarray | None = None, **kw: object) -> dict:
    n = len(counts)
    worn = ~np.isnan(counts) if worn is None else worn
    args: dict = {"min_wear_fraction": 0.5, "sedentary_threshold": 100.0}
    args.update(kw)
    return daily_activity(counts, worn, np.full(n, NAN), np.arange(n), **args)


def test_sedentary_counts_worn_awake_minutes_strictly_below_threshold() -> None:
    x = np.array([0.0, 50, 99, 100, 150, 20, 30, NAN])
    worn = np.array([1, 1, 1, 1, 1, 0, 1, 0], bool)
    asleep = np.array([0, 0, 0, 0, 0, 0, 1, 0], bool)
    # minutes 0, 1, 2: worn, awake, < 100; 3 is AT the threshold; 5 not worn; 6 asleep
    assert _day(x, worn, asleep=asleep)["sedentary_min"] == 3
    assert _day(x, worn)["sedentary_min"] == 4  # without sleep scores, minute 6 counts


def test_sedentary_excludes_sleep() -> None:
    x = np.zeros(600)
    asleep = np.zeros(600, bool)
    asleep[:480] = True
    assert _day(x, asleep=asleep)["sedentary_min"] == 120


def test_moments_over_observed_minutes_zeros_included() -> None:
    x = np.array([0.0, 0.0, 3.0, 5.0, NAN, 10.0])
    worn = np.array([0, 1, 1, 1, 0, 1], bool)  # the first zero is non-wear: still counted
    f = _day(x, worn)
    assert f["observed_min"] == 5 and f["worn_min"] == 4 and f["minutes_in_day"] == 6
    assert f["activity_total"] == 18.0
    assert f["activity_mean"] == pytest.approx(18 / 5)
    # sample SD by hand: mean 3.6, squared deviations 12.96+12.96+0.36+1.96+40.96 = 69.2
    assert f["activity_sd"] == pytest.approx(math.sqrt(69.2 / 4))
    assert f["activity_prop_zeros"] == pytest.approx(2 / 5)
    assert f["activity_mean_worn"] == pytest.approx(18 / 4)
    assert f["coverage"] == pytest.approx(4 / 6)


def test_validity_boundary_is_inclusive() -> None:
    x = np.r_[np.full(2, 5.0), np.full(2, NAN)]
    assert _day(x, min_wear_fraction=0.5)["valid"] is True
    assert _day(x, min_wear_fraction=0.51)["valid"] is False


def test_empty_day_gives_nan_not_errors() -> None:
    f = _day(np.full(1440, NAN))
    assert f["observed_min"] == 0 and f["valid"] is False
    assert math.isnan(f["activity_mean"]) and math.isnan(f["activity_sd"])
    assert math.isnan(f["activity_total"]) and math.isnan(f["activity_prop_zeros"])
    assert math.isnan(f["m10_mean"]) and f["m10_start_min"] == -1 and f["l5_start_min"] == -1
    assert math.isnan(f["steps_total"])
    one = _day(np.r_[7.0, np.full(9, NAN)])
    assert one["activity_mean"] == 7.0 and math.isnan(one["activity_sd"])


def test_m10_l5_over_worn_minutes_with_half_worn_windows() -> None:
    x = np.full(1440, 10.0)
    x[600:1200] = 100.0  # 10:00-20:00 most active
    x[0:300] = 1.0  # 00:00-05:00 least active
    f = _day(x)
    assert (f["m10_mean"], f["m10_start_min"]) == (100.0, 600)
    assert (f["l5_mean"], f["l5_start_min"]) == (1.0, 0)
    # non-worn minutes are not averaged: a window of 300 worn minutes at 1.0 + 300 off is 1.0
    worn = np.ones(1440, bool)
    worn[300:600] = False
    assert _day(x, worn)["l5_mean"] == 1.0
    # fewer than half of a window worn: no window qualifies
    few = np.zeros(1440, bool)
    few[:299] = True
    g = _day(x, few)
    assert g["m10_start_min"] == -1 and math.isnan(g["m10_mean"])
    assert g["l5_start_min"] == 0 and g["l5_mean"] == 1.0  # 299 of 300 worn is enough


def test_window_start_is_the_local_clock_minute() -> None:
    x = np.full(1380, 10.0)  # a spring-forward day: 02:00-02:59 does not exist
    x[900:1200] = 100.0
    clock = np.r_[np.arange(120), np.arange(180, 1440)]
    f = daily_activity(
        x,
        np.ones(1380, bool),
        np.full(1380, NAN),
        clock,
        min_wear_fraction=0.5,
        sedentary_threshold=100,
    )
    assert f["m10_mean"] == pytest.approx((300 * 100 + 300 * 10) / 600)
    assert f["m10_start_min"] == 660  # grid position 600 is 11:00 on the clock (tie: earliest)
    assert f["minutes_in_day"] == 1380


def test_steps_total_over_observed_steps() -> None:
    n = 4
    f = daily_activity(
        np.zeros(n),
        np.ones(n, bool),
        np.array([1.0, NAN, 2.0, 3.0]),
        np.arange(n),
        min_wear_fraction=0.5,
        sedentary_threshold=100,
    )
    assert f["steps_total"] == 6.0


def test_day_shorter_than_the_windows_has_no_m10_l5() -> None:
    f = _day(np.full(299, 5.0))
    assert f["m10_start_min"] == -1 and f["l5_start_min"] == -1
    assert math.isnan(f["m10_mean"]) and math.isnan(f["l5_mean"])
    g = _day(np.full(300, 5.0))  # long enough for L5, not for M10
    assert g["l5_start_min"] == 0 and g["l5_mean"] == 5.0 and g["m10_start_min"] == -1


def test_noise_floor_run_includes_counts_of_one() -> None:
    """(0, floor]: a run of 1s and 2s is a device at rest too."""
    x = np.r_[50.0, _alternating(1, 2, 120), 50.0]
    assert wear_mask(x, 120, noise_floor=10).tolist() == [True] + [False] * 120 + [True]


def test_window_needs_exactly_half_its_minutes_worn() -> None:
    x = np.full(300, 4.0)
    worn = np.zeros(300, bool)
    worn[:150] = True  # exactly half of the L5 window
    assert _day(x, worn)["l5_start_min"] == 0 and _day(x, worn)["l5_mean"] == 4.0
    worn[149] = False  # one minute less
    assert _day(x, worn)["l5_start_min"] == -1


def test_most_active_window_at_the_start_of_the_day() -> None:
    x = np.full(1440, 10.0)
    x[:600] = 200.0
    f = _day(x)
    assert (f["m10_start_min"], f["m10_mean"]) == (0, 200.0)
    assert f["l5_start_min"] == 600


def test_single_minute_runs_and_long_noise_runs() -> None:
    assert flat_runs(np.array([5.0]), 1).tolist() == [True]
    assert runs_of(np.array([True]), 1).tolist() == [True]
    x = np.r_[50.0, _alternating(3, 5, 300), 50.0]  # a run LONGER than min_run
    assert wear_mask(x, 120, noise_floor=10).sum() == 2


def test_an_empty_day_has_zero_coverage() -> None:
    f = daily_activity(
        np.zeros(0),
        np.zeros(0, bool),
        np.zeros(0),
        np.zeros(0, np.int64),
        min_wear_fraction=0.5,
        sedentary_threshold=100,
    )
    assert f["coverage"] == 0.0 and f["valid"] is False
