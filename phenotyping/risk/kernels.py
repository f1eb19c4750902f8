"""The risk engine's per-day numeric core, compiled (issue 12).

:func:`estimate_rows` is :func:`phenotyping.risk.baseline.estimate_all` -- every watched
feature's baseline median and scale for one day -- as one compiled loop instead of ~40
small NumPy calls (their dispatch, not their arithmetic, was the cost: ~13 features of
<= 56 values a day). Compiled like the day engine's kernels, through
:func:`phenotyping.features._jit.njit` (``cache=True``, no ``fastmath``, no ``parallel``),
so ``numba`` is still imported in ``features`` only.

Bit for bit the NumPy function's arithmetic (tested against it,
``tests/risk/test_risk_kernels.py``):

- a median is the middle value or ``(a + b) / 2`` of the middle pair, whatever puts them
  there (a selection here, a sort there): the same values, except among tied zeros of
  both signs, so a feature with a ``-0.0`` value is flagged and estimated by the
  reference :func:`~phenotyping.risk.baseline.estimate` (as ``estimate_all`` does);
- a circular mean sums the cosines and sines of a row's values in order with NumPy's
  pairwise summation (:func:`~phenotyping.features.kernels.pairwise_sum`); the angles are
  NumPy's ``2 * np.pi * x / 1440`` and their cosines and sines the C library's, as
  NumPy's are on x86-64 without AVX-512 (this machine and CI's; a NumPy that uses its
  own SIMD routines for float64 ``np.cos`` could differ in the last bit, which the tests
  against ``estimate_all`` would show);
- ``math.hypot`` is numba's own, not CPython's: a resultant within 0.1 % of the 1e-9
  threshold is flagged and left to the reference as well (never met in practice).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from phenotyping.features._jit import njit
from phenotyping.features.kernels import pairwise_sum

F64 = NDArray[np.float64]
DAY = 1440.0
HALF = 720.0


@njit
def _kth(a: F64, n: int, k: int) -> float:
    """The ``k``-th smallest of ``a[:n]`` (0-based), partially ordering ``a`` in place so
    that ``a[:k]`` are all <= it (no NaN in ``a[:n]``)."""
    lo, hi = 0, n - 1
    while hi > lo:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return float(a[k])


@njit
def _median(a: F64, n: int) -> float:
    """:func:`phenotyping.risk.stats.median` of ``a[:n]`` (reorders ``a``; NaN if empty)."""
    if n == 0:
        return np.nan
    h = n // 2
    upper = _kth(a, n, h)
    if n % 2:
        return float(upper)
    lower = float(a[0])
    for i in range(1, h):
        if a[i] > lower:
            lower = a[i]
    return (lower + upper) / 2


@njit
def _wrap(d: float) -> float:
    return (d + HALF) % DAY - HALF


@njit
def _centre(x: F64, cos: F64, sin: F64, n: int, circular: bool, work: F64) -> tuple[float, bool]:
    """(robust centre of ``x[:n]``, whether the reference must decide it): the median,
    or for a clock time the circular mean (from the values' ``cos``/``sin``) plus the
    median of the wrapped deviations from it, as ``stats.circular_centers``."""
    if n == 0:
        return np.nan, False
    if not circular:
        for i in range(n):
            work[i] = x[i]
        return _median(work, n), False
    c = pairwise_sum(cos, 0, n) / n
    s = pairwise_sum(sin, 0, n) / n
    r = math.hypot(c, s)
    if 0.999e-9 < r < 1.001e-9:  # numba's hypot is not CPython's: too close to call
        return np.nan, True
    if r < 1e-9:
        return np.nan, False
    center = (math.atan2(s, c) * DAY / (2 * np.pi)) % DAY
    for i in range(n):
        work[i] = _wrap(x[i] - center)
    return (center + _median(work, n)) % DAY, False


@njit
def estimate_rows(
    tvalues: F64,
    chosen: NDArray[np.bool_],
    dates: NDArray[np.int64],
    today_weekend: bool,
    day_of_week: bool,
    min_per_daytype: int,
    prior_days: float,
    prior: F64,
    need: NDArray[np.int64],
    circular: NDArray[np.bool_],
    min_scale: F64,
) -> tuple[F64, F64, NDArray[np.bool_], NDArray[np.bool_]]:
    """``estimate_all``'s (median, scale) of every feature judged, which features are
    judged (``need[k]`` chosen values or more: ``estimate_all``'s ``wanted``), and which
    features the reference must estimate (a ``-0.0`` value, or a circular mean too close
    to call).

    ``tvalues``/``chosen``: a row per feature (``baseline.estimate_all``'s ``tvalues`` and
    ``chosen``); ``dates``: the cells' day numbers (their day types), one row for all
    features or a row each; ``circular``: the clock times."""
    nf, width = tvalues.shape
    med = np.full(nf, np.nan)
    scale = np.full(nf, np.nan)
    redo = np.zeros(nf, np.bool_)
    judged = np.zeros(nf, np.bool_)
    xs = np.empty(width)  # the feature's chosen values in order: same day type first
    cs = np.empty(width)
    sn = np.empty(width)
    dev = np.empty(width)
    work = np.empty(width)
    same_type = np.empty((dates.shape[0], width), np.bool_)
    for r in range(dates.shape[0]):
        for j in range(width):  # a Saturday or a Sunday (features.time.is_weekend)
            same_type[r, j] = ((dates[r, j] + 3) % 7 >= 5) == today_weekend
    one_week = dates.shape[0] == 1
    for k in range(nf):
        wr = 0 if one_week else k
        circ = circular[k]
        ns = 0
        n = 0
        for j in range(width):
            if chosen[k, j]:
                n += 1
                if same_type[wr, j]:
                    ns += 1
        if n < need[k]:
            continue
        judged[k] = True
        if n == 0:
            continue
        signed_zero = False
        # the values in order, those of today's day type first then the others (each
        # group in order: the circular means sum each group's values in order); the
        # angles as NumPy's ``2 * np.pi * values / 1440`` and their cos and sin
        a, b = 0, ns
        for j in range(width):
            if not chosen[k, j]:
                continue
            v = tvalues[k, j]
            if v == 0.0 and math.copysign(1.0, v) < 0:
                signed_zero = True
            if same_type[wr, j]:
                at = a
                a += 1
            else:
                at = b
                b += 1
            xs[at] = v
            if circ:
                ang = 2 * np.pi * v / DAY
                cs[at] = np.cos(ang)
                sn[at] = np.sin(ang)
        if signed_zero:
            redo[k] = True
            continue
        no = n - ns
        split = day_of_week and ns >= min_per_daytype and no >= min_per_daytype
        if split:
            c_same, r1 = _centre(xs, cs, sn, ns, circ, work)
            c_other, r2 = _centre(xs[ns:], cs[ns:], sn[ns:], no, circ, work)
        else:
            # all values in order of their dates, not grouped by day type (the mean's sum)
            if circ:
                m = 0
                for j in range(width):
                    if chosen[k, j]:
                        v = tvalues[k, j]
                        ang = 2 * np.pi * v / DAY
                        xs[m], cs[m], sn[m] = v, np.cos(ang), np.sin(ang)
                        m += 1
            c_same, r1 = _centre(xs, cs, sn, n, circ, work)
            c_other, r2 = c_same, False
        if r1 or r2:
            redo[k] = True
            continue
        med[k] = c_same
        if math.isnan(c_same) or math.isnan(c_other):
            continue  # an undefined circular centre: no scale
        for i in range(n):
            d = xs[i] - (c_same if i < ns else c_other)
            dev[i] = _wrap(d) if circ else d
        for i in range(n):
            work[i] = dev[i]
        mid = _median(work, n)
        for i in range(n):
            work[i] = abs(dev[i] - mid)
        own = 1.4826 * _median(work, n)
        s = own
        if prior_days > 0 and not math.isnan(prior[k]):
            p = prior[k]
            blended = math.sqrt((prior_days * p * p + n * own * own) / (prior_days + n))
            s = own if own >= blended else blended
        scale[k] = s if s >= min_scale[k] else min_scale[k]
    return med, scale, judged, redo


SCORED, RISING, ABOVE_FLOOR = 1, 2, 4


@njit
def advance_signals(
    today: F64,
    med: F64,
    scale: F64,
    held: NDArray[np.bool_],
    circular: NDArray[np.bool_],
    z_clip: float,
    feat: NDArray[np.int64],
    sign: F64,
    root: F64,
    size: NDArray[np.int64],
    first_only: NDArray[np.bool_],
    k: F64,
    gated: NDArray[np.bool_],
    gate: float,
    lam: float,
    day_held: bool,
    d: int,
    c: F64,
    run: NDArray[np.int64],
    ewma: F64,
    damped: NDArray[np.bool_],
    floor: float,
    factor: float,
    h: float,
    h_single: float,
) -> tuple[F64, float, NDArray[np.int8]]:
    """One day of the engine's z-scores, signal scores and CUSUMs, as
    ``RiskState._update_signals`` and the z loop of ``assess`` do it (tested against
    them): (the features' clipped z, the evidence, per signal ``SCORED | RISING |
    ABOVE_FLOOR`` flags). ``c``, ``run`` and ``ewma`` are updated in place.

    ``today``, ``med``, ``scale``: transformed values and baselines; ``held``: a feature's
    value covers an explained day; signal ``j``'s members are ``feat[j, g, :size[j, g]]``
    (group 0: members, 1: fallback) with ``sign`` and ``root`` (``sqrt(window_days)``);
    ``gated``: the late-phase signal (no positive score on a clearly more active day,
    ``change.counter_evidence``); ``damped``: the signals ``contacted_fine`` damps today
    (``feedback.damp``, only for the evidence)."""
    nf = today.size
    z = np.full(nf, np.nan)
    for i in range(nf):
        t = today[i]
        s = scale[i]
        if math.isfinite(t) and math.isfinite(s) and s > 0 and not held[i]:
            dev = t - med[i]
            if circular[i]:
                dev = _wrap(dev)
            q = dev / s
            q = q if q < z_clip else z_clip  # min(z_clip, q) (NaN: z_clip, as min does)
            z[i] = q if q > -z_clip else -z_clip
    ns = c.size
    flags = np.zeros(ns, np.int8)
    buf = np.empty(max(feat.shape[2], 1))
    if not day_held:
        for j in range(ns):
            u = np.nan
            for g in range(2):
                n = 0
                for m in range(size[j, g]):
                    i = feat[j, g, m]
                    if math.isfinite(z[i]):
                        buf[n] = sign[j, g, m] * z[i] / root[j, g, m]
                        n += 1
                        if first_only[j]:
                            break
                if n:  # np.mean of the values: the same pairwise sum over the count
                    u = pairwise_sum(buf, 0, n) / n
                    break
            if not math.isfinite(u):
                continue
            flags[j] |= SCORED
            if gated[j]:
                act = ewma[0]  # activity, updated before the phase signals
                if math.isfinite(act) and act <= -gate and 0.0 < u:
                    u = 0.0
            before = c[j]
            after = before + u - k[j]
            if not after > 0.0:
                after = 0.0
            if after > 0 and before == 0:
                run[j] = d
            if after == 0:
                run[j] = -1
            if after > before:
                flags[j] |= RISING
            c[j] = after
            ew = ewma[j]
            ewma[j] = u if math.isnan(ew) else lam * u + (1 - lam) * ew
    over = np.empty(ns)
    top = 0.0
    for j in range(ns):
        cj = c[j]
        if damped[j] and cj > floor:
            cj = floor + (cj - floor) / factor
        if cj > floor:
            flags[j] |= ABOVE_FLOOR
        v = cj - floor
        over[j] = v if v >= 0.0 else 0.0
        if not top >= cj:
            top = cj
    total = pairwise_sum(over, 0, ns) / h
    single = top / h_single
    return z, (single if single > total else total), flags


@njit
def choose_window(
    elig: NDArray[np.bool_],
    dates: NDArray[np.int64],
    baseline_from: int,
    end: int,
    days: int,
    d: int,
    need: NDArray[np.int64],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Every feature's baseline cells for day ``d`` as ``RiskState._baselines`` chooses
    them without remission days (tested against ``RiskState._baseline``, feature by
    feature): (chosen cells, which features take the warm-up baseline).

    A feature's window is its eligible values since ``baseline_from`` dated in
    ``(end - days, end]``; with fewer than ``need[k]`` of them, its first ``days``
    eligible values since ``baseline_from`` dated before ``d`` (the warm-up baseline)."""
    nf, width = elig.shape
    chosen = np.zeros((nf, width), np.bool_)
    warm = np.zeros(nf, np.bool_)
    for k in range(nf):
        n = 0
        for j in range(width):
            t = dates[j]
            if elig[k, j] and t >= baseline_from and end - days < t <= end:
                chosen[k, j] = True
                n += 1
        if n >= need[k]:
            continue
        warm[k] = True
        m = 0
        for j in range(width):
            t = dates[j]
            chosen[k, j] = m < days and elig[k, j] and baseline_from <= t < d
            if chosen[k, j]:
                m += 1
    return chosen, warm
