"""Evaluation metrics against values computed by hand or read from published tables."""

from __future__ import annotations

import math

import pytest

from phenotyping.evaluate import metrics as mt


def test_poisson_interval_matches_the_garwood_table() -> None:
    # Garwood (1936) / any exact-Poisson table: k=0 -> (0, 3.689), k=1 -> (0.0253, 5.572),
    # k=5 -> (1.623, 11.668); per 90 days over 180 days halves them.
    assert mt.poisson_ci(0, 90) == pytest.approx((0.0, 3.6889), abs=1e-4)
    assert mt.poisson_ci(1, 90) == pytest.approx((0.0253, 5.5716), abs=1e-4)
    assert mt.poisson_ci(5, 180) == pytest.approx((1.6235 / 2, 11.6683 / 2), abs=1e-4)
    assert all(math.isnan(v) for v in mt.poisson_ci(2, 0))


def test_mean_interval_over_seeds_uses_student_t() -> None:
    # values 0.4, 0.6, 0.5, 0.7, 0.3: mean 0.5, sd sqrt(0.025), se sd/sqrt(5), t(4)=2.776
    m, lo, hi = mt.mean_ci([0.4, 0.6, 0.5, 0.7, 0.3, float("nan")])
    half = 2.776 * math.sqrt(0.025) / math.sqrt(5)
    assert m == pytest.approx(0.5) and lo == pytest.approx(0.5 - half)
    assert hi == pytest.approx(0.5 + half)
    assert mt.t975(30) == 2.042 and mt.t975(31) == pytest.approx(1.95996, abs=1e-4)
    with pytest.raises(ValueError):
        mt.t975(0)


def test_ppv_and_caseload_by_hand() -> None:
    # prevalence 0.5, sensitivity 0.9, 1 false episode / 90 d -> per quarter 91/90
    f = 91 / 90
    assert mt.ppv(0.9, 1.0, 0.5) == pytest.approx(0.45 / (0.45 + 0.5 * f))
    # 50 patients, 20% relapse a quarter, all caught: 10 true alerts per 13 weeks;
    # 40 stable patients with 0.5 false / 90 d: 40 * 0.5 * 7 / 90 per week
    week = mt.alerts_per_clinician_week(1.0, 0.5, 0.2, caseload=50)
    assert week == pytest.approx(10 / 13 + 40 * 0.5 * 7 / 90)
    assert math.isnan(mt.ppv(0.0, 0.0, 0.3))


def test_within_counts_misses_in_the_denominator() -> None:
    assert mt.within([1, 2, None, 15], 14) == 0.5
    assert mt.within([7, 8], 7) == 0.5
    assert math.isnan(mt.within([], 7))
