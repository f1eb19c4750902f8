"""Outcome metrics of the risk-engine evaluation, each checkable by hand.

NumPy and the standard library only (no SciPy): the exact Poisson interval and the
Student-t quantile are computed here and pinned by doctests against published tables.

Definitions
-----------
Detection day
    1 + days from the onset to the first ``opened`` alert on or after it (1 = on the onset
    day itself). "Within 7 days" means detection day <= 7.
False elevated episodes per 90 person-days
    ``opened`` alerts (elevated or high) on a run with nothing injected, per 90 assessable
    days (days after the warm-up). Exact (Garwood) Poisson interval for one run set,
    Student-t interval of the per-seed rates across seeds.
Alerts per clinician-week
    Expected ``opened`` alerts a clinician with a caseload of ``caseload`` patients reads in a
    week when a fraction ``prevalence`` of patients relapses per quarter (13 weeks): the
    relapsing patients give ``sensitivity`` true alerts each per quarter, everyone who is not
    relapsing gives false ones at the measured rate.
PPV
    Share of alerts that are true: ``p s / (p s + (1 - p) f)`` with ``p`` the quarterly
    prevalence, ``s`` the share of relapses alerted (within 14 days) and ``f`` the false
    episodes per 90 person-days (one quarter ~ 91 days). This is per alert, not per person,
    and assumes a relapsing patient gets one true alert and no false ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phenotyping.features.sleep import circular_mean_minutes

QUARTER_DAYS = 91.0
DAY = 1440
F64 = NDArray[np.float64]
_T975 = (  # Student-t 0.975 quantiles, df = 1..30 (any statistics table)
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


# --------------------------------------------------------------------------- outcomes
def detection_day(alert_days: Sequence[int], onset_day: int) -> int | None:
    """Days of deterioration seen when the first alert at or after the onset came
    (1 = on the onset day itself); None if none came.

    Examples
    --------
    >>> detection_day([10, 52, 55], 48), detection_day([10], 48), detection_day([48], 48)
    (5, None, 1)
    """
    later = [d for d in alert_days if d >= onset_day]
    return min(later) - onset_day + 1 if later else None


def within(days: Sequence[int | None], horizon: int) -> float:
    """Share of runs detected by day ``horizon`` (NaN for no runs).

    Examples
    --------
    >>> within([1, 7, 8, None], 7)
    0.5
    """
    if not days:
        return math.nan
    return sum(1 for d in days if d is not None and d <= horizon) / len(days)


def delay_summary(days: Sequence[int | None], horizons: Sequence[int] = (7, 14)) -> dict[str, Any]:
    """Fraction detected within each horizon (of all runs), and median, quartiles and
    maximum of the detection day over the detected runs; ``never`` counts the others.

    Examples
    --------
    >>> s = delay_summary([1, 3, 5, None, 9])
    >>> s["within_7"], s["within_14"], s["median"], s["q1"], s["q3"], s["max"], s["never"]
    (0.6, 0.8, 4.0, 2.5, 6.0, 9, 1)
    """
    n = len(days)
    got = np.array([d for d in days if d is not None], dtype=np.float64)
    out: dict[str, Any] = {"n": n}
    for h in horizons:
        out[f"within_{h}"] = float(np.sum(got <= h)) / n if n else math.nan
    if got.size:
        q1, med, q3 = (float(v) for v in np.percentile(got, [25, 50, 75]))
        out.update(median=med, q1=q1, q3=q3, max=int(got.max()))
    else:
        out.update(median=math.nan, q1=math.nan, q3=math.nan, max=None)
    out["never"] = n - int(got.size)
    return out


def per_90(events: int, days: int) -> float:
    """Events per 90 person-days (NaN with no days).

    Examples
    --------
    >>> per_90(2, 180), per_90(0, 0)
    (1.0, nan)
    """
    return 90.0 * events / days if days else math.nan


# --------------------------------------------------------------------------- intervals
def _poisson_cdf(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam), summed in log space."""
    if lam <= 0:
        return 1.0
    terms = [i * math.log(lam) - lam - math.lgamma(i + 1) for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _solve(f: Any, target: float, lo: float, hi: float) -> float:
    """Bisection of a decreasing ``f`` for ``f(x) = target``."""
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def poisson_ci(k: int, days: float, per: float = 90.0) -> tuple[float, float]:
    """Exact (Garwood) 95% interval of a rate of ``k`` events in ``days``, per ``per`` days.

    Examples
    --------
    >>> [round(v, 4) for v in poisson_ci(0, 90)]      # 0 events: upper = -ln(0.025)
    [0.0, 3.6889]
    >>> [round(v, 3) for v in poisson_ci(10, 90)]     # Garwood table: 4.795-18.390
    [4.795, 18.39]
    >>> poisson_ci(3, 0)
    (nan, nan)
    """
    if days <= 0:
        return math.nan, math.nan
    hi_bound = 10.0 * (k + 10)
    upper = _solve(lambda lam: _poisson_cdf(k, lam), 0.025, 0.0, hi_bound)
    lower = 0.0 if k == 0 else _solve(lambda lam: _poisson_cdf(k - 1, lam), 0.975, 0.0, hi_bound)
    return per * lower / days, per * upper / days


def t975(df: int) -> float:
    """0.975 quantile of Student's t with ``df`` degrees of freedom (normal beyond 30).

    Examples
    --------
    >>> t975(9), round(t975(1000), 3)
    (2.262, 1.96)
    """
    if df < 1:
        raise ValueError("t975: df must be >= 1")
    return _T975[df - 1] if df <= len(_T975) else NormalDist().inv_cdf(0.975)


def mean_ci(values: ArrayLike) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval of per-seed values (NaN ignored).

    Examples
    --------
    >>> m, lo, hi = mean_ci([1.0, 2.0, 3.0])   # sd 1, se 1/sqrt(3), t(2) 4.303
    >>> m, round(lo, 3), round(hi, 3)
    (2.0, -0.484, 4.484)
    >>> mean_ci([5.0])[1:]
    (nan, nan)
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if x.size < 2:
        return m, math.nan, math.nan
    half = t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, m - half, m + half


# --------------------------------------------------------------------------- caseload
def ppv(sensitivity: float, false_per_90: float, prevalence: float) -> float:
    """Share of alerts that are true at a quarterly relapse ``prevalence`` (see module).

    Examples
    --------
    >>> round(ppv(0.8, 0.5, 0.2), 4)     # 0.16 / (0.16 + 0.8 * 0.5 * 91/90)
    0.2834
    >>> ppv(0.8, 0.0, 0.2)
    1.0
    """
    f = false_per_90 * QUARTER_DAYS / 90.0
    true = prevalence * sensitivity
    false = (1.0 - prevalence) * f
    return true / (true + false) if true + false > 0 else math.nan


def alerts_per_clinician_week(
    sensitivity: float, false_per_90: float, prevalence: float, caseload: int = 50
) -> float:
    """Expected new alerts per week for ``caseload`` patients (see module).

    Examples
    --------
    >>> round(alerts_per_clinician_week(1.0, 0.0, 0.26), 3)   # 13 relapses a quarter
    1.0
    >>> round(alerts_per_clinician_week(0.0, 90 / 7, 0.0, caseload=1), 3)  # 1 a week
    1.0
    """
    weeks = QUARTER_DAYS / 7.0
    true = prevalence * sensitivity / weeks
    false = (1.0 - prevalence) * false_per_90 * 7.0 / 90.0
    return caseload * (true + false)


# --------------------------------------------------------------------------- effect sizes
def cohens_d(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's d of ``a`` minus ``b`` with the pooled SD (ddof=1); NaN values ignored.

    NaN when a group has fewer than 2 values or the pooled SD is 0.

    Examples
    --------
    >>> cohens_d([1.0, 2.0, 3.0], [3.0, 4.0, 5.0])
    -2.0
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size < 2 or y.size < 2:
        return math.nan
    pooled = ((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2)
    if pooled <= 0:
        return math.nan
    return float((x.mean() - y.mean()) / math.sqrt(pooled))


def cliffs_delta(a: ArrayLike, b: ArrayLike) -> float:
    """Cliff's delta: P(a > b) - P(a < b) over all pairs; NaN values ignored.

    Examples
    --------
    >>> cliffs_delta([3.0, 4.0], [1.0, 2.0]), cliffs_delta([1.0, 3.0], [2.0, 2.0])
    (1.0, 0.0)
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if not x.size or not y.size:
        return math.nan
    diff = np.sign(x[:, None] - y[None, :])
    return float(diff.mean())


def unwrap_clock(minutes: ArrayLike) -> F64:
    """Clock times re-expressed on a linear axis around their circular mean (so 23:50 and
    00:10 are 20 minutes apart), for statistics that need a line, not a circle.

    Examples
    --------
    >>> unwrap_clock([1400.0, 20.0, np.nan]).round(6).tolist()   # centre 23:50
    [1400.0, 1460.0, nan]
    """
    x = np.asarray(minutes, dtype=np.float64)
    c = circular_mean_minutes(x)
    if math.isnan(c):
        return np.full(x.shape, np.nan)
    return np.asarray(c + ((x - c + DAY / 2) % DAY - DAY / 2), dtype=np.float64)
