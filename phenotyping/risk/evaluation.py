"""Helpers of the risk-engine evaluation (``benchmarks/evaluate_risk.py``): surrogate
recordings built from a person's own real days, injected deterioration, detection delays,
false-alarm rates and group effect sizes.

NumPy and the standard library only. Nothing here runs the engine: the benchmark turns the
series built here into schema messages and feeds them to the real
:class:`phenotyping.pipeline.Pipeline`.

Surrogates
    A *complete* day is a local day (midnight to midnight) that the day engine marks
    ``valid`` (at least 16 h of worn minutes) and whose 1440 minutes were all observed; a
    daylight-saving day (1380 or 1500 minutes) is never complete, so every complete day is
    exactly 1440 minutes long. A surrogate of ``n`` days draws ``n`` of a subject's complete
    days *with replacement*, uniformly and independently, with a seeded
    :func:`numpy.random.default_rng`, and lays them end to end (:func:`surrogate_series`).
    The seams are at local midnight: each night (noon to noon) is stitched from the evening
    of one real day and the morning of another, so day-to-day continuity is lost there.

Injected deterioration
    :func:`inject` scales counts by a factor and delays the whole series from the onset on
    by a number of minutes: the value at minute ``t >= onset`` is ``scale * x[t - shift]``.
    At the onset seam the first ``shift`` minutes of the onset day therefore repeat
    (scaled) the last ``shift`` minutes before the onset -- the evening before onset is
    lived twice, i.e. the person stays up (or sleeps) ``shift`` minutes longer that
    night, which is how a phase delay begins -- and the last ``shift`` minutes of the
    source series fall off the end. Nothing is left missing.

Examples
--------
>>> pool = np.arange(3 * 1440, dtype=float).reshape(3, 1440)
>>> order = resample_days(3, 5, seed=[0, 1])
>>> series = surrogate_series(pool, order)
>>> series.shape
(7200,)
>>> bool(np.all(series[1440:2880] == pool[order[1]]))
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phenotyping.features.sleep import circular_mean_minutes

DAY = 1440
F64 = NDArray[np.float64]


# --------------------------------------------------------------------------- surrogates
def is_complete(row: Mapping[str, Any]) -> bool:
    """A daily row is *complete*: valid by the engine's wear rule and 1440 observed minutes.

    Examples
    --------
    >>> is_complete({"valid": True, "minutes_in_day": 1440, "observed_min": 1440})
    True
    >>> is_complete({"valid": True, "minutes_in_day": 1380, "observed_min": 1380})  # DST
    False
    >>> is_complete({"valid": False, "minutes_in_day": 1440, "observed_min": 1440})
    False
    """
    return bool(
        row.get("valid") and row.get("minutes_in_day") == DAY and row.get("observed_min") == DAY
    )


def local_day_grid(parts: Sequence[tuple[int, int, ArrayLike]], dates: Sequence[int]) -> F64:
    """Minute values of the local days ``dates`` (ordinals) from recorded parts.

    ``parts`` are ``(utc_start_minute, utc_offset_min, values)`` of one-minute epochs (an
    activity message). Row ``i`` holds local minutes 0..1439 of ``dates[i]``; a minute no
    part covers is NaN; where parts overlap the larger value is kept (the day engine's rule).

    Examples
    --------
    >>> d = 12_000
    >>> grid = local_day_grid([(d * 1440 - 60, 60, [5.0, 6.0])], [d])   # 00:00 local, UTC+1
    >>> grid[0, :3]
    array([ 5.,  6., nan])
    """
    out = np.full((len(dates), DAY), np.nan)
    index = {int(d): i for i, d in enumerate(dates)}
    for start, offset, values in parts:
        v = np.asarray(values, dtype=np.float64)
        local = int(start) + int(offset) + np.arange(len(v))
        day = local // DAY
        for d in np.unique(day).tolist():
            i = index.get(int(d))
            if i is None:
                continue
            sel = day == d
            row = out[i]
            m = local[sel] - d * DAY
            row[m] = np.fmax(row[m], v[sel])
    return out


def resample_days(n_pool: int, n_days: int, seed: int | Sequence[int]) -> NDArray[np.int64]:
    """Indices of ``n_days`` days drawn uniformly with replacement from ``n_pool`` days.

    Examples
    --------
    >>> a = resample_days(12, 70, seed=[42, 3])
    >>> bool(np.array_equal(a, resample_days(12, 70, seed=[42, 3]))), int(a.min()) >= 0
    (True, True)
    """
    if n_pool < 1:
        raise ValueError("resample_days: the pool is empty")
    rng = np.random.default_rng(list(seed) if isinstance(seed, Sequence) else seed)
    return np.asarray(rng.integers(0, n_pool, n_days), dtype=np.int64)


def surrogate_series(pool: F64, order: NDArray[np.int64]) -> F64:
    """The days ``pool[order]`` laid end to end as one minute series."""
    if pool.ndim != 2 or pool.shape[1] != DAY:
        raise ValueError("surrogate_series: pool must have shape (n_days, 1440)")
    return np.asarray(pool[order].reshape(-1), dtype=np.float64)


def inject(series: F64, onset_min: int, scale: float = 1.0, shift_min: int = 0) -> F64:
    """Scale the series by ``scale`` and delay it by ``shift_min`` minutes from ``onset_min``.

    ``out[t] = series[t]`` before the onset and ``scale * series[t - shift_min]`` from it
    on (see the module docstring for the seam).

    Examples
    --------
    >>> x = np.arange(10.0)
    >>> inject(x, 6, scale=0.5, shift_min=2)
    array([0. , 1. , 2. , 3. , 4. , 5. , 2. , 2.5, 3. , 3.5])
    >>> inject(x, 6).tolist() == x.tolist()
    True
    """
    if not 0 <= shift_min <= onset_min <= len(series):
        raise ValueError("inject: need 0 <= shift_min <= onset_min <= len(series)")
    out = np.array(series, dtype=np.float64, copy=True)
    n = len(series)
    out[onset_min:] = scale * series[onset_min - shift_min : n - shift_min]
    return out


def day_batches(series: F64, first_date: int, offset_min: int) -> list[tuple[int, F64]]:
    """Cut a minute series that starts at local midnight of ``first_date`` into local days.

    Returns ``(utc_start_second, counts)`` per day (one message each), at a fixed UTC offset.

    Examples
    --------
    >>> b = day_batches(np.zeros(2 * 1440), first_date=0, offset_min=60)
    >>> [(s, len(c)) for s, c in b]
    [(-3600, 1440), (82800, 1440)]
    """
    if len(series) % DAY:
        raise ValueError("day_batches: the series must hold whole days")
    out = []
    for i in range(len(series) // DAY):
        start_local = (first_date + i) * DAY
        out.append(((start_local - offset_min) * 60, series[i * DAY : (i + 1) * DAY]))
    return out


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
    """Events per 90 patient-days (NaN with no days).

    Examples
    --------
    >>> per_90(2, 180), per_90(0, 0)
    (1.0, nan)
    """
    return 90.0 * events / days if days else math.nan


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
