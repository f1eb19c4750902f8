"""Tests for phenotyping.features.circadian.

Real-data tests compare against pyActigraphy 1.2.2 outputs on all 55 Depresjon
recordings (shared/data/reference-outputs/pyactigraphy-1.2.2). Synthetic tests use
small series whose expected values are derived by hand in the comments.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from phenotyping.features import circadian as c

RECORDINGS = [f"condition_{i}" for i in range(1, 24)] + [f"control_{i}" for i in range(1, 33)]
Series = Callable[[str], tuple[np.ndarray, int]]
NONPARAMETRIC = ["IS", "IV", "L5", "M10", "RA"]
RTOL = 1e-6


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_reference_lists_every_recording(pyactigraphy_reference: pd.DataFrame) -> None:
    assert sorted(pyactigraphy_reference.index) == sorted(RECORDINGS)


@pytest.mark.realdata
@pytest.mark.parametrize("rec", RECORDINGS)
def test_nonparametric_matches_pyactigraphy(
    pyactigraphy_reference: pd.DataFrame, depresjon_series: Series, rec: str
) -> None:
    ref = pyactigraphy_reference.loc[rec]
    x, start = depresjon_series(rec)
    assert x.size == ref["n_minutes"]
    mismatches = []
    for binarize, suffix in [(False, "raw"), (True, "bin4")]:
        got = c.circadian_summary(x, start, binarize=binarize, threshold=4.0)
        for name in NONPARAMETRIC:
            want = float(ref[f"{name}_{suffix}"])
            if not math.isclose(got[name], want, rel_tol=RTOL):
                mismatches.append(f"{name}_{suffix}: got {got[name]!r}, want {want!r}")
    assert not mismatches, f"{rec}: " + "; ".join(mismatches)


@pytest.mark.realdata
@pytest.mark.parametrize("rec", RECORDINGS)
def test_individual_functions_agree_with_summary(
    pyactigraphy_reference: pd.DataFrame, depresjon_series: Series, rec: str
) -> None:
    x, start = depresjon_series(rec)
    ref = pyactigraphy_reference.loc[rec]
    fns = {
        "IS": c.interdaily_stability,
        "IV": c.intradaily_variability,
        "L5": c.l5,
        "M10": c.m10,
        "RA": c.relative_amplitude,
    }
    for name, fn in fns.items():
        assert math.isclose(fn(x, start, binarize=True), ref[f"{name}_bin4"], rel_tol=RTOL), name


@pytest.mark.realdata
@pytest.mark.parametrize("rec", RECORDINGS)
def test_cosinor_matches_pyactigraphy(
    pyactigraphy_reference: pd.DataFrame, depresjon_series: Series, rec: str
) -> None:
    ref = pyactigraphy_reference.loc[rec]
    x, _ = depresjon_series(rec)
    fit = c.cosinor(x, period=float(ref["cosinor_Period"]))
    t = np.arange(x.size, dtype=np.float64)

    def sse(mesor: float, amp: float, phase: float) -> float:
        resid = x - (mesor + amp * np.cos(2 * np.pi * t / 1440.0 + phase))
        return float(resid @ resid)

    if bool(ref["cosinor_fit_suspect"]):
        # pyActigraphy's non-linear fit collapsed to amplitude ~ 0 here. The closed-form
        # fit is the least-squares optimum, so it must fit strictly better.
        assert float(ref["cosinor_Amplitude"]) < 1e-3
        assert fit.amplitude > 1.0
        ref_sse = sse(ref["cosinor_Mesor"], ref["cosinor_Amplitude"], ref["cosinor_Acrophase"])
        assert sse(fit.mesor, fit.amplitude, fit.acrophase) < ref_sse
        return
    got = {"Mesor": fit.mesor, "Amplitude": fit.amplitude, "Acrophase": fit.acrophase}
    mismatches = [
        f"{k}: got {v!r}, want {ref[f'cosinor_{k}']!r}"
        for k, v in got.items()
        if not math.isclose(v, float(ref[f"cosinor_{k}"]), rel_tol=RTOL)
    ]
    assert not mismatches, f"{rec}: " + "; ".join(mismatches)


# --------------------------------------------------------------------------- binarisation


def test_binarize_threshold_is_strict() -> None:
    x = np.array([0.0, 3.999, 4.0, 4.0001, 5.0, np.nan])
    np.testing.assert_array_equal(c.binarize_counts(x, 4.0), [0, 0, 0, 1, 1, np.nan])


def test_binarize_edge_changes_metrics() -> None:
    # Days of 12 h at exactly 4 counts then 12 h at 0: with threshold 4 nothing is
    # active (4 is not > 4), so the binarised series is constant 0: L5 = M10 = 0 and
    # IS/IV/RA undefined. With threshold 3.5 the first half is fully active.
    day = np.r_[np.full(720, 4.0), np.zeros(720)]
    x = np.tile(day, 3)
    s4 = c.circadian_summary(x, 0, binarize=True, threshold=4.0)
    assert s4["L5"] == 0.0 and s4["M10"] == 0.0
    assert math.isnan(s4["IS"]) and math.isnan(s4["IV"]) and math.isnan(s4["RA"])
    s35 = c.circadian_summary(x, 0, binarize=True, threshold=3.5)
    assert s35["L5"] == 0.0 and s35["M10"] == 1.0 and s35["RA"] == 1.0


# --------------------------------------------------------------------------- hourly bins


def test_hour_bins_are_anchored_on_first_sample() -> None:
    # Start 09:30, 150 minutes of ones: bins 09:30, 10:30, 11:30 (30 min, partial last).
    h, hod = c.hourly_totals(np.ones(150), 9 * 60 + 30)
    np.testing.assert_array_equal(h, [60.0, 60.0, 30.0])
    np.testing.assert_array_equal(hod, [9, 10, 11])


def test_hour_of_day_wraps_midnight() -> None:
    _, hod = c.hourly_totals(np.zeros(180), 23 * 60 + 10)
    np.testing.assert_array_equal(hod, [23, 0, 1])


def test_hourly_nan_rescaling_and_coverage() -> None:
    # Hour 0: 30 observed ones, 30 NaN -> 30 * 60 / 30 = 60 (coverage 0.5 is enough).
    # Hour 1: 29 observed twos, 31 NaN -> coverage 29/60 < 0.5 -> NaN.
    # Hour 2 (partial, 10 minutes in the series): 5 observed threes, 5 NaN -> 15 * 10 / 5.
    x = np.r_[
        np.ones(30),
        np.full(30, np.nan),
        np.full(29, 2.0),
        np.full(31, np.nan),
        np.full(5, 3.0),
        np.full(5, np.nan),
    ]
    h, _ = c.hourly_totals(x, 0)
    np.testing.assert_array_equal(h, [60.0, np.nan, 30.0])
    h_lax, _ = c.hourly_totals(x, 0, min_coverage=0.4)
    assert h_lax[1] == pytest.approx(2.0 * 60)


# --------------------------------------------------------------------------- IS / IV


def _square_wave_days(n_days: int, low_minutes: int = 600, high: float = 3.0) -> np.ndarray:
    return np.tile(np.r_[np.zeros(low_minutes), np.full(1440 - low_minutes, high)], n_days)


@pytest.mark.parametrize("n_days", [2, 5, 9])
def test_is_of_perfectly_periodic_series(n_days: int) -> None:
    # Every day identical -> per-hour-of-day means equal each day's hourly values, so
    # sum of squares around the mean is S for the 24-h profile and n_days * S overall.
    # ddof=1: IS = (S / 23) / (n_days * S / (24 n_days - 1)) = (24 n - 1) / (23 n).
    n = n_days
    got = c.interdaily_stability(_square_wave_days(n), 0)
    assert got == pytest.approx((24 * n - 1) / (23 * n), rel=1e-12)


def test_is_independent_of_start_minute_for_whole_hours() -> None:
    # Bins are anchored on the first sample, so shifting the declared start time only
    # relabels hours of day; IS and IV do not change.
    x = _square_wave_days(4) + np.tile(np.arange(1440.0) % 7, 4)
    a = c.circadian_summary(x, 0)
    b = c.circadian_summary(x, 13 * 60 + 35)
    assert a["IS"] == pytest.approx(b["IS"], rel=1e-12)
    assert a["IV"] == pytest.approx(b["IV"], rel=1e-12)


def test_iv_alternating_hours() -> None:
    # Hourly sums 0, 60, 0, 60, 0, 60: squared step 3600 each; sample variance of six
    # values with mean 30 is 6 * 900 / 5 = 1080 -> IV = 3600 / 1080.
    x = np.tile(np.r_[np.zeros(60), np.ones(60)], 3)
    assert c.intradaily_variability(x, 0) == pytest.approx(3600 / 1080, rel=1e-12)


def test_constant_series_gives_nan_ratios_and_flat_cosinor() -> None:
    x = np.full(3 * 1440, 7.0)
    s = c.circadian_summary(x, 0)
    assert math.isnan(s["IS"]) and math.isnan(s["IV"])
    assert s["L5"] == 7.0 and s["M10"] == 7.0 and s["RA"] == 0.0
    assert s["cosinor_mesor"] == pytest.approx(7.0, rel=1e-12)
    assert s["cosinor_amplitude"] == pytest.approx(0.0, abs=1e-9)


def test_is_iv_follow_pandas_skipna_on_hourly_series() -> None:
    # Blank out whole hours (NaN) and check against pandas' skip-NaN semantics on the
    # hourly series (the IS/IV formulas of pyActigraphy, applied with pandas here).
    rng = np.random.default_rng(7)
    x = rng.poisson(30, size=5 * 1440 + 37).astype(float)
    for h in [3, 4, 30, 31, 32, 77]:
        x[h * 60 : (h + 1) * 60] = np.nan
    start = 8 * 60 + 15
    idx = pd.date_range("2024-01-01", periods=x.size, freq="1min") + pd.Timedelta(minutes=start)
    hourly = pd.Series(x, index=idx).resample("1h", origin="start").sum(min_count=1)
    # our partial last bin (37 minutes, all observed) is the plain sum too
    want_is = hourly.groupby(hourly.index.hour).mean().var() / hourly.var()
    want_iv = hourly.diff(1).pow(2).mean() / hourly.var()
    assert c.interdaily_stability(x, start) == pytest.approx(want_is, rel=1e-12)
    assert c.intradaily_variability(x, start) == pytest.approx(want_iv, rel=1e-12)


# --------------------------------------------------------------------------- L5 / M10 / RA


def test_l5_m10_positions_and_values_with_offset_start() -> None:
    # Local-time profile: 1 count/min from 02:00 to 07:00, 10 from 09:00 to 19:00, 4
    # elsewhere. The series starts at 13:00 local, so position 0 is minute 780.
    prof = np.full(1440, 4.0)
    prof[120:420] = 1.0
    prof[540:1140] = 10.0
    start = 13 * 60
    x = np.tile(np.roll(prof, -start), 3)[: 3 * 1440 - 100]
    s = c.circadian_summary(x, start)
    assert s["L5"] == 1.0 and s["L5_start_minute"] == 120.0
    assert s["M10"] == 10.0 and s["M10_start_minute"] == 540.0
    assert s["RA"] == pytest.approx(9.0 / 11.0, rel=1e-12)


def test_l5_window_wraps_midnight() -> None:
    # Rest from 22:00 to 03:00 (crosses midnight): the cyclic profile finds it.
    prof = np.full(1440, 5.0)
    prof[1320:] = 0.0
    prof[:180] = 0.0
    start, value = c.least_most_active(prof, 300, lowest=True)
    assert (start, value) == (1320, 0.0)


def test_profile_averages_partial_days() -> None:
    # Minute of day 0 is seen on day 2 only (series starts at 00:01); minute 1 on both.
    x = np.r_[np.full(1439, 2.0), np.full(2, 6.0)]
    prof = c.average_daily_profile(x, 1)
    assert prof[0] == 6.0 and prof[1] == 4.0 and prof[2] == 2.0


def test_l5_ignores_nan_minutes_when_coverage_allows() -> None:
    # The profile is 0 for 02:00-07:00 and 1 elsewhere; NaN on half of the rest window
    # on every day leaves the observed half at 0, so L5 stays 0.
    x = np.tile(np.r_[np.ones(120), np.zeros(300), np.ones(1020)], 4)
    for d in range(4):
        x[d * 1440 + 120 : d * 1440 + 270] = np.nan
    assert c.l5(x, 0) == 0.0
    # Coverage 0.5 -> the 150 observed minutes of the 300 are enough; 0.6 is not,
    # so the minimum moves to windows that include ones.
    assert c.l5(x, 0, min_coverage=0.6) > 0.0


# --------------------------------------------------------------------------- NaN handling


def test_nan_minutes_inside_constant_hours_change_nothing() -> None:
    # Each hour holds one constant value, so rescaling an hour by n_span / n_observed
    # restores its exact sum, and profile means are unchanged: every metric except the
    # cosinor equals the gap-free result.
    rng = np.random.default_rng(3)
    hours = np.tile(rng.integers(0, 50, size=24).astype(float), 6)
    x = np.repeat(hours, 60)[: 6 * 1440 - 13]
    gappy = x.copy()
    gappy[rng.choice(x.size, size=x.size // 10, replace=False)] = np.nan
    full = c.circadian_summary(x, 5 * 60)
    part = c.circadian_summary(gappy, 5 * 60)
    for k in ["IS", "IV", "L5", "M10", "RA"]:
        assert part[k] == pytest.approx(full[k], rel=1e-12), k


def test_all_nan_and_empty_series_are_nan_without_warnings() -> None:
    for x in [np.full(3000, np.nan), np.empty(0)]:
        s = c.circadian_summary(x, 0)
        assert all(math.isnan(v) for v in s.values()), s


def test_rolling_window_with_gaps_is_finite() -> None:
    rng = np.random.default_rng(11)
    day = np.r_[np.zeros(420), np.full(1020, 40.0)]
    x = np.tile(day, 10) + rng.poisson(5, size=14400)
    x[3 * 1440 : 3 * 1440 + 500] = np.nan  # watch off for 500 minutes
    w, s0 = c.trailing_window(x, 9 * 60, n_days=7)
    assert w.size == 7 * 1440 and s0 == (9 * 60 + 3 * 1440) % 1440
    s = c.circadian_summary(w, s0)
    assert all(np.isfinite(v) for v in s.values()), s
    # rest is 09:00-16:00 local (420 min), so a 5-h L5 window starts in 09:00-11:00
    assert 540 <= s["L5_start_minute"] <= 660


def test_trailing_window_whole_days() -> None:
    x = np.arange(5000.0)
    w, s0 = c.trailing_window(x, 600, n_days=2, end_at_midnight=True)
    # local midnights fall at positions 840, 2280, 3720; the window is [840, 3720)
    assert (float(w[0]), float(w[-1]), s0) == (840.0, 3719.0, 0)
    w, s0 = c.trailing_window(x[:100], 600, n_days=7)
    assert w.size == 100 and s0 == 600


# --------------------------------------------------------------------------- cosinor


@pytest.mark.parametrize(
    ("mesor", "amp", "phase"), [(50.0, 20.0, 0.5), (5.0, 3.0, 3.5), (100.0, 1.0, 6.0)]
)
def test_cosinor_recovers_noise_free_parameters(mesor: float, amp: float, phase: float) -> None:
    t = np.arange(4000.0)
    y = mesor + amp * np.cos(2 * np.pi * t / 1440 + phase)
    fit = c.cosinor(y)
    assert fit.mesor == pytest.approx(mesor, rel=1e-10)
    assert fit.amplitude == pytest.approx(amp, rel=1e-10)
    assert fit.acrophase == pytest.approx(phase, rel=1e-10)


def test_cosinor_maps_negative_amplitude_into_range() -> None:
    # -A cos(w t + 1) == A cos(w t + 1 + pi): reported as A > 0, phase 1 + pi.
    t = np.arange(2880.0)
    fit = c.cosinor(10 - 4 * np.cos(2 * np.pi * t / 1440 + 1.0))
    assert fit.amplitude == pytest.approx(4.0, rel=1e-10)
    assert fit.acrophase == pytest.approx(1.0 + np.pi, rel=1e-10)
    # -0.5 rad is reported as 2 pi - 0.5
    fit = c.cosinor(10 + 4 * np.cos(2 * np.pi * t / 1440 - 0.5))
    assert fit.acrophase == pytest.approx(2 * np.pi - 0.5, rel=1e-10)


def test_cosinor_ignores_nan_and_uses_given_time_axis() -> None:
    t = np.arange(3000.0) * 2.0  # 2-minute epochs
    y = 30 + 12 * np.cos(2 * np.pi * t / 1440 + 2.0)
    y[100:900] = np.nan
    fit = c.cosinor(y, t=t)
    assert (fit.mesor, fit.amplitude, fit.acrophase) == pytest.approx((30, 12, 2.0), rel=1e-10)
    assert math.isnan(c.cosinor([1.0, np.nan, 2.0]).mesor)


def test_cosinor_peak_minute_of_day() -> None:
    # Peak at 15:00 local; series starts at 09:00 -> t_peak = 360 -> phase = -2 pi / 4.
    t = np.arange(3 * 1440.0)
    y = 10 + 5 * np.cos(2 * np.pi * (t - 360) / 1440)
    s = c.circadian_summary(y, 9 * 60)
    assert s["cosinor_acrophase"] == pytest.approx(1.5 * np.pi, rel=1e-10)
    assert s["cosinor_peak_minute_of_day"] == pytest.approx(15 * 60, rel=1e-9)
