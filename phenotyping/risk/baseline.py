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

from phenotyping.risk import kernels, stats
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
    clock: NDArray[np.bool_]  # the same as a column (a row per feature)
    min_scale: F64
    clock_row: NDArray[np.bool_]  # the same as a row (a value per feature)

    @classmethod
    def of(cls, features: Sequence[Monitored]) -> Columns:
        return cls(
            features=tuple(features),
            log=np.array([s.log for s in features], dtype=bool),
            circular=tuple(i for i, s in enumerate(features) if s.circular),
            clock=np.array([[s.circular] for s in features], dtype=bool),
            min_scale=np.array([s.min_scale for s in features], dtype=np.float64),
            clock_row=np.array([s.circular for s in features], dtype=bool),
        )


def transform_all(cols: Columns, x: F64) -> F64:
    """:func:`transform` of every feature at once (a row per feature, or one value each)."""
    log = cols.log if x.ndim == 1 else cols.log[:, None]
    return np.where(log, np.log1p(np.maximum(x, 0.0)), x)


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
    chosen = chosen & wanted[:, None]  # the rest: no values, so NaN throughout
    x = np.where(chosen, tvalues, nan)
    same = chosen & (weekend == today_weekend)
    n, n_same = chosen.sum(axis=1), same.sum(axis=1)
    n_other = n - n_same
    m = params.min_per_daytype
    split = (n_same >= m) & (n_other >= m)
    if params.day_of_week and split.any():  # the centres of all values and of each day type
        rows = np.concatenate([x, np.where(same, x, nan), np.where(chosen ^ same, x, nan)])
        counts = np.concatenate([n, n_same, n_other])
        circ = [
            k + nf * t for k in cols.circular if wanted[k] for t in ((1, 2) if split[k] else (0,))
        ]
    else:
        split[:] = False
        rows, counts = x, n
        circ = [k for k in cols.circular if wanted[k]]
    around = None  # clock times: circular centres, each from its values in order
    if circ:
        around = stats.circular_centers(rows[circ], stats.median_picks(counts[circ], width))
    picks = stats.median_picks(counts, width)
    centres = stats.row_medians(rows if rows is not x else x.copy(), picks, overwrite=True)
    if around is not None:
        centres[circ] = around
    c_all = centres[:nf]
    if rows is not x:
        c_same = np.where(split, centres[nf : 2 * nf], c_all)
        c_other = np.where(split, centres[2 * nf :], c_all)
        dev = x - np.where(same, c_same[:, None], c_other[:, None])
    else:
        c_same = c_other = c_all
        dev = x - c_all[:, None]
    picks = (picks[0][:nf], picks[1][:nf], picks[2][:nf])
    if cols.circular:
        dev = np.where(cols.clock, stats.wrap_minutes(dev), dev)
    mid = stats.row_medians(dev, picks)
    own = stats.MAD_TO_SD * stats.row_medians(np.abs(dev - mid[:, None]), picks, overwrite=True)
    # max() of estimate as np.maximum: equal whenever the second value is never NaN and
    # zeros never tie with opposite signs (prior > 0, so blended > 0; min_scale >= 0 and
    # scales are never -0.0)
    if params.prior_days > 0:
        n0 = params.prior_days
        blended = np.sqrt((n0 * prior * prior + n * own * own) / (n0 + n))
        scale = np.where(np.isnan(prior), own, np.maximum(own, blended))
    else:
        scale = own
    scale = np.maximum(scale, cols.min_scale)
    med = c_same
    if around is not None and np.isnan(around).any():
        # an undefined circular centre (the clock times cancel out): no median (and no
        # scale), or, when only the other day type's is undefined, no scale
        scale[np.isnan(c_same) | np.isnan(c_other)] = nan
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


def estimate_day(
    cols: Columns,
    values: F64,
    tvalues: F64,
    dates: NDArray[np.int64],
    chosen: NDArray[np.bool_],
    today_weekend: bool,
    params: RiskParams,
    prior: F64,
    need: NDArray[np.int64],
) -> tuple[F64, F64, NDArray[np.bool_]]:
    """:func:`estimate_all` of the features with at least ``need`` chosen values (the
    rest NaN), the day types from the cells' day numbers ``dates`` (one row for all
    features or a row each), in one compiled loop
    (:func:`phenotyping.risk.kernels.estimate_rows`): (medians, scales, which features
    are judged). The same results bit for bit (tested against :func:`estimate_all`). A
    feature the kernel leaves undecided (a ``-0.0`` value, a circular mean at the edge of
    its threshold) is estimated by :func:`estimate`, as :func:`estimate_all` does.

    Examples
    --------
    >>> spec = Monitored("x", "activity", "down", "x", "counts")
    >>> vals = np.array([[10.0, 12, 11, 13, 20, 22, 21]])
    >>> dates = np.arange(19723, 19730)   # 2024-01-01 (a Monday) to the Sunday
    >>> one = np.ones((1, 7), dtype=bool)
    >>> p = RiskParams(prior_days=0, min_per_daytype=2)
    >>> m, s, judged = estimate_day(Columns.of([spec]), vals, vals, dates, one, True, p,
    ...                             np.array([np.nan]), np.array([5]))
    >>> m.tolist(), s.tolist(), judged.tolist()   # the weekend's median (22 + 21) / 2
    ([21.5], [1.4826], [True])
    """
    nf, width = values.shape
    if width == 0:  # no days yet
        return np.full(nf, math.nan), np.full(nf, math.nan), need <= 0
    med, scale, judged, redo = kernels.estimate_rows(
        tvalues,
        chosen,
        dates if dates.ndim == 2 else dates[None, :],
        today_weekend,
        params.day_of_week,
        params.min_per_daytype,
        float(params.prior_days),
        prior,
        need,
        cols.clock_row,
        cols.min_scale,
    )
    if redo.any():
        for k in np.flatnonzero(redo).tolist():
            pick = chosen[k]
            med[k], scale[k] = estimate(
                cols.features[k],
                values[k][pick],
                (np.broadcast_to(dates, values.shape)[k][pick] + 3) % 7 >= 5,
                today_weekend,
                params,
                None if math.isnan(prior[k]) else float(prior[k]),
            )
    return med, scale, judged


def back(spec: Monitored, t: float) -> float:
    """A transformed value back in the feature's unit (for the clinician).

    Examples
    --------
    >>> round(back(Monitored("a", "activity", "down", "a", "counts", log=True), 1.0), 4)
    1.7183
    """
    return math.expm1(t) if spec.log else t
