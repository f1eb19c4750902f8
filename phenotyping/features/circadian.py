"""Non-parametric circadian rhythm measures and a closed-form cosinor.

Interdaily stability (IS), intradaily variability (IV), L5, M10 and relative
amplitude (RA) over a minute-level activity series, reproducing the conventions of
pyActigraphy 1.2.2 (Hammad et al., PLoS Comput Biol 2021) exactly for a series
without missing minutes, plus a linear least-squares cosinor.

Time axis
---------
A series is a contiguous run of minutes: sample ``k`` sits at local minute-of-day
``(start_minute_of_day + k) mod 1440``. This is pyActigraphy's "sample-index" time
(first timestamp + ``k`` minutes; daylight-saving jumps are the caller's business).

pyActigraphy conventions reproduced (read from its source, ``metrics/metrics.py``,
``io/base.py``, ``utils/utils.py``)
----------------------------------------------------------------------------
* Binarisation: ``1`` where ``count > threshold`` (strictly greater), else ``0``;
  NaN stays NaN (as in pyActigraphy 1.x ``binarized_data``).
* IS and IV use hourly **sums**: ``resample('1H', origin='start').sum()``. Hour bins
  are anchored on the **first sample**, not on the clock: a recording starting at
  09:30 has bins 09:30-10:29, 10:30-11:29, ... Only the last bin can be partial; it
  is kept as the sum of the minutes it holds. A bin's hour of day is the hour of its
  first minute. (Clock-aligned bins were tried and miss the reference by up to 28 %
  on recordings that do not start on the hour.)
* ``IS = var(profile_24) / var(hourly)`` and ``IV = mean(diff(hourly) ** 2) /
  var(hourly)``, where ``profile_24`` is the mean of the hourly sums per hour of day
  and both variances are sample variances (``ddof=1``, the pandas default). This is
  not the textbook ``n/p`` scaling; it is what pyActigraphy computes.
* L5 and M10 are found on the average daily profile at the **native 1-minute
  resolution** (mean per minute of day over all days, partial days included). The
  profile is made cyclic (two copies concatenated), windows of 300 / 600 minutes
  starting at every minute of the day are summed, the min / max sum is taken and
  divided by the window length. So L5 and M10 are in counts per minute (or the
  fraction of active minutes when binarised).
* ``RA = (M10 - L5) / (M10 + L5)``.

Missing minutes (NaN)
---------------------
A NaN minute is "not observed", which differs from "outside the recording":

* Hourly value: ``sum(observed) * n_span / n_observed``, where ``n_span`` is the
  number of minutes of that hour bin that lie inside the series (60, or fewer for
  the last bin). It is NaN when ``n_observed / n_span < min_coverage``. With no NaN
  the scale is exactly 1, so the value is pyActigraphy's plain sum (partial last
  bin included). pyActigraphy itself would sum only the observed minutes (an
  all-NaN hour becomes 0); the rescaling and the coverage rule are ours.
* IS and IV then follow pandas' skip-NaN semantics on the hourly series, as
  pyActigraphy does with masked hours: NaN hours are left out of the means and
  variances, hours of day with no valid hour are left out of ``profile_24``, and
  only pairs of consecutive valid hours enter the IV numerator.
* Daily profile: the mean over observed minutes only; a minute of day that was
  never observed is NaN.
* L5 / M10 window value: the mean of the observed profile minutes in the window.
  Windows with less than ``min_coverage`` of their minutes observed are skipped.
* Cosinor: fitted on the observed minutes only, at their own times.
* A metric that cannot be computed (too little data, zero variance, e.g. a constant
  series) is NaN. Nothing warns.

Examples
--------
>>> import numpy as np
>>> day = np.r_[np.zeros(720), np.full(720, 10.0)]
>>> s = circadian_summary(np.tile(day, 7), start_minute_of_day=0)
>>> s["L5"], s["M10"], s["RA"]
(0.0, 10.0, 1.0)

A perfectly periodic series does not give IS = 1 under the ``ddof=1`` convention
but ``p (n - 1) / (n (p - 1))`` with ``p = 24`` hours of day and ``n`` hours:

>>> bool(np.isclose(s["IS"], 24 * 167 / (168 * 23)))
True
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phenotyping.features.time import MINUTES_PER_DAY

__all__ = [
    "MINUTES_PER_DAY",
    "CosinorFit",
    "average_daily_profile",
    "binarize_counts",
    "circadian_summary",
    "cosinor",
    "cosinor_basis",
    "cosinor_from_phase_sums",
    "day_rows_summary",
    "hourly_totals",
    "interdaily_stability",
    "intradaily_variability",
    "l5",
    "least_most_active",
    "m10",
    "relative_amplitude",
    "trailing_window",
]

_MINUTES_PER_HOUR = 60
_HOURS_PER_DAY = 24
_DEFAULT_THRESHOLD = 4.0
_DEFAULT_MIN_COVERAGE = 0.5


class CosinorFit(NamedTuple):
    """Result of :func:`cosinor`: ``y = mesor + amplitude * cos(2 pi t / period + acrophase)``.

    ``amplitude >= 0`` and ``0 <= acrophase < 2 pi`` (radians), pyActigraphy's range.
    ``t`` is in minutes since the first sample unless a time axis was given.
    """

    mesor: float
    amplitude: float
    acrophase: float
    period: float


# --------------------------------------------------------------------------- helpers


def _as_series(counts: ArrayLike) -> NDArray[np.float64]:
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"counts must be 1-D, got shape {x.shape}")
    return x


def _prepare(counts: ArrayLike, binarize: bool, threshold: float) -> NDArray[np.float64]:
    x = _as_series(counts)
    return binarize_counts(x, threshold) if binarize else x


def _sample_var(x: NDArray[np.float64]) -> float:
    """Sample variance (ddof=1) of the finite values; NaN when fewer than two."""
    v = x[np.isfinite(x)]
    if v.size < 2:
        return float("nan")
    # np.var(v, ddof=1) spelt out: the same pairwise sums and divisions, without its
    # Python wrapper (three calls per closed day)
    d = v - np.add.reduce(v) / v.size
    return float(np.add.reduce(d * d) / (v.size - 1))


def _ratio(num: float, den: float) -> float:
    if not (np.isfinite(num) and np.isfinite(den)) or den <= 0.0:
        return float("nan")
    return num / den


def _padded_blocks(
    x: NDArray[np.float64], offset: int, block: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Lay ``x`` on a grid of blocks of ``block`` minutes, ``x[0]`` at position ``offset``.

    Returns (values with NaN and padding set to 0, observed mask, in-series mask),
    each 2-D ``(n_blocks, block)``.
    """
    n_blocks = -(-(offset + x.size) // block)
    size = n_blocks * block
    values = np.zeros(size)
    observed = np.zeros(size, dtype=bool)
    in_span = np.zeros(size, dtype=bool)
    obs = ~np.isnan(x)
    values[offset : offset + x.size] = np.where(obs, x, 0.0)
    observed[offset : offset + x.size] = obs
    in_span[offset : offset + x.size] = True
    return (
        values.reshape(n_blocks, block),
        observed.reshape(n_blocks, block),
        in_span.reshape(n_blocks, block),
    )


# --------------------------------------------------------------------------- building blocks


def binarize_counts(
    counts: ArrayLike, threshold: float = _DEFAULT_THRESHOLD
) -> NDArray[np.float64]:
    """Binarise activity: 1.0 where ``count > threshold`` (strict), 0.0 otherwise, NaN kept.

    Parameters
    ----------
    counts : array_like
        Minute counts, NaN for missing minutes.
    threshold : float, default 4
        pyActigraphy's default threshold.

    Returns
    -------
    numpy.ndarray
        Float array of 0.0 / 1.0 / NaN.

    Examples
    --------
    >>> binarize_counts([0.0, 4.0, 4.5, float("nan"), 10.0])
    array([ 0.,  0.,  1., nan,  1.])
    """
    x = _as_series(counts)
    out = (x > threshold).astype(np.float64)
    out[np.isnan(x)] = np.nan
    return out


def hourly_totals(
    counts: ArrayLike,
    start_minute_of_day: int,
    *,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Hourly sums anchored on the first sample (pyActigraphy ``resample('1H', origin='start')``).

    Parameters
    ----------
    counts : array_like
        Minute values, sample ``k`` at minute-of-day ``start_minute_of_day + k``.
    start_minute_of_day : int
        Local minute of day (0..1439) of the first sample.
    min_coverage : float, default 0.5
        Minimum fraction of a bin's in-series minutes that must be observed (non-NaN);
        below it the hour is NaN. Observed hours are scaled to the in-series minutes:
        ``sum * n_span / n_observed`` (exactly the sum when nothing is missing).

    Returns
    -------
    hourly : numpy.ndarray
        One value per 60-minute bin ``[60 j, 60 (j + 1))`` of the series; the last
        bin may hold fewer minutes.
    hour_of_day : numpy.ndarray
        Hour of day (0..23) of each bin's first minute.

    Examples
    --------
    >>> h, hod = hourly_totals(np.ones(135), start_minute_of_day=9 * 60 + 15)
    >>> h, hod
    (array([60., 60., 15.]), array([ 9, 10, 11]))
    >>> hourly_totals([1.0, float("nan"), 3.0, 4.0], 0)[0]
    array([10.66...])
    """
    x = _as_series(counts)
    if x.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    values, observed, in_span = _padded_blocks(x, 0, _MINUTES_PER_HOUR)
    total = values.sum(axis=1)
    n_obs = observed.sum(axis=1)
    n_span = in_span.sum(axis=1)
    ok = (n_obs > 0) & (n_obs >= min_coverage * n_span)
    scale = np.divide(n_span, n_obs, out=np.ones(n_obs.size), where=ok)
    hourly = np.where(ok, total * scale, np.nan)
    first = (int(start_minute_of_day) % MINUTES_PER_DAY) // _MINUTES_PER_HOUR
    hour_of_day = (first + np.arange(hourly.size, dtype=np.int64)) % _HOURS_PER_DAY
    return hourly, hour_of_day


def average_daily_profile(counts: ArrayLike, start_minute_of_day: int) -> NDArray[np.float64]:
    """Mean value per minute of day over all (partial) days, NaN where never observed.

    Parameters
    ----------
    counts : array_like
        Minute values, NaN for missing minutes.
    start_minute_of_day : int
        Local minute of day of the first sample.

    Returns
    -------
    numpy.ndarray
        Length-1440 profile indexed by local minute of day.

    Examples
    --------
    >>> p = average_daily_profile(np.arange(2880.0), start_minute_of_day=0)
    >>> float(p[0]), float(p[1439])
    (720.0, 2159.0)
    >>> bool(np.isnan(average_daily_profile([5.0], 10)[0]))
    True
    """
    x = _as_series(counts)
    offset = int(start_minute_of_day) % MINUTES_PER_DAY
    values, observed, _ = _padded_blocks(x, offset, MINUTES_PER_DAY)
    total = values.sum(axis=0)
    n_obs = observed.sum(axis=0)
    profile: NDArray[np.float64] = np.divide(
        total, n_obs, out=np.full(MINUTES_PER_DAY, np.nan), where=n_obs > 0
    )
    return profile


def least_most_active(
    profile: ArrayLike,
    window_minutes: int,
    *,
    lowest: bool,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
) -> tuple[int, float]:
    """Start and mean of the least (or most) active cyclic window of a daily profile.

    Windows start at every minute of the day and wrap around midnight (pyActigraphy's
    cyclic profile). The window value is the mean of its observed profile minutes;
    windows with less than ``min_coverage`` of their minutes observed are skipped.
    Ties go to the earliest start.

    Parameters
    ----------
    profile : array_like
        Length-1440 daily profile (see :func:`average_daily_profile`).
    window_minutes : int
        300 for L5, 600 for M10.
    lowest : bool
        True for the least active window, False for the most active.
    min_coverage : float, default 0.5
        Minimum observed fraction of a window.

    Returns
    -------
    start_minute : int
        Minute of day at which the window starts (-1 if none qualifies).
    value : float
        Mean activity in that window (NaN if none qualifies).

    Examples
    --------
    >>> prof = np.ones(1440)
    >>> prof[60:360] = 0.0
    >>> least_most_active(prof, 300, lowest=True)
    (60, 0.0)
    >>> least_most_active(prof, 600, lowest=False)
    (360, 1.0)
    """
    p = _as_series(profile)
    if p.size == 0 or not 0 < window_minutes <= p.size:
        return -1, float("nan")
    cs, cn = _cyclic_running_sums(p, window_minutes)
    return _extreme_window(cs, cn, p.size, window_minutes, lowest, min_coverage)


def _cyclic_running_sums(
    p: NDArray[np.float64], longest: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Running sums (leading 0) of the observed values and counts of the cyclic profile
    extended by ``longest - 1`` minutes: a shorter window's sums are their prefix (a
    cumulative sum's prefix is the cumulative sum of the prefix), so L5 and M10 share it."""
    obs = ~np.isnan(p)
    v = np.where(obs, p, 0.0)
    cs = np.zeros(p.size + longest)
    np.cumsum(np.concatenate([v, v[: longest - 1]]), out=cs[1:])
    cn = np.zeros(p.size + longest, np.int64)
    # running sums: O(n) instead of O(n * window); exact for the integer observation counts
    np.cumsum(np.concatenate([obs, obs[: longest - 1]]), out=cn[1:])
    return cs, cn


def _extreme_window(
    cs: NDArray[np.float64],
    cn: NDArray[np.int64],
    size: int,
    window_minutes: int,
    lowest: bool,
    min_coverage: float,
) -> tuple[int, float]:
    sums = cs[window_minutes : size + window_minutes] - cs[:size]
    n_obs = cn[window_minutes : size + window_minutes] - cn[:size]
    ok = (n_obs > 0) & (n_obs >= min_coverage * window_minutes)
    if not ok.any():
        return -1, float("nan")
    means = np.divide(sums, n_obs, out=np.full(sums.size, np.nan), where=ok)
    fill = np.inf if lowest else -np.inf
    scored = np.where(ok, means, fill)
    start = int(np.argmin(scored) if lowest else np.argmax(scored))
    return start, float(means[start])


# --------------------------------------------------------------------------- metrics


def _is_from_hourly(hourly: NDArray[np.float64], hour_of_day: NDArray[np.int64]) -> float:
    valid = ~np.isnan(hourly)
    sums = np.bincount(hour_of_day[valid], weights=hourly[valid], minlength=_HOURS_PER_DAY)
    n = np.bincount(hour_of_day[valid], minlength=_HOURS_PER_DAY)
    profile_24 = sums[n > 0] / n[n > 0]
    return _ratio(_sample_var(profile_24), _sample_var(hourly))


def _iv_from_hourly(hourly: NDArray[np.float64]) -> float:
    d = np.diff(hourly)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return float("nan")
    return _ratio(float(np.add.reduce(d * d) / d.size), _sample_var(hourly))  # np.mean


def interdaily_stability(
    counts: ArrayLike,
    start_minute_of_day: int,
    *,
    binarize: bool = False,
    threshold: float = _DEFAULT_THRESHOLD,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
) -> float:
    """Interdaily stability on hourly sums (pyActigraphy ``IS(freq='1H')``).

    ``IS = var(mean hourly sum per hour of day) / var(hourly sums)``, both with
    ``ddof=1``. See the module notes for NaN handling. Because of ``ddof=1`` a
    perfectly 24-h periodic series of ``n`` whole-day hours gives
    ``24 (n - 1) / (23 n)``, slightly above 1, not the textbook 1.

    Parameters
    ----------
    counts : array_like
        Minute counts, NaN for missing minutes.
    start_minute_of_day : int
        Local minute of day of the first sample.
    binarize : bool, default False
        Apply :func:`binarize_counts` first.
    threshold : float, default 4
        Binarisation threshold.
    min_coverage : float, default 0.5
        Hour coverage threshold (see :func:`hourly_totals`).

    Returns
    -------
    float
        IS, NaN if undefined.

    Examples
    --------
    >>> day = np.r_[np.zeros(600), np.full(840, 3.0)]
    >>> interdaily_stability(np.tile(day, 5), 0)  # 24 * 119 / (23 * 120)
    1.0347826...
    >>> interdaily_stability(np.full(2880, 7.0), 0)
    nan
    """
    x = _prepare(counts, binarize, threshold)
    hourly, hod = hourly_totals(x, start_minute_of_day, min_coverage=min_coverage)
    return _is_from_hourly(hourly, hod)


def intradaily_variability(
    counts: ArrayLike,
    start_minute_of_day: int,
    *,
    binarize: bool = False,
    threshold: float = _DEFAULT_THRESHOLD,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
) -> float:
    """Intradaily variability on hourly sums (pyActigraphy ``IV(freq='1H')``).

    ``IV = mean(diff(hourly) ** 2) / var(hourly, ddof=1)``; only consecutive pairs of
    valid hours enter the numerator.

    Parameters
    ----------
    counts : array_like
        Minute counts, NaN for missing minutes.
    start_minute_of_day : int
        Local minute of day of the first sample.
    binarize : bool, default False
        Apply :func:`binarize_counts` first.
    threshold : float, default 4
        Binarisation threshold.
    min_coverage : float, default 0.5
        Hour coverage threshold (see :func:`hourly_totals`).

    Returns
    -------
    float
        IV, NaN if undefined.

    Examples
    --------
    Hourly sums 0, 60, 0, 60: mean squared step 3600, sample variance 1200.

    >>> x = np.tile(np.r_[np.zeros(60), np.ones(60)], 2)
    >>> intradaily_variability(x, 0)
    3.0
    """
    x = _prepare(counts, binarize, threshold)
    hourly, _ = hourly_totals(x, start_minute_of_day, min_coverage=min_coverage)
    return _iv_from_hourly(hourly)


def l5(
    counts: ArrayLike,
    start_minute_of_day: int,
    *,
    binarize: bool = False,
    threshold: float = _DEFAULT_THRESHOLD,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
) -> float:
    """Mean activity per minute in the least active 5 h of the average day (pyActigraphy ``L5``).

    Parameters
    ----------
    counts : array_like
        Minute counts, NaN for missing minutes.
    start_minute_of_day : int
        Local minute of day of the first sample.
    binarize : bool, default False
        Apply :func:`binarize_counts` first.
    threshold : float, default 4
        Binarisation threshold.
    min_coverage : float, default 0.5
        Window coverage threshold (see :func:`least_most_active`).

    Returns
    -------
    float
        L5, NaN if undefined.

    Examples
    --------
    >>> day = np.r_[np.full(120, 1.0), np.full(1320, 9.0)]
    >>> l5(np.tile(day, 3), 0)
    5.8
    """
    x = _prepare(counts, binarize, threshold)
    prof = average_daily_profile(x, start_minute_of_day)
    _, value = least_most_active(
        prof, 5 * _MINUTES_PER_HOUR, lowest=True, min_coverage=min_coverage
    )
    return value


def m10(
    counts: ArrayLike,
    start_minute_of_day: int,
    *,
    binarize: bool = False,
    threshold: float = _DEFAULT_THRESHOLD,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
) -> float:
    """Mean activity per minute in the most active 10 h of the average day (pyActigraphy ``M10``).

    Parameters
    ----------
    counts : array_like
        Minute counts, NaN for missing minutes.
    start_minute_of_day : int
        Local minute of day of the first sample.
    binarize : bool, default False
        Apply :func:`binarize_counts` first.
    threshold : float, default 4
        Binarisation threshold.
    min_coverage : float, default 0.5
        Window coverage threshold (see :func:`least_most_active`).

    Returns
    -------
    float
        M10, NaN if undefined.

    Examples
    --------
    >>> day = np.r_[np.full(300, 2.0), np.full(1140, 0.0)]
    >>> m10(np.tile(day, 2), 0)
    1.0
    """
    x = _prepare(counts, binarize, threshold)
    prof = average_daily_profile(x, start_minute_of_day)
    _, value = least_most_active(
        prof, 10 * _MINUTES_PER_HOUR, lowest=False, min_coverage=min_coverage
    )
    return value


def _ra(l5_value: float, m10_value: float) -> float:
    return _ratio(m10_value - l5_value, m10_value + l5_value)


def relative_amplitude(
    counts: ArrayLike,
    start_minute_of_day: int,
    *,
    binarize: bool = False,
    threshold: float = _DEFAULT_THRESHOLD,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
) -> float:
    """Relative amplitude ``(M10 - L5) / (M10 + L5)`` (pyActigraphy ``RA``).

    Parameters
    ----------
    counts : array_like
        Minute counts, NaN for missing minutes.
    start_minute_of_day : int
        Local minute of day of the first sample.
    binarize : bool, default False
        Apply :func:`binarize_counts` first.
    threshold : float, default 4
        Binarisation threshold.
    min_coverage : float, default 0.5
        Window coverage threshold (see :func:`least_most_active`).

    Returns
    -------
    float
        RA, NaN when ``M10 + L5 == 0`` or undefined.

    Examples
    --------
    >>> day = np.r_[np.full(300, 1.0), np.full(1140, 3.0)]
    >>> relative_amplitude(np.tile(day, 2), 0)
    0.5
    """
    x = _prepare(counts, binarize, threshold)
    prof = average_daily_profile(x, start_minute_of_day)
    lo = least_most_active(prof, 5 * _MINUTES_PER_HOUR, lowest=True, min_coverage=min_coverage)
    hi = least_most_active(prof, 10 * _MINUTES_PER_HOUR, lowest=False, min_coverage=min_coverage)
    return _ra(lo[1], hi[1])


@functools.lru_cache(maxsize=8)
def cosinor_basis(period: int) -> NDArray[np.float64]:
    """Rows 1, cos, sin of one period (read-only, cached)."""
    angle = 2.0 * np.pi / period * np.arange(period, dtype=np.float64)
    basis = np.stack([np.ones(period), np.cos(angle), np.sin(angle)])
    basis.flags.writeable = False
    return basis


def cosinor(
    counts: ArrayLike,
    *,
    period: float = float(MINUTES_PER_DAY),
    t: ArrayLike | None = None,
) -> CosinorFit:
    """Closed-form single-component cosinor by linear least squares.

    Fits ``y = M + b cos(w t) + c sin(w t)`` with ``w = 2 pi / period`` on the observed
    (non-NaN) samples, then maps to pyActigraphy's parameterisation
    ``y = M + A cos(w t + phi)``: ``A = hypot(b, c)`` and
    ``phi = atan2(-c, b) mod 2 pi``, so ``A >= 0`` and ``0 <= phi < 2 pi`` like
    pyActigraphy's bounded lmfit fit (``Amplitude >= 0``, ``0 <= Acrophase <= 2 pi``).
    The linear fit is the global optimum the non-linear fit aims at: it matches
    pyActigraphy's ``Cosinor`` to ~1e-7 where that fit converged, and fits better
    where it collapsed to amplitude ~ 0 (Depresjon condition_19, control_3, control_18).

    Parameters
    ----------
    counts : array_like
        Values, NaN for missing samples (ignored).
    period : float, default 1440
        Period in the units of ``t`` (minutes).
    t : array_like, optional
        Time of each sample. Default: ``0, 1, 2, ...`` (minutes since the first
        sample), pyActigraphy's x axis.

    Returns
    -------
    CosinorFit
        NaN fields when fewer than 3 samples are observed or the design is singular.
        ``acrophase`` is 0 when the amplitude is exactly 0.

    Examples
    --------
    >>> tt = np.arange(2880.0)
    >>> fit = cosinor(10 + 3 * np.cos(2 * np.pi * tt / 1440 - np.pi / 2))
    >>> round(fit.mesor, 9), round(fit.amplitude, 9), round(fit.acrophase, 9)
    (10.0, 3.0, 4.71238898)
    """
    y = _as_series(counts)
    tt = np.arange(y.size, dtype=np.float64) if t is None else np.asarray(t, dtype=np.float64)
    if tt.shape != y.shape:
        raise ValueError(f"t has shape {tt.shape}, counts has shape {y.shape}")
    obs = ~np.isnan(y) & ~np.isnan(tt)
    nan_fit = CosinorFit(float("nan"), float("nan"), float("nan"), float(period))
    if int(obs.sum()) < 3:
        return nan_fit
    w = 2.0 * np.pi / period
    if t is None and float(period).is_integer() and y.size > period:
        # default axis: the angles repeat every period, so the normal equations reduce to
        # per-phase counts and sums (bincount) times a table of cos/sin of one period
        per = int(period)
        idx = np.flatnonzero(obs)
        phase = idx % per
        n_k = np.bincount(phase, minlength=per).astype(np.float64)
        y_k = np.bincount(phase, weights=y[idx], minlength=per)
        return cosinor_from_phase_sums(n_k, np.asarray(y_k, dtype=np.float64))
    ang = w * tt[obs]
    design = np.stack([np.ones(ang.size), np.cos(ang), np.sin(ang)])
    return _solve_cosinor(design @ design.T, design @ y[obs], float(period))


def cosinor_from_phase_sums(n_k: NDArray[np.float64], y_k: NDArray[np.float64]) -> CosinorFit:
    """The cosinor of a series on the default axis from its per-phase sums.

    ``n_k[j]`` observed samples and their sum ``y_k[j]`` at phase ``j`` (minute of the
    period, ``len(n_k)`` = the period). :func:`cosinor` reduces a series longer than one
    period to exactly these sums, so a caller that keeps them per day (the day engine's
    rolling window) gets the identical fit without the series.

    Examples
    --------
    >>> tt = np.arange(2880.0)
    >>> y = 10 + 3 * np.cos(2 * np.pi * tt / 1440 - np.pi / 2)
    >>> cosinor_from_phase_sums(np.full(1440, 2.0), y[:1440] + y[1440:]) == cosinor(y)
    True
    """
    per = len(n_k)
    if float(np.sum(n_k)) < 3:
        return CosinorFit(float("nan"), float("nan"), float("nan"), float(per))
    basis = cosinor_basis(per)
    return _solve_cosinor((basis * n_k) @ basis.T, basis @ y_k, float(per))


def _solve_cosinor(
    gram: NDArray[np.float64], rhs: NDArray[np.float64], period: float
) -> CosinorFit:
    nan_fit = CosinorFit(float("nan"), float("nan"), float("nan"), period)
    # normal equations (3 x 3): the columns are near-orthogonal over whole days, so this is
    # well conditioned and much cheaper than an SVD-based lstsq on long series
    scale = float(np.max(np.abs(gram)))
    if not scale or abs(float(np.linalg.det(gram / scale))) < 1e-12:
        return nan_fit
    mesor, b, c = (float(v) for v in np.linalg.solve(gram, rhs))
    amplitude = float(np.hypot(b, c))
    acrophase = float(np.mod(np.arctan2(-c, b), 2.0 * np.pi)) if amplitude > 0.0 else 0.0
    if acrophase >= 2.0 * np.pi:  # mod can round up to 2 pi for tiny negative angles
        acrophase = 0.0
    return CosinorFit(mesor, amplitude, acrophase, float(period))


# --------------------------------------------------------------------------- summary / streaming


def circadian_summary(
    counts: ArrayLike,
    start_minute_of_day: int,
    *,
    binarize: bool = False,
    threshold: float = _DEFAULT_THRESHOLD,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
    t: ArrayLike | None = None,
) -> dict[str, float]:
    """All circadian measures of one series, sharing the hourly series and daily profile.

    Parameters
    ----------
    counts : array_like
        Minute counts, NaN for missing minutes.
    start_minute_of_day : int
        Local minute of day of the first sample.
    binarize : bool, default False
        Apply :func:`binarize_counts` first (to every measure, the cosinor included).
    threshold : float, default 4
        Binarisation threshold.
    min_coverage : float, default 0.5
        Coverage threshold for hours and L5/M10 windows.
    t : array_like, optional
        Cosinor time axis in minutes (default: minutes since the first sample).

    Returns
    -------
    dict
        ``IS``, ``IV``, ``L5``, ``M10``, ``RA``, ``L5_start_minute``,
        ``M10_start_minute`` (minute of day, NaN if undefined), ``cosinor_mesor``,
        ``cosinor_amplitude``, ``cosinor_acrophase`` (radians, on the ``t`` axis) and
        ``cosinor_peak_minute_of_day`` (local clock minute of the fitted maximum, valid
        for the default ``t`` axis).

    Examples
    --------
    >>> day = np.r_[np.zeros(480), np.full(960, 5.0)]
    >>> s = circadian_summary(np.tile(day, 4), start_minute_of_day=0, binarize=True)
    >>> s["L5"], s["M10"], s["L5_start_minute"], s["M10_start_minute"]
    (0.0, 1.0, 0.0, 480.0)
    """
    x = _prepare(counts, binarize, threshold)
    hourly, hod = hourly_totals(x, start_minute_of_day, min_coverage=min_coverage)
    prof = average_daily_profile(x, start_minute_of_day)
    lo_start, lo = least_most_active(
        prof, 5 * _MINUTES_PER_HOUR, lowest=True, min_coverage=min_coverage
    )
    hi_start, hi = least_most_active(
        prof, 10 * _MINUTES_PER_HOUR, lowest=False, min_coverage=min_coverage
    )
    fit = cosinor(x, t=t)
    peak = float("nan")
    if np.isfinite(fit.acrophase):
        t_peak = -fit.acrophase / (2.0 * np.pi) * fit.period
        peak = float(np.mod(start_minute_of_day + t_peak, MINUTES_PER_DAY))
    return {
        "IS": _is_from_hourly(hourly, hod),
        "IV": _iv_from_hourly(hourly),
        "L5": lo,
        "M10": hi,
        "RA": _ra(lo, hi),
        "L5_start_minute": float(lo_start) if lo_start >= 0 else float("nan"),
        "M10_start_minute": float(hi_start) if hi_start >= 0 else float("nan"),
        "cosinor_mesor": fit.mesor,
        "cosinor_amplitude": fit.amplitude,
        "cosinor_acrophase": fit.acrophase,
        "cosinor_peak_minute_of_day": peak,
    }


def day_rows_summary(
    hourly: NDArray[np.float64],
    profile_total: NDArray[np.float64],
    profile_n: NDArray[np.int64],
    *,
    min_coverage: float = _DEFAULT_MIN_COVERAGE,
) -> dict[str, float]:
    """:func:`circadian_summary` of a series of whole local days (starting at midnight),
    from per-day parts a rolling window keeps instead of the minutes.

    Parameters
    ----------
    hourly : numpy.ndarray
        The days' hourly values, day after day (:func:`hourly_totals` of each day: a
        day's bins do not depend on the other days when it starts at midnight).
    profile_total, profile_n : numpy.ndarray
        Per minute of day: the sum of the observed values over the days (added day after
        day, oldest first) and how many were observed.

    Returns
    -------
    dict
        Exactly what ``circadian_summary(series, 0)`` returns for the concatenated days
        (more than one day): the same reductions in the same order.

    Examples
    --------
    >>> day = np.r_[np.zeros(480), np.full(960, 5.0)]
    >>> x = np.tile(day, 3)
    >>> x[100:400] = np.nan
    >>> rows = x.reshape(3, 1440)
    >>> parts = day_rows_summary(
    ...     np.concatenate([hourly_totals(r, 0)[0] for r in rows]),
    ...     np.where(np.isnan(rows), 0.0, rows).sum(axis=0),
    ...     (~np.isnan(rows)).sum(axis=0),
    ... )
    >>> whole = circadian_summary(x, 0)
    >>> all(a == b or (a != a and b != b) for a, b in zip(parts.values(), whole.values()))
    True
    """
    n_hours = len(hourly)
    hod = np.arange(n_hours, dtype=np.int64) % _HOURS_PER_DAY
    profile: NDArray[np.float64] = np.divide(
        profile_total, profile_n, out=np.full(MINUTES_PER_DAY, np.nan), where=profile_n > 0
    )
    # least_most_active for L5 and M10, sharing one pass of running sums
    cs, cn = _cyclic_running_sums(profile, 10 * _MINUTES_PER_HOUR)
    lo_start, lo = _extreme_window(
        cs, cn, MINUTES_PER_DAY, 5 * _MINUTES_PER_HOUR, True, min_coverage
    )
    hi_start, hi = _extreme_window(
        cs, cn, MINUTES_PER_DAY, 10 * _MINUTES_PER_HOUR, False, min_coverage
    )
    fit = cosinor_from_phase_sums(profile_n.astype(np.float64), profile_total)
    peak = float("nan")
    if np.isfinite(fit.acrophase):
        t_peak = -fit.acrophase / (2.0 * np.pi) * fit.period
        peak = float(np.mod(t_peak, MINUTES_PER_DAY))
    return {
        "IS": _is_from_hourly(hourly, hod),
        "IV": _iv_from_hourly(hourly),
        "L5": lo,
        "M10": hi,
        "RA": _ra(lo, hi),
        "L5_start_minute": float(lo_start) if lo_start >= 0 else float("nan"),
        "M10_start_minute": float(hi_start) if hi_start >= 0 else float("nan"),
        "cosinor_mesor": fit.mesor,
        "cosinor_amplitude": fit.amplitude,
        "cosinor_acrophase": fit.acrophase,
        "cosinor_peak_minute_of_day": peak,
    }


def trailing_window(
    counts: ArrayLike,
    start_minute_of_day: int,
    n_days: int = 7,
    *,
    end_at_midnight: bool = False,
) -> tuple[NDArray[np.float64], int]:
    """The last ``n_days`` days of a minute series, for a rolling multi-day computation.

    Parameters
    ----------
    counts : array_like
        Minute series (NaN gaps allowed), sample ``k`` at ``start_minute_of_day + k``.
    start_minute_of_day : int
        Local minute of day of the first sample.
    n_days : int, default 7
        Window length in days (``n_days * 1440`` minutes, fewer if the series is
        shorter).
    end_at_midnight : bool, default False
        If True, drop the trailing partial local day first, so the window ends at the
        last local midnight and holds whole days only (when enough data exists).

    Returns
    -------
    window : numpy.ndarray
        A view of ``counts`` (as float64).
    window_start_minute_of_day : int
        Minute of day of the window's first sample, to pass to the metric functions.

    Examples
    --------
    >>> w, s0 = trailing_window(np.arange(3000.0), 600, n_days=1)
    >>> w.size, float(w[0]), s0
    (1440, 1560.0, 720)
    >>> w, s0 = trailing_window(np.arange(3000.0), 600, n_days=1, end_at_midnight=True)
    >>> w.size, float(w[0]), s0
    (1440, 840.0, 0)
    """
    x = _as_series(counts)
    end = x.size
    if end_at_midnight:
        end -= (int(start_minute_of_day) + x.size) % MINUTES_PER_DAY
        end = max(end, 0)
    begin = max(0, end - int(n_days) * MINUTES_PER_DAY)
    return x[begin:end], (int(start_minute_of_day) + begin) % MINUTES_PER_DAY
