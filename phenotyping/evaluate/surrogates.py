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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

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


def weekday(d: int) -> int:
    """Weekday of a date ordinal, Monday = 0.

    Examples
    --------
    >>> weekday(0), weekday(4)     # 1970-01-01 was a Thursday, 01-05 a Monday
    (3, 0)
    """
    return (int(d) + 3) % 7


def week_blocks(
    dates: Sequence[int], n_weeks: int, seed: int | Sequence[int], min_complete: int = 4
) -> NDArray[np.int64]:
    """Weekday-aligned block bootstrap of whole weeks from a person's own complete days.

    ``dates`` are the ordinals of the person's complete days (the pool, in pool order).
    The surrogate has ``7 * n_weeks`` days starting on a Monday. Each surrogate week copies
    one real calendar week (Monday to Sunday) of the person, drawn uniformly with
    replacement among the weeks with at least ``min_complete`` complete days (all weeks if
    none has), so consecutive days keep their real order, weekday rhythm and day-to-day
    dependence inside the week. A day of the drawn week that is not complete is replaced by
    a complete day of the same weekday drawn uniformly from the pool (every weekday falls
    back to any day if the person has none of it). Returns pool indices.

    Examples
    --------
    >>> pool = list(range(4, 18))                  # two complete Monday-Sunday weeks
    >>> idx = week_blocks(pool, 3, seed=1)
    >>> [weekday(pool[i]) for i in idx[:7]]
    [0, 1, 2, 3, 4, 5, 6]
    >>> bool(all(pool[idx[7 * w + j]] - pool[idx[7 * w]] == j for w in range(3) for j in range(7)))
    True
    """
    if not len(dates):
        raise ValueError("week_blocks: the pool is empty")
    rng = np.random.default_rng(list(seed) if isinstance(seed, Sequence) else seed)
    where = {int(d): i for i, d in enumerate(dates)}
    mondays = sorted({int(d) - weekday(int(d)) for d in dates})
    counts = [sum((m + j) in where for j in range(7)) for m in mondays]
    good = [m for m, c in zip(mondays, counts, strict=True) if c >= min_complete] or mondays
    by_wd = {w: [i for i, d in enumerate(dates) if weekday(int(d)) == w] for w in range(7)}
    out = np.empty(7 * n_weeks, dtype=np.int64)
    for w in range(n_weeks):
        monday = good[int(rng.integers(0, len(good)))]
        for j in range(7):
            i = where.get(monday + j)
            if i is None:
                same = by_wd[j] or list(range(len(dates)))
                i = same[int(rng.integers(0, len(same)))]
            out[7 * w + j] = i
    return out
