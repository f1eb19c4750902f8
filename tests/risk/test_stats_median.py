"""The engine's small-array median is ``np.median`` bit for bit (it replaced it for speed)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from phenotyping.risk import stats

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(arrays(np.float64, st.integers(0, 60), elements=FLOATS))
def test_median_equals_numpy_bitwise(x: np.ndarray) -> None:
    with np.errstate(all="ignore"):
        want = float(np.median(x)) if x.size else float("nan")
        got = stats.median(x)  # overflow of the middle pair warns in both
    assert np.array_equal(np.float64(got), np.float64(want), equal_nan=True)
    assert np.signbit(got) == np.signbit(want) or np.isnan(want)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    arrays(np.float64, st.integers(0, 40), elements=st.floats(0, 1439.99, width=64)),
    st.booleans(),
)
def test_robust_center_is_the_baseline_median(x: np.ndarray, circular: bool) -> None:
    want = stats.robust_baseline(x, circular=circular)[0]
    got = stats.robust_center(x, circular=circular)
    assert np.array_equal(np.float64(got), np.float64(want), equal_nan=True)


def test_median_of_real_baseline_sizes_matches_numpy() -> None:
    rng = np.random.default_rng(7)
    for n in range(1, 57):
        x = np.round(rng.normal(300, 80, n), 1)  # ties, as rounded features have
        assert stats.median(x) == float(np.median(x))
