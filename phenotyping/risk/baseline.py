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
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Columns:
    """What :func:`estimate_columns` needs of the watched features, as arrays (made once
    per feature list, not per day)."""

    features: tuple[Monitored, ...]
    log: NDArray[np.bool_]  # judged as log(x + 1)
    circular: tuple[int, ...]  # clock times
    min_scale: F64

    @classmethod
    def of(cls, features: Sequence[Monitored]) -> Columns:
        return cls(
            features=tuple(features),
            log=np.array([s.log for s in features], dtype=bool),
            circular=tuple(i for i, s in enumerate(features) if s.circular),
            min_scale=np.array([s.min_scale for s in features], dtype=np.float64),
        )


def transform_all(cols: Columns, x: F64) -> F64:
    """:func:`transform` of every feature at once (a row per feature, or one value each)."""
    log = cols.log if x.ndim == 1 else cols.log[:, None]
    return np.where(log, np.log1p(np.maximum(x, 0.0)), x)


def _pymax(a: F64, b: F64 | float) -> F64:
    """``max(a, b)`` of Python floats, elementwise: ``a`` unless ``b > a`` (NaN in ``a``
    stays NaN, as in :func:`estimate`)."""
    return np.where(b > a, b, a)


def estimate_all(
    cols: Columns,
    values: F64,
    tvalues: F64,
    chosen: NDArray[np.bool_],
    weekend: NDArray[np.bool_],
    today_weekend: bool,
    params: RiskParams,
    prior: F64,
    wanted: NDArray[np.bool_],
) -> tuple[F64, F64]:
    """:func:`estimate` of every feature at once: a row per feature, ``values[k][chosen[k]]``
    (in order) are feature ``k``'s baseline values, ``tvalues`` the same transformed
    (:func:`transform_all`), ``weekend`` their day types (broadcast against ``values``),
    ``prior[k]`` its population prior scale (NaN: none). Features not ``wanted`` (too few
    values to be judged) get NaN.

    The arithmetic of :func:`estimate`, feature by feature, bit for bit (tested against
    it): the medians of all features -- day-type centres, then deviations, then absolute
    deviations -- by one sort each (:func:`~phenotyping.risk.stats.row_medians`); the
    circular centre of a clock time by :func:`~phenotyping.risk.stats.robust_center` on its
    values in order (their mean's sum depends on the order); a feature with a ``-0.0``
    value (where a sort may order tied zeros otherwise) by :func:`estimate` itself.

    Examples
    --------
    >>> spec = Monitored("x", "activity", "down", "x", "counts")
    >>> vals = np.array([[10.0, 12, 11, 13, 20, 22, 21]])
    >>> wk = np.array([0, 0, 0, 0, 1, 1, 1], dtype=bool)
    >>> one = np.ones((1, 7), dtype=bool)
    >>> m, s = estimate_all(Columns.of([spec]), vals, vals, one, wk, True,
    ...                     RiskParams(prior_days=0), np.array([np.nan]), np.ones(1, bool))
    >>> m.tolist(), s.tolist()   # as estimate(): weekend median 21
    ([21.0], [1.4826])
    """
    nan = math.nan
    nf, width = values.shape
    if width == 0:  # no days yet
        return np.full(nf, nan), np.full(nf, nan)
    x = np.where(chosen, tvalues, nan)
    n = chosen.sum(axis=1)
    same = chosen & (weekend == today_weekend)
    n_same = same.sum(axis=1)
    m = params.min_per_daytype
    split = (n_same >= m) & (n - n_same >= m) & params.day_of_week
    if split.any():  # the day-type centres and the centres of all values: one sort
        other = chosen & ~same
        both = np.concatenate([n, n_same, n - n_same])
        centres = stats.row_medians(
            np.concatenate([x, np.where(same, x, nan), np.where(other, x, nan)]),
            stats.median_picks(both, width),
        )
        c_all, c_same, c_other = centres[:nf], centres[nf : 2 * nf], centres[2 * nf :]
    else:
        other = same  # not used
        c_all = c_same = c_other = stats.row_medians(x, stats.median_picks(n, width))
    lost = []  # a clock time whose other day type's centre is undefined: no scale
    for k in cols.circular:
        if not wanted[k]:
            continue
        if split[k]:
            c_same[k] = stats.robust_center(x[k][same[k]], circular=True)
            c_other[k] = stats.robust_center(x[k][other[k]], circular=True)
            if math.isnan(c_other[k]):
                lost.append(k)
        else:
            c_all[k] = stats.robust_center(x[k][chosen[k]], circular=True)
    med = np.where(split, c_same, c_all)
    if split.any():
        centre = np.where(same, c_same[:, None], c_other[:, None])
        dev = x - np.where(split[:, None], centre, c_all[:, None])
    else:
        dev = x - c_all[:, None]
    for k in cols.circular:
        dev[k] = stats.wrap_minutes(dev[k])
    picks = stats.median_picks(n, width)
    mid = stats.row_medians(dev, picks)
    own = stats.MAD_TO_SD * stats.row_medians(np.abs(dev - mid[:, None]), picks)
    if params.prior_days > 0:
        n0, nn = params.prior_days, n.astype(np.float64)
        blended = np.sqrt((n0 * prior * prior + nn * own * own) / (n0 + nn))
        scale = np.where(np.isnan(prior), own, _pymax(own, blended))
    else:
        scale = own
    scale = _pymax(scale, cols.min_scale)
    scale[lost] = nan
    bad = ~wanted | np.isnan(med)
    med[bad] = nan
    scale[bad] = nan
    zero = x == 0
    if zero.any():
        for k in np.flatnonzero(wanted & (zero & np.signbit(x)).any(axis=1)).tolist():
            # tied zeros of both signs: the reference's own sort decides
            pick = chosen[k]
            med[k], scale[k] = estimate(
                cols.features[k],
                values[k][pick],
                np.broadcast_to(weekend, values.shape)[k][pick],
                today_weekend,
                params,
                None if math.isnan(prior[k]) else float(prior[k]),
            )
    return med, scale


def back(spec: Monitored, t: float) -> float:
    """A transformed value back in the feature's unit (for the clinician).

    Examples
    --------
    >>> round(back(Monitored("a", "activity", "down", "a", "counts", log=True), 1.0), 4)
    1.7183
    """
    return math.expm1(t) if spec.log else t
