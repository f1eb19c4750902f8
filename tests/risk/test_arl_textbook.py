"""CUSUM threshold/ARL against published values, not against its own inverse.

Published in-control ARLs of a one-sided CUSUM on N(0, 1) data with k = 0.5 (Montgomery,
*Introduction to Statistical Quality Control*, table of CUSUM ARLs for k = 1/2; Hawkins &
Olwell 1998): h = 4 -> 336, h = 5 -> 930. Siegmund's approximation, which the engine uses,
is within about 1 % of them. The test also solves the ARL independently by the Markov-chain
method of Brook & Evans (1972) -- a different algorithm -- and checks both agree.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from phenotyping.risk.stats import arl_for_threshold, cusum, threshold_for_arl

PUBLISHED = {4.0: 336.0, 5.0: 930.0}  # k = 0.5


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def brook_evans_arl(h: float, k: float, m: int = 400) -> float:
    """ARL from S = 0 of S' = max(0, S + Z - k), Z ~ N(0, 1), absorbed when S' > h;
    the transient states are the midpoints of m intervals of [0, h]."""
    w = h / m
    s = (np.arange(m) + 0.5) * w
    s[0] = 0.0  # state 0 is the atom at zero
    upper = (np.arange(m) + 1) * w  # S' below upper[j] and above upper[j-1]
    z_hi = upper[None, :] - s[:, None] + k
    cdf = _phi(z_hi)
    trans = np.diff(np.concatenate([np.zeros((m, 1)), cdf], axis=1), axis=1)
    arl = np.linalg.solve(np.eye(m) - trans, np.ones(m))
    return float(arl[0])


@pytest.mark.parametrize(("h", "arl"), sorted(PUBLISHED.items()))
def test_arl_matches_the_published_table(h: float, arl: float) -> None:
    assert arl_for_threshold(h, 0.5) == pytest.approx(arl, rel=0.012)


@pytest.mark.parametrize(("h", "arl"), sorted(PUBLISHED.items()))
def test_threshold_for_the_published_arl(h: float, arl: float) -> None:
    assert threshold_for_arl(arl, 0.5) == pytest.approx(h, abs=0.02)


@pytest.mark.parametrize("h", [3.0, 4.0, 5.0, 5.5])
def test_independent_markov_chain_agrees(h: float) -> None:
    assert brook_evans_arl(h, 0.5) == pytest.approx(arl_for_threshold(h, 0.5), rel=0.015)


def test_markov_chain_reproduces_the_table_itself() -> None:
    """The independent method is right too (so the two agreeing means something)."""
    for h, arl in PUBLISHED.items():
        assert brook_evans_arl(h, 0.5) == pytest.approx(arl, rel=0.01)


def test_threshold_rejects_meaningless_budgets() -> None:
    for arl, k in ((1.0, 0.5), (0.5, 0.5), (100.0, 0.0), (100.0, -1.0)):
        with pytest.raises(ValueError, match="arl_days must be > 1 and k > 0"):
            threshold_for_arl(arl, k)


def test_cusum_step_by_hand() -> None:
    assert cusum(0.0, 2.0, 0.5) == 1.5
    assert cusum(1.5, 0.2, 0.5) == pytest.approx(1.2)
    assert cusum(0.2, -1.0, 0.5) == 0.0
    assert cusum(0.0, 0.5, 0.5) == 0.0
