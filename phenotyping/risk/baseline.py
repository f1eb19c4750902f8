"""Personal baselines: which of the person's days form "usual", and its median and scale.

Window
    The valid values of the ``baseline_days`` days ending ``exclude_recent_days`` before the
    day judged, excluding days inside an episode or its washout and days before a new
    baseline start (a treatment response). While that window holds fewer than
    ``min_baseline_days`` values (warm-up), the person's first valid values since the
    baseline start (up to ``baseline_days``) are used instead, so judging starts on day
    ``min_baseline_days + 1``.
Transform
    Skewed, multiplicative features (activity, steps, RMSSD) are judged as ``log(x + 1)``:
    a 30% drop is the same step whatever a person's level.
Day of week
    With ``day_of_week``, weekend (Sat, Sun) and weekday values get their own median when
    each type has at least ``min_per_daytype`` values; the scale is the MAD of every value's
    deviation from its own type's median. Clock times are circular throughout.
Scale
    ``1.4826 x MAD`` of the person's own values, raised (never lowered) towards the
    population prior (from the tuning controls): ``max(s, sqrt((n0 s_pop^2 + n s^2) /
    (n0 + n)))`` with ``n0 = prior_days``, floored at the feature's ``min_scale``. With 5
    days of one's own a too-small scale is mostly replaced by the prior; a noisy person
    keeps their own, larger scale.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from phenotyping.risk import stats
from phenotyping.risk.monitor import Monitored
from phenotyping.risk.params import RiskParams

F64 = NDArray[np.float64]


def transform(spec: Monitored, x: F64 | float) -> F64:
    """The value the engine judges: ``log(x + 1)`` for log features, else ``x``.

    Examples
    --------
    >>> float(transform(Monitored("a", "activity", "down", "a", "counts", log=True), np.e - 1))
    1.0
    """
    v = np.asarray(x, dtype=np.float64)
    return np.log1p(np.maximum(v, 0.0)) if spec.log else v


def _center(x: F64, circular: bool) -> float:
    return stats.robust_center(x, circular=circular)


def _dev(x: F64, c: float, circular: bool) -> F64:
    d = x - c
    return np.asarray(stats.wrap_minutes(d), dtype=np.float64) if circular else d


def estimate(
    spec: Monitored,
    values: F64,
    weekend: NDArray[np.bool_],
    today_weekend: bool,
    params: RiskParams,
    prior: float | None,
) -> tuple[float, float]:
    """(median, scale) in transformed units of the baseline ``values`` for today's day type.

    Examples
    --------
    >>> spec = Monitored("x", "activity", "down", "x", "counts")
    >>> vals = np.array([10.0, 12, 11, 13, 20, 22, 21])
    >>> wk = np.array([0, 0, 0, 0, 1, 1, 1], dtype=bool)
    >>> p = RiskParams(prior_days=0)
    >>> estimate(spec, vals, wk, True, p, None)   # weekend median 21; deviations
    (21.0, 1.4826)
    """
    x = transform(spec, values)
    if x.size == 0:
        return math.nan, math.nan
    circ = spec.circular
    same = weekend == today_weekend
    m = params.min_per_daytype
    if params.day_of_week and same.sum() >= m and (~same).sum() >= m:
        c_same, c_other = _center(x[same], circ), _center(x[~same], circ)
        dev = np.concatenate([_dev(x[same], c_same, circ), _dev(x[~same], c_other, circ)])
        med = c_same
    else:
        med = _center(x, circ)
        dev = _dev(x, med, circ)
    if math.isnan(med):
        return math.nan, math.nan
    own = stats.MAD_TO_SD * stats.median(np.abs(dev - stats.median(dev)))
    n = float(x.size)
    if prior is not None and params.prior_days > 0:
        n0 = params.prior_days
        scale = max(own, math.sqrt((n0 * prior * prior + n * own * own) / (n0 + n)))
    else:
        scale = own
    return med, max(scale, spec.min_scale)


def back(spec: Monitored, t: float) -> float:
    """A transformed value back in the feature's unit (for the clinician).

    Examples
    --------
    >>> round(back(Monitored("a", "activity", "down", "a", "counts", log=True), 1.0), 4)
    1.7183
    """
    return math.expm1(t) if spec.log else t
